"""``--resume`` after a SIGKILL repeats the uninterrupted run exactly.

Three runs of the tiny demo config (CPU, seed 0, deterministic, batch 1 on
3 training images), set up by :func:`_write_configs` to carry every kind of
training state:

* straight: iterations 1-4 in one process, validating at 2 and 4;
* killed: the same, with a hook that SIGKILLs the process right after the
  checkpoint of iteration 2 is written (no clean exit, no validation);
* resumed: ``tools/train.py --resume`` in the killed run's work_dir.

The per-iteration values in ``vis_data/scalars.json`` (every loss term and
statistic, the learning rate) and the final checkpoint (all weights and
buffers, discriminator and codebooks included, and the optimizer state)
must be identical, bit for bit: the resumed run restores everything the
straight one had in memory (weights, optimizer, data position through
mmengine's skipping, generator states through ``RNGStateHook``), and on
one CPU thread count the same ops in the same order give the same bits.
Without ``RNGStateHook`` iterations 3 and 4 differ (dropout, random
prompts); restoring the generators at the first ``before_train_iter``
instead of before the first new fetch makes iteration 4 differ.

The subprocess imports this module (``custom_imports``) to register
:class:`KillAfterCheckpointHook`.
"""
import glob
import json
import os
import os.path as osp
import random
import signal
from typing import Dict, List, Tuple

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from conftest import REPO_ROOT, run_tool
from fusionsam_mmseg.datasets.demo_data import make_demo_dataset
from fusionsam_mmseg.engine.hooks.rng_state_hook import (
    RNGStateHook, _RestoreBeforeFetch, capture_rng_state, restore_rng_state)

CONFIG = 'configs/fusionsam_tiny_demo.py'
TESTS_DIR = osp.dirname(osp.abspath(__file__))
MAX_ITERS = 4
KILL_AFTER = 2
NOT_COMPARED = ('time', 'data_time', 'eta', 'memory')
ADVERSARIAL = dict(
    _delete_=True,
    type='AdversarialLoss',
    start_iter=0,
    discriminator=dict(type='PatchDiscriminator', base_channels=8,
                       num_layers=2))


@HOOKS.register_module()
class KillAfterCheckpointHook(Hook):
    """SIGKILL this process right after the checkpoint of ``iteration``.

    Priority LOWEST: runs after ``CheckpointHook`` (VERY_LOW) has written
    the file and ``last_checkpoint``.
    """

    priority = 'LOWEST'

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if runner.iter + 1 == self.iteration:
            os.kill(os.getpid(), signal.SIGKILL)


def _write_official_sam(path: str) -> str:
    """The demo config's tiny SAM in segment_anything's own file layout
    (random weights): with a SAM file, checkpoints leave the frozen encoder
    out and ``--resume`` re-reads it."""
    from segment_anything.modeling import MaskDecoder, Sam, TwoWayTransformer

    from fusionsam_mmseg.models import sam
    head = Config.fromfile(osp.join(REPO_ROOT, CONFIG)).model.decode_head
    arch = sam.resolve_sam_architecture('custom', head.encoder_cfg)
    torch.manual_seed(7)
    model = Sam(
        image_encoder=sam.build_sam_image_encoder(arch, head.image_size,
                                                  attention='stock'),
        prompt_encoder=sam.build_sam_prompt_encoder(arch, head.image_size),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(
                depth=arch.decoder_depth, embedding_dim=arch.prompt_embed_dim,
                mlp_dim=arch.decoder_mlp_dim,
                num_heads=arch.decoder_num_heads),
            transformer_dim=arch.prompt_embed_dim,
            iou_head_hidden_dim=arch.iou_head_hidden_dim))
    torch.save(model.state_dict(), path)
    return path


def _options(data_root: str, sam_file: str) -> List[str]:
    return [
        '--cfg-options',
        f'model.decode_head.checkpoint={sam_file}',
        *(f'{loader}.dataset.data_root={data_root}'
          for loader in ('train_dataloader', 'val_dataloader',
                         'test_dataloader')),
        'train_dataloader.batch_size=1',
        f'train_cfg.max_iters={MAX_ITERS}',
        f'train_cfg.val_interval={KILL_AFTER}',
        f'default_hooks.checkpoint.interval={KILL_AFTER}',
        'default_hooks.logger.interval=1',
    ]


def _write_configs(tmp_path) -> Tuple[str, str]:
    """The demo config made to use every kind of state a resume must
    bring back, and the same plus :class:`KillAfterCheckpointHook`.

    The LSTG decoders and discriminator train from iteration 1 (their
    weights and Adam moments), and torch's generator is drawn from at
    every iteration (dropout in the FMP feed-forward layers, random
    ground-truth point prompts): without the generator states of
    ``RNGStateHook`` the resumed iterations draw other numbers.
    """
    base_path = tmp_path / 'resume_base.py'
    base_path.write_text(
        f'_base_ = [{osp.join(REPO_ROOT, CONFIG)!r}]\n'
        'model = dict(backbone=dict(with_decoder=True,\n'
        f'                            loss_adv={ADVERSARIAL!r}),\n'
        '             neck=dict(ffn_drop=0.1),\n'
        '             decode_head=dict(gt_prompts_in_train=True))\n'
        'randomness = dict(seed=0, deterministic=True)\n')
    hooks = list(Config.fromfile(str(base_path)).get('custom_hooks', []))
    hooks.append(dict(type='KillAfterCheckpointHook', iteration=KILL_AFTER))
    killed_path = tmp_path / 'resume_killed.py'
    killed_path.write_text(
        "_base_ = ['./resume_base.py']\n"
        'custom_imports = dict(imports=["fusionsam_mmseg", '
        f'"{osp.splitext(osp.basename(__file__))[0]}"], '
        'allow_failed_imports=False)\n'
        f'custom_hooks = {hooks!r}\n')
    return str(base_path), str(killed_path)


def _logged_iterations(work_dir: str) -> Dict[int, dict]:
    """step -> logged training values, over every run in ``work_dir``."""
    steps = {}
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                          'scalars.json'))):
        for line in open(path):
            record = json.loads(line)
            if 'loss' in record:
                steps[record['step']] = {
                    k: v for k, v in record.items() if k not in NOT_COMPARED}
    return steps


def _tensors(checkpoint: dict, prefix: str = '') -> Dict[str, torch.Tensor]:
    """Every tensor in the nested ``checkpoint``, by dotted path."""
    found = {}
    items = checkpoint.items() if isinstance(checkpoint, dict) else \
        enumerate(checkpoint) if isinstance(checkpoint, (list, tuple)) else ()
    for key, value in items:
        name = f'{prefix}{key}'
        if isinstance(value, torch.Tensor):
            found[name] = value
        else:
            found.update(_tensors(value, name + '.'))
    return found


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp('resume_exact')
    # 3 training images at batch 1: the resumed iterations 3-4 cross an
    # epoch of the InfiniteSampler (a new shuffled order).
    data_root = make_demo_dataset(str(tmp_path / 'data'), 'mfnet',
                                  num_train=3, num_test=2, seed=3)
    config, killing_config = _write_configs(tmp_path)
    straight, interrupted = (str(tmp_path / name)
                             for name in ('straight', 'interrupted'))
    options = _options(data_root,
                       _write_official_sam(str(tmp_path / 'sam_tiny.pth')))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('PYTHONPATH', os.pathsep.join(
            [TESTS_DIR, os.environ.get('PYTHONPATH', '')]))
        run_tool(['tools/train.py', config, '--work-dir', straight,
                  *options])
        killed = run_tool(['tools/train.py', killing_config, '--work-dir',
                           interrupted, *options], check=False)
        files_after_kill = sorted(os.listdir(interrupted))
        resumed = run_tool(['tools/train.py', config, '--work-dir',
                            interrupted, '--resume', *options])
    return dict(straight=straight, interrupted=interrupted, killed=killed,
                files_after_kill=files_after_kill,
                resumed_log=resumed.stdout + resumed.stderr)


@pytest.mark.slow
def test_killed_run_died_by_sigkill_after_its_checkpoint(runs):
    assert runs['killed'].returncode == -signal.SIGKILL, \
        runs['killed'].stderr[-3000:]
    assert f'iter_{KILL_AFTER}.pth' in runs['files_after_kill']
    assert f'iter_{MAX_ITERS}.pth' not in runs['files_after_kill']
    checkpoint = torch.load(
        osp.join(runs['interrupted'], f'iter_{KILL_AFTER}.pth'),
        map_location='cpu', weights_only=True)
    assert checkpoint['rng_state']['world_size'] == 1
    log = runs['resumed_log']
    assert f'resumed epoch: 0, iter: {KILL_AFTER}' in log
    assert 'restored the torch / numpy / python generator' in log


@pytest.mark.slow
def test_resumed_losses_equal_the_straight_run(runs):
    straight = _logged_iterations(runs['straight'])
    resumed = _logged_iterations(runs['interrupted'])
    assert sorted(straight) == sorted(resumed) == list(
        range(1, MAX_ITERS + 1))
    loss_terms = [k for k in straight[MAX_ITERS] if 'loss' in k]
    assert len(loss_terms) >= 2, straight[MAX_ITERS]
    for step in straight:
        assert resumed[step] == straight[step], f'iteration {step}'


@pytest.mark.slow
def test_resumed_weights_and_optimizer_are_bitwise_equal(runs):
    name = f'iter_{MAX_ITERS}.pth'
    straight = torch.load(osp.join(runs['straight'], name),
                          map_location='cpu', weights_only=True)
    resumed = torch.load(osp.join(runs['interrupted'], name),
                         map_location='cpu', weights_only=True)
    for part in ('state_dict', 'optimizer'):
        expected, actual = _tensors(straight[part]), _tensors(resumed[part])
        assert sorted(expected) == sorted(actual)
        different = [k for k in expected
                     if not torch.equal(expected[k], actual[k])]
        assert not different, f'{part}: {different[:10]}'
    assert any('discriminator' in k for k in straight['state_dict'])
    # slim: the frozen SAM encoder came back from the SAM file on --resume
    assert 'decode_head.pretrained_file' in straight['state_dict']
    assert not any('image_encoder' in k for k in straight['state_dict'])


def test_rng_state_survives_weights_only_checkpoint(tmp_path):
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    checkpoint = {}
    RNGStateHook().before_save_checkpoint(None, checkpoint)
    expected = (random.random(), np.random.rand(3), torch.rand(3))
    torch.save(checkpoint, tmp_path / 'rng.pth')
    loaded = torch.load(tmp_path / 'rng.pth', weights_only=True)
    restore_rng_state(loaded['rng_state']['ranks'][0])
    assert random.random() == expected[0]
    np.testing.assert_array_equal(np.random.rand(3), expected[1])
    assert torch.equal(torch.rand(3), expected[2])


class _Loop:
    """What ``_RestoreBeforeFetch`` needs of an IterBasedTrainLoop."""

    def __init__(self) -> None:
        self.dataloader_iterator = iter(range(100))


def test_restore_happens_after_skipping_before_the_next_fetch():
    loop, events = _Loop(), []
    original = loop.dataloader_iterator
    loop.dataloader_iterator = _RestoreBeforeFetch(
        loop, 3, lambda: events.append('restore'))
    for _ in range(3):  # mmengine's skipping of trained batches
        events.append(next(loop.dataloader_iterator))
    assert events == [0, 1, 2]
    events.append(next(loop.dataloader_iterator))
    assert events == [0, 1, 2, 'restore', 3]
    assert loop.dataloader_iterator is original


def test_validation_leaves_the_training_generators_alone():
    hook = RNGStateHook()
    torch.manual_seed(3)
    before = capture_rng_state()
    hook.before_val(None)
    torch.rand(5), np.random.rand(5), random.random()
    hook.after_val(None)
    after = capture_rng_state()
    assert torch.equal(before['torch'], after['torch'])
    assert torch.equal(before['numpy']['key'], after['numpy']['key'])
    assert before['numpy']['pos'] == after['numpy']['pos']
    assert torch.equal(before['python']['internal'],
                       after['python']['internal'])

