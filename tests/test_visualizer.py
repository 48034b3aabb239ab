"""RGBTSegLocalVisualizer: panel layout, legend, and reloading of the RGB-T
pair when mmseg's SegVisualizationHook hands over a 3-channel image."""
import glob
import os.path as osp
from types import SimpleNamespace

import cv2
import mmcv
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import HOOKS, VISUALIZERS
from mmseg.structures import SegDataSample

from fusionsam_mmseg.visualization import RGBTSegLocalVisualizer

CLASSES = ('background', 'car', 'person')
PALETTE = [[0, 0, 0], [250, 0, 0], [0, 0, 250]]
H, W = 40, 48


def _visualizer(name: str, **kwargs) -> RGBTSegLocalVisualizer:
    return RGBTSegLocalVisualizer(
        name=name, classes=CLASSES, palette=PALETTE, **kwargs)


def _stacked_image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(
        0, 256, (H, W, 4), dtype=np.uint8)


def _label_map() -> torch.Tensor:
    """Car (1) on the left half, background elsewhere; person is absent."""
    label = torch.zeros(1, H, W, dtype=torch.int64)
    label[:, :, :W // 2] = 1
    return label


def _sample(metainfo: dict = None,
            fused: bool = True,
            gt: bool = False) -> SegDataSample:
    sample = SegDataSample(metainfo=metainfo or dict(modality_channels=(3, 1)))
    sample.pred_sem_seg = PixelData(data=_label_map())
    if fused:
        sample.fused_image = PixelData(data=torch.rand(3, H, W))
    if gt:
        sample.gt_sem_seg = PixelData(data=torch.full((1, H, W), 2))
    return sample


def _tiles(panel: np.ndarray, count: int):
    assert panel.shape[1] == count * W
    return [panel[:H, i * W:(i + 1) * W] for i in range(count)]


def test_panel_tiles_show_visible_thermal_fused_prediction():
    visualizer = _visualizer(
        'panel_tiles', alpha=1.0, show_titles=False, show_legend=False)
    image, sample = _stacked_image(), _sample()
    panel = visualizer.draw_panel(image, sample, draw_gt=False)
    assert panel.shape == (H, 4 * W, 3) and panel.dtype == np.uint8
    visible, thermal, fused, prediction = _tiles(panel, 4)
    np.testing.assert_array_equal(visible, image[..., :3])
    np.testing.assert_array_equal(thermal, np.repeat(image[..., 3:], 3, 2))
    expected_fused = np.round(
        sample.fused_image.data.numpy().transpose(1, 2, 0) * 255)
    np.testing.assert_array_equal(fused, expected_fused.astype(np.uint8))
    # alpha=1: the overlay is exactly the palette colour of each label.
    assert (prediction[:, :W // 2] == PALETTE[1]).all()
    assert (prediction[:, W // 2:] == PALETTE[0]).all()


def test_ground_truth_tile_is_appended_and_optional():
    visualizer = _visualizer('panel_gt', show_legend=False)
    image, sample = _stacked_image(), _sample(gt=True)
    assert visualizer.draw_panel(image, sample).shape == (H, 5 * W, 3)
    assert visualizer.draw_panel(
        image, sample, draw_gt=False).shape == (H, 4 * W, 3)
    without_fused = _sample(fused=False)
    assert visualizer.draw_panel(image, without_fused).shape == (H, 3 * W, 3)


def test_legend_shows_colours_of_present_classes_only():
    visualizer = _visualizer('panel_legend')
    panel = visualizer.draw_panel(_stacked_image(), _sample())
    assert panel.shape[0] > H and panel.shape[1] == 4 * W
    legend = panel[H:].reshape(-1, 3)
    assert (legend == PALETTE[1]).all(axis=1).any(), 'car swatch missing'
    assert not (legend == PALETTE[2]).all(axis=1).any(), \
        'person is absent from the prediction but in the legend'


def test_add_datasample_writes_panel_and_sets_image(tmp_path):
    visualizer = _visualizer('panel_file')
    image, sample = _stacked_image(), _sample()
    out_file = str(tmp_path / 'panel.png')
    visualizer.add_datasample('x', image, sample, out_file=out_file)
    shown = visualizer.get_image()
    written = mmcv.imread(out_file, channel_order='rgb')
    expected = visualizer.draw_panel(image, sample)
    np.testing.assert_array_equal(written, expected)
    np.testing.assert_array_equal(shown, expected)


def _write_mfnet_png(path: str, image: np.ndarray) -> None:
    """R, G, B, T -> a 4-channel PNG (cv2 writes B, G, R, A)."""
    cv2.imwrite(path, image[..., [2, 1, 0, 3]])


def test_three_channel_image_is_reloaded_from_mfnet_png(tmp_path):
    image = _stacked_image(1)
    path = str(tmp_path / '00001D.png')
    _write_mfnet_png(path, image)
    hook_image = mmcv.imread(path, channel_order='rgb')  # what the hook sees
    assert hook_image.shape == (H, W, 3)
    sample = _sample(dict(img_path=path, modality_channels=(3, 1)))
    visualizer = _visualizer(
        'reload_mfnet', show_titles=False, show_legend=False)
    visible, thermal = _tiles(visualizer.draw_panel(hook_image, sample), 4)[:2]
    np.testing.assert_array_equal(visible, image[..., :3])
    np.testing.assert_array_equal(thermal, np.repeat(image[..., 3:], 3, 2))


def test_three_channel_image_is_reloaded_from_fmb_pair(tmp_path):
    image = _stacked_image(2)
    visible_path = str(tmp_path / 'vis.png')
    thermal_path = str(tmp_path / 'ir.png')
    cv2.imwrite(visible_path, image[..., 2::-1])
    cv2.imwrite(thermal_path, np.repeat(image[..., 3:], 3, 2))  # 3-ch grey
    sample = _sample(
        dict(
            img_path=visible_path,
            thermal_path=thermal_path,
            modality_channels=(3, 1)))
    visualizer = _visualizer(
        'reload_fmb', show_titles=False, show_legend=False)
    hook_image = mmcv.imread(visible_path, channel_order='rgb')
    thermal = _tiles(visualizer.draw_panel(hook_image, sample), 4)[1]
    np.testing.assert_array_equal(thermal, np.repeat(image[..., 3:], 3, 2))


def test_missing_thermal_path_in_metainfo_is_explained(tmp_path):
    visible_path = str(tmp_path / 'vis.png')
    cv2.imwrite(visible_path, _stacked_image()[..., :3])
    sample = _sample(dict(img_path=visible_path, modality_channels=(3, 1)))
    visualizer = _visualizer('reload_hint')
    with pytest.raises(ValueError, match="list 'thermal_path' in the meta"):
        visualizer.draw_panel(mmcv.imread(visible_path), sample)


def test_three_channel_image_without_path_is_an_error():
    visualizer = _visualizer('reload_error')
    with pytest.raises(ValueError, match='no img_path'):
        visualizer.draw_panel(_stacked_image()[..., :3], _sample())


def test_stock_seg_visualization_hook_saves_rgbt_panels(tmp_path):
    """The config path: VISUALIZERS.build + mmseg's hook + LocalVisBackend."""
    image = _stacked_image(3)
    path = str(tmp_path / '00002N.png')
    _write_mfnet_png(path, image)
    visualizer = VISUALIZERS.build(
        dict(
            type='RGBTSegLocalVisualizer',
            name='hook_panels',
            vis_backends=[dict(type='LocalVisBackend')],
            save_dir=str(tmp_path / 'show_dir')))
    visualizer.dataset_meta = dict(classes=CLASSES, palette=PALETTE)
    hook = HOOKS.build(
        dict(type='SegVisualizationHook', draw=True, interval=1))
    sample = _sample(dict(img_path=path, modality_channels=(3, 1)), gt=True)
    hook.after_test_iter(
        SimpleNamespace(iter=0), 0, data_batch={}, outputs=[sample])
    saved = glob.glob(
        str(tmp_path / 'show_dir' / '**' / 'vis_image' / '*.png'),
        recursive=True)
    assert len(saved) == 1 and '00002N' in osp.basename(saved[0])
    panel = mmcv.imread(saved[0], channel_order='rgb')
    assert panel.shape[1] == 5 * W  # visible|thermal|fused|pred|gt
    thermal = panel[H // 2:H, W:2 * W]  # below the caption
    np.testing.assert_array_equal(thermal,
                                  np.repeat(image[H // 2:, :, 3:], 3, 2))
