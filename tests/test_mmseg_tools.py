"""mmseg's own shipped analysis tools, unmodified, on our configs: the
confusion matrix from ``tools/test.py --out`` predictions and the training
curves of ``analyze_logs.py`` (``browse_dataset.py``: tests/test_visualizer.py)."""
import glob
import importlib.util
import json
import os.path as osp

import mmseg
import numpy as np
import pytest
from PIL import Image

from conftest import run_tool

CONFIG = 'configs/fusionsam_tiny_demo.py'
MMSEG_TOOLS = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools',
                       'analysis_tools')


@pytest.fixture(scope='module')
def trained(mfnet_demo_root, tmp_path_factory):
    """Two training iterations + validation, then tools/test.py --out."""
    tmp_path = tmp_path_factory.mktemp('mmseg_tools')
    options = [f'{loader}.dataset.data_root={mfnet_demo_root}'
               for loader in ('train_dataloader', 'val_dataloader',
                              'test_dataloader')]
    work_dir = str(tmp_path / 'work')
    run_tool(['tools/train.py', CONFIG, '--work-dir', work_dir,
              '--cfg-options', *options, 'train_cfg.max_iters=2',
              'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2',
              'default_hooks.logger.interval=1'])
    predictions = str(tmp_path / 'predictions')
    run_tool(['tools/test.py', CONFIG, osp.join(work_dir, 'iter_2.pth'),
              '--work-dir', str(tmp_path / 'test'), '--out', predictions,
              '--cfg-options', *options])
    return dict(work_dir=work_dir, predictions=predictions, options=options,
                tmp_path=tmp_path, data_root=mfnet_demo_root)


def _load(script: str):
    spec = importlib.util.spec_from_file_location(
        osp.splitext(script)[0], osp.join(MMSEG_TOOLS, script))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_confusion_matrix_from_test_predictions(trained):
    save_dir = str(trained['tmp_path'] / 'confusion')
    run_tool([osp.join(MMSEG_TOOLS, 'confusion_matrix.py'), CONFIG,
              trained['predictions'], save_dir, '--cfg-options',
              f"test_dataloader.dataset.data_root={trained['data_root']}"])
    assert Image.open(osp.join(save_dir, 'confusion_matrix.png')).size[0] > 0
    # The tool's counts are those of the predictions against the labels.
    from mmengine.config import Config
    from mmseg.registry import DATASETS
    cfg = Config.fromfile(CONFIG)
    cfg.test_dataloader.dataset.data_root = trained['data_root']
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    files = sorted(glob.glob(osp.join(trained['predictions'], '*.png')))
    results = [np.array(Image.open(path)) for path in files]
    matrix = _load('confusion_matrix.py').calculate_confusion_matrix(
        dataset, results)
    labels = np.concatenate([
        np.array(Image.open(osp.join(trained['data_root'], 'labels',
                                     osp.basename(path)))).ravel()
        for path in files])
    predicted = np.concatenate([result.ravel() for result in results])
    assert matrix.sum() == labels.size
    assert np.array_equal(matrix.sum(axis=1), np.bincount(labels,
                                                          minlength=9))
    assert matrix.trace() == (labels == predicted).sum()


@pytest.mark.slow
def test_analyze_logs_plots_our_training_curves(trained):
    # the log json LoggerHook writes next to scalars.json
    scalars, = glob.glob(osp.join(trained['work_dir'], '*', 'vis_data',
                                  '2*.json'))
    keys = set().union(*(json.loads(line) for line in open(scalars)))
    assert {'loss', 'decode.loss_ce', 'mIoU'} <= keys
    out = str(trained['tmp_path'] / 'curves.png')
    result = run_tool([osp.join(MMSEG_TOOLS, 'analyze_logs.py'), scalars,
                       '--keys', 'loss', 'decode.loss_ce', '--backend', 'Agg',
                       '--out', out])
    assert f'save curve to: {out}' in result.stdout
    assert Image.open(out).size[0] > 0
