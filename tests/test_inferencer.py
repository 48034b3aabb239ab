"""RGBTSegInferencer and the demo scripts, with a checkpoint of the tiny
FusionSAM demo model trained here for a few iterations."""
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
from fusionsam_mmseg.apis import RGBTSegInferencer

CONFIG = 'configs/fusionsam_tiny_demo.py'
NUM_CLASSES = 9
MSRS_SIZE = (480, 640)


def _data_options(root: str):
    return [
        f'{loader}.dataset.data_root={root}'
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader')
    ]


@pytest.fixture(scope='module')
def checkpoint(mfnet_demo_root, tmp_path_factory) -> str:
    work_dir = str(tmp_path_factory.mktemp('fusionsam_demo_ckpt'))
    run_tool([
        'tools/train.py', CONFIG, '--work-dir', work_dir, '--cfg-options',
        *_data_options(mfnet_demo_root), 'train_cfg.max_iters=2',
        'train_cfg.val_interval=100', 'default_hooks.checkpoint.interval=2'
    ])
    return osp.join(work_dir, 'iter_2.pth')


@pytest.fixture(scope='module')
def inferencer(repo_root, checkpoint) -> RGBTSegInferencer:
    return RGBTSegInferencer(
        osp.join(repo_root, CONFIG), weights=checkpoint, device='cpu')


def _pair(msrs_root: str, stem: str = '00003N', split: str = 'train'):
    return (osp.join(msrs_root, split, 'vi', f'{stem}.png'),
            osp.join(msrs_root, split, 'ir', f'{stem}.png'))


def test_folder_pair_writes_labels_masks_fused_and_panels(
        inferencer, msrs_root, tmp_path):
    visible_dir = osp.join(msrs_root, 'val', 'vi')
    thermal_dir = osp.join(msrs_root, 'val', 'ir')
    stems = sorted(osp.splitext(name)[0]
                   for name in map(osp.basename,
                                   glob.glob(osp.join(visible_dir, '*.png'))))
    result = inferencer((visible_dir, thermal_dir),
                        batch_size=2,
                        out_dir=str(tmp_path))
    assert result['names'] == stems
    assert len(result['fused_images']) == len(stems)
    height, width = MSRS_SIZE
    for stem in stems:
        label = cv2.imread(str(tmp_path / 'pred' / f'{stem}.png'),
                           cv2.IMREAD_UNCHANGED)
        assert label.shape == MSRS_SIZE
        assert set(np.unique(label).tolist()) <= set(range(NUM_CLASSES))
        mask = mmcv.imread(str(tmp_path / 'mask' / f'{stem}.png'))
        assert mask.shape == (height, width, 3)
        fused = mmcv.imread(str(tmp_path / 'fused' / f'{stem}.png'))
        assert fused.shape == (height, width, 3)
        panel = mmcv.imread(str(tmp_path / 'vis' / f'{stem}.png'))
        # visible | thermal | fused | prediction, legend strip below.
        assert panel.shape[1] == 4 * width and panel.shape[0] >= height
        visible = mmcv.imread(osp.join(visible_dir, f'{stem}.png'))
        np.testing.assert_array_equal(panel[height // 2:height, :width],
                                      visible[height // 2:])


def test_array_input_gives_the_path_input_labels(inferencer, msrs_root):
    visible_path, thermal_path = _pair(msrs_root)
    from_paths = inferencer((visible_path, thermal_path), return_logits=True)
    visible_bgr = cv2.imread(visible_path, cv2.IMREAD_COLOR)
    thermal = cv2.imread(thermal_path, cv2.IMREAD_UNCHANGED)
    from_arrays = inferencer((visible_bgr[..., ::-1].copy(), thermal))
    assert from_paths['predictions'].shape == MSRS_SIZE
    np.testing.assert_array_equal(from_paths['predictions'],
                                  from_arrays['predictions'])
    np.testing.assert_array_equal(from_paths['fused_images'],
                                  from_arrays['fused_images'])
    logits = from_paths['logits']
    assert logits.shape == (NUM_CLASSES, *MSRS_SIZE)
    np.testing.assert_array_equal(logits.argmax(0),
                                  from_paths['predictions'])


def test_bgr_arrays_with_visible_order_bgr(repo_root, checkpoint, msrs_root):
    visible_path, thermal_path = _pair(msrs_root, '00001D')
    bgr_inferencer = RGBTSegInferencer(
        osp.join(repo_root, CONFIG),
        weights=checkpoint,
        device='cpu',
        visible_order='bgr')
    visible_bgr = cv2.imread(visible_path, cv2.IMREAD_COLOR)
    thermal = cv2.imread(thermal_path, cv2.IMREAD_UNCHANGED)
    from_arrays = bgr_inferencer({'visible': visible_bgr, 'thermal': thermal})
    from_paths = bgr_inferencer((visible_path, thermal_path))
    np.testing.assert_array_equal(from_arrays['predictions'],
                                  from_paths['predictions'])


def test_mfnet_png_path_and_stacked_array(inferencer, mfnet_demo_root):
    path = sorted(glob.glob(osp.join(mfnet_demo_root, 'images', '*.png')))[0]
    bgra = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    stacked = np.ascontiguousarray(bgra[..., [2, 1, 0, 3]])
    results = inferencer([path, stacked])
    assert results['names'][0] == osp.splitext(osp.basename(path))[0]
    assert results['predictions'][0].shape == bgra.shape[:2]
    np.testing.assert_array_equal(results['predictions'][0],
                                  results['predictions'][1])
    panels = inferencer(stacked, return_vis=True)['visualization']
    assert panels.shape[1] == 4 * bgra.shape[1]


def test_pair_of_different_sizes_is_an_error(inferencer, msrs_root,
                                             tmp_path):
    visible_path, thermal_path = _pair(msrs_root)
    small_thermal = str(tmp_path / 'small_ir.png')
    cv2.imwrite(small_thermal, cv2.imread(thermal_path)[::2, ::2])
    with pytest.raises(ValueError, match='same size') as error:
        inferencer((visible_path, small_thermal))
    assert visible_path in str(error.value)
    assert small_thermal in str(error.value)
    visible = np.zeros((*MSRS_SIZE, 3), np.uint8)
    with pytest.raises(ValueError, match='same size'):
        inferencer((visible, np.zeros((10, 10), np.uint8)))


def test_missing_file_is_an_error(inferencer, msrs_root):
    visible_path, _ = _pair(msrs_root)
    missing = osp.join(msrs_root, 'train', 'ir', 'no_such_frame.png')
    with pytest.raises(FileNotFoundError, match='no_such_frame.png'):
        inferencer((visible_path, missing))


def test_unmatched_folder_stems_are_listed(inferencer, tmp_path):
    image = np.zeros((8, 8, 3), np.uint8)
    for folder, stems in (('vi', ('a', 'b', 'c')), ('ir', ('a', 'd'))):
        (tmp_path / folder).mkdir()
        for stem in stems:
            cv2.imwrite(str(tmp_path / folder / f'{stem}.png'), image)
    with pytest.raises(ValueError) as error:
        inferencer((str(tmp_path / 'vi'), str(tmp_path / 'ir')))
    message = str(error.value)
    assert 'without a thermal image: b, c' in message
    assert 'without a visible image: d' in message


def test_checkpoint_with_other_classes_is_an_error(repo_root, checkpoint,
                                                   tmp_path):
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)
    state['meta']['dataset_meta']['classes'] = tuple(
        f'class_{i}' for i in range(NUM_CLASSES))
    other = str(tmp_path / 'other_classes.pth')
    torch.save(state, other)
    with pytest.raises(ValueError, match='trained on 9 classes'):
        RGBTSegInferencer(
            osp.join(repo_root, CONFIG), weights=other, device='cpu')


def test_checkpoint_that_does_not_fit_the_model_is_an_error(
        repo_root, checkpoint):
    cfg = Config.fromfile(osp.join(repo_root, CONFIG))
    cfg.model.decode_head.num_classes = NUM_CLASSES + 2
    with pytest.raises(ValueError, match='does not fit the model'):
        RGBTSegInferencer(cfg, weights=checkpoint, device='cpu')


def test_image_demo_writes_a_panel(checkpoint, msrs_root, tmp_path):
    visible_path, thermal_path = _pair(msrs_root)
    out_file = str(tmp_path / 'out.png')
    proc = run_tool([
        'demo/image_demo.py', visible_path, thermal_path, CONFIG, checkpoint,
        '--out-file', out_file, '--device', 'cpu', '--opacity', '0.5'
    ])
    assert 'predicted classes' in proc.stdout
    panel = mmcv.imread(out_file)
    assert panel.shape[1] == 4 * MSRS_SIZE[1]
    assert panel.shape[0] >= MSRS_SIZE[0]


def test_tools_test_show_dir_writes_rgbt_panels(checkpoint, mfnet_demo_root,
                                                tmp_path):
    run_tool([
        'tools/test.py', CONFIG, checkpoint, '--work-dir',
        str(tmp_path), '--show-dir', 'vis', '--cfg-options',
        *_data_options(mfnet_demo_root)
    ])
    panels = sorted(glob.glob(str(tmp_path / '**' / 'vis_image' / '*.png'),
                              recursive=True))
    stems = mmengine.list_from_file(osp.join(mfnet_demo_root, 'test.txt'))
    assert len(panels) == len(stems)
    stem = stems[0]
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
