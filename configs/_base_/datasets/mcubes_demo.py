# The MCubeS-layout demo data (tools/dataset_converters/make_demo_rgbt.py
# --format mcubes): 120x(192+160) files, 120x160 after the 192 columns
# without NIR are dropped, CPU-sized crops, no loader workers, and mmseg's
# InfiniteSampler for iteration-based demo schedules (a finite sampler makes
# mmengine's loop sleep 2 s at every epoch end).
_base_ = ['./mcubes.py']
data_root = 'data/demo_mcubes'
crop_size = (96, 128)
train_pipeline = [
    dict(
        type='LoadMultiModalImageFromFile',
        npy_value_ranges={{_base_.npy_value_ranges}}),
    dict(type='LoadCheckedAnnotations'),
    dict(type='CropMargins', left=192),
    dict(
        type='RandomResize',
        scale=(160, 120),
        ratio_range=(0.75, 1.5),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
train_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root))
test_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root))
