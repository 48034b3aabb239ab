"""FusionSAM-tiny (LSTG + FMP + SAMPromptHead) on four modalities through
the stock tools/train.py and tools/test.py, and its one-line RGB-D variant."""
import glob
import json
import os.path as osp
import re

import pytest

from conftest import REPO_ROOT, run_tool

CONFIG = 'configs/fusionsam_tiny_deliver_demo.py'
MODALITIES = ('rgb', 'depth', 'event', 'lidar')


def _options(data_root: str) -> list:
    return ['--cfg-options', 'train_cfg.max_iters=2',
            'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2',
            'default_hooks.logger.interval=1'] + [
                f'{loader}.dataset.data_root={data_root}'
                for loader in ('train_dataloader', 'val_dataloader',
                               'test_dataloader')]


@pytest.mark.slow
def test_four_modalities_train_validate_and_test(deliver_demo_root,
                                                 tmp_path):
    work_dir = str(tmp_path / 'work')
    log = run_tool(['tools/train.py', CONFIG, '--work-dir', work_dir] +
                   _options(deliver_demo_root)).stdout
    assert re.search(r'Iter\(train\) \[2/2\]', log), log[-3000:]
    for name in MODALITIES:  # LSTG: one codebook per modality
        assert f'backbone.perplexity_{name}' in log
    assert re.search(r'Iter\(val\) \[2/2\].*mIoU', log)
    assert 'Reach the end of the dataloader' not in log
    checkpoint = osp.join(work_dir, 'iter_2.pth')
    test_dir = str(tmp_path / 'test')
    run_tool(['tools/test.py', CONFIG, checkpoint, '--work-dir', test_dir] +
             _options(deliver_demo_root))
    results = glob.glob(osp.join(test_dir, '*', '*.json'))
    assert len(results) == 1
    metrics = json.loads(open(results[0]).read())
    assert 0 <= metrics['mIoU'] <= 100 and 'IoU.TwoWheeler' in metrics


@pytest.mark.slow
def test_rgbd_is_a_one_line_variant(deliver_demo_root, tmp_path):
    source = open(osp.join(REPO_ROOT, CONFIG)).read()
    line = "modalities = ('rgb', 'depth', 'event', 'lidar')\n"
    assert source.count(line) == 1
    variant = tmp_path / 'fusionsam_tiny_deliver_rgbd_demo.py'
    variant.write_text(
        source.replace(line, "modalities = ('rgb', 'depth')\n").replace(
            "'./_base_/", f"'{REPO_ROOT}/configs/_base_/"))
    log = run_tool(['tools/train.py', str(variant), '--work-dir',
                    str(tmp_path / 'work')] +
                   _options(deliver_demo_root)).stdout
    assert re.search(r'Iter\(train\) \[2/2\]', log), log[-3000:]
    assert 'backbone.perplexity_depth' in log
    assert 'perplexity_event' not in log and 'perplexity_lidar' not in log
