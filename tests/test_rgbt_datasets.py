"""MFNet / FMB datasets, RGB-T loading and joint geometric transforms."""
import os.path as osp

import cv2
import numpy as np
import pytest
from mmseg.registry import DATASETS, TRANSFORMS

import fusionsam_mmseg  # noqa: F401
from fusionsam_mmseg.datasets import (FMBDataset, LoadMultiModalImageFromFile,
                                      MFNetDataset)
from fusionsam_mmseg.datasets.demo_data import make_demo_dataset


def _load(results: dict) -> dict:
    return LoadMultiModalImageFromFile().transform(results)


def test_mfnet_split_and_metainfo(mfnet_demo_root):
    dataset = MFNetDataset(data_root=mfnet_demo_root, ann_file='train.txt',
                           pipeline=[])
    stems = open(osp.join(mfnet_demo_root, 'train.txt')).read().split()
    assert len(dataset) == len(stems) == 8
    assert dataset.metainfo['classes'][0] == 'unlabeled'
    assert len(dataset.metainfo['classes']) == 9
    assert dataset.metainfo['palette'][1] == [64, 0, 128]
    info = dataset.get_data_info(0)
    assert info['img_path'].endswith(osp.join('images', stems[0] + '.png'))
    assert info['seg_map_path'].endswith(osp.join('labels', stems[0] + '.png'))
    assert info['reduce_zero_label'] is False


def test_mfnet_day_night_splits(mfnet_demo_root):
    day = MFNetDataset(data_root=mfnet_demo_root, ann_file='test_day.txt')
    night = MFNetDataset(data_root=mfnet_demo_root, ann_file='test_night.txt')
    test = MFNetDataset(data_root=mfnet_demo_root, ann_file='test.txt')
    day_paths = {d['img_path'] for d in day.load_data_list()}
    night_paths = {d['img_path'] for d in night.load_data_list()}
    assert all(p.endswith('D.png') for p in day_paths)
    assert all(p.endswith('N.png') for p in night_paths)
    assert day_paths | night_paths == {
        d['img_path'] for d in test.load_data_list()}


def test_mfnet_channels_are_png_r_g_b_alpha(mfnet_demo_root):
    stem = open(osp.join(mfnet_demo_root, 'train.txt')).readline().strip()
    path = osp.join(mfnet_demo_root, 'images', stem + '.png')
    bgra = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    results = _load(dict(img_path=path))
    image = results['img']
    assert image.shape == bgra.shape[:2] + (4, ) and image.dtype == np.uint8
    np.testing.assert_array_equal(image[..., 0], bgra[..., 2])  # R
    np.testing.assert_array_equal(image[..., 1], bgra[..., 1])  # G
    np.testing.assert_array_equal(image[..., 2], bgra[..., 0])  # B
    np.testing.assert_array_equal(image[..., 3], bgra[..., 3])  # thermal
    assert results['modality_channels'] == (3, 1)
    assert results['modality_names'] == ('rgb', 'thermal')
    assert results['ori_shape'] == bgra.shape[:2]


def test_fmb_infrared_three_to_one_channel(fmb_demo_root):
    dataset = FMBDataset(data_root=fmb_demo_root, split='test', pipeline=[])
    assert len(dataset) == 3
    info = dataset.get_data_info(0)
    infrared = cv2.imread(info['modality_paths'][0], cv2.IMREAD_UNCHANGED)
    visible = cv2.imread(info['img_path'], cv2.IMREAD_COLOR)
    assert infrared.ndim == 3 and infrared.shape[2] == 3
    image = _load(dict(info))['img']
    assert image.shape == visible.shape[:2] + (4, )
    np.testing.assert_array_equal(image[..., :3], visible[..., ::-1])
    np.testing.assert_array_equal(image[..., 3], infrared[..., 0])


def test_fmb_fifteen_and_fourteen_class_conventions(fmb_demo_root):
    full = FMBDataset(data_root=fmb_demo_root, split='test')
    assert len(full.metainfo['classes']) == 15
    assert full.get_data_info(0)['label_map'] is None
    reduced = FMBDataset(data_root=fmb_demo_root, split='test',
                         count_unlabeled=False)
    assert len(reduced.metainfo['classes']) == 14
    assert 'unlabeled' not in reduced.metainfo['classes']
    label_map = reduced.get_data_info(0)['label_map']
    assert label_map[0] == 255 and label_map[1] == 0 and label_map[14] == 13
    pipeline = [dict(type='LoadMultiModalImageFromFile'),
                dict(type='LoadCheckedAnnotations')]
    info = dict(reduced.get_data_info(0))
    raw = cv2.imread(info['seg_map_path'], cv2.IMREAD_UNCHANGED)
    for transform in pipeline:
        info = TRANSFORMS.build(transform)(info)
    expected = np.where(raw == 0, 255, raw.astype(int) - 1)
    np.testing.assert_array_equal(info['gt_seg_map'], expected)


def test_demo_data_is_deterministic(tmp_path):
    first = make_demo_dataset(str(tmp_path / 'a'), num_train=2, num_test=1,
                              seed=3)
    second = make_demo_dataset(str(tmp_path / 'b'), num_train=2, num_test=1,
                               seed=3)
    for name in ('images/00001D.png', 'labels/00002N.png'):
        a = cv2.imread(osp.join(first, name), cv2.IMREAD_UNCHANGED)
        b = cv2.imread(osp.join(second, name), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(a, b)


def test_demo_data_has_single_modality_classes(mfnet_demo_root):
    """Thermal-only classes are invisible in RGB and vice versa."""
    from fusionsam_mmseg.datasets.demo_data import MFNET_LOOKS
    thermal_only = {k.label for k in MFNET_LOOKS if k.values[0] is None}
    visible_only = {k.label for k in MFNET_LOOKS if k.values[1] is None}
    assert thermal_only and visible_only
    dataset = MFNetDataset(data_root=mfnet_demo_root, ann_file='train.txt',
                           pipeline=[dict(type='LoadMultiModalImageFromFile'),
                                     dict(type='LoadCheckedAnnotations')])
    gaps = {'visible': [], 'thermal': []}
    for index in range(len(dataset)):
        sample = dataset[index]
        image = sample['img'].astype(float)
        labels = sample['gt_seg_map']
        background = labels == 0
        for label in thermal_only & set(np.unique(labels)):
            gaps['visible'].append(
                abs(image[labels == label, :3].mean() -
                    image[background, :3].mean()))
        for label in visible_only & set(np.unique(labels)):
            gaps['thermal'].append(
                abs(image[labels == label, 3].mean() -
                    image[background, 3].mean()))
    assert gaps['visible'] and gaps['thermal']
    assert max(gaps['thermal']) < 25  # visible-only: thermal ~ background
    assert np.mean(gaps['visible']) < 40  # thermal-only: RGB ~ background


@pytest.mark.parametrize('transform', [
    dict(type='RandomFlip', prob=1.0),
    dict(type='RandomCrop', crop_size=(64, 80)),
    dict(type='RandomResize', scale=(160, 120), ratio_range=(0.5, 2.0),
         keep_ratio=True),
])
def test_modalities_move_together(mfnet_demo_root, transform):
    """Apply the transform to the stacked image, to RGB alone and to thermal
    alone (same random state): the stacked result equals both parts."""
    stem = open(osp.join(mfnet_demo_root, 'train.txt')).readline().strip()
    loaded = _load(dict(img_path=osp.join(mfnet_demo_root, 'images',
                                          stem + '.png')))
    stacked = loaded['img']
    outputs = []
    for image in (stacked, np.ascontiguousarray(stacked[..., :3]),
                  np.ascontiguousarray(stacked[..., 3:])):
        np.random.seed(7)
        results = TRANSFORMS.build(transform)(
            dict(img=image.copy(), img_shape=image.shape[:2],
                 ori_shape=image.shape[:2], seg_fields=[]))
        out = results['img']
        outputs.append(out if out.ndim == 3 else out[..., None])
    stacked_out, visible_out, thermal_out = outputs
    assert stacked_out.shape[2] == 4
    np.testing.assert_array_equal(stacked_out[..., :3], visible_out)
    if transform['type'] == 'RandomResize':
        # cv2 resizes channel groups independently: allow rounding only.
        assert np.abs(stacked_out[..., 3:].astype(int) -
                      thermal_out.astype(int)).max() <= 1
    else:
        np.testing.assert_array_equal(stacked_out[..., 3:], thermal_out)


def test_photometric_distortion_leaves_thermal_alone(mfnet_demo_root):
    stem = open(osp.join(mfnet_demo_root, 'train.txt')).readline().strip()
    results = _load(dict(img_path=osp.join(mfnet_demo_root, 'images',
                                           stem + '.png')))
    original = results['img'].copy()
    distort = TRANSFORMS.build(dict(type='MultiModalPhotoMetricDistortion'))
    changed = False
    for seed in range(6):
        np.random.seed(seed)
        out = distort.transform(dict(results, img=original.copy()))['img']
        assert out.shape == original.shape
        np.testing.assert_array_equal(out[..., 3], original[..., 3])
        changed |= not np.array_equal(out[..., :3], original[..., :3])
    assert changed
    thermal_distort = TRANSFORMS.build(
        dict(type='MultiModalPhotoMetricDistortion', distort_thermal=True))
    thermal_changed = False
    for seed in range(6):
        np.random.seed(seed)
        out = thermal_distort.transform(
            dict(results, img=original.copy()))['img']
        thermal_changed |= not np.array_equal(out[..., 3], original[..., 3])
    assert thermal_changed


def test_real_msrs_pairs_load(msrs_root):
    for split in ('train', 'val'):
        visible_dir = osp.join(msrs_root, split, 'vi')
        for name in sorted(__import__('os').listdir(visible_dir))[:3]:
            visible_path = osp.join(visible_dir, name)
            infrared_path = osp.join(msrs_root, split, 'ir', name)
            results = _load(dict(img_path=visible_path,
                                 modality_paths=[infrared_path]))
            visible = cv2.imread(visible_path, cv2.IMREAD_COLOR)
            infrared = cv2.imread(infrared_path, cv2.IMREAD_UNCHANGED)
            assert results['img'].shape == (480, 640, 4)
            np.testing.assert_array_equal(results['img'][..., :3],
                                          visible[..., ::-1])
            np.testing.assert_array_equal(
                results['img'][..., 3],
                infrared if infrared.ndim == 2 else infrared[..., 0])


def test_datasets_registered():
    assert DATASETS.get('MFNetDataset') is MFNetDataset
    assert DATASETS.get('FMBDataset') is FMBDataset
    for name in ('LoadMultiModalImageFromFile', 'LoadCheckedAnnotations',
                 'MultiModalPhotoMetricDistortion'):
        assert TRANSFORMS.get(name) is not None


def test_demo_data_reproduces_the_stored_fixture(tmp_path, repo_root):
    """make_demo_dataset keeps writing the bytes of the stored fixture data
    (tests/data/fusionsam_752a621, written by seed 3, 16 train / 4 test)."""
    import filecmp
    stored = osp.join(repo_root, 'tests', 'data', 'fusionsam_752a621', 'data')
    written = make_demo_dataset(str(tmp_path / 'demo'), 'mfnet', num_train=16,
                                num_test=4, seed=3)
    names = ['test.txt'] + [
        osp.join(folder, name) for folder in ('images', 'labels')
        for name in sorted(__import__('os').listdir(osp.join(stored, folder)))
    ]
    assert len(names) == 9
    for name in names:
        assert filecmp.cmp(osp.join(stored, name), osp.join(written, name),
                           shallow=False), name
