# MSRS (Tang et al.; derived from MFNet): visible + 1-channel infrared PNGs,
# 480x640, MFNet's 9 classes with `unlabeled` counted. The fusion benchmark
# of SAGE; its labels make it a segmentation set too.
# Train recipe: MFNet's (random rescale 0.5-2.0, 480x640 crops, flip, colour
# jitter on the visible group only).
# Protocol (docs/datasets.md): MSRS ships no validation split, so training uses
# the whole train split with no validation loop and keeps the last checkpoint
# (no `save_best`); the test split is read once, by tools/test.py, at native
# resolution. A config that wants monitoring sets val_dataloader / val_cfg /
# val_evaluator to a stem list carved from train (`ann_file`).
dataset_type = 'MSRSDataset'
data_root = 'data/MSRS'
crop_size = (480, 640)
batch_size = 4
meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
             'pad_shape', 'scale_factor', 'flip', 'flip_direction',
             'reduce_zero_label', 'modality_channels', 'modality_names',
             'modality_paths')
train_pipeline = [
    dict(type='LoadMultiModalImageFromFile'),
    dict(type='LoadCheckedAnnotations'),
    dict(
        type='RandomResize',
        scale=(640, 480),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='MultiModalPhotoMetricDistortion'),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadMultiModalImageFromFile'),
    dict(type='LoadCheckedAnnotations'),
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
        pipeline=train_pipeline))
val_dataloader = None
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        pipeline=test_pipeline))
val_evaluator = None
test_evaluator = dict(type='PerClassIoUMetric', iou_metrics=['mIoU'])
