"""A NaN / Inf loss stops training before the corrupted weights are saved.

The runner test poisons one loss term at iteration ``BAD_ITER`` (the
model's ``parse_losses`` is wrapped, so the non-finite value flows through
backward and the optimizer step like a real one) with checkpoints after
every iteration: the run must stop with ``FloatingPointError`` naming the
iteration and the term, no ``iter_<BAD_ITER>.pth`` may exist, and the last
checkpoint must load (``weights_only``) with finite weights, while the
weights in memory are already corrupted.
"""
import math
import os.path as osp
import uuid

import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp
from mmengine.config import Config
from mmengine.runner import Runner

from conftest import REPO_ROOT
from fusionsam_mmseg.engine.hooks import NonFiniteLossHook
from fusionsam_mmseg.engine.hooks.non_finite_loss_hook import \
    non_finite_loss_terms

CONFIG = 'configs/fusionsam_tiny_demo.py'
BAD_ITER = 3


def _runner(data_root: str, work_dir: str) -> Runner:
    cfg = Config.fromfile(osp.join(REPO_ROOT, CONFIG))
    name = f'non_finite_{uuid.uuid4().hex[:8]}'
    cfg.merge_from_dict({
        'work_dir': work_dir,
        'experiment_name': name,
        'visualizer.name': name,
        'train_dataloader.dataset.data_root': data_root,
        'val_dataloader.dataset.data_root': data_root,
        'test_dataloader.dataset.data_root': data_root,
        'train_dataloader.batch_size': 1,
        'train_cfg.max_iters': BAD_ITER + 1,
        'train_cfg.val_begin': BAD_ITER + 2,
        'default_hooks.checkpoint.interval': 1,
        'default_hooks.logger.interval': 1,
    })
    return Runner.from_cfg(cfg)


def _poison(runner: Runner, bad_value: float) -> dict:
    """Multiply the first decode-head loss term by ``bad_value`` at
    iteration BAD_ITER; returns a dict that then holds the term's name."""
    model, poisoned = runner.model, {}
    parse_losses = model.parse_losses

    def parse_poisoned_losses(losses):
        if runner.iter + 1 == BAD_ITER:
            term = next(k for k in losses if k.startswith('decode.loss'))
            losses[term] = losses[term] * bad_value
            poisoned['term'] = term
        return parse_losses(losses)

    model.parse_losses = parse_poisoned_losses
    return poisoned


@pytest.mark.parametrize('bad_value', [math.nan, math.inf])
def test_non_finite_loss_stops_before_saving(mfnet_demo_root, tmp_path,
                                             bad_value):
    runner = _runner(mfnet_demo_root, str(tmp_path))
    poisoned = _poison(runner, bad_value)
    with pytest.raises(FloatingPointError) as error:
        runner.train()
    message = str(error.value)
    assert f'iteration {BAD_ITER}/{BAD_ITER + 1}' in message
    assert f"{poisoned['term']}={bad_value}" in message
    last_good = osp.join(str(tmp_path), f'iter_{BAD_ITER - 1}.pth')
    assert last_good in message
    assert not osp.exists(osp.join(str(tmp_path), f'iter_{BAD_ITER}.pth'))
    assert open(osp.join(str(tmp_path), 'last_checkpoint')).read().strip() \
        == last_good
    saved = torch.load(last_good, map_location='cpu', weights_only=True)
    assert saved['meta']['iter'] == BAD_ITER - 1
    assert all(torch.isfinite(v).all() for v in saved['state_dict'].values()
               if v.is_floating_point())
    in_memory = runner.model.state_dict().values()
    assert not all(torch.isfinite(v).all() for v in in_memory
                   if v.is_floating_point()), \
        'the poisoned step should have corrupted the weights in memory'


def test_non_finite_loss_terms_reads_only_loss_entries():
    outputs = dict(loss=torch.tensor(math.nan),
                   **{'decode.loss_ce': torch.tensor(math.nan),
                      'decode.loss_dice': torch.tensor(0.5),
                      'decode.acc_seg': torch.tensor(math.inf),
                      'backbone.loss_vq': 2.0})
    bad = non_finite_loss_terms(outputs)
    assert list(bad) == ['loss', 'decode.loss_ce']
    assert non_finite_loss_terms(None) == {}


def _bad_ranks_worker(rank: int, world_size: int, init_file: str,
                      results) -> None:
    torch_dist.init_process_group('gloo', init_method=f'file://{init_file}',
                                  rank=rank, world_size=world_size)
    try:
        results[rank] = NonFiniteLossHook._ranks_with_non_finite_loss(
            is_bad=rank == 1)
    finally:
        torch_dist.destroy_process_group()


def test_every_process_learns_which_rank_saw_the_non_finite_loss(tmp_path):
    """All ranks must stop together; rank 0 alone sees finite losses."""
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_bad_ranks_worker, args=(2, str(tmp_path / 'init'), results),
                 nprocs=2)
        assert dict(results) == {0: [1], 1: [1]}
