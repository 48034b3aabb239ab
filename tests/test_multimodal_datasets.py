"""DELIVER, MCubeS, MSRS and PST900: public layouts through the base
configs, N-modality loading, mmseg's ``ann_file`` / ``data_prefix``."""
import glob
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmseg.registry import DATASETS, TRANSFORMS

import fusionsam_mmseg  # noqa: F401
from conftest import REPO_ROOT
from fusionsam_mmseg.datasets import (DELIVERDataset, MCubeSDataset,
                                      MFNetDataset, MSRSDataset,
                                      PST900Dataset)
from fusionsam_mmseg.datasets.demo_data import (DELIVER_LOOKS, MCUBES_LOOKS,
                                                make_demo_dataset)

BASES = osp.join(REPO_ROOT, 'configs', '_base_', 'datasets')


def _rgb(path: str) -> np.ndarray:
    return cv2.imread(path, cv2.IMREAD_COLOR)[..., ::-1]


def _grey(path: str) -> np.ndarray:
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    assert image.ndim == 2, path
    return image


def _build(base: str, loader: str, root: str, **overrides):
    cfg = Config.fromfile(osp.join(BASES, f'{base}.py'))
    dataset = cfg[loader].dataset
    dataset.data_root = root
    dataset.update(overrides)
    return DATASETS.build(dataset)


def _deliver_expected(root, path):
    """Files of one DELIVER RGB image, derived from the public naming."""
    others = {}
    for folder, suffix in (('hha', 'depth'), ('event', 'event'),
                           ('lidar', 'lidar'), ('semantic', 'semantic')):
        others[suffix] = path.replace(osp.join(root, 'img'),
                                      osp.join(root, folder)).replace(
                                          '_rgb_', f'_{suffix}_')
    raw = cv2.imread(others.pop('semantic'), cv2.IMREAD_COLOR)[..., 2]
    # Public loader: 255 -> 0, then -1 in uint8 (0 -> 255, k -> k - 1).
    label = np.where((raw == 0) | (raw == 255), 255, raw.astype(int) - 1)
    groups = [_rgb(path)] + [_rgb(others[m]) for m in ('depth', 'event',
                                                       'lidar')]
    return groups, label


def _mcubes_expected(root, path):
    name = osp.basename(path)[:-4]
    band = slice(192, None)

    def npy(folder):
        return np.load(osp.join(root, folder, f'{name}.npy'))[:, band]

    groups = [
        _rgb(path)[:, band],
        np.dstack([(npy('polL_aolp_sin') + 1) * 127.5,
                   (npy('polL_aolp_cos') + 1) * 127.5]),
        npy('polL_dolp')[..., None] * 255,
        _grey(osp.join(root, 'NIR_warped', f'{name}.png'))[:, band, None],
    ]
    label = _grey(osp.join(root, 'GT', f'{name}.png'))[:, band]
    return groups, label


def _paired_expected(folders):
    visible_dir, thermal_dir, label_dir = folders

    def expected(root, path):
        thermal = path.replace(f'/{visible_dir}/', f'/{thermal_dir}/')
        label = path.replace(f'/{visible_dir}/', f'/{label_dir}/')
        return [_rgb(path), _grey(thermal)[..., None]], _grey(label)

    return expected


# name -> (test-split RGB files, files -> (groups, label), channels, names)
ACCEPTANCE = dict(
    deliver=(lambda root: glob.glob(
        osp.join(root, 'img', '*', 'test', '*', '*_rgb_front.png')),
             _deliver_expected, (3, 3, 3, 3),
             ('rgb', 'depth', 'event', 'lidar')),
    mcubes=(lambda root: [
        osp.join(root, 'polL_color', f'{name}.png') for name in open(
            osp.join(root, 'list_folder', 'test.txt')).read().split()
    ], _mcubes_expected, (3, 2, 1, 1), ('rgb', 'aolp', 'dolp', 'nir')),
    msrs=(lambda root: glob.glob(osp.join(root, 'test', 'vi', '*.png')),
          _paired_expected(('vi', 'ir', 'Segmentation_labels')), (3, 1),
          ('rgb', 'thermal')),
    pst900=(lambda root: glob.glob(osp.join(root, 'test', 'rgb', '*.png')),
            _paired_expected(('rgb', 'thermal', 'labels')), (3, 1),
            ('rgb', 'thermal')),
)


@pytest.mark.parametrize('name', sorted(ACCEPTANCE))
def test_test_split_loads_through_the_base_config(name, request):
    """Every test sample once, one channel group per modality, visible =
    the file's R, G, B, labels mapped as the public loader maps them."""
    root = request.getfixturevalue(f'{name}_demo_root')
    listed, expected_of, channels, names = ACCEPTANCE[name]
    dataset = _build(name, 'test_dataloader', root)
    files = sorted(listed(root))
    assert len(files) == 2
    samples = [dataset[i] for i in range(len(dataset))]
    assert sorted(s['data_samples'].img_path for s in samples) == files
    seen_labels = set()
    for sample in samples:
        inputs = sample['inputs'].numpy().transpose(1, 2, 0)
        meta = sample['data_samples'].metainfo
        assert meta['modality_channels'] == channels
        assert meta['modality_names'] == names
        assert inputs.shape[2] == sum(channels)
        groups, label = expected_of(root, meta['img_path'])
        bounds = np.cumsum((0, ) + channels)
        for group, start, stop in zip(groups, bounds[:-1], bounds[1:]):
            np.testing.assert_allclose(inputs[..., start:stop], group,
                                       atol=1e-3)
        np.testing.assert_array_equal(inputs[..., :3], groups[0])
        gt = sample['data_samples'].gt_sem_seg.data.numpy()[0]
        np.testing.assert_array_equal(gt, label)
        seen_labels.update(np.unique(gt).tolist())
    assert len(seen_labels - {255}) >= 3


def test_deliver_void_and_label_channel(deliver_demo_root):
    """Raw 0 (void) becomes 255 and ids 1..25 become 0..24, from channel 0
    (R) of a semantic PNG whose other channels hold other values."""
    dataset = _build('deliver', 'train_dataloader', deliver_demo_root,
                     pipeline=[dict(type='LoadMultiModalImageFromFile'),
                               dict(type='LoadCheckedAnnotations',
                                    label_channel=0)])
    assert len(dataset.metainfo['classes']) == 25
    raws, labels = [], []
    for index in range(len(dataset)):
        sample = dataset[index]
        semantic = sample['seg_map_path']
        bgr = cv2.imread(semantic, cv2.IMREAD_COLOR)
        assert not np.array_equal(bgr[..., 2], bgr[..., 0])
        raws.append(bgr[..., 2])
        labels.append(sample['gt_seg_map'])
    raw, label = np.concatenate(raws), np.concatenate(labels)
    assert (raw == 0).any() and (label[raw == 0] == 255).all()
    for look in DELIVER_LOOKS:
        if look.label and (raw == look.label).any():
            assert (label[raw == look.label] == look.label - 1).all()


@pytest.mark.parametrize('modalities, channels', [
    (('rgb', ), (3, )),
    (('rgb', 'lidar'), (3, 3)),
    (('rgb', 'event', 'depth'), (3, 3, 3)),
])
def test_deliver_modality_subsets(deliver_demo_root, modalities, channels):
    dataset = _build('deliver', 'val_dataloader', deliver_demo_root,
                     modalities=modalities)
    sample = dataset[0]
    meta = sample['data_samples'].metainfo
    assert meta['modality_names'] == modalities
    assert meta['modality_channels'] == channels
    assert dataset.metainfo['modality_names'] == modalities
    inputs = sample['inputs'].numpy().transpose(1, 2, 0)
    assert inputs.shape[2] == sum(channels)
    folders = dict(depth='hha', event='event', lidar='lidar')
    for index, modality in enumerate(modalities[1:], start=1):
        path = meta['img_path'].replace(
            osp.join(deliver_demo_root, 'img'),
            osp.join(deliver_demo_root, folders[modality])).replace(
                '_rgb_', f'_{modality}_')
        np.testing.assert_array_equal(inputs[..., 3 * index:3 * index + 3],
                                      _rgb(path))


def test_deliver_case_filter(deliver_demo_root):
    night = DELIVERDataset(data_root=deliver_demo_root, split='train',
                           case='night')
    everything = DELIVERDataset(data_root=deliver_demo_root, split='train')
    paths = [info['img_path'] for info in night.load_data_list()]
    assert paths and len(paths) < len(everything)
    assert all(f'{os.sep}night{os.sep}train{os.sep}' in p for p in paths)


def test_mcubes_subset_and_crop(mcubes_demo_root):
    dataset = _build('mcubes', 'val_dataloader', mcubes_demo_root,
                     modalities=('rgb', 'nir'))
    sample = dataset[0]
    meta = sample['data_samples'].metainfo
    assert meta['modality_channels'] == (3, 1)
    assert meta['ori_shape'] == meta['img_shape'] == (48, 64)
    raw_nir = _grey(meta['modality_paths'][0][0])
    assert raw_nir.shape == (48, 192 + 64)
    # The demo's warped NIR covers exactly the kept columns.
    assert (raw_nir[:, :192] == 0).all()
    np.testing.assert_array_equal(sample['inputs'][3].numpy(),
                                  raw_nir[:, 192:])
    assert (raw_nir[:, 192:] > 0).mean() > 0.99


# --- mmseg's keywords: ann_file / data_prefix (issue 12 item 2) ----------


@pytest.mark.parametrize('base, root_fixture, split_file', [
    ('mfnet', 'mfnet_demo_root', 'val.txt'),
    ('mcubes', 'mcubes_demo_root', 'list_folder/val.txt'),
])
def test_cfg_options_ann_file_selects_the_split(base, root_fixture,
                                                split_file, request):
    """What ``--cfg-options train_dataloader.dataset.ann_file=...`` does."""
    root = request.getfixturevalue(root_fixture)
    cfg = Config.fromfile(osp.join(BASES, f'{base}.py'))
    cfg.merge_from_dict({
        'train_dataloader.dataset.ann_file': split_file,
        'train_dataloader.dataset.data_root': root
    })
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    stems = open(osp.join(root, split_file)).read().split()
    names = [osp.splitext(osp.basename(info['img_path']))[0]
             for info in dataset.load_data_list()]
    assert names == stems and len(dataset) == len(stems)


@pytest.mark.parametrize('dataset_cls, root_fixture, visible', [
    (MSRSDataset, 'msrs_demo_root', 'vi'),
    (PST900Dataset, 'pst900_demo_root', 'rgb'),
])
def test_folder_layout_ann_file_lists_stems(dataset_cls, root_fixture,
                                            visible, request, tmp_path):
    """A carved-out stem list restricts the split folder's samples."""
    root = request.getfixturevalue(root_fixture)
    stems = sorted(name[:-4] for name in os.listdir(
        osp.join(root, 'train', visible)))
    carve = tmp_path / 'carve.txt'
    carve.write_text('\n'.join(stems[1:3]) + '\n')
    dataset = dataset_cls(data_root=root, split='train', ann_file=str(carve))
    names = [osp.basename(info['img_path'])[:-4]
             for info in dataset.load_data_list()]
    assert names == stems[1:3]
    full = dataset_cls(data_root=root, split='train')
    assert len(full) == len(stems) == 4


def test_data_prefix_keys_win_over_the_split_shorthand(msrs_demo_root,
                                                       tmp_path):
    """A given data_prefix key is used as mmseg means it; the split
    shorthand only fills the keys not given."""
    import shutil
    root = shutil.copytree(msrs_demo_root, tmp_path / 'msrs')
    shutil.move(str(root / 'test' / 'Segmentation_labels'),
                str(root / 'relabelled'))
    with pytest.raises(FileNotFoundError, match='Segmentation_labels'):
        MSRSDataset(data_root=str(root), split='test')
    dataset = MSRSDataset(data_root=str(root), split='test',
                          data_prefix=dict(seg_map_path='relabelled'))
    assert len(dataset) == 2
    info = dataset.get_data_info(0)
    assert info['img_path'].startswith(str(root / 'test' / 'vi'))
    assert info['seg_map_path'].startswith(str(root / 'relabelled'))


def test_deliver_ann_file_and_data_prefix(deliver_demo_root, tmp_path):
    rgb = sorted(glob.glob(
        osp.join(deliver_demo_root, 'img', '*', 'val', '*', '*.png')))
    listed = [osp.relpath(p, osp.join(deliver_demo_root, 'img'))[:-4]
              for p in rgb[:1]]
    split_file = tmp_path / 'one.txt'
    split_file.write_text('\n'.join(listed) + '\n')
    dataset = DELIVERDataset(data_root=deliver_demo_root,
                             ann_file=str(split_file),
                             modalities=('rgb', 'lidar'))
    infos = dataset.load_data_list()
    assert [info['img_path'] for info in infos] == rgb[:1]
    assert infos[0]['modality_paths'][0].endswith('_lidar_front.png')
    os.rename(osp.join(deliver_demo_root, 'lidar'),
              osp.join(deliver_demo_root, 'lidar_moved'))
    try:
        moved = DELIVERDataset(data_root=deliver_demo_root,
                               ann_file=str(split_file),
                               modalities=('rgb', 'lidar'),
                               data_prefix=dict(lidar_path='lidar_moved'))
        assert osp.isfile(moved.load_data_list()[0]['modality_paths'][0])
    finally:
        os.rename(osp.join(deliver_demo_root, 'lidar_moved'),
                  osp.join(deliver_demo_root, 'lidar'))


def test_mfnet_keywords_unchanged(mfnet_demo_root):
    dataset = MFNetDataset(data_root=mfnet_demo_root, ann_file='test.txt')
    assert len(dataset) == 4
    assert dataset.metainfo['modality_channels'] == (3, 1)


# --- Loading N modalities -------------------------------------------------


def _write_rgb(path, image):
    cv2.imwrite(str(path), np.ascontiguousarray(image[..., ::-1]))


def test_npy_and_16_bit_png_are_scaled_to_0_255(tmp_path):
    rng = np.random.default_rng(0)
    visible = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    _write_rgb(tmp_path / 'rgb.png', visible)
    sin = rng.uniform(-1, 1, (5, 6)).astype(np.float32)
    cos = rng.uniform(-1, 1, (5, 6)).astype(np.float64)
    np.save(tmp_path / 'sin.npy', sin)
    np.save(tmp_path / 'cos.npy', cos)
    nir16 = rng.integers(0, 65536, (5, 6), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / 'nir.png'), nir16)
    load = TRANSFORMS.build(
        dict(type='LoadMultiModalImageFromFile',
             npy_value_ranges=dict(aolp=(-1, 1))))
    results = load(dict(
        img_path=str(tmp_path / 'rgb.png'),
        modality_paths=[(str(tmp_path / 'sin.npy'),
                         str(tmp_path / 'cos.npy')),
                        str(tmp_path / 'nir.png')],
        modality_names=('rgb', 'aolp', 'nir'),
        modality_channels=(3, 2, 1)))
    image = results['img']
    assert image.dtype == np.float32 and image.shape == (5, 6, 6)
    np.testing.assert_array_equal(image[..., :3], visible)
    np.testing.assert_allclose(image[..., 3], (sin + 1) * 127.5, rtol=1e-6)
    np.testing.assert_allclose(image[..., 4], (cos + 1) * 127.5, rtol=1e-6)
    np.testing.assert_allclose(image[..., 5], nir16 / 65535 * 255,
                               rtol=1e-6)
    assert results['modality_names'] == ('rgb', 'aolp', 'nir')


def test_grey_in_three_channels_and_opaque_alpha(tmp_path):
    rng = np.random.default_rng(1)
    visible = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / 'rgba.png'),
                np.dstack([visible[..., ::-1], np.full((4, 5), 255,
                                                       np.uint8)]))
    grey = rng.integers(0, 256, (4, 5), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / 'grey3.png'), np.dstack([grey] * 3))
    load = TRANSFORMS.build(dict(type='LoadMultiModalImageFromFile'))
    image = load(dict(img_path=str(tmp_path / 'rgba.png'),
                      modality_paths=[str(tmp_path / 'grey3.png')]))['img']
    assert image.dtype == np.uint8 and image.shape == (4, 5, 4)
    np.testing.assert_array_equal(image[..., :3], visible)
    np.testing.assert_array_equal(image[..., 3], grey)
    colour = np.dstack([grey, grey, 255 - grey])
    cv2.imwrite(str(tmp_path / 'colour.png'), colour)
    with pytest.raises(ValueError, match='has 3 channel.*expected 1'):
        load(dict(img_path=str(tmp_path / 'rgba.png'),
                  modality_paths=[str(tmp_path / 'colour.png')]))


@pytest.mark.parametrize('transform', [
    dict(type='RandomFlip', prob=1.0),
    dict(type='RandomCrop', crop_size=(40, 50)),
    dict(type='RandomResize', scale=(80, 60), ratio_range=(0.5, 2.0),
         keep_ratio=True),
])
def test_four_modalities_move_together(deliver_demo_root, transform):
    """Stacked (12 channels) == each 3-channel group transformed alone."""
    dataset = DELIVERDataset(data_root=deliver_demo_root, split='train')
    stacked = TRANSFORMS.build(dict(type='LoadMultiModalImageFromFile'))(
        dataset.get_data_info(0))['img']
    outputs = []
    for image in [stacked] + [np.ascontiguousarray(stacked[..., i:i + 3])
                              for i in range(0, 12, 3)]:
        np.random.seed(5)
        outputs.append(TRANSFORMS.build(transform)(
            dict(img=image.copy(), img_shape=image.shape[:2],
                 ori_shape=image.shape[:2], seg_fields=[]))['img'])
    for index, group in enumerate(outputs[1:]):
        part = outputs[0][..., 3 * index:3 * index + 3]
        tolerance = 1 if transform['type'] == 'RandomResize' else 0
        assert np.abs(part.astype(int) - group.astype(int)).max() <= tolerance


def test_photometric_distortion_touches_only_the_visible_group(
        deliver_demo_root, mcubes_demo_root):
    distort = TRANSFORMS.build(dict(type='MultiModalPhotoMetricDistortion'))
    for dataset in (DELIVERDataset(data_root=deliver_demo_root),
                    MCubeSDataset(data_root=mcubes_demo_root)):
        load = TRANSFORMS.build(
            dict(type='LoadMultiModalImageFromFile',
                 npy_value_ranges=dict(aolp=(-1, 1), dolp=(0, 1))))
        results = load(dataset.get_data_info(0))
        original = results['img'].copy()
        changed = False
        for seed in range(6):
            np.random.seed(seed)
            out = distort.transform(dict(results,
                                         img=original.copy()))['img']
            assert out.shape == original.shape
            assert out.dtype == original.dtype
            np.testing.assert_array_equal(out[..., 3:], original[..., 3:])
            changed |= not np.array_equal(out[..., :3], original[..., :3])
        assert changed
    with pytest.raises(ValueError, match='no thermal modality'):
        TRANSFORMS.build(dict(type='MultiModalPhotoMetricDistortion',
                              distort_thermal=True)).transform(
                                  dict(results, img=original.copy()))


def test_crop_margins_crops_image_and_labels_together():
    image = np.arange(6 * 8 * 2).reshape(6, 8, 2)
    label = np.arange(6 * 8).reshape(6, 8)
    crop = TRANSFORMS.build(dict(type='CropMargins', left=3, top=1))
    out = crop(dict(img=image, gt_seg_map=label, seg_fields=['gt_seg_map'],
                    img_shape=(6, 8), ori_shape=(6, 8)))
    np.testing.assert_array_equal(out['img'], image[1:, 3:])
    np.testing.assert_array_equal(out['gt_seg_map'], label[1:, 3:])
    assert out['img_shape'] == out['ori_shape'] == (5, 5)
    with pytest.raises(ValueError, match='more than the margins'):
        TRANSFORMS.build(dict(type='CropMargins', left=8))(
            dict(img=image, seg_fields=[], img_path='x.png'))


def test_new_datasets_registered():
    for cls in (DELIVERDataset, MCubeSDataset, MSRSDataset, PST900Dataset):
        assert DATASETS.get(cls.__name__) is cls
    assert TRANSFORMS.get('CropMargins') is not None


def test_multimodal_demo_data_is_deterministic(tmp_path):
    for fmt in ('deliver', 'mcubes', 'msrs', 'pst900'):
        first = make_demo_dataset(str(tmp_path / f'{fmt}_a'), fmt, 1, 1,
                                  seed=9, height=24, width=32)
        second = make_demo_dataset(str(tmp_path / f'{fmt}_b'), fmt, 1, 1,
                                   seed=9, height=24, width=32)
        names = sorted(osp.relpath(p, first) for p in glob.glob(
            osp.join(first, '**', '*.*'), recursive=True))
        assert len(names) >= 6
        for name in names:
            a = open(osp.join(first, name), 'rb').read()
            assert a == open(osp.join(second, name), 'rb').read(), name


@pytest.mark.parametrize('name, looks, background, channels', [
    ('deliver', DELIVER_LOOKS, 6, (3, 3, 3, 3)),
    ('mcubes', MCUBES_LOOKS, 0, (3, 2, 1, 1)),
])
def test_demo_classes_show_only_in_their_modalities(name, looks, background,
                                                    channels, request):
    """Beyond RGB, a class has its value in the modalities that carry it
    and the background's (70 + 20 * row / (H - 1), noise 5) elsewhere, so
    some classes are visible only in depth / event / LiDAR (DELIVER) or in
    polarisation / NIR (MCubeS)."""
    root = request.getfixturevalue(f'{name}_demo_root')
    dataset = _build(name, 'test_dataloader', root)
    reduce = dataset.reduce_zero_label
    not_in_rgb = [look for look in looks
                  if look.values[0] is None and any(look.values[1:])]
    assert not_in_rgb
    bounds = np.cumsum((0, ) + channels)
    checked = set()
    for sample in (dataset[i] for i in range(len(dataset))):
        image = sample['inputs'].numpy().transpose(1, 2, 0).astype(float)
        gt = sample['data_samples'].gt_sem_seg.data.numpy()[0]
        rows = np.linspace(0, 1, image.shape[0])[:, None] * np.ones(gt.shape)
        for look in looks:
            label = look.label - 1 if reduce else look.label
            mask = gt == label
            if not mask.any() or label in (background, 255, -1):
                continue
            for m, value in enumerate(look.values[1:], start=1):
                group = image[..., bounds[m]:bounds[m + 1]][mask]
                target = (70 + 20 * rows[mask])[:, None] if value is None \
                    else np.asarray(value, float)[None]
                assert np.abs(group - target).mean() < 6, (look, m)
                checked.add((look.label, m))
    assert {look.label for look in not_in_rgb} & {c for c, _ in checked}
