"""A distributed run ends with exit code 0, and a failing one ends at all.

Without the plugin's exit handler, a gloo run could abort at interpreter
shutdown after finishing its work (SIGABRT, "terminate called without an
active exception"; see ``fusionsam_mmseg/engine/process_group_exit.py``).
The workers here use ``sys.setswitchinterval(1)``: the main thread then
keeps the GIL until it blocks, which is what turns that race into a
frequent abort (4 of 10 runs of this worker with a plain
``init_process_group``, measured).
"""
import os
import socket
import subprocess
import sys
import textwrap

import pytest
import torch.distributed as torch_dist

from conftest import REPO_ROOT
from fusionsam_mmseg.engine import process_group_exit

RUNS = 6
WORKER = textwrap.dedent("""
    import os
    import sys

    import torch
    from mmengine.dist import all_gather_object, collect_results, init_dist

    import fusionsam_mmseg  # noqa: F401  (the plugin's pytorch launcher)

    sys.setswitchinterval(1.0)
    init_dist('pytorch', backend='gloo')
    rank = int(os.environ['RANK'])
    for _ in range(3):
        collect_results([torch.full((3, ), rank)] * 2, 4)
        all_gather_object({'rank': torch.tensor(rank)})
    if os.environ.get('FAIL_RANK') == str(rank):
        raise ValueError(f'rank {rank} failed on purpose')
    """)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _torchrun(script: str, **env) -> subprocess.CompletedProcess:
    command = [sys.executable, '-m', 'torch.distributed.run',
               '--nproc_per_node=2', f'--master_port={_free_port()}', script]
    return subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS='1', **env))


@pytest.fixture
def worker_script(tmp_path) -> str:
    path = tmp_path / 'worker.py'
    path.write_text(WORKER)
    return str(path)


@pytest.mark.slow
def test_gloo_runs_exit_cleanly(worker_script):
    for run in range(RUNS):
        proc = _torchrun(worker_script)
        assert proc.returncode == 0, (
            f'run {run} exited {proc.returncode}:\n{proc.stderr[-3000:]}')
        assert 'terminate called' not in proc.stderr


@pytest.mark.slow
def test_failing_rank_ends_the_run(worker_script):
    proc = _torchrun(worker_script, FAIL_RANK='0')
    assert proc.returncode != 0
    assert 'rank 0 failed on purpose' in proc.stderr


def test_release_destroys_an_initialised_group(tmp_path, monkeypatch):
    monkeypatch.setitem(process_group_exit._state, 'uncaught_exception',
                        False)
    torch_dist.init_process_group(
        'gloo', init_method=f'file://{tmp_path / "store"}', rank=0,
        world_size=1)
    process_group_exit.release_process_group()
    assert not torch_dist.is_initialized()


def test_release_leaves_the_group_after_an_uncaught_exception(
        tmp_path, monkeypatch):
    monkeypatch.setitem(process_group_exit._state, 'uncaught_exception',
                        False)
    hook = process_group_exit._record_uncaught_exception(lambda *args: None)
    hook(ValueError, ValueError('boom'), None)
    assert process_group_exit._state['uncaught_exception']
    torch_dist.init_process_group(
        'gloo', init_method=f'file://{tmp_path / "store"}', rank=0,
        world_size=1)
    try:
        process_group_exit.release_process_group()
        assert torch_dist.is_initialized()
    finally:
        torch_dist.destroy_process_group()
