"""Every shipped config trains, validates and tests on CPU as a user runs it.

For each config under ``configs/``: ``tools/train.py`` for two training
iterations (epoch configs: one epoch of two batches at the shipped batch
size) with the shipped pipelines, data preprocessor, optimizer wrapper,
schedule type and hooks, its validation when it has one, then
``tools/test.py`` on the checkpoint it wrote. Only what CPU time forbids is
shrunk, through ``--cfg-options`` (:func:`cpu_options`): the SAM / SAM2
encoder size, the crop size, and at full resolution FMP's key/value pooling
and the batch size; pretrained files are random ones in the official
layouts (VGG16) or none (SAM, SAM2, the trained checkpoints of
``part_checkpoints``: a stage-1 LSTG, a baseline's FusionSAM). Configs that
train on SAM mask priors get them from
``tools/dataset_converters/sam_mask_priors.py`` first; configs of your own
data (``MultiModalFolderDataset``) get a folder of colour-label pairs
prepared by ``tools/dataset_converters/prepare_own_dataset.py``, as
docs/own_data.md does.
``REAL_SIZE`` configs keep their dataset's native image and crop size (FMB
600x800; MFNet's 480x640 is trained by tests/test_paper_config_vitb.py);
the others run on 192x256 demo images.
"""
import glob
import os.path as osp
import re
from typing import Dict, List

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import DATASETS
from PIL import Image

from conftest import REPO_ROOT, run_tool
from in_process import run_script
from fusionsam_mmseg.datasets.demo_data import make_demo_dataset

CONFIGS = sorted(
    osp.relpath(path, REPO_ROOT)
    for path in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'),
                          recursive=True) if '_base_' not in path)
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
# MFNet's 480x640 runs in tests/test_paper_config_vitb.py (the ViT-B config
# itself, through mmseg's own train.py).
REAL_SIZE = {
    'configs/fusionsam_vith_fmb.py': (600, 800),
}
DEMO_SIZE = (192, 256)  # MS-SSIM needs at least 176 pixels a side
SMALL_CROP = (64, 96)
DEMO_FORMATS = dict(MFNetDataset='mfnet', FMBDataset='fmb',
                    DELIVERDataset='deliver', MCubeSDataset='mcubes',
                    MSRSDataset='msrs', PST900Dataset='pst900',
                    MultiModalFolderDataset='multimodal_folder')
TINY_SAM = dict(embed_dim=32, depth=2, num_heads=2, global_attn_indexes=(1, ),
                window_size=4, patch_size=8, mlp_ratio=2.0,
                prompt_embed_dim=64, mask_in_chans=16, decoder_depth=1,
                decoder_mlp_dim=128, decoder_num_heads=4,
                iou_head_hidden_dim=16)
TINY_SAM2_CONFIG = 'configs/sam2.1/sam2.1_hiera_t.yaml'
SAM2_PARTS = ('SAM2LoRABackbone', 'MemorySAMHead')


@pytest.fixture(scope='module')
def demo_roots(tmp_path_factory) -> Dict[tuple, str]:
    """Demo data per (format, size): 8 train images (two batches of the
    shipped 4), 2 validation and 2 test images; at full resolution 2 train
    images (batches of 1) and 1 validation and test image."""
    roots = {}
    for fmt in DEMO_FORMATS.values():
        for size in [DEMO_SIZE] + [s for c, s in REAL_SIZE.items()
                                   if fmt in c]:
            roots[fmt, size] = make_demo_dataset(
                str(tmp_path_factory.mktemp(f'{fmt}_{size[0]}')), fmt,
                num_train=8 if size == DEMO_SIZE else 2,
                num_test=2 if size == DEMO_SIZE else 1, seed=7,
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
    """A tiny random SAM / SAM2 in place of the official sizes."""
    prefix = 'model.decode_head.'
    if head.type in ('SAMPromptHead', 'StockSAMHead'):
        if head.get('sam_type', 'vit_h') not in ('vit_b', 'vit_l', 'vit_h'):
            return []
        return [f'{prefix}sam_type=custom', f'{prefix}image_size=128',
                f'{prefix}checkpoint=None'] + [
                    f'{prefix}encoder_cfg.{key}={value}'
                    for key, value in TINY_SAM.items()]
    if head.type == 'StockSAM2Head' and 'hiera_t' not in head.sam2_config:
        return [f'{prefix}sam2_config={TINY_SAM2_CONFIG}',
                f'{prefix}image_size=256', f'{prefix}checkpoint=None']
    return []


def _sam2_part_options(part: str, cfg: dict) -> List[str]:
    """MemorySAM's SAM2 parts: Hiera-T at 128 pixels, random weights."""
    if cfg.get('type') not in SAM2_PARTS or cfg.get('image_size',
                                                      1024) <= 256:
        return []
    return [f'model.{part}.checkpoint=None',
            f'model.{part}.sam2_config=sam2_hiera_t',
            f'model.{part}.image_size=128']


def _model_options(model: dict, vgg16_file: str) -> List[str]:
    options = []
    backbone = model.get('backbone') or {}
    head = model.get('decode_head') or {}
    if head:
        options += _sam_options(head) + _sam2_part_options('decode_head',
                                                           head)
    options += _sam2_part_options('backbone', backbone)
    if backbone.get('loss_perceptual'):
        options.append('model.backbone.loss_perceptual.init_cfg.checkpoint='
                       f'{vgg16_file}')
    if backbone.get('fusion_checkpoint'):
        options.append('model.backbone.fusion_checkpoint=None')
    if model.get('sam_checkpoint'):
        options.append('model.sam_checkpoint=None')
    # lstg_checkpoint / fusionsam_checkpoint: trained files no test has.
    options += [f'model.part_checkpoints.{part}=None'
                for part, path in (model.get('part_checkpoints') or
                                   {}).items() if path]
    return options


def _crop_options(cfg: Config, crop) -> List[str]:
    """Shrink the train crop (and the random resize around it)."""
    options = []
    for index, step in enumerate(cfg.train_dataloader.dataset.pipeline):
        key = f'train_dataloader.dataset.pipeline.{index}'
        if step.type == 'RandomCrop':
            options.append(f'{key}.crop_size={tuple(crop)}')
        elif step.type == 'RandomResize':
            options.append(f'{key}.scale={(crop[1] * 5 // 4, crop[0] * 5 // 4)}')
    if cfg.model.get('data_preprocessor', {}).get('size'):
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
                    'default_hooks.checkpoint.interval=2',
                    'default_hooks.logger.interval=1']
    options += _model_options(cfg.model, vgg16_file)
    if config in REAL_SIZE:
        # Full resolution: one image per batch (a ~40 s iteration here).
        options.append('train_dataloader.batch_size=1')
        if cfg.model.get('neck', {}).get('type') == 'FMP':
            options.append('model.neck.kv_pool_size=16')
    elif any(tuple(step.get('crop_size', SMALL_CROP)) != SMALL_CROP
             for step in cfg.train_dataloader.dataset.pipeline
             if step.type == 'RandomCrop'):
        options += _crop_options(cfg, SMALL_CROP)
    return options


def _needs_mask_priors(cfg: Config) -> bool:
    return any(step.type == 'LoadSAMMaskPriors'
               for step in cfg.train_dataloader.dataset.pipeline)


def _write_mask_priors(data_root: str, dataset_type: str) -> None:
    """The SAGE priors cache of the demo train split, from a random SAM."""
    if glob.glob(osp.join(data_root, 'train', 'sam_mask_priors', '*.json')):
        return
    run_tool(['tools/dataset_converters/sam_mask_priors.py', '--data-root',
              data_root, '--split', 'train', '--dataset', dataset_type,
              '--sam-type', 'vit_b',
              '--checkpoint', 'none', '--image-size', '256',
              '--points-per-side', '4', '--crop-n-layers', '0'])


def _prepare_own_data(config: str, data_root: str) -> None:
    """Id labels and split files of a folder of colour-label pairs."""
    if osp.isfile(osp.join(data_root, 'splits', 'train.txt')):
        return
    run_script('tools/dataset_converters/prepare_own_dataset.py', [
        config, '--color-labels', 'labels', '--cfg-options',
        *[f'{loader}.dataset.data_root={data_root}' for loader in LOADERS]])


def _demo_root(cfg: Config, config: str, demo_roots) -> str:
    dataset_type = cfg.train_dataloader.dataset.type
    assert dataset_type in DEMO_FORMATS, (
        f'{config}: no demo data for {dataset_type}; add it to '
        'DEMO_FORMATS of tests/test_config_matrix.py')
    return demo_roots[DEMO_FORMATS[dataset_type],
                      REAL_SIZE.get(config, DEMO_SIZE)]


def _evaluator_types(cfg: Config) -> List[str]:
    evaluator = cfg.test_evaluator
    evaluators = evaluator if isinstance(evaluator, list) else [evaluator]
    return [metric.type for metric in evaluators]


def test_matrix_covers_every_shipped_config():
    assert len(CONFIGS) >= 40
    for config in REAL_SIZE:
        assert config in CONFIGS


@pytest.mark.slow
@pytest.mark.parametrize('config', CONFIGS)
def test_config_trains_validates_and_tests(config, demo_roots, vgg16_file,
                                           tmp_path):
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    data_root = _demo_root(cfg, config, demo_roots)
    if _needs_mask_priors(cfg):
        _write_mask_priors(data_root, cfg.train_dataloader.dataset.type)
    if cfg.train_dataloader.dataset.type == 'MultiModalFolderDataset':
        _prepare_own_data(config, data_root)
    options = cpu_options(config, cfg, data_root, vgg16_file)
    work_dir = str(tmp_path / 'work')
    predictions = str(tmp_path / 'predictions')
    segments = 'PerClassIoUMetric' in _evaluator_types(cfg)
    result = run_tool(['tests/train_then_test.py', config, work_dir] +
                      (['--out', predictions] if segments else []) +
                      ['--cfg-options', *options],
                      timeout=1200 if config in REAL_SIZE else 600)
    log = result.stdout + result.stderr
    assert re.search(r'(Iter|Epoch)\(train\) +(\[1\])?\[2/2\]', log), log
    if cfg.get('val_cfg'):
        assert re.search(r'(Iter|Epoch)\(val\).*(mIoU|PSNR)', log), log
    else:
        assert not re.search(r'(Iter|Epoch)\(val\)', log), log
    assert 'Reach the end of the dataloader' not in log
    assert re.search(r'(Iter|Epoch)\(test\).*(mIoU|PSNR|EN: )', log), log
    if segments:
        written = sorted(glob.glob(osp.join(predictions, '*.png')))
        test_set = dict(cfg.test_dataloader.dataset, data_root=data_root)
        assert len(written) == len(DATASETS.build(test_set)) > 0
        height, width = REAL_SIZE.get(config, DEMO_SIZE)
        assert Image.open(written[0]).size[1] == height
        if cfg.train_dataloader.dataset.type != 'MCubeSDataset':
            assert Image.open(written[0]).size[0] == width
