"""Every shipped config trains, validates and tests on CPU as a user runs it.

For each config under ``configs/``: ``tools/train.py`` for two training
iterations (epoch configs: one epoch of two batches at the shipped batch
size) with the shipped pipelines, data preprocessor, optimizer wrapper,
schedule type and hooks, its validation when it has one, then
``tools/test.py`` on the checkpoint it wrote. Only what CPU time forbids is
shrunk, through ``--cfg-options`` (:func:`cpu_options`): the SAM / SAM2
encoder size, the crop size, and (at full resolution only) FMP's key/value
pooling. ``REAL_SIZE`` configs keep their dataset's native image and crop
size (MFNet 480x640, FMB 600x800).
"""
import glob
import os.path as osp
import re
from typing import Dict, List

import pytest
import torch
from mmengine.config import Config
from PIL import Image

from conftest import REPO_ROOT, run_tool
from fusionsam_mmseg.datasets.demo_data import make_demo_dataset

CONFIGS = sorted(
    osp.relpath(path, REPO_ROOT)
    for path in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'),
                          recursive=True) if '_base_' not in path)
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
REAL_SIZE = {
    'configs/fusionsam_vith_mfnet.py': (480, 640),
    'configs/fusionsam_vith_fmb.py': (600, 800),
}
SMALL_CROP = (64, 96)
DEMO_FORMATS = dict(MFNetDataset='mfnet', FMBDataset='fmb',
                    DELIVERDataset='deliver', MCubeSDataset='mcubes',
                    MSRSDataset='msrs', PST900Dataset='pst900')
TINY_SAM = dict(embed_dim=32, depth=2, num_heads=2, global_attn_indexes=(1, ),
                window_size=4, patch_size=8, mlp_ratio=2.0,
                prompt_embed_dim=64, mask_in_chans=16, decoder_depth=1,
                decoder_mlp_dim=128, decoder_num_heads=4,
                iou_head_hidden_dim=16)
TINY_SAM2_CONFIG = 'configs/sam2.1/sam2.1_hiera_t.yaml'


@pytest.fixture(scope='module')
def demo_roots(tmp_path_factory) -> Dict[tuple, str]:
    """Demo data per (format, size): 8 train images (two batches of the
    shipped 4; at full resolution 2 images, batches of 1), 2 validation
    and 2 test images."""
    roots = {}
    for fmt in DEMO_FORMATS.values():
        for size in [(120, 160)] + [s for c, s in REAL_SIZE.items()
                                    if fmt in c]:
            roots[fmt, size] = make_demo_dataset(
                str(tmp_path_factory.mktemp(f'{fmt}_{size[0]}')), fmt,
                num_train=8 if size == (120, 160) else 2, num_test=2, seed=7,
                height=size[0], width=size[1])
    return roots


@pytest.fixture(scope='module')
def vgg16_file(tmp_path_factory) -> str:
    """Random VGG16 weights in torchvision's key layout (no download)."""
    from mmcv.cnn import VGG
    torch.manual_seed(0)
    path = str(tmp_path_factory.mktemp('vgg16') / 'vgg16-random.pth')
    torch.save(VGG(depth=16).state_dict(), path)
    return path


def _sam_options(head: dict) -> List[str]:
    if head.type in ('SAMPromptHead', 'StockSAMHead'):
        if head.sam_type == 'custom':
            return []
        prefix = 'model.decode_head.'
        return [f'{prefix}sam_type=custom', f'{prefix}image_size=128',
                f'{prefix}checkpoint=None'] + [
                    f'{prefix}encoder_cfg.{key}={value}'
                    for key, value in TINY_SAM.items()]
    if head.type == 'StockSAM2Head' and 'hiera_t' not in head.sam2_config:
        return [f'model.decode_head.sam2_config={TINY_SAM2_CONFIG}',
                'model.decode_head.image_size=256',
                'model.decode_head.checkpoint=None']
    return []


def _crop_options(cfg: Config, crop) -> List[str]:
    """Shrink the train crop (and the random resize around it)."""
    options = []
    for index, step in enumerate(cfg.train_dataloader.dataset.pipeline):
        key = f'train_dataloader.dataset.pipeline.{index}'
        if step.type == 'RandomCrop':
            options.append(f'{key}.crop_size={tuple(crop)}')
        elif step.type == 'RandomResize':
            options.append(f'{key}.scale={(crop[1] * 5 // 4, crop[0] * 5 // 4)}')
    if cfg.model.data_preprocessor.get('size'):
        options.append(f'model.data_preprocessor.size={tuple(crop)}')
    return options


def cpu_options(config: str, cfg: Config, data_root: str,
                vgg16_file: str) -> List[str]:
    """What a CPU run of ``config`` needs besides data: see module doc."""
    options = []
    for loader in LOADERS:
        if cfg.get(loader):
            options += [f'{loader}.dataset.data_root={data_root}',
                        f'{loader}.num_workers=0',
                        f'{loader}.persistent_workers=False']
    if cfg.train_cfg.type == 'EpochBasedTrainLoop':
        options += ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1']
    else:
        options += ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
                    'default_hooks.checkpoint.interval=2']
    options += _sam_options(cfg.model.decode_head)
    if cfg.model.backbone.get('loss_perceptual'):
        options.append('model.backbone.loss_perceptual.init_cfg.checkpoint='
                       f'{vgg16_file}')
    if config in REAL_SIZE:
        # Full resolution: one image per batch (a ~40 s iteration here).
        options.append('train_dataloader.batch_size=1')
        if cfg.model.get('neck', {}).get('type') == 'FMP':
            options.append('model.neck.kv_pool_size=16')
    elif tuple(cfg.get('crop_size', SMALL_CROP)) != SMALL_CROP:
        options += _crop_options(cfg, SMALL_CROP)
    return options


def _demo_root(cfg: Config, config: str, demo_roots) -> str:
    dataset_type = cfg.train_dataloader.dataset.type
    assert dataset_type in DEMO_FORMATS, (
        f'{config}: no demo data for {dataset_type}; add it to '
        'DEMO_FORMATS of tests/test_config_matrix.py')
    return demo_roots[DEMO_FORMATS[dataset_type],
                      REAL_SIZE.get(config, (120, 160))]


def test_matrix_covers_every_shipped_config():
    assert len(CONFIGS) >= 25
    for config in REAL_SIZE:
        assert config in CONFIGS


@pytest.mark.slow
@pytest.mark.parametrize('config', CONFIGS)
def test_config_trains_validates_and_tests(config, demo_roots, vgg16_file,
                                           tmp_path):
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    data_root = _demo_root(cfg, config, demo_roots)
    options = cpu_options(config, cfg, data_root, vgg16_file)
    work_dir = str(tmp_path / 'work')
    predictions = str(tmp_path / 'predictions')
    segments = 'IoU' in cfg.test_evaluator.type
    result = run_tool(['tests/train_then_test.py', config, work_dir] +
                      (['--out', predictions] if segments else []) +
                      ['--cfg-options', *options])
    log = result.stdout + result.stderr
    assert re.search(r'(Iter|Epoch)\(train\) +(\[1\])?\[2/2\]', log), log
    if cfg.get('val_cfg'):
        assert re.search(r'(Iter|Epoch)\(val\).*(mIoU|PSNR)', log), log
    else:
        assert not re.search(r'(Iter|Epoch)\(val\)', log), log
    assert 'Reach the end of the dataloader' not in log
    assert re.search(r'(Iter|Epoch)\(test\).*(mIoU|PSNR)', log), log
    if config in REAL_SIZE:
        written = sorted(glob.glob(osp.join(predictions, '*.png')))
        assert len(written) == 2
        height, width = REAL_SIZE[config]
        assert Image.open(written[0]).size == (width, height)
