# FusionSAM-tiny on your own data (docs/own_data.md): the FusionSAM data
# flow (LSTG -> FMP -> SAMPromptHead) with the tiny random-initialised sizes
# of ../_base_/models/fusionsam_tiny.py, CPU, on the folders, classes and
# modalities that ../_base_/datasets/own_rgbt.py describes. A first check
# that your data trains before the ViT-B config (./fusionsam_vitb_own_rgbt.py):
#
#   python tools/dataset_converters/prepare_own_dataset.py \
#       configs/own_data/fusionsam_tiny_own_rgbt.py --color-labels labels
#   python tools/train.py configs/own_data/fusionsam_tiny_own_rgbt.py \
#       --work-dir work_dirs/own_tiny
#   python tools/test.py configs/own_data/fusionsam_tiny_own_rgbt.py \
#       work_dirs/own_tiny/iter_300.pth
_base_ = [
    '../_base_/models/fusionsam_tiny.py', '../_base_/datasets/own_rgbt.py',
    '../_base_/cpu_runtime.py', '../_base_/schedules/schedule_demo_cpu.py'
]

# ---- settings ---------------------------------------------------------------
crop_size = (96, 128)  # CPU-sized training crops
train_scale = (160, 120)  # (W, H) the images are rescaled around first
max_iters = 300
lr = 3e-3
# -----------------------------------------------------------------------------

model = dict(
    data_preprocessor=dict(
        mean={{_base_.norm_mean}}, std={{_base_.norm_std}}, size=crop_size),
    backbone=dict(
        modality_channels={{_base_.modality_channels}},
        modality_names={{_base_.modality_names}}),
    neck=dict(num_modalities={{_base_.num_modalities}}),
    decode_head=dict(num_classes={{_base_.num_classes}}))
train_pipeline = [
    dict(type='LoadMultiModalImageFromFile'),
    dict(type='LoadCheckedAnnotations'),
    dict(
        type='RandomResize',
        scale=train_scale,
        ratio_range=(0.75, 1.5),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='MultiModalPhotoMetricDistortion'),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
# CPU loading: no worker processes; mmseg's InfiniteSampler (a finite
# sampler makes mmengine's iteration loop sleep 2 s at every epoch end).
train_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = dict(num_workers=0, persistent_workers=False)
optim_wrapper = dict(optimizer=dict(lr=lr))
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=20), checkpoint=dict(interval=max_iters))
