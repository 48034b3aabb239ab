"""MultiModalSegLocalVisualizer: panel layout (a tile per modality group),
legend, the files of an untransformed sample when mmseg's
SegVisualizationHook hands over a 3-channel image, and mmseg's own
browse_dataset.py on our configs."""
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

from conftest import REPO_ROOT as REPO, run_tool
from fusionsam_mmseg.visualization import MultiModalSegLocalVisualizer

CLASSES = ('background', 'car', 'person')
PALETTE = [[0, 0, 0], [250, 0, 0], [0, 0, 250]]
H, W = 40, 48


def _visualizer(name: str, **kwargs) -> MultiModalSegLocalVisualizer:
    return MultiModalSegLocalVisualizer(
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
            modality_paths=[thermal_path],
            modality_channels=(3, 1)))
    visualizer = _visualizer(
        'reload_fmb', show_titles=False, show_legend=False)
    hook_image = mmcv.imread(visible_path, channel_order='rgb')
    thermal = _tiles(visualizer.draw_panel(hook_image, sample), 4)[1]
    np.testing.assert_array_equal(thermal, np.repeat(image[..., 3:], 3, 2))


def test_missing_modality_paths_in_metainfo_is_explained(tmp_path):
    visible_path = str(tmp_path / 'vis.png')
    cv2.imwrite(visible_path, _stacked_image()[..., :3])
    sample = _sample(dict(img_path=visible_path, modality_channels=(3, 1)))
    visualizer = _visualizer('reload_hint')
    with pytest.raises(ValueError,
                       match="list 'modality_paths' in the meta_keys"):
        visualizer.draw_panel(mmcv.imread(visible_path), sample)


def test_three_channel_image_without_files_draws_the_visible_only():
    visualizer = _visualizer(
        'no_files', alpha=1.0, show_titles=False, show_legend=False)
    image = _stacked_image()[..., :3]
    panel = visualizer.draw_panel(image, _sample(fused=False))
    visible, prediction = _tiles(panel, 2)
    np.testing.assert_array_equal(visible, image)
    assert (prediction[:, :W // 2] == PALETTE[1]).all()


def test_transformed_three_channel_image_is_drawn_as_given(tmp_path):
    """The sample's files hold other pixels (a crop / resize / flip of the
    pipeline): the given image is drawn, nothing is reloaded."""
    image = _stacked_image(4)
    path = str(tmp_path / '00003D.png')
    _write_mfnet_png(path, image)
    given = np.ascontiguousarray(image[::-1, :, :3])  # flipped, 3 channels
    sample = _sample(dict(img_path=path, modality_channels=(3, 1)),
                     fused=False, gt=True)
    visualizer = _visualizer(
        'as_given', alpha=1.0, show_titles=False, show_legend=False)
    visible, prediction, ground_truth = _tiles(
        visualizer.draw_panel(given, sample), 3)
    np.testing.assert_array_equal(visible, given)
    assert (ground_truth == PALETTE[2]).all()


def test_a_tile_per_modality_group_for_four_modalities():
    names = ('rgb', 'depth', 'event', 'lidar')
    image = np.random.default_rng(5).integers(0, 256, (H, W, 12),
                                              dtype=np.uint8)
    sample = _sample(dict(modality_channels=(3, 3, 3, 3),
                          modality_names=names), fused=False, gt=True)
    visualizer = _visualizer(
        'four_groups', alpha=1.0, show_titles=False, show_legend=False)
    tiles = _tiles(visualizer.draw_panel(image, sample), 6)
    for index, tile in enumerate(tiles[:4]):
        np.testing.assert_array_equal(tile,
                                      image[..., 3 * index:3 * index + 3])
    assert (tiles[5] == PALETTE[2]).all()  # ground truth
    titled = _visualizer('four_titles', show_legend=False).draw_panel(
        image, sample)
    assert titled.shape == (H, 6 * W, 3)


def test_groups_of_one_and_two_channels_of_a_float_stack():
    """MCubeS: RGB (3), AoLP (2), DoLP (1), NIR (1), float on 0..255."""
    image = np.random.default_rng(6).uniform(0, 255, (H, W, 7))
    sample = _sample(dict(modality_channels=(3, 2, 1, 1),
                          modality_names=('rgb', 'aolp', 'dolp', 'nir')),
                     fused=False)
    visualizer = _visualizer(
        'mcubes_groups', show_titles=False, show_legend=False)
    rgb, aolp, dolp, nir, _ = _tiles(visualizer.draw_panel(image, sample), 5)
    as_uint8 = np.round(image).astype(np.uint8)
    np.testing.assert_array_equal(rgb, as_uint8[..., :3])
    np.testing.assert_array_equal(aolp[..., :2], as_uint8[..., 3:5])
    assert (aolp[..., 2] == 0).all()
    np.testing.assert_array_equal(dolp, np.repeat(as_uint8[..., 5:6], 3, 2))
    np.testing.assert_array_equal(nir, np.repeat(as_uint8[..., 6:7], 3, 2))


def test_image_that_fits_no_group_is_an_error():
    visualizer = _visualizer('bad_channels')
    with pytest.raises(ValueError, match=r'modality_channels=\(3, 1\)'):
        visualizer.draw_panel(_stacked_image()[..., :2], _sample())


def test_stock_seg_visualization_hook_saves_rgbt_panels(tmp_path):
    """The config path: VISUALIZERS.build + mmseg's hook + LocalVisBackend."""
    image = _stacked_image(3)
    path = str(tmp_path / '00002N.png')
    _write_mfnet_png(path, image)
    visualizer = VISUALIZERS.build(
        dict(
            type='MultiModalSegLocalVisualizer',
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


BROWSE_DATASET = osp.join(
    osp.dirname(__import__('mmseg').__file__), '.mim', 'tools',
    'analysis_tools', 'browse_dataset.py')
PLAIN_PANELS = ['visualizer.alpha=1.0', 'visualizer.show_titles=False',
                'visualizer.show_legend=False']


def _browse(config: str, out_dir: str, *options: str) -> list:
    """Run mmseg's unmodified browse_dataset.py; the written panel files."""
    run_tool([BROWSE_DATASET, config, '--output-dir', out_dir, '--not-show',
              '--cfg-options', *options, *PLAIN_PANELS])
    return sorted(glob.glob(osp.join(out_dir, '*.png')))


@pytest.mark.slow
def test_mmseg_browse_dataset_on_the_mfnet_demo_config(mfnet_demo_root,
                                                      tmp_path):
    """The demo config's random train pipeline: every sample drawn at its
    crop size (never the file's 120x160), the label tile in palette
    colours only."""
    from fusionsam_mmseg.datasets import MFNetDataset
    written = _browse('configs/fusionsam_tiny_demo.py', str(tmp_path),
                      f'train_dataloader.dataset.data_root={mfnet_demo_root}')
    stems = open(osp.join(mfnet_demo_root, 'train.txt')).read().split()
    assert [osp.basename(p) for p in written] == sorted(
        f'{stem}.png' for stem in stems)
    palette = {tuple(c) for c in MFNetDataset.METAINFO['palette']}
    for path in written:
        panel = mmcv.imread(path, channel_order='rgb')
        height, width = panel.shape[0], panel.shape[1] // 2
        assert panel.shape[1] == 2 * width
        assert height <= 96 and width <= 128  # RandomCrop (96, 128)
        labels = {tuple(c) for c in panel[:, width:].reshape(-1, 3)}
        assert labels <= palette


@pytest.mark.slow
def test_mmseg_browse_dataset_on_a_four_modality_config(deliver_demo_root,
                                                       tmp_path):
    """A deterministic train pipeline (nearest resize to 30x40, flip) on
    the DELIVER demo config: each panel is exactly what browse_dataset.py
    hands over (our R, G, B inputs with the first and third channel
    swapped, as it assumes mmseg's BGR) beside the transformed labels."""
    from fusionsam_mmseg.datasets import DELIVERDataset
    config = tmp_path / 'browse_deliver.py'
    config.write_text(
        f"_base_ = ['{REPO}/configs/fusionsam_tiny_deliver_demo.py']\n"
        'train_dataloader = dict(dataset=dict(pipeline=[\n'
        "    dict(type='LoadMultiModalImageFromFile'),\n"
        "    dict(type='LoadCheckedAnnotations', label_channel=0),\n"
        "    dict(type='Resize', scale=(40, 30), keep_ratio=False,\n"
        "         interpolation='nearest'),\n"
        "    dict(type='RandomFlip', prob=1.0),\n"
        "    dict(type='PackSegInputs', meta_keys=('img_path', "
        "'seg_map_path', 'img_shape', 'ori_shape', 'flip', "
        "'modality_channels', 'modality_names', 'modality_paths'))]))\n")
    out_dir = str(tmp_path / 'panels')
    root_option = f'train_dataloader.dataset.data_root={deliver_demo_root}'
    written = _browse(str(config), out_dir, root_option)
    rgb_files = sorted(glob.glob(osp.join(deliver_demo_root, 'img', '*',
                                          'train', '*', '*.png')))
    assert [osp.basename(p) for p in written] == sorted(
        osp.basename(p) for p in rgb_files)
    palette = np.asarray(DELIVERDataset.METAINFO['palette'])
    void_seen = False
    for rgb_file in rgb_files:
        panel = mmcv.imread(osp.join(out_dir, osp.basename(rgb_file)),
                            channel_order='rgb')
        assert panel.shape == (30, 80, 3)
        rgb = cv2.resize(cv2.imread(rgb_file)[..., ::-1], (40, 30),
                         interpolation=cv2.INTER_NEAREST)[:, ::-1]
        given = rgb[..., ::-1]
        np.testing.assert_array_equal(panel[:, :40], given)
        semantic = rgb_file.replace(
            osp.join(deliver_demo_root, 'img'),
            osp.join(deliver_demo_root, 'semantic')).replace(
                '_rgb_', '_semantic_')
        raw = cv2.resize(cv2.imread(semantic)[..., 2], (40, 30),
                         interpolation=cv2.INTER_NEAREST)[:, ::-1]
        label = np.where(raw == 0, 255, raw.astype(int) - 1)
        ground_truth = panel[:, 40:]
        void = label == 255
        void_seen |= bool(void.any())
        assert (ground_truth[void] == 0).all()  # mmseg: no colour, alpha 1
        np.testing.assert_array_equal(ground_truth[~void],
                                      palette[label[~void]])
    assert void_seen
