"""DropModality and tools/analysis/modality_robustness.py on tiny models.

The tool runs on FusionSAM-tiny (RGB-T), MemorySAM-tiny (DELIVER RGB-D-E-L)
and the stock FCN baseline, each trained for one iteration. On FusionSAM
its run with every modality must equal a plain test run of the config, and
its last run (thermal, noise) a test run of the config with
``DropModality`` written into the test pipeline by hand, also when the test
loader keeps a persistent worker.
"""
import csv
import os.path as osp
import uuid

import numpy as np
import pytest
from mmengine.runner import Runner
from mmseg.registry import TRANSFORMS
from PIL import Image

from in_process import config_with_data, run_script, train_briefly

FUSIONSAM_CONFIG = 'configs/fusionsam_tiny_demo.py'
MEMORYSAM_CONFIG = 'configs/memorysam/memorysam_tiny_demo.py'
FCN_CONFIG = 'configs/baselines/fcn_tiny_rgbt_demo.py'
MFNET_CLASSES = ('unlabeled', 'car', 'person', 'bike', 'curve', 'car_stop',
                 'guardrail', 'color_cone', 'bump')


def _stacked(seed: int = 0) -> dict:
    """Results of a loaded rgb (3) + thermal (1) + aolp (2) sample."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (20, 30, 6), dtype=np.uint8)
    return dict(
        img=image,
        img_path='a/frame.png',
        modality_names=('rgb', 'thermal', 'aolp'),
        modality_channels=(3, 1, 2))


@pytest.mark.parametrize('mode', ['zero', 'mean', 'noise'])
def test_drop_modality_replaces_only_that_modality(mode):
    results = _stacked()
    original = results['img'].copy()
    drop = TRANSFORMS.build(dict(type='DropModality', modality='aolp',
                                 mode=mode))
    image = drop(dict(results))['img']
    assert image.dtype == np.uint8 and image.shape == original.shape
    np.testing.assert_array_equal(image[..., :4], original[..., :4])
    np.testing.assert_array_equal(results['img'], original)  # not in place
    dropped = image[..., 4:].astype(np.float64)
    source = original[..., 4:].astype(np.float64)
    if mode == 'zero':
        assert not dropped.any()
    elif mode == 'mean':
        np.testing.assert_array_equal(
            dropped, np.broadcast_to(np.round(source.mean((0, 1))),
                                     dropped.shape))
    else:
        np.testing.assert_allclose(
            dropped.mean((0, 1)), source.mean((0, 1)), atol=12)
        np.testing.assert_allclose(
            dropped.std((0, 1)), source.std((0, 1)), rtol=0.2)
        assert np.abs(dropped - source).mean() > 30  # no longer the image
        np.testing.assert_array_equal(drop(dict(results))['img'], image)
        other = drop(dict(results, img_path='b/frame.png'))['img']
        assert not np.array_equal(other, image)


def test_drop_modality_rejects_unknown_names_and_modes():
    with pytest.raises(ValueError, match="modality_names=\\('rgb', "
                       "'thermal', 'aolp'\\)"):
        TRANSFORMS.build(dict(type='DropModality', modality='depth'))(
            _stacked())
    with pytest.raises(ValueError, match="'zero', 'mean', 'noise'"):
        TRANSFORMS.build(dict(type='DropModality', modality='rgb',
                              mode='blur'))


def _test_mious(config: str, data_root: str, checkpoint: str, work_dir: str,
                drop: dict = None) -> dict:
    """mIoU and per-class IoU of a plain test run, with ``drop`` inserted
    after the image loader of the test pipeline when given."""
    cfg = config_with_data(config, data_root)
    name = f'plain_test_{uuid.uuid4().hex[:8]}'
    cfg.merge_from_dict(dict(work_dir=work_dir, load_from=checkpoint,
                             experiment_name=name))
    cfg.visualizer.name = name
    cfg.test_evaluator = dict(type='PerClassIoUMetric', iou_metrics=['mIoU'])
    if drop is not None:
        cfg.test_dataloader.dataset.pipeline.insert(1, drop)
    metrics = Runner.from_cfg(cfg).test()
    return {key: value for key, value in metrics.items()
            if key == 'mIoU' or key.startswith('IoU.')}


def _rows(out_dir: str) -> list:
    with open(osp.join(out_dir, 'robustness.csv')) as file:
        return list(csv.DictReader(file))


def _as_floats(row: dict) -> dict:
    return {key: float(value) for key, value in row.items()
            if key == 'mIoU' or key.startswith('IoU.')}


@pytest.fixture(scope='module')
def fusionsam_checkpoint(mfnet_demo_root, tmp_path_factory) -> str:
    return train_briefly(FUSIONSAM_CONFIG, mfnet_demo_root,
                         str(tmp_path_factory.mktemp('fusionsam_ckpt')))


def test_fusionsam_table_matches_plain_test_runs(fusionsam_checkpoint,
                                                 mfnet_demo_root, tmp_path):
    out_dir = str(tmp_path / 'robustness')
    # A loader worker, asked to persist as the GPU configs ask: each run
    # must still see its own pipeline.
    run_script('tools/analysis/modality_robustness.py', [
        FUSIONSAM_CONFIG, fusionsam_checkpoint, '--out-dir', out_dir,
        '--cfg-options',
        f'test_dataloader.dataset.data_root={mfnet_demo_root}',
        'test_dataloader.num_workers=1',
        'test_dataloader.persistent_workers=True'
    ])
    with open(osp.join(out_dir, 'robustness.csv')) as file:
        header = file.readline().strip().split(',')
    assert header == ['dropped', 'mode', 'mIoU'] + [
        f'IoU.{name}' for name in MFNET_CLASSES]
    rows = _rows(out_dir)
    assert [(r['dropped'], r['mode']) for r in rows] == [
        ('none', 'none')] + [(m, mode) for m in ('rgb', 'thermal')
                             for mode in ('zero', 'mean', 'noise')]
    plain = _test_mious(FUSIONSAM_CONFIG, mfnet_demo_root,
                        fusionsam_checkpoint, str(tmp_path / 'plain'))
    assert _as_floats(rows[0]) == pytest.approx(plain, nan_ok=True)
    by_hand = _test_mious(
        FUSIONSAM_CONFIG, mfnet_demo_root, fusionsam_checkpoint,
        str(tmp_path / 'by_hand'),
        dict(type='DropModality', modality='thermal', mode='noise'))
    assert _as_floats(rows[6]) == pytest.approx(by_hand, nan_ok=True)
    table = open(osp.join(out_dir, 'robustness.md')).read()
    assert '| thermal | noise |' in table and 'ΔmIoU' in table
    chart = Image.open(osp.join(out_dir, 'robustness.png'))
    assert chart.size[0] > 300 and chart.size[1] > 200


def test_memorysam_and_fcn_baseline_run(memorysam_demo_checkpoint,
                                        deliver_demo_root, mfnet_demo_root,
                                        tmp_path):
    fcn_checkpoint = train_briefly(FCN_CONFIG, mfnet_demo_root,
                                   str(tmp_path / 'fcn_train'))
    for config, checkpoint, data_root, modalities in (
            (MEMORYSAM_CONFIG, memorysam_demo_checkpoint, deliver_demo_root,
             ('rgb', 'depth', 'event', 'lidar')),
            (FCN_CONFIG, fcn_checkpoint, mfnet_demo_root, ('rgb', 'thermal'))):
        out_dir = str(tmp_path / osp.basename(config))
        run_script('tools/analysis/modality_robustness.py', [
            config, checkpoint, '--out-dir', out_dir, '--modes', 'zero',
            '--cfg-options', f'test_dataloader.dataset.data_root={data_root}'
        ])
        rows = _rows(out_dir)
        assert [r['dropped'] for r in rows] == ['none', *modalities]
        assert all(r['mode'] == 'zero' for r in rows[1:])
        for row in rows:
            assert 0 <= float(row['mIoU']) <= 100


def test_unknown_modality_is_an_error(fusionsam_checkpoint, mfnet_demo_root,
                                      tmp_path):
    with pytest.raises(ValueError, match=r"modalities \['rgb', 'thermal'\]"):
        run_script('tools/analysis/modality_robustness.py', [
            FUSIONSAM_CONFIG, fusionsam_checkpoint, '--out-dir',
            str(tmp_path), '--modalities', 'depth', '--cfg-options',
            f'test_dataloader.dataset.data_root={mfnet_demo_root}'
        ])
