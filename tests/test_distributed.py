"""DDP on CPU: ``tools/dist_train.sh`` / ``dist_test.sh`` with gloo.

Same global batch both ways: one process with batch 2 against two
processes with batch 1. The InfiniteSampler hands the two ranks the even
and odd positions of the one shuffled order, so each global batch holds
the same two images as the single-process batch; the training pipeline has
no random augmentation (each process would draw its own numbers), the model
normalises with GroupNorm / LayerNorm (no batch statistics), and DDP
averages the two per-image gradients, which is what the single process's
mean over its batch gives. What differs: the LSTG quantizer initialises
its codebook from latents of rank 0's image under DDP (of both images in
one process), and floats are summed in another order; hence tolerances.

The test split has an odd number of images (3) so the DefaultSampler pads
rank 1 with a repeated sample; ``SampleCountMetric`` (registered here and
imported by the subprocesses through ``custom_imports``) counts what the
metric sees after mmengine gathers the ranks' results.
"""
import glob
import json
import os
import os.path as osp
import socket
import subprocess
from typing import Dict, List

import pytest
import torch
from mmengine.config import Config
from mmengine.evaluator import BaseMetric
from mmseg.registry import METRICS

from conftest import REPO_ROOT, run_tool
from fusionsam_mmseg.datasets.demo_data import make_demo_dataset

CONFIG = 'configs/fusionsam_tiny_demo.py'
TESTS_DIR = osp.dirname(osp.abspath(__file__))
NUM_TEST = 3
MAX_ITERS = 2
METRIC_TOLERANCE = 0.5  # percentage points of aAcc / mIoU / mAcc, 3 images
# SyncBN does not run on CPU; GroupNorm has no batch statistics.
GROUP_NORM = dict(type='GN', num_groups=8, requires_grad=True)


@METRICS.register_module()
class SampleCountMetric(BaseMetric):
    """How many (and how many distinct) images reach the metric."""

    default_prefix = 'count'

    def process(self, data_batch, data_samples) -> None:
        self.results.extend(sample['img_path'] for sample in data_samples)

    def compute_metrics(self, results: List[str]) -> Dict[str, float]:
        # floats: mmengine's test-results json drops numpy integers
        return dict(samples=float(len(results)),
                    distinct=float(len(set(results))))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _test_config(tmp_path) -> str:
    """The tiny config with a deterministic training pipeline and the
    sample counter next to the IoU metric."""
    base = Config.fromfile(osp.join(REPO_ROOT, CONFIG))
    pipeline = [t for t in base.train_pipeline
                if t['type'] in ('LoadRGBTImageFromFile',
                                 'LoadCheckedAnnotations', 'PackSegInputs')]
    evaluators = [dict(base.val_evaluator), dict(type='SampleCountMetric')]
    path = tmp_path / 'ddp_test_config.py'
    path.write_text(
        f'_base_ = [{osp.join(REPO_ROOT, CONFIG)!r}]\n'
        'custom_imports = dict(imports=["fusionsam_mmseg", '
        '"test_distributed"], allow_failed_imports=False)\n'
        f'train_dataloader = dict(dataset=dict(pipeline={pipeline!r}))\n'
        f'model = dict(neck=dict(norm_cfg={GROUP_NORM!r}))\n'
        'model_wrapper_cfg = dict(type="MMDistributedDataParallel", '
        'device_ids=None)\n'
        f'val_evaluator = {evaluators!r}\n'
        'test_evaluator = val_evaluator\n'
        'randomness = dict(seed=0, deterministic=True)\n')
    return str(path)


def _options(data_root: str, batch_size: int) -> List[str]:
    return [
        '--cfg-options',
        *(f'{loader}.dataset.data_root={data_root}'
          for loader in ('train_dataloader', 'val_dataloader',
                         'test_dataloader')),
        f'train_dataloader.batch_size={batch_size}',
        f'train_cfg.max_iters={MAX_ITERS}',
        f'train_cfg.val_interval={MAX_ITERS}',
        f'default_hooks.checkpoint.interval={MAX_ITERS}',
        'default_hooks.logger.interval=1',
    ]


def _run_script(args: List[str]) -> subprocess.CompletedProcess:
    """``bash tools/<script>`` with two single-threaded processes."""
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1',
               PORT=str(_free_port()))
    proc = subprocess.run(['bash', *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (
        f'`bash {" ".join(args)}` exited {proc.returncode}\n'
        f'--- stderr ---\n{proc.stderr[-6000:]}\n'
        f'--- stdout ---\n{proc.stdout[-3000:]}')
    return proc


def _val_metrics(work_dir: str) -> dict:
    """The last validation record of a training run's scalars.json."""
    path, = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    records = [json.loads(line) for line in open(path)]
    return [r for r in records if 'mIoU' in r][-1]


def _test_metrics(work_dir: str) -> dict:
    path, = glob.glob(osp.join(work_dir, '*', '*.json'))
    return json.load(open(path))


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp('ddp')
    data_root = make_demo_dataset(str(tmp_path / 'data'), 'mfnet',
                                  num_train=4, num_test=NUM_TEST, seed=2)
    config = _test_config(tmp_path)
    single, ddp, tested = (str(tmp_path / name)
                           for name in ('single', 'ddp', 'dist_test'))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('PYTHONPATH', os.pathsep.join(
            [TESTS_DIR, os.environ.get('PYTHONPATH', '')]))
        run_tool(['tools/train.py', config, '--work-dir', single,
                  *_options(data_root, batch_size=2)])
        ddp_train = _run_script(['tools/dist_train.sh', config, '2',
                                 '--work-dir', ddp,
                                 *_options(data_root, batch_size=1)])
        checkpoint = osp.join(single, f'iter_{MAX_ITERS}.pth')
        _run_script(['tools/dist_test.sh', config, checkpoint, '2',
                     '--work-dir', tested, '--cfg-options',
                     f'test_dataloader.dataset.data_root={data_root}'])
    return dict(single=single, ddp=ddp, tested=tested,
                ddp_log=ddp_train.stdout + ddp_train.stderr)


@pytest.mark.slow
def test_dist_train_runs_two_gloo_processes(runs):
    assert 'Distributed training: True' in runs['ddp_log']
    assert "'backend': 'gloo'" in runs['ddp_log']
    checkpoint = torch.load(osp.join(runs['ddp'], f'iter_{MAX_ITERS}.pth'),
                            map_location='cpu', weights_only=True)
    rng_state = checkpoint['rng_state']  # RNGStateHook: one per process
    assert rng_state['world_size'] == len(rng_state['ranks']) == 2


@pytest.mark.slow
def test_ddp_matches_single_process_with_equal_global_batch(runs):
    single_val, ddp_val = (_val_metrics(runs[name])
                           for name in ('single', 'ddp'))
    for key in ('aAcc', 'mIoU', 'mAcc'):
        assert abs(single_val[key] - ddp_val[key]) <= METRIC_TOLERANCE, key
    assert ddp_val['count/samples'] == ddp_val['count/distinct'] == NUM_TEST
    # Weights: the codebooks are initialised from differently pooled latents
    # (module doc), so the parameters follow slightly different paths. An
    # Adam step moves a weight by at most about lr (<= 1.0015 lr in the
    # first steps with bias correction; 1 % margin here), so two runs from
    # the same initial weights stay within 2 * lr * iterations of each
    # other; unsynchronised initial weights or a scaled lr would not.
    name = f'iter_{MAX_ITERS}.pth'
    single, ddp = (torch.load(osp.join(runs[run], name), map_location='cpu',
                              weights_only=True)['state_dict']
                   for run in ('single', 'ddp'))
    lr = Config.fromfile(osp.join(REPO_ROOT,
                                  CONFIG)).optim_wrapper.optimizer.lr
    parameters = [k for k in single
                  if single[k].is_floating_point() and 'quantizers' not in k]
    worst = max((single[k] - ddp[k]).abs().max().item() for k in parameters)
    assert worst <= 2 * 1.01 * lr * MAX_ITERS


@pytest.mark.slow
def test_dist_test_gathers_every_sample_once(runs):
    metrics = _test_metrics(runs['tested'])
    assert metrics['count/samples'] == metrics['count/distinct'] == NUM_TEST
    single_val = _val_metrics(runs['single'])  # same checkpoint, 1 process
    for key in ('aAcc', 'mIoU', 'mAcc'):
        assert metrics[key] == pytest.approx(single_val[key], abs=0.01)
