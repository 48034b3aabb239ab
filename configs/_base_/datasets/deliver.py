# DELIVER (Zhang et al. CVPR 2023): RGB, depth (HHA), event and LiDAR frames
# rendered in CARLA, 1042x1042, 25 classes (raw label 0 = void, ignored;
# class ids are channel 0 of the semantic PNG).
# Modalities: the one list `modalities` below, 'rgb' first; RGB-D, RGB-D-E
# and RGB-D-E-L are this line set to ('rgb', 'depth'), ('rgb', 'depth',
# 'event') and the default (a config that inherits this file sets
# `modalities` and passes it to its datasets and model). Each modality keeps
# its 3 channels: modality_channels = (3, ) * len(modalities).
# Train recipe (the public DELIVER loader): random rescale 0.5-2.0, 1024x1024
# crops, horizontal flip, colour jitter on the RGB group only.
# Protocol (docs/datasets.md): train on `train`, validate (model selection) on
# `val`, test once on `test`. Testing is at the native 1042x1042; the common
# protocol (DELIVER/CMNeXt, MemorySAM) resizes test images to 1024x1024,
# so published numbers are on resized frames.
dataset_type = 'DELIVERDataset'
data_root = 'data/DELIVER'
modalities = ('rgb', 'depth', 'event', 'lidar')
crop_size = (1024, 1024)
batch_size = 2
meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
             'pad_shape', 'scale_factor', 'flip', 'flip_direction',
             'reduce_zero_label', 'modality_channels', 'modality_names',
             'modality_paths')
train_pipeline = [
    dict(type='LoadMultiModalImageFromFile'),
    dict(type='LoadCheckedAnnotations', label_channel=0),
    dict(
        type='RandomResize',
        scale=(1042, 1042),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='MultiModalPhotoMetricDistortion'),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadMultiModalImageFromFile'),
    dict(type='LoadCheckedAnnotations', label_channel=0),
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
        split='train',
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
        split='val',
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
        split='test',
        modalities=modalities,
        pipeline=test_pipeline))
val_evaluator = dict(type='PerClassIoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
