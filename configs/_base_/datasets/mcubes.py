# MCubeS (Liang et al. CVPR 2022): RGB, AoLP (sin, cos), DoLP and NIR,
# 1024x1224, 20 material classes (255 = unlabeled, ignored).
# Modalities: the one list `modalities` below, 'rgb' first (R-A: ('rgb',
# 'aolp'), R-A-D: ('rgb', 'aolp', 'dolp'), R-A-D-N: the default); channels
# per modality: rgb 3, aolp 2, dolp 1, nir 1.
# Values: the AoLP sin / cos .npy arrays are scaled from [-1, 1] and DoLP
# from [0, 1] to 0..255 (npy_value_ranges below; values outside are an
# error); 8-bit PNGs stay as they are, 16-bit PNGs are scaled by 255/65535.
# Columns: the warped NIR image does not cover the left 192 columns;
# CropMargins(left=192) drops them from every modality and the labels, as the
# public loader does, so samples (and the evaluated region) are 1024x1032.
# Train recipe (the public MCubeSNet loader): short side rescaled around 512
# (x0.5-2.0), 512x512 crops, horizontal flip; its Gaussian blur of RGB and
# NIR is left out here (ModalityGaussianBlur gives it: see
# configs/memorysam/memorysam_hiera_bplus_mcubes_radn.py) and it applies no
# colour jitter.
# Protocol (docs/datasets.md): train on list_folder/train.txt, validate (model
# selection) on list_folder/val.txt (the public loader's "val" reads
# test.txt), test once on list_folder/test.txt at native resolution (the
# public evaluation resizes and centre-crops to 1024x1024).
dataset_type = 'MCubeSDataset'
data_root = 'data/MCubeS/multimodal_dataset'
modalities = ('rgb', 'aolp', 'dolp', 'nir')
crop_size = (512, 512)
batch_size = 4
npy_value_ranges = dict(aolp=(-1.0, 1.0), dolp=(0.0, 1.0))
meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
             'pad_shape', 'scale_factor', 'flip', 'flip_direction',
             'reduce_zero_label', 'modality_channels', 'modality_names',
             'modality_paths')
train_pipeline = [
    dict(
        type='LoadMultiModalImageFromFile',
        npy_value_ranges=npy_value_ranges),
    dict(type='LoadCheckedAnnotations'),
    dict(type='CropMargins', left=192),
    dict(
        type='RandomResize',
        scale=(512, 512),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
test_pipeline = [
    dict(
        type='LoadMultiModalImageFromFile',
        npy_value_ranges=npy_value_ranges),
    dict(type='LoadCheckedAnnotations'),
    dict(type='CropMargins', left=192),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
train_dataloader = dict(
    batch_size=batch_size,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='list_folder/train.txt',
        modalities=modalities,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='list_folder/val.txt',
        modalities=modalities,
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='list_folder/test.txt',
        modalities=modalities,
        pipeline=test_pipeline))
val_evaluator = dict(type='PerClassIoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
