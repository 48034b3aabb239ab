"""Shared fixtures: generated demo datasets and helpers to run the tools."""
import os
import os.path as osp
import subprocess
import sys
from typing import List

import pytest
import torch
from mmseg.utils import register_all_modules

import fusionsam_mmseg  # noqa: F401  (registers the plugin)
from fusionsam_mmseg.datasets.demo_data import make_demo_dataset

# Build from mmseg's registries by default, as mmseg's own tools do.
register_all_modules(init_default_scope=True)
# The test models are tiny: one thread avoids oversubscribing the 2 CI cores
# (and is faster for them than two).
torch.set_num_threads(1)

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# The project's shared/ folder beside the checkout (../shared) holds the real
# MSRS pairs and the SAGE authors' release (student weights, M3FD pairs,
# their fused outputs); $MSRS_SAMPLES_ROOT and $SAGE_OFFICIAL_ROOT, read only
# when set, point elsewhere.
SHARED_DATA = osp.join(osp.dirname(REPO_ROOT), 'shared', 'data')
MSRS_ROOT = os.environ.get('MSRS_SAMPLES_ROOT') or osp.join(
    SHARED_DATA, 'msrs_samples')
SAGE_OFFICIAL_ROOT = os.environ.get('SAGE_OFFICIAL_ROOT') or osp.join(
    SHARED_DATA, 'sage_official')


@pytest.fixture(scope='session')
def repo_root() -> str:
    return REPO_ROOT


@pytest.fixture(scope='session')
def mfnet_demo_root(tmp_path_factory) -> str:
    """MFNet-layout demo data: 8 train / 4 val / 4 test, 120x160."""
    return make_demo_dataset(
        str(tmp_path_factory.mktemp('demo_mfnet')), 'mfnet', num_train=8,
        num_test=4, seed=0)


@pytest.fixture(scope='session')
def fmb_demo_root(tmp_path_factory) -> str:
    """FMB-layout demo data: 6 train / 3 test, 120x160."""
    return make_demo_dataset(
        str(tmp_path_factory.mktemp('demo_fmb')), 'fmb', num_train=6,
        num_test=3, seed=1)


@pytest.fixture(scope='session')
def deliver_demo_root(tmp_path_factory) -> str:
    """DELIVER-layout demo data (RGB, depth, event, LiDAR): 4 train / 2 val
    / 2 test, 60x80."""
    return make_demo_dataset(
        str(tmp_path_factory.mktemp('demo_deliver')), 'deliver',
        num_train=4, num_test=2, seed=2, height=60, width=80)


@pytest.fixture(scope='session')
def mcubes_demo_root(tmp_path_factory) -> str:
    """MCubeS-layout demo data (RGB, AoLP, DoLP, NIR): 3 train / 2 val / 2
    test, 48x(192+64)."""
    return make_demo_dataset(
        str(tmp_path_factory.mktemp('demo_mcubes')), 'mcubes', num_train=3,
        num_test=2, seed=3, height=48, width=64)


@pytest.fixture(scope='session')
def msrs_demo_root(tmp_path_factory) -> str:
    """MSRS-layout demo data: 4 train / 2 test, 48x64."""
    return make_demo_dataset(
        str(tmp_path_factory.mktemp('demo_msrs')), 'msrs', num_train=4,
        num_test=2, seed=4, height=48, width=64)


@pytest.fixture(scope='session')
def pst900_demo_root(tmp_path_factory) -> str:
    """PST900-layout demo data: 4 train / 2 test, 48x64."""
    return make_demo_dataset(
        str(tmp_path_factory.mktemp('demo_pst900')), 'pst900', num_train=4,
        num_test=2, seed=5, height=48, width=64)


@pytest.fixture(scope='session')
def memorysam_demo_checkpoint(deliver_demo_root, tmp_path_factory) -> str:
    """configs/memorysam/memorysam_tiny_demo.py (RGB-D-E-L) after one
    training iteration on ``deliver_demo_root``."""
    from in_process import train_briefly  # in_process imports this module
    return train_briefly('configs/memorysam/memorysam_tiny_demo.py',
                         deliver_demo_root,
                         str(tmp_path_factory.mktemp('memorysam_demo_ckpt')))


@pytest.fixture(scope='session')
def msrs_root() -> str:
    """The real MSRS pairs shipped beside the repository (not on users')."""
    if not osp.isdir(MSRS_ROOT):
        pytest.skip(f'real MSRS samples not found at {MSRS_ROOT} (they live '
                    "in the project's shared/ folder beside the checkout, "
                    'not in the package; MSRS_SAMPLES_ROOT names another '
                    'place)')
    return MSRS_ROOT


@pytest.fixture(scope='session')
def sage_official_root() -> str:
    """The SAGE release beside the repository (checkpoints.pt, Vis/, Ir/,
    result/; not on users' machines)."""
    if not osp.isdir(SAGE_OFFICIAL_ROOT):
        pytest.skip(f'SAGE release not found at {SAGE_OFFICIAL_ROOT} (it '
                    "lives in the project's shared/ folder beside the "
                    'checkout, not in the package; SAGE_OFFICIAL_ROOT names '
                    'another place)')
    return SAGE_OFFICIAL_ROOT


def run_tool(args: List[str], timeout: int = 600,
             check: bool = True) -> subprocess.CompletedProcess:
    """Run ``python <args>`` from the repository root and return the result.

    On failure (with ``check``) the captured output is shown in the assertion.
    """
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, *args],
                          cwd=REPO_ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f'`python {" ".join(args)}` exited {proc.returncode}\n'
            f'--- stdout ---\n{proc.stdout[-6000:]}\n'
            f'--- stderr ---\n{proc.stderr[-6000:]}')
    return proc


# Tests spread over `make test`'s two xdist workers one module at a time
# (`--dist loadgroup`), so a module's fixtures (trained demo models, written
# datasets) are made once; the config matrix's configs are independent and
# spread one by one.
SPREAD_ONE_BY_ONE = ('test_config_matrix.py', )
# The longest modules (minutes each) start first, so that the two workers
# finish together instead of one waiting for the other's last long module.
LONGEST_FIRST = ('test_fusionsam.py', 'test_paper_config_vitb.py',
                 'test_sage.py', 'test_memorysam_training.py')


def _start_rank(item) -> int:
    name = item.path.name
    return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(
        LONGEST_FIRST)


# tryfirst: xdist's own hook turns the xdist_group marks into the groups
# `--dist loadgroup` schedules by; marks added after it are ignored.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    items.sort(key=_start_rank)  # stable: collection order otherwise
    for item in items:
        if item.path.name not in SPREAD_ONE_BY_ONE:
            item.add_marker(pytest.mark.xdist_group(item.path.stem))
