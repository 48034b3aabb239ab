"""DDP on CPU: ``tools/dist_train.sh`` / ``dist_test.sh`` with gloo.

Same global batch both ways: one process with batch 2 against two
processes with batch 1. The InfiniteSampler hands the two ranks the even
and odd positions of the one shuffled order, so each global batch holds
the same two images as the single-process batch; the training pipeline has
no random augmentation (each process would draw its own numbers), the model
normalises with GroupNorm / LayerNorm (no batch statistics) and tokenises
without the quantizer (its codebook would be initialised from rank 0's
latents only), and DDP averages the two per-image gradients, which is what
the single process's mean over its batch gives. The optimizer is plain SGD
(Adam's step ignores the gradient's scale, so it would hide a wrong
reduction), and ``LossRecordHook`` (registered here) records every rank's
loss at every iteration: the ranks' mean must equal the single process's
loss, and the weights after each iteration must agree to float rounding.

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
from mmengine.hooks import Hook
from mmseg.registry import HOOKS, METRICS

from conftest import REPO_ROOT, run_tool
from fusionsam_mmseg.datasets.demo_data import make_demo_dataset

CONFIG = 'configs/fusionsam_tiny_demo.py'
TESTS_DIR = osp.dirname(osp.abspath(__file__))
NUM_TEST = 3
MAX_ITERS = 3
METRIC_TOLERANCE = 0.5  # percentage points of aAcc / mIoU / mAcc, 3 images
SGD_LR = 0.05
# SyncBN does not run on CPU; GroupNorm has no batch statistics.
GROUP_NORM = dict(type='GN', num_groups=8, requires_grad=True)


@HOOKS.register_module()
class LossRecordHook(Hook):
    """Writes ``losses_rank<r>.json``: this rank's loss at every iteration."""

    def before_train(self, runner) -> None:
        self.losses = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        self.losses.append(float(outputs['loss']))
        with open(osp.join(runner.work_dir,
                           f'losses_rank{runner.rank}.json'), 'w') as file:
            json.dump(self.losses, file)


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
                if t['type'] in ('LoadMultiModalImageFromFile',
                                 'LoadCheckedAnnotations', 'PackSegInputs')]
    evaluators = [dict(base.val_evaluator), dict(type='SampleCountMetric')]
    path = tmp_path / 'ddp_test_config.py'
    path.write_text(
        f'_base_ = [{osp.join(REPO_ROOT, CONFIG)!r}]\n'
        'custom_imports = dict(imports=["fusionsam_mmseg", '
        '"test_distributed"], allow_failed_imports=False)\n'
        f'train_dataloader = dict(dataset=dict(pipeline={pipeline!r}))\n'
        f'model = dict(neck=dict(norm_cfg={GROUP_NORM!r}), '
        'backbone=dict(quantize=False))\n'
        f'optim_wrapper = dict(optimizer=dict(_delete_=True, type="SGD", '
        f'lr={SGD_LR}))\n'
        f'custom_hooks = {[*base.custom_hooks, dict(type="LossRecordHook")]!r}\n'
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
        'default_hooks.checkpoint.interval=1',
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
                     f'test_dataloader.dataset.data_root={data_root}',
                     # the images the single run validated on
                     'test_dataloader.dataset.ann_file=val.txt'])
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


def _losses(work_dir: str, rank: int) -> List[float]:
    return json.load(open(osp.join(work_dir, f'losses_rank{rank}.json')))


def _weights(work_dir: str, iteration: int) -> Dict[str, torch.Tensor]:
    path = osp.join(work_dir, f'iter_{iteration}.pth')
    state = torch.load(path, map_location='cpu', weights_only=True)
    return {key: value for key, value in state['state_dict'].items()
            if value.is_floating_point()}


def _norm(tensors: Dict[str, torch.Tensor]) -> float:
    return sum(value.pow(2).sum() for value in tensors.values()).sqrt().item()


@pytest.mark.slow
def test_ddp_matches_single_process_with_equal_global_batch(runs):
    single, ddp = runs['single'], runs['ddp']
    single_losses = _losses(single, 0)
    ranks_mean = [(a + b) / 2 for a, b in zip(_losses(ddp, 0),
                                              _losses(ddp, 1))]
    assert len(single_losses) == len(ranks_mean) == MAX_ITERS
    assert ranks_mean == pytest.approx(single_losses, rel=1e-4)
    # The two ranks saw different images, so their losses differ: the mean
    # above is a real check of which images made up each global batch.
    assert _losses(ddp, 0) != pytest.approx(_losses(ddp, 1), rel=1e-2)
    # Weights after every iteration: equal up to float rounding, which the
    # different summation order lets grow to ~5e-5 over 3 steps; one SGD
    # step moves weights by up to ~1e-2, so a gradient summed instead of
    # averaged over the ranks (twice the step) could not pass.
    for iteration in range(1, MAX_ITERS + 1):
        single_weights = _weights(single, iteration)
        ddp_weights = _weights(ddp, iteration)
        assert single_weights.keys() == ddp_weights.keys()
        for key, value in single_weights.items():
            torch.testing.assert_close(ddp_weights[key], value, rtol=0,
                                       atol=2e-4, msg=key)
    first, last = _weights(single, 1), _weights(single, MAX_ITERS)
    update = _norm({key: last[key] - first[key] for key in first})
    gap = _norm({key: _weights(ddp, MAX_ITERS)[key] - last[key]
                 for key in last})
    assert update > 0.05 and gap < 0.02 * update, (gap, update)
    ddp_val = _val_metrics(ddp)
    single_val = _val_metrics(single)
    for key in ('aAcc', 'mIoU', 'mAcc'):
        assert abs(single_val[key] - ddp_val[key]) <= METRIC_TOLERANCE, key
    assert ddp_val['count/samples'] == ddp_val['count/distinct'] == NUM_TEST


@pytest.mark.slow
def test_dist_test_gathers_every_sample_once(runs):
    metrics = _test_metrics(runs['tested'])
    assert metrics['count/samples'] == metrics['count/distinct'] == NUM_TEST
    single_val = _val_metrics(runs['single'])  # same checkpoint, 1 process
    for key in ('aAcc', 'mIoU', 'mAcc'):
        assert metrics[key] == pytest.approx(single_val[key], abs=0.01)
