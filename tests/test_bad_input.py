"""Bad input stops with an error that names the file and what was expected.

Covers docs/datasets.md (Bad input): missing thermal / label files,
RGB/thermal size mismatch, 3-channel MFNet images, out-of-range label
values, empty or missing split files, corrupt PNGs and an unreadable data
root.
"""
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest
from mmseg.registry import TRANSFORMS

import fusionsam_mmseg  # noqa: F401
from fusionsam_mmseg.datasets import FMBDataset, MFNetDataset

LOADING = [dict(type='LoadMultiModalImageFromFile'),
           dict(type='LoadCheckedAnnotations')]


@pytest.fixture
def mfnet_copy(mfnet_demo_root, tmp_path):
    return shutil.copytree(mfnet_demo_root, tmp_path / 'mfnet')


@pytest.fixture
def fmb_copy(fmb_demo_root, tmp_path):
    return shutil.copytree(fmb_demo_root, tmp_path / 'fmb')


def _first_stem(root) -> str:
    return open(osp.join(root, 'train.txt')).readline().strip()


def _load_first(dataset):
    info = dataset.get_data_info(0)
    for transform in LOADING:
        info = TRANSFORMS.build(transform)(info)
    return info


def test_missing_label_names_file_and_split_line(mfnet_copy):
    stem = _first_stem(mfnet_copy)
    os.remove(osp.join(mfnet_copy, 'labels', stem + '.png'))
    with pytest.raises(FileNotFoundError) as error:
        MFNetDataset(data_root=str(mfnet_copy), ann_file='train.txt')
    message = str(error.value)
    assert osp.join('labels', stem + '.png') in message
    assert 'train.txt line 1' in message


def test_missing_mfnet_image_names_file(mfnet_copy):
    stems = open(osp.join(mfnet_copy, 'train.txt')).read().split()
    os.remove(osp.join(mfnet_copy, 'images', stems[2] + '.png'))
    with pytest.raises(FileNotFoundError, match=rf'{stems[2]}\.png.*line 3'):
        MFNetDataset(data_root=str(mfnet_copy), ann_file='train.txt')


def test_missing_thermal_names_file(fmb_copy):
    name = sorted(os.listdir(osp.join(fmb_copy, 'train', 'Infrared')))[0]
    os.remove(osp.join(fmb_copy, 'train', 'Infrared', name))
    with pytest.raises(FileNotFoundError, match='thermal image') as error:
        FMBDataset(data_root=str(fmb_copy), split='train')
    assert osp.join('Infrared', name) in str(error.value)


def test_rgb_thermal_size_mismatch(fmb_copy):
    dataset = FMBDataset(data_root=str(fmb_copy), split='train')
    [thermal_path] = dataset.get_data_info(0)['modality_paths']
    thermal = cv2.imread(thermal_path, cv2.IMREAD_UNCHANGED)
    cv2.imwrite(thermal_path, thermal[:-8])
    with pytest.raises(ValueError, match='same size') as error:
        _load_first(dataset)
    assert thermal_path in str(error.value)
    assert dataset.get_data_info(0)['img_path'] in str(error.value)


def test_three_channel_mfnet_image(mfnet_copy):
    stem = _first_stem(mfnet_copy)
    path = osp.join(mfnet_copy, 'images', stem + '.png')
    cv2.imwrite(path, cv2.imread(path, cv2.IMREAD_UNCHANGED)[..., :3])
    dataset = MFNetDataset(data_root=str(mfnet_copy), ann_file='train.txt')
    with pytest.raises(ValueError, match='3 channel') as error:
        _load_first(dataset)
    assert path in str(error.value) and 'expected 4' in str(error.value)


def test_label_value_outside_classes(mfnet_copy):
    stem = _first_stem(mfnet_copy)
    path = osp.join(mfnet_copy, 'labels', stem + '.png')
    label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    label[0, :5] = 12
    label[1, :5] = 255  # ignore_index stays allowed
    cv2.imwrite(path, label)
    dataset = MFNetDataset(data_root=str(mfnet_copy), ann_file='train.txt')
    with pytest.raises(ValueError, match=r'\[12\]') as error:
        _load_first(dataset)
    assert path in str(error.value) and '0..8' in str(error.value)


def test_label_size_differs_from_image(mfnet_copy):
    stem = _first_stem(mfnet_copy)
    path = osp.join(mfnet_copy, 'labels', stem + '.png')
    cv2.imwrite(path, cv2.imread(path, cv2.IMREAD_UNCHANGED)[:-4])
    dataset = MFNetDataset(data_root=str(mfnet_copy), ann_file='train.txt')
    with pytest.raises(ValueError, match='same size') as error:
        _load_first(dataset)
    assert path in str(error.value)


def test_empty_split_file(mfnet_copy):
    path = osp.join(mfnet_copy, 'train.txt')
    open(path, 'w').close()
    with pytest.raises(ValueError, match='lists no images') as error:
        MFNetDataset(data_root=str(mfnet_copy), ann_file='train.txt')
    assert path in str(error.value)


def test_missing_split_file(mfnet_copy):
    with pytest.raises(FileNotFoundError, match='nope.txt'):
        MFNetDataset(data_root=str(mfnet_copy), ann_file='nope.txt')


def test_corrupt_png(mfnet_copy):
    stem = _first_stem(mfnet_copy)
    path = osp.join(mfnet_copy, 'images', stem + '.png')
    data = open(path, 'rb').read()
    open(path, 'wb').write(data[:64])
    dataset = MFNetDataset(data_root=str(mfnet_copy), ann_file='train.txt')
    with pytest.raises(ValueError, match='could not be decoded') as error:
        _load_first(dataset)
    assert path in str(error.value)


@pytest.mark.parametrize('dataset_cls', [MFNetDataset, FMBDataset])
def test_unreadable_data_root(tmp_path, dataset_cls):
    missing = str(tmp_path / 'no_such_root')
    with pytest.raises(FileNotFoundError, match='data_root') as error:
        dataset_cls(data_root=missing)
    assert missing in str(error.value)


def test_fmb_empty_visible_folder(fmb_copy):
    visible = osp.join(fmb_copy, 'test', 'Visible')
    for name in os.listdir(visible):
        os.remove(osp.join(visible, name))
    with pytest.raises(ValueError, match='holds no') as error:
        FMBDataset(data_root=str(fmb_copy), split='test')
    assert visible in str(error.value)




def test_colour_label_png_is_rejected(mfnet_copy):
    stem = _first_stem(mfnet_copy)
    path = osp.join(mfnet_copy, 'labels', stem + '.png')
    label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    cv2.imwrite(path, np.dstack([label] * 3))
    dataset = MFNetDataset(data_root=str(mfnet_copy), ann_file='train.txt')
    with pytest.raises(ValueError, match='single-channel') as error:
        _load_first(dataset)
    assert path in str(error.value)


# --- Model settings that do not fit the data (DatasetModelCheckHook,
# --- SAMPromptHead checkpoints), issue 8.

FCN_CONFIG = 'configs/baselines/fcn_tiny_rgbt_demo.py'


def _packed_batch(data_root: str) -> dict:
    """One collated training batch of the real loading pipeline."""
    from mmengine.dataset import pseudo_collate
    from mmseg.datasets.transforms import PackSegInputs
    dataset = MFNetDataset(
        data_root=data_root, ann_file='train.txt',
        pipeline=LOADING + [dict(type='PackSegInputs',
                                 meta_keys=PackSegInputs().meta_keys +
                                 ('modality_channels', ))])
    return pseudo_collate([dataset[0]])


def _model_with(**parts):
    import torch.nn as nn
    model = nn.Module()
    for name, module in parts.items():
        setattr(model, name, module)
    return model


def test_modality_channels_not_matching_the_data(mfnet_demo_root):
    from fusionsam_mmseg.engine.hooks.dataset_model_check_hook import \
        check_input_channels
    from fusionsam_mmseg.models.backbones.lstg import LSTG
    batch = _packed_batch(mfnet_demo_root)
    image = batch['data_samples'][0].img_path
    model = _model_with(backbone=LSTG(modality_channels=(3, 3),
                                      embed_dims=8, base_channels=8,
                                      num_codes=8))
    with pytest.raises(ValueError) as error:
        check_input_channels(model, batch, 'train_dataloader')
    message = str(error.value)
    assert 'model.backbone.modality_channels=(3, 3)' in message
    assert 'modality_channels=(3, 1)' in message and image in message
    # The backbone itself names the setting when it is called directly.
    with pytest.raises(ValueError, match=r'modality_channels=\(3, 3\)'):
        model.backbone(batch['inputs'][0][None].float())


def test_preprocessor_mean_not_matching_the_channels(mfnet_demo_root):
    from mmseg.models import SegDataPreProcessor

    from fusionsam_mmseg.engine.hooks.dataset_model_check_hook import \
        check_input_channels
    batch = _packed_batch(mfnet_demo_root)
    model = _model_with(data_preprocessor=SegDataPreProcessor(
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]))
    with pytest.raises(ValueError, match='model.data_preprocessor.mean') \
            as error:
        check_input_channels(model, batch, 'train_dataloader')
    assert batch['data_samples'][0].img_path in str(error.value)
    assert '4 channels' in str(error.value)


def _fcn_runner(data_root: str, work_dir: str, **options):
    import uuid

    from mmengine.config import Config
    from mmengine.runner import Runner

    from conftest import REPO_ROOT
    cfg = Config.fromfile(osp.join(REPO_ROOT, FCN_CONFIG))
    name = f'bad_input_{uuid.uuid4().hex[:8]}'
    cfg.merge_from_dict({
        'work_dir': work_dir, 'experiment_name': name,
        'visualizer.name': name,
        **{f'{loader}.dataset.data_root': data_root
           for loader in ('train_dataloader', 'val_dataloader',
                          'test_dataloader')},
        **options})
    return Runner.from_cfg(cfg)


@pytest.mark.parametrize('stage', ['train', 'test'])
def test_num_classes_not_matching_the_dataset(mfnet_demo_root, tmp_path,
                                              stage):
    runner = _fcn_runner(mfnet_demo_root, str(tmp_path),
                         **{'model.decode_head.num_classes': 5})
    with pytest.raises(ValueError) as error:
        getattr(runner, stage)()
    message = str(error.value)
    assert 'model.decode_head.num_classes=5' in message
    assert 'MFNetDataset' in message and mfnet_demo_root in message
    assert f'{stage}_dataloader' in message and '9 classes' in message
    assert not [f for f in os.listdir(tmp_path) if f.endswith('.pth')]


def _tiny_sam_state_dict(embed_dim: int) -> dict:
    """An official-layout (image_encoder.* ...) SAM state dict, tiny."""
    from fusionsam_mmseg.models.sam import (
        build_class_token_mask_decoder, build_sam_image_encoder,
        build_sam_prompt_encoder, resolve_sam_architecture)
    arch = resolve_sam_architecture('custom', _tiny_sam_cfg(embed_dim))
    parts = dict(image_encoder=build_sam_image_encoder(arch, 64),
                 prompt_encoder=build_sam_prompt_encoder(arch, 64),
                 mask_decoder=build_class_token_mask_decoder(arch, 4))
    return {f'{part}.{key}': value for part, module in parts.items()
            for key, value in module.state_dict().items()}


def _tiny_sam_cfg(embed_dim: int) -> dict:
    return dict(embed_dim=embed_dim, depth=2, num_heads=2,
                global_attn_indexes=(1, ), window_size=2, patch_size=8,
                prompt_embed_dim=16, decoder_mlp_dim=32, decoder_num_heads=2,
                iou_head_hidden_dim=16)


def _tiny_sam_head(checkpoint: str, embed_dim: int):
    from fusionsam_mmseg.models.decode_heads.sam_prompt_head import \
        SAMPromptHead
    return SAMPromptHead(
        in_channels=8, num_classes=9, sam_type='custom',
        encoder_cfg=_tiny_sam_cfg(embed_dim), image_size=64,
        checkpoint=checkpoint)


def test_sam_checkpoint_of_another_size(tmp_path):
    import torch
    path = str(tmp_path / 'sam_embed32.pth')
    torch.save(_tiny_sam_state_dict(embed_dim=32), path)
    _tiny_sam_head(path, embed_dim=32).init_weights()  # same size: loads
    head = _tiny_sam_head(path, embed_dim=16)
    with pytest.raises(ValueError) as error:
        head.init_weights()
    message = str(error.value)
    assert path in message and 'image_encoder.' in message
    assert 'sam_type' in message


# --- DELIVER, MCubeS, MSRS, PST900 (issue 13): the same contract for N
# --- modalities.

BASES = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs',
                 '_base_', 'datasets')
MULTIMODAL = ('deliver', 'mcubes', 'msrs', 'pst900')


@pytest.fixture
def layout_copy(request, tmp_path):
    """A writable copy of the ``<name>_demo_root`` fixture: (name, root)."""
    name = request.param
    root = request.getfixturevalue(f'{name}_demo_root')
    return name, str(shutil.copytree(root, tmp_path / name))


def _test_dataset(name: str, root: str, **overrides):
    """The test split through the base config's test pipeline."""
    from mmengine.config import Config
    from mmseg.registry import DATASETS
    cfg = Config.fromfile(osp.join(BASES, f'{name}.py'))
    dataset = cfg.test_dataloader.dataset
    dataset.update(data_root=root, **overrides)
    return DATASETS.build(dataset)


def _test_files(name: str, root: str, folder: str, extension: str = '.png'):
    """Files of the test split in one modality folder, sorted."""
    if name == 'deliver':
        pattern = osp.join(root, folder, '*', 'test', '*', '*' + extension)
    elif name == 'mcubes':
        names = open(osp.join(root, 'list_folder', 'test.txt')).read().split()
        return [osp.join(root, folder, n + extension) for n in names]
    else:
        pattern = osp.join(root, 'test', folder, '*' + extension)
    return sorted(__import__('glob').glob(pattern))


def _index_of(dataset, path: str) -> int:
    """Index of the sample one of whose files is ``path``."""
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        files = [info.get('seg_map_path')]
        for source in info.get('modality_paths', ()):
            files += [source] if isinstance(source, str) else list(source)
        if path in files:
            return index
    raise AssertionError(f'{path} belongs to no sample')


# The second modality's folder and the label folder of each layout.
SECOND_MODALITY = dict(deliver=('event', '.png'),
                       mcubes=('polL_dolp', '.npy'), msrs=('ir', '.png'),
                       pst900=('thermal', '.png'))
LABELS = dict(deliver='semantic', mcubes='GT', msrs='Segmentation_labels',
              pst900='labels')
VISIBLE = dict(deliver='img', mcubes='polL_color', msrs='vi', pst900='rgb')


@pytest.mark.parametrize('layout_copy', MULTIMODAL, indirect=True)
def test_modality_file_missing_for_one_sample(layout_copy):
    name, root = layout_copy
    folder, extension = SECOND_MODALITY[name]
    missing = _test_files(name, root, folder, extension)[1]
    os.remove(missing)
    with pytest.raises(FileNotFoundError) as error:
        _test_dataset(name, root)
    message = str(error.value)
    assert missing in message and 'does not exist' in message
    if name == 'mcubes':
        assert 'test.txt line 2' in message


@pytest.mark.parametrize('layout_copy', MULTIMODAL, indirect=True)
def test_modality_sizes_that_differ(layout_copy):
    name, root = layout_copy
    folder, extension = SECOND_MODALITY[name]
    path = _test_files(name, root, folder, extension)[0]
    if extension == '.npy':
        np.save(path, np.load(path)[:-3])
    else:
        cv2.imwrite(path, cv2.imread(path, cv2.IMREAD_UNCHANGED)[:-3])
    dataset = _test_dataset(name, root)
    index = _index_of(dataset, path)
    with pytest.raises(ValueError, match='same size') as error:
        dataset[index]
    assert path in str(error.value)
    assert dataset.get_data_info(index)['img_path'] in str(error.value)


def test_npy_files_of_one_modality_that_differ_in_size(mcubes_copy_root):
    root = mcubes_copy_root
    cos = _test_files('mcubes', root, 'polL_aolp_cos', '.npy')[0]
    np.save(cos, np.load(cos)[:, :-2])
    with pytest.raises(ValueError, match='same size') as error:
        _test_dataset('mcubes', root)[0]
    assert cos in str(error.value)


@pytest.fixture
def mcubes_copy_root(mcubes_demo_root, tmp_path):
    return str(shutil.copytree(mcubes_demo_root, tmp_path / 'mcubes'))


@pytest.mark.parametrize('folder, array, expected', [
    ('polL_dolp', np.zeros((48, 256), np.int32), 'holds a int32 array'),
    ('polL_dolp', np.zeros(48, np.float32), r'shape \(48,\)'),
    ('polL_dolp', np.random.default_rng(0).uniform(0, 1, (48, 256, 3)),
     r'3 channel\(s\); expected 1'),
    ('polL_aolp_sin', np.zeros((48, 256, 2), np.float32),
     'hold 3 channels together; expected 2'),
    ('polL_aolp_sin', np.full((48, 256), 1.5, np.float32),
     r'expected values in \[-1.0, 1.0\]'),
    ('polL_dolp', np.full((48, 256), np.nan, np.float32), 'non-finite'),
])
def test_npy_of_wrong_shape_dtype_or_range(mcubes_copy_root, folder, array,
                                           expected):
    root = mcubes_copy_root
    path = _test_files('mcubes', root, folder, '.npy')[0]
    np.save(path, array)
    with pytest.raises(ValueError, match=expected) as error:
        _test_dataset('mcubes', root)[0]
    assert path in str(error.value)


def test_npy_without_a_value_range(mcubes_demo_root):
    pipeline = [dict(type='LoadMultiModalImageFromFile')]
    dataset = _test_dataset('mcubes', mcubes_demo_root, pipeline=pipeline)
    with pytest.raises(ValueError, match='npy_value_ranges') as error:
        dataset[0]
    assert '.npy' in str(error.value) and 'aolp' in str(error.value)


@pytest.mark.parametrize('layout_copy, value, expected', [
    ('deliver', 26, '0..25'), ('mcubes', 20, '0..19'),
    ('msrs', 9, '0..8'), ('pst900', 5, '0..4')
], indirect=['layout_copy'])
def test_multimodal_label_outside_classes(layout_copy, value, expected):
    name, root = layout_copy
    path = _test_files(name, root, LABELS[name])[0]
    label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if label.ndim == 3:
        label[0, :4, 2] = value  # DELIVER: ids in R (cv2 index 2)
    else:
        label[0, -4:] = value
    cv2.imwrite(path, label)
    dataset = _test_dataset(name, root)
    index = _index_of(dataset, path)
    with pytest.raises(ValueError, match=rf'\[{value}\]') as error:
        dataset[index]
    assert path in str(error.value) and expected in str(error.value)


@pytest.mark.parametrize('layout_copy', MULTIMODAL, indirect=True)
def test_multimodal_empty_split(layout_copy):
    name, root = layout_copy
    if name == 'mcubes':
        split_file = osp.join(root, 'list_folder', 'test.txt')
        open(split_file, 'w').write('\n')
        with pytest.raises(ValueError, match='lists no images') as error:
            _test_dataset(name, root)
        assert split_file in str(error.value)
        return
    for path in _test_files(name, root, VISIBLE[name]):
        os.remove(path)
    with pytest.raises(ValueError, match='no images match|holds no') \
            as error:
        _test_dataset(name, root)
    where = 'test' if name == 'deliver' else osp.join(root, 'test',
                                                       VISIBLE[name])
    assert where in str(error.value)


@pytest.mark.parametrize('name', ['msrs', 'pst900', 'deliver'])
def test_empty_ann_file_of_a_folder_layout(name, request, tmp_path):
    root = request.getfixturevalue(f'{name}_demo_root')
    split_file = tmp_path / 'empty.txt'
    split_file.write_text('')
    with pytest.raises(ValueError, match='lists no images') as error:
        _test_dataset(name, root, ann_file=str(split_file))
    assert str(split_file) in str(error.value)


@pytest.mark.parametrize('name', MULTIMODAL)
def test_multimodal_unreadable_data_root(name, tmp_path):
    missing = str(tmp_path / 'no_such_root')
    with pytest.raises(FileNotFoundError, match='data_root') as error:
        _test_dataset(name, missing)
    assert missing in str(error.value)


def test_deliver_colour_label_needs_label_channel(deliver_demo_root):
    pipeline = [dict(type='LoadMultiModalImageFromFile'),
                dict(type='LoadCheckedAnnotations')]
    dataset = _test_dataset('deliver', deliver_demo_root, pipeline=pipeline)
    with pytest.raises(ValueError, match='label_channel') as error:
        dataset[0]
    assert dataset.get_data_info(0)['seg_map_path'] in str(error.value)


def test_deliver_name_without_rgb_and_unknown_case(deliver_demo_root,
                                                   tmp_path):
    root = str(shutil.copytree(deliver_demo_root, tmp_path / 'deliver'))
    path = _test_files('deliver', root, 'img')[0]
    renamed = path.replace('_rgb_front', '_front')
    os.rename(path, renamed)
    with pytest.raises(ValueError, match="no '_rgb'") as error:
        _test_dataset('deliver', root)
    assert renamed in str(error.value)
    os.rename(renamed, path)
    with pytest.raises(ValueError, match='matches none') as error:
        _test_dataset('deliver', root, case='snow')
    assert 'cloud' in str(error.value)


@pytest.mark.parametrize('modalities', [('depth', 'rgb'), ('rgb', 'hha'),
                                        ('rgb', 'depth', 'depth')])
def test_deliver_bad_modalities(deliver_demo_root, modalities):
    with pytest.raises(ValueError, match="'rgb' first"):
        _test_dataset('deliver', deliver_demo_root, modalities=modalities)


def test_modality_order_not_matching_the_backbone(deliver_demo_root):
    """Equal-sized groups (DELIVER: 3 channels each) in another order than
    the backbone's modality_names would pass every shape check."""
    from mmengine.dataset import pseudo_collate

    from fusionsam_mmseg.engine.hooks.dataset_model_check_hook import \
        check_input_channels
    from fusionsam_mmseg.models.backbones.lstg import LSTG
    dataset = _test_dataset('deliver', deliver_demo_root,
                            modalities=('rgb', 'event', 'depth'))
    batch = pseudo_collate([dataset[0]])

    def lstg(names):
        return _model_with(backbone=LSTG(
            modality_channels=(3, 3, 3), modality_names=names, embed_dims=8,
            base_channels=8, num_codes=8))

    with pytest.raises(ValueError) as error:
        check_input_channels(lstg(('rgb', 'depth', 'event')), batch,
                             'test_dataloader')
    message = str(error.value)
    assert "modality_names=('rgb', 'depth', 'event')" in message
    assert "('rgb', 'event', 'depth')" in message
    assert batch['data_samples'][0].img_path in message
    check_input_channels(lstg(('rgb', 'event', 'depth')), batch,
                         'test_dataloader')
    check_input_channels(lstg(None), batch, 'test_dataloader')
