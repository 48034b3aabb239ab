"""RGBTSegInferencer and the demo scripts on the tiny FusionSAM demo model.

Input handling and input errors use a randomly initialised model; outputs on
the real MSRS pairs, checkpoint checks and the command-line tools use a
checkpoint trained here by tools/train.py for one iteration.
"""
import glob
import os.path as osp

import cv2
import mmcv
import mmengine
import numpy as np
import pytest
import torch
from mmengine.config import Config

from conftest import run_tool
from fusionsam_mmseg.apis import RGBTSegInferencer, stack_arrays
from fusionsam_mmseg.datasets.transforms import LoadRGBTImageFromFile

CONFIG = 'configs/fusionsam_tiny_demo.py'
NUM_CLASSES = 9
MSRS_SIZE = (480, 640)
# FMP attends globally over the token map, so a native 480x640 frame costs
# ~20 s on 2 CPU cores; the in-process tests resize frames to the demo size
# in the test pipeline (outputs still come back at the input's size).
TEST_SCALE = (160, 120)


def _data_options(root: str):
    return [
        f'{loader}.dataset.data_root={root}'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ]


def _resized_config(repo_root: str) -> Config:
    cfg = Config.fromfile(osp.join(repo_root, CONFIG))
    cfg.test_dataloader.dataset.pipeline.insert(
        1, dict(type='Resize', scale=TEST_SCALE, keep_ratio=True))
    return cfg


def _pair(msrs_root: str, stem: str = '00003N', split: str = 'train'):
    return (osp.join(msrs_root, split, 'vi', f'{stem}.png'),
            osp.join(msrs_root, split, 'ir', f'{stem}.png'))


def _write_pair(folder, stem: str, size=(60, 80), thermal_size=None):
    """A random visible (RGB) / thermal (grey) PNG pair; returns the paths."""
    rng = np.random.default_rng(len(stem))
    visible = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    thermal = rng.integers(0, 256, thermal_size or size, dtype=np.uint8)
    paths = (str(folder / f'{stem}_vi.png'), str(folder / f'{stem}_ir.png'))
    cv2.imwrite(paths[0], visible)
    cv2.imwrite(paths[1], thermal)
    return paths


@pytest.fixture(scope='module')
def untrained_inferencer(repo_root) -> RGBTSegInferencer:
    with pytest.warns(UserWarning, match='randomly initialised'):
        return RGBTSegInferencer(_resized_config(repo_root), device='cpu')


@pytest.fixture(scope='module')
def checkpoint(mfnet_demo_root, tmp_path_factory) -> str:
    """The tiny FusionSAM demo model after one training iteration."""
    work_dir = str(tmp_path_factory.mktemp('fusionsam_demo_ckpt'))
    run_tool([
        'tools/train.py', CONFIG, '--work-dir', work_dir, '--cfg-options',
        *_data_options(mfnet_demo_root), 'train_cfg.max_iters=1',
        'default_hooks.checkpoint.interval=1', 'val_cfg=None',
        'val_dataloader=None', 'val_evaluator=None'
    ])
    return osp.join(work_dir, 'iter_1.pth')


@pytest.fixture(scope='module')
def inferencer(repo_root, checkpoint) -> RGBTSegInferencer:
    return RGBTSegInferencer(
        _resized_config(repo_root), weights=checkpoint, device='cpu')


@pytest.mark.slow
def test_msrs_folders_give_labels_masks_fused_images_and_panels(
        inferencer, msrs_root, tmp_path):
    visible_dir = osp.join(msrs_root, 'val', 'vi')
    thermal_dir = osp.join(msrs_root, 'val', 'ir')
    stems = sorted(
        osp.splitext(osp.basename(path))[0]
        for path in glob.glob(osp.join(visible_dir, '*.png')))
    result = inferencer((visible_dir, thermal_dir),
                        batch_size=2,
                        out_dir=str(tmp_path))
    assert result['names'] == stems
    assert len(result['fused_images']) == len(stems)
    height, width = MSRS_SIZE
    for stem in stems:
        label = cv2.imread(
            str(tmp_path / 'pred' / f'{stem}.png'), cv2.IMREAD_UNCHANGED)
        assert label.shape == MSRS_SIZE
        assert set(np.unique(label).tolist()) <= set(range(NUM_CLASSES))
        for folder in ('mask', 'fused'):
            image = mmcv.imread(str(tmp_path / folder / f'{stem}.png'))
            assert image.shape == (height, width, 3)
        panel = mmcv.imread(str(tmp_path / 'vis' / f'{stem}.png'))
        # visible | thermal | fused | prediction, legend strip below.
        assert panel.shape[1] == 4 * width and panel.shape[0] > height
        visible = mmcv.imread(osp.join(visible_dir, f'{stem}.png'))
        np.testing.assert_array_equal(panel[height // 2:height, :width],
                                      visible[height // 2:])


def test_array_input_gives_the_path_input_results(untrained_inferencer,
                                                  msrs_root):
    visible_path, thermal_path = _pair(msrs_root)
    from_paths = untrained_inferencer((visible_path, thermal_path),
                                      return_logits=True)
    visible_bgr = cv2.imread(visible_path, cv2.IMREAD_COLOR)
    thermal = cv2.imread(thermal_path, cv2.IMREAD_UNCHANGED)
    from_arrays = untrained_inferencer(
        dict(visible=visible_bgr[..., ::-1].copy(), thermal=thermal),
        return_logits=True)
    assert from_paths['predictions'].shape == MSRS_SIZE
    np.testing.assert_array_equal(from_paths['predictions'],
                                  from_arrays['predictions'])
    np.testing.assert_array_equal(from_paths['logits'], from_arrays['logits'])
    np.testing.assert_array_equal(from_paths['fused_images'],
                                  from_arrays['fused_images'])
    assert from_paths['logits'].shape == (NUM_CLASSES, *MSRS_SIZE)
    np.testing.assert_array_equal(from_paths['logits'].argmax(0),
                                  from_paths['predictions'])


def test_bgr_arrays_are_stacked_like_the_loader(tmp_path):
    visible_path, thermal_path = _write_pair(tmp_path, 'bgr')
    visible_bgr = cv2.imread(visible_path, cv2.IMREAD_COLOR)
    thermal = cv2.imread(thermal_path, cv2.IMREAD_UNCHANGED)
    loaded = LoadRGBTImageFromFile()(dict(
        img_path=visible_path, thermal_path=thermal_path))['img']
    np.testing.assert_array_equal(
        stack_arrays(visible_bgr, thermal, 1, visible_order='bgr'), loaded)
    np.testing.assert_array_equal(
        stack_arrays(visible_bgr[..., ::-1], thermal, 1), loaded)


def test_mfnet_png_path_and_stacked_array(untrained_inferencer,
                                          mfnet_demo_root):
    path = sorted(glob.glob(osp.join(mfnet_demo_root, 'images', '*.png')))[0]
    bgra = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    stacked = np.ascontiguousarray(bgra[..., [2, 1, 0, 3]])
    results = untrained_inferencer([path, stacked],
                                   batch_size=2,
                                   return_logits=True,
                                   return_vis=True)
    assert results['names'][0] == osp.splitext(osp.basename(path))[0]
    assert results['predictions'][0].shape == bgra.shape[:2]
    np.testing.assert_array_equal(results['logits'][0], results['logits'][1])
    assert results['visualization'][1].shape[1] == 4 * bgra.shape[1]


def test_pair_of_different_sizes_is_an_error(untrained_inferencer, tmp_path):
    visible_path, thermal_path = _write_pair(
        tmp_path, 'sizes', size=(60, 80), thermal_size=(30, 40))
    with pytest.raises(ValueError, match='same size') as error:
        untrained_inferencer((visible_path, thermal_path))
    assert visible_path in str(error.value)
    assert thermal_path in str(error.value)
    with pytest.raises(ValueError, match='same size'):
        untrained_inferencer((np.zeros(
            (60, 80, 3), np.uint8), np.zeros((30, 40), np.uint8)))


def test_missing_file_is_an_error(untrained_inferencer, tmp_path):
    visible_path, _ = _write_pair(tmp_path, 'missing')
    absent = str(tmp_path / 'no_such_frame.png')
    with pytest.raises(FileNotFoundError, match='no_such_frame.png'):
        untrained_inferencer([(visible_path, absent)])
    with pytest.raises(FileNotFoundError, match='no_such_frame.png'):
        untrained_inferencer(absent)


def test_unmatched_folder_stems_are_listed(untrained_inferencer, tmp_path):
    image = np.zeros((8, 8, 3), np.uint8)
    for folder, stems in (('vi', ('a', 'b', 'c')), ('ir', ('a', 'd'))):
        (tmp_path / folder).mkdir()
        for stem in stems:
            cv2.imwrite(str(tmp_path / folder / f'{stem}.png'), image)
    with pytest.raises(ValueError) as error:
        untrained_inferencer((str(tmp_path / 'vi'), str(tmp_path / 'ir')))
    message = str(error.value)
    assert 'without a thermal image: b, c' in message
    assert 'without a visible image: d' in message


@pytest.mark.slow
def test_checkpoint_with_other_classes_is_an_error(repo_root, checkpoint,
                                                   tmp_path):
    state = torch.load(checkpoint, map_location='cpu')
    state['meta']['dataset_meta']['classes'] = tuple(
        f'class_{i}' for i in range(NUM_CLASSES))
    other = str(tmp_path / 'other_classes.pth')
    torch.save(state, other)
    with pytest.raises(ValueError, match='trained on 9 classes') as error:
        RGBTSegInferencer(
            osp.join(repo_root, CONFIG), weights=other, device='cpu')
    assert 'class_0' in str(error.value) and 'unlabeled' in str(error.value)


@pytest.mark.slow
def test_checkpoint_that_does_not_fit_the_model_is_an_error(
        repo_root, checkpoint):
    cfg = Config.fromfile(osp.join(repo_root, CONFIG))
    cfg.model.decode_head.num_classes = NUM_CLASSES + 2
    with pytest.raises(ValueError, match='does not fit the model'):
        RGBTSegInferencer(cfg, weights=checkpoint, device='cpu')


@pytest.mark.slow
def test_image_demo_writes_a_panel(checkpoint, msrs_root, tmp_path):
    """The README command on an MSRS pair downscaled to the demo size."""
    height, width = MSRS_SIZE[0] // 4, MSRS_SIZE[1] // 4
    paths = []
    for source in _pair(msrs_root):
        path = str(tmp_path / f'{len(paths)}_{osp.basename(source)}')
        image = cv2.imread(source, cv2.IMREAD_UNCHANGED)
        cv2.imwrite(path, cv2.resize(image, (width, height)))
        paths.append(path)
    out_file = str(tmp_path / 'out.png')
    proc = run_tool([
        'demo/image_demo.py', *paths, CONFIG, checkpoint, '--out-file',
        out_file, '--device', 'cpu', '--opacity', '0.5'
    ])
    assert 'predicted classes' in proc.stdout
    panel = mmcv.imread(out_file)
    assert panel.shape[1] == 4 * width and panel.shape[0] > height


@pytest.mark.slow
def test_tools_test_show_dir_writes_rgbt_panels(checkpoint, mfnet_demo_root,
                                                tmp_path):
    show_dir = tmp_path / 'show'
    run_tool([
        'tools/test.py', CONFIG, checkpoint, '--work-dir',
        str(tmp_path / 'work'), '--show-dir',
        str(show_dir), '--cfg-options', *_data_options(mfnet_demo_root),
        'default_hooks.visualization.interval=1',
        'test_dataloader.dataset.indices=2'
    ])
    panels = glob.glob(
        str(show_dir / '**' / 'vis_image' / '*.png'), recursive=True)
    assert len(panels) == 2
    stem = mmengine.list_from_file(osp.join(mfnet_demo_root, 'test.txt'))[0]
    stacked = cv2.imread(
        osp.join(mfnet_demo_root, 'images', f'{stem}.png'),
        cv2.IMREAD_UNCHANGED)
    height, width = stacked.shape[:2]
    panel = mmcv.imread(next(p for p in panels if stem in osp.basename(p)))
    # visible | thermal | fused | prediction | ground truth
    assert panel.shape[1] == 5 * width
    thermal_tile = panel[height // 2:height, width:2 * width]
    np.testing.assert_array_equal(
        thermal_tile, np.repeat(stacked[height // 2:, :, 3:], 3, 2))
