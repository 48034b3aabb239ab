"""MultiModalSegInferencer and the demo scripts on the tiny FusionSAM demo
model.

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
from in_process import run_script
from fusionsam_mmseg.apis import MultiModalSegInferencer, stack_arrays
from fusionsam_mmseg.datasets.transforms import LoadMultiModalImageFromFile

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
def untrained_inferencer(repo_root) -> MultiModalSegInferencer:
    with pytest.warns(UserWarning, match='randomly initialised'):
        return MultiModalSegInferencer(
            _resized_config(repo_root), device='cpu')


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
def inferencer(repo_root, checkpoint) -> MultiModalSegInferencer:
    return MultiModalSegInferencer(
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
    loaded = LoadMultiModalImageFromFile()(dict(
        img_path=visible_path, modality_paths=[thermal_path]))['img']
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
    assert f'no thermal file in {tmp_path / "ir"} for 2 sample(s): b, c' in \
        message
    assert f'no rgb file in {tmp_path / "vi"} for 1 sample(s): d' in message


@pytest.mark.slow
def test_checkpoint_with_other_classes_is_an_error(repo_root, checkpoint,
                                                   tmp_path):
    state = torch.load(checkpoint, map_location='cpu')
    state['meta']['dataset_meta']['classes'] = tuple(
        f'class_{i}' for i in range(NUM_CLASSES))
    other = str(tmp_path / 'other_classes.pth')
    torch.save(state, other)
    with pytest.raises(ValueError, match='trained on 9 classes') as error:
        MultiModalSegInferencer(
            osp.join(repo_root, CONFIG), weights=other, device='cpu')
    assert 'class_0' in str(error.value) and 'unlabeled' in str(error.value)


@pytest.mark.slow
def test_checkpoint_that_does_not_fit_the_model_is_an_error(
        repo_root, checkpoint):
    cfg = Config.fromfile(osp.join(repo_root, CONFIG))
    cfg.model.decode_head.num_classes = NUM_CLASSES + 2
    with pytest.raises(ValueError, match='does not fit the model'):
        MultiModalSegInferencer(cfg, weights=checkpoint, device='cpu')


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


# ---- any modality set: DELIVER RGB-D-E-L (MemorySAM), MCubeS (.npy) --------
MEMORYSAM_CONFIG = 'configs/memorysam/memorysam_tiny_demo.py'
MCUBES_CONFIG = 'configs/memorysam/memorysam_hiera_bplus_mcubes_radn.py'
DELIVER_FOLDERS = dict(rgb='img', depth='hha', event='event', lidar='lidar')
MCUBES_WIDTH = 64  # mcubes_demo_root: 48 x (192 + 64), 192 columns cropped


def _deliver_sample(root: str, split: str = 'test', index: int = 0) -> dict:
    """{modality: path} of one DELIVER-layout sample."""
    rgb = sorted(glob.glob(osp.join(root, 'img', '*', split, '*',
                                    '*_rgb_front.png')))[index]
    return {
        name: rgb.replace(f'{osp.sep}img{osp.sep}',
                          f'{osp.sep}{folder}{osp.sep}').replace(
                              '_rgb_', f'_{name}_')
        for name, folder in DELIVER_FOLDERS.items()
    }


def _read_rgb(path: str) -> np.ndarray:
    return np.ascontiguousarray(cv2.imread(path, cv2.IMREAD_COLOR)[..., ::-1])


@pytest.fixture(scope='module')
def memorysam_inferencer(repo_root,
                         memorysam_demo_checkpoint) -> MultiModalSegInferencer:
    return MultiModalSegInferencer(
        osp.join(repo_root, MEMORYSAM_CONFIG),
        weights=memorysam_demo_checkpoint,
        device='cpu')


def test_four_modalities_as_dict_tuple_or_arrays(memorysam_inferencer,
                                                 deliver_demo_root):
    assert memorysam_inferencer.modality_names == tuple(DELIVER_FOLDERS)
    sample = _deliver_sample(deliver_demo_root)
    by_name = memorysam_inferencer(
        dict(reversed(list(sample.items()))), return_logits=True,
        return_vis=True)
    arrays = {name: _read_rgb(path) for name, path in sample.items()}
    for other in (tuple(sample.values()), arrays):
        result = memorysam_inferencer(
            other, return_logits=True, return_vis=True)
        np.testing.assert_array_equal(result['logits'], by_name['logits'])
        np.testing.assert_array_equal(result['visualization'],
                                      by_name['visualization'])
    assert by_name['names'] == osp.basename(sample['rgb'])[:-4]
    height, width = arrays['rgb'].shape[:2]
    assert by_name['predictions'].shape == (height, width)
    panel = by_name['visualization']
    # rgb | depth | event | lidar | prediction, legend strip below
    assert panel.shape[1] == 5 * width and panel.shape[0] > height
    for index, name in enumerate(DELIVER_FOLDERS):
        np.testing.assert_array_equal(
            panel[height // 2:height, index * width:(index + 1) * width],
            arrays[name][height // 2:])


@pytest.mark.parametrize('change, message', [
    (lambda s: {k: v for k, v in s.items() if k != 'event'},
     'missing event'),
    (lambda s: dict(s, thermal=s['rgb']), 'unexpected thermal'),
    (lambda s: {('evnt' if k == 'event' else k): v for k, v in s.items()},
     'missing event; unexpected evnt'),
])
def test_missing_extra_or_misnamed_modality_names_the_expected_ones(
        memorysam_inferencer, deliver_demo_root, change, message):
    sample = _deliver_sample(deliver_demo_root)
    with pytest.raises(KeyError) as error:
        memorysam_inferencer(change(sample))
    assert message in str(error.value)
    assert 'expects one entry per modality: rgb, depth, event, lidar' in str(
        error.value)
    with pytest.raises(ValueError, match='rgb, depth, event, lidar'):
        memorysam_inferencer(tuple(sample.values())[:3])


def test_modality_of_another_size_names_the_files(memorysam_inferencer,
                                                  deliver_demo_root,
                                                  tmp_path):
    sample = _deliver_sample(deliver_demo_root)
    small = str(tmp_path / 'small_lidar.png')
    cv2.imwrite(small, np.zeros((30, 40, 3), np.uint8))
    with pytest.raises(ValueError, match='same size') as error:
        memorysam_inferencer(dict(sample, lidar=small))
    assert small in str(error.value) and sample['rgb'] in str(error.value)


def test_folder_demo_pairs_four_modality_folders(memorysam_demo_checkpoint,
                                                 deliver_demo_root, tmp_path,
                                                 capsys):
    """Acceptance: DELIVER folders (<id>_<modality>_front.png) through
    demo/folder_demo.py, one --modality-dir per modality."""
    sample = _deliver_sample(deliver_demo_root, 'train', 0)
    out_dir = tmp_path / 'out'
    run_script('demo/folder_demo.py', [
        MEMORYSAM_CONFIG, memorysam_demo_checkpoint, '--out-dir',
        str(out_dir), '--device', 'cpu'
    ] + [
        f'--modality-dir={name}={osp.dirname(path)}'
        for name, path in sample.items()
    ])
    assert 'wrote 1 results' in capsys.readouterr().out
    stem = osp.basename(sample['rgb'])[:-4]
    label = cv2.imread(str(out_dir / 'pred' / f'{stem}.png'),
                       cv2.IMREAD_UNCHANGED)
    height, width = _read_rgb(sample['rgb']).shape[:2]
    assert label.shape == (height, width) and label.max() < 25
    panel = mmcv.imread(str(out_dir / 'vis' / f'{stem}.png'))
    assert panel.shape[1] == 5 * width
    lidar_tile = panel[height // 2:height, 3 * width:4 * width, ::-1]
    np.testing.assert_array_equal(lidar_tile,
                                  _read_rgb(sample['lidar'])[height // 2:])


def test_image_demo_takes_one_modality_option_each(memorysam_demo_checkpoint,
                                                   deliver_demo_root,
                                                   tmp_path, capsys):
    sample = _deliver_sample(deliver_demo_root)
    out_file = str(tmp_path / 'panel.png')
    args = [MEMORYSAM_CONFIG, memorysam_demo_checkpoint, '--out-file',
            out_file, '--device', 'cpu']
    options = [f'--modality={name}={path}' for name, path in sample.items()]
    run_script('demo/image_demo.py', args + options)
    assert 'predicted classes' in capsys.readouterr().out
    assert mmcv.imread(out_file).shape[1] == 5 * _read_rgb(
        sample['rgb']).shape[1]
    with pytest.raises(KeyError, match='missing lidar'):
        run_script('demo/image_demo.py', args + options[:3])
    with pytest.raises(ValueError, match='expected NAME=PATH'):
        run_script('demo/image_demo.py', args + ['--modality=depth'])


@pytest.fixture(scope='module')
def mcubes_inferencer(repo_root, mcubes_demo_root) -> MultiModalSegInferencer:
    """MemorySAM on MCubeS R-A-D-N (Hiera-T at 128 pixels, random)."""
    cfg = Config.fromfile(osp.join(repo_root, MCUBES_CONFIG))
    for part in ('backbone', 'decode_head'):
        cfg.model[part].update(
            checkpoint=None, sam2_config='sam2_hiera_t', image_size=128)
    with pytest.warns(UserWarning, match='randomly initialised'):
        return MultiModalSegInferencer(cfg, device='cpu')


def _mcubes_sample(root: str) -> dict:
    name = mmengine.list_from_file(
        osp.join(root, 'list_folder', 'test.txt'))[0]
    return dict(
        rgb=osp.join(root, 'polL_color', f'{name}.png'),
        aolp=[osp.join(root, f'polL_aolp_{part}', f'{name}.npy')
              for part in ('sin', 'cos')],
        dolp=osp.join(root, 'polL_dolp', f'{name}.npy'),
        nir=osp.join(root, 'NIR_warped', f'{name}.png'))


def test_mcubes_npy_files_and_arrays_agree(mcubes_inferencer,
                                           mcubes_demo_root):
    sample = _mcubes_sample(mcubes_demo_root)
    from_files = mcubes_inferencer(
        sample, return_logits=True, return_vis=True)
    arrays = dict(
        rgb=_read_rgb(sample['rgb']),
        aolp=np.stack([np.load(path) for path in sample['aolp']], axis=2),
        dolp=np.load(sample['dolp']),
        nir=cv2.imread(sample['nir'], cv2.IMREAD_UNCHANGED))
    from_arrays = mcubes_inferencer(arrays, return_logits=True)
    np.testing.assert_allclose(
        from_arrays['logits'], from_files['logits'], atol=1e-5)
    height = arrays['rgb'].shape[0]
    # CropMargins(left=192): predictions and panel tiles are the kept part.
    assert from_files['predictions'].shape == (height, MCUBES_WIDTH)
    panel = from_files['visualization']
    assert panel.shape[1] == 5 * MCUBES_WIDTH  # rgb | aolp | dolp | nir | pred
    dolp_tile = panel[height // 2:height, 2 * MCUBES_WIDTH:3 * MCUBES_WIDTH]
    expected = np.round(arrays['dolp'][height // 2:, 192:] * 255)
    np.testing.assert_array_equal(dolp_tile[..., 0], expected)


def test_float_array_outside_its_value_range_is_an_error(
        mcubes_inferencer, mcubes_demo_root):
    sample = _mcubes_sample(mcubes_demo_root)
    arrays = dict(
        rgb=_read_rgb(sample['rgb']),
        aolp=np.full((*_read_rgb(sample['rgb']).shape[:2], 2), 3.0,
                     np.float32),
        dolp=np.load(sample['dolp']),
        nir=cv2.imread(sample['nir'], cv2.IMREAD_UNCHANGED))
    with pytest.raises(ValueError, match=r'aolp array has values outside'):
        mcubes_inferencer(arrays)
