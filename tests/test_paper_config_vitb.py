"""The ViT-B MFNet paper config itself, at 480x640, on CPU, as issue 11 and
12 ask: mmseg's own tools/train.py trains one epoch of a 2-image MFNet root
(one iteration of the config's batch) with an official-layout SAM ViT-B file
(random weights), validates on val.txt while test.txt lists a file that does
not exist, writes a checkpoint without the frozen encoder (< 100 MB), and
tools/test.py from it (the SAM file re-read) scores exactly what validation
scored and writes 480x640 predictions.

Shrunk for CPU time, through --cfg-options only: FMP pools keys/values to
32x32 (token-to-token attention over 120x160 tokens makes the iteration
~5 min here) and the perceptual loss is off (no VGG16 file).
"""
import glob
import json
import os
import os.path as osp

import mmseg
import pytest
import torch
from PIL import Image

from conftest import run_tool
from fusionsam_mmseg.datasets.demo_data import make_demo_dataset
from fusionsam_mmseg.models.pretrained_file import RECORD_KEY

CONFIG = 'configs/fusionsam_vitb_mfnet.py'
MMSEG_TRAIN = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools',
                       'train.py')


@pytest.fixture(scope='module')
def sam_vit_b_file(tmp_path_factory) -> str:
    """segment_anything's own ViT-B with random weights, official layout."""
    from segment_anything.build_sam import build_sam_vit_b
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('sam') / 'sam_vit_b_01ec64.pth'
    torch.save(build_sam_vit_b(checkpoint=None).state_dict(), path)
    return str(path)


def _options(data_root: str, sam_file: str) -> list:
    loaders = ('train_dataloader', 'val_dataloader', 'test_dataloader')
    return [f'{loader}.{key}={value}' for loader in loaders
            for key, value in (('dataset.data_root', data_root),
                               ('num_workers', 0),
                               ('persistent_workers', False))] + [
        'train_cfg.max_epochs=1',
        f'model.decode_head.checkpoint={sam_file}',
        'model.backbone.loss_perceptual=None',
        'model.part_checkpoints.backbone=None',  # no stage-1 LSTG here
        'model.neck.kv_pool_size=32',
    ]


def _last_metrics(work_dir: str, mode: str) -> dict:
    scalars = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    if mode == 'val':
        lines = open(scalars[0]).read().splitlines()
        return [json.loads(line) for line in lines if 'mIoU' in line][-1]
    tests = sorted(glob.glob(osp.join(work_dir, '*', '*.json')))
    return json.loads(open(tests[-1]).read())


@pytest.mark.slow
def test_vitb_paper_config_trains_and_tests_at_480x640(sam_vit_b_file,
                                                       tmp_path):
    data_root = make_demo_dataset(str(tmp_path / 'mfnet'), 'mfnet',
                                  num_train=2, num_test=1, seed=11,
                                  height=480, width=640)
    real_test = open(osp.join(data_root, 'test.txt')).read()
    with open(osp.join(data_root, 'test.txt'), 'w') as split:
        split.write('99999D\n')  # training must never read the test split
    work_dir = str(tmp_path / 'train')
    options = _options(data_root, sam_vit_b_file)
    train = run_tool([MMSEG_TRAIN, CONFIG, '--work-dir', work_dir,
                      '--cfg-options', *options], timeout=1200)
    log = train.stdout + train.stderr
    assert 'Epoch(train) [1][1/1]' in log and 'Epoch(val) [1][1/1]' in log
    val = _last_metrics(work_dir, 'val')

    checkpoint = glob.glob(osp.join(work_dir, 'best_mIoU_epoch_1.pth'))[0]
    assert os.path.getsize(checkpoint) < 100e6
    state = torch.load(checkpoint, map_location='cpu',
                       weights_only=True)['state_dict']
    assert f'decode_head.{RECORD_KEY}' in state
    assert not [key for key in state if 'image_encoder' in key]

    with open(osp.join(data_root, 'test.txt'), 'w') as split:
        split.write(real_test)
    predictions = str(tmp_path / 'predictions')
    test_dir = str(tmp_path / 'test')
    run_tool(['tools/test.py', CONFIG, checkpoint, '--work-dir', test_dir,
              '--out', predictions, '--cfg-options', *options,
              'test_dataloader.dataset.ann_file=val.txt'], timeout=1200)
    test = _last_metrics(test_dir, 'test')
    for key in ('mIoU', 'aAcc', 'mAcc', 'IoU.car'):
        assert test[key] == val[key], key
    written = glob.glob(osp.join(predictions, '*.png'))
    assert len(written) == 1 and Image.open(written[0]).size == (640, 480)
