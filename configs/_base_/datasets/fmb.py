# FMB (Liu et al. ICCV 2023): visible + infrared PNGs, 600x800, 15 classes
# with `unlabeled` counted (set `count_unlabeled=False` in both datasets for
# the 14-class convention).
# Protocol (docs/datasets.md): FMB ships no validation split, so training uses
# the whole train split with no validation loop and keeps the last checkpoint
# (no `save_best`); the test split is read once, by tools/test.py, at native
# resolution. A config that wants monitoring sets val_dataloader / val_cfg /
# val_evaluator to a list carved from train.
dataset_type = 'FMBDataset'
# Label ids that count as objects for FusionSAM's fusion mask (its target,
# hence where its point and box prompts go): FMB's thing classes Person, Car,
# Truck, Bus, Motorcycle, Bicycle (FMBDataset.METAINFO['fusion_mask_classes'];
# road, sidewalk, building, vegetation and sky would make the box the whole
# image). 14-class convention: each id one lower.
fusion_mask_classes = (8, 9, 10, 11, 12, 13)
data_root = 'data/fmb'
crop_size = (600, 800)
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
        scale=(800, 600),
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
        count_unlabeled=True,
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
        count_unlabeled=True,
        pipeline=test_pipeline))
val_evaluator = None
test_evaluator = dict(type='PerClassIoUMetric', iou_metrics=['mIoU'])
