"""MemorySAM through mmseg's own tools (issue 14): the tiny demo config
learns above chance on DELIVER-layout demo data, and the DELIVER RGB-D-E-L
config trains (random weights, shrunk where CPU time forbids), logs the
prototype loss and tests on the 25 DELIVER classes."""
import glob
import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from conftest import run_tool
from fusionsam_mmseg.datasets.deliver import DELIVER_CLASSES
from fusionsam_mmseg.datasets.demo_data import make_demo_dataset

TINY_CONFIG = 'configs/memorysam/memorysam_tiny_demo.py'
RGBDEL_CONFIG = 'configs/memorysam/memorysam_hiera_bplus_deliver_rgbdel.py'
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def data_options(root):
    return [f'{loader}.dataset.data_root={root}' for loader in LOADERS]


def majority_class_miou(root: str, split: str) -> float:
    """mIoU (%) of predicting the most frequent class everywhere: its IoU is
    its pixel share, every other present class scores 0."""
    counts = np.zeros(256, np.int64)
    for path in glob.glob(osp.join(root, 'semantic', '*', split, '*',
                                   '*.png')):
        raw = np.asarray(Image.open(path))[..., 0]
        counts += np.bincount(raw.ravel(), minlength=256)
    counts = counts[1:26]  # raw 0 is void; 1..25 are the classes
    present = np.count_nonzero(counts)
    return 100.0 * counts.max() / counts.sum() / present


def read_test_metrics(work_dir: str) -> dict:
    path, = glob.glob(osp.join(work_dir, '*', '*.json'))
    return json.load(open(path))


@pytest.mark.slow
def test_tiny_demo_learns_above_chance(tmp_path):
    root = make_demo_dataset(str(tmp_path / 'data'), 'deliver',
                             num_train=24, num_test=8, seed=0)
    work_dir = str(tmp_path / 'work')
    options = ['--cfg-options', *data_options(root)]
    train = run_tool(['tools/train.py', TINY_CONFIG, '--work-dir', work_dir,
                      *options], timeout=1500)
    assert 'decode.loss_prototype' in train.stdout + train.stderr
    checkpoint = open(osp.join(work_dir, 'last_checkpoint')).read().strip()
    run_tool(['tools/test.py', TINY_CONFIG, checkpoint, '--work-dir',
              osp.join(work_dir, 'test'), *options])
    miou = read_test_metrics(osp.join(work_dir, 'test'))['mIoU']
    chance = majority_class_miou(root, 'test')
    print(f'MemorySAM-tiny demo test mIoU {miou:.2f} (majority class: '
          f'{chance:.2f})')
    assert miou > 3 * chance


@pytest.mark.slow
def test_deliver_rgbdel_config_trains_and_tests_on_25_classes(tmp_path):
    root = make_demo_dataset(str(tmp_path / 'data'), 'deliver', num_train=8,
                             num_test=2, seed=7)
    shrink = [
        # CPU time: SAM2 Hiera-T at 128 instead of Hiera-B+ at 1024, random
        # weights, 96x128 crops; one epoch of the 8 demo images (2 batches
        # of the shipped 4).
        'model.backbone.checkpoint=None', 'model.decode_head.checkpoint=None',
        'model.backbone.sam2_config=sam2_hiera_t',
        'model.decode_head.sam2_config=sam2_hiera_t',
        'model.backbone.image_size=128', 'model.decode_head.image_size=128',
        'train_dataloader.dataset.pipeline.5.scale=(640,160)',
        'train_dataloader.dataset.pipeline.6.crop_size=(96,128)',
        'model.data_preprocessor.size=(96,128)', 'train_cfg.max_epochs=1'
    ] + [f'{loader}.{key}' for loader in LOADERS
         for key in ('num_workers=0', 'persistent_workers=False')]
    options = ['--cfg-options', *data_options(root), *shrink]
    work_dir = str(tmp_path / 'work')
    train = run_tool(['tools/train.py', RGBDEL_CONFIG, '--work-dir',
                      work_dir, *options])
    log = train.stdout + train.stderr
    assert 'Iter(train) [2/2]' in log and 'decode.loss_prototype' in log
    assert 'MemorySAMHead (4 frames, 25 class tokens)' in log
    assert "SAM2LoRABackbone(sam2_config='sam2_hiera_t', image_size=128): " \
        'trained: LoRA (' in log
    checkpoint = open(osp.join(work_dir, 'last_checkpoint')).read().strip()
    test = run_tool(['tools/test.py', RGBDEL_CONFIG, checkpoint,
                     '--work-dir', osp.join(work_dir, 'test'), *options])
    assert 'Iter(test) [2/2]' in test.stdout + test.stderr
    metrics = read_test_metrics(osp.join(work_dir, 'test'))
    assert [key[len('IoU.'):] for key in metrics
            if key.startswith('IoU.')] == list(DELIVER_CLASSES)
    assert len(DELIVER_CLASSES) == 25
