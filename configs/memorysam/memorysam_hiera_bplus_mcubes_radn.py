# MemorySAM, SAM2.0 Hiera-B+ (LoRA rank 4 on q, v), MCubeS R-A-D-N: RGB,
# AoLP (sin, cos), DoLP and NIR as 4 SAM2 frames in this order (published:
# 52.88 mIoU). Official schedule (MemorySAM's MCubeS config and loader):
# short side rescaled around 1024 (x0.5-2.0), 1024x1024 crops, batch 4,
# 500 epochs, AdamW lr 4e-4 / weight decay 0.01, 10 warm-up epochs then
# poly 0.9. The 2-channel AoLP becomes the frame (sin, cos, sin), DoLP and
# NIR are repeated three times (SAM2LoRABackbone), as the official loader
# does; each modality is fed on the official loader's scale: RGB with the
# ImageNet mean / std, AoLP in [-1, 1], DoLP in [0, 1], NIR / 255.
#
# Protocol: train on list_folder/train.txt, keep the best checkpoint by
# mIoU on list_folder/val.txt (the official "val" reads test.txt), test
# once on list_folder/test.txt at the native 1024x1032 (the left 192
# columns without NIR dropped, as the public loader does).
#
#   python tools/misc/download_checkpoints.py --models sam2_hiera_b+
#   CONFIG=configs/memorysam/memorysam_hiera_bplus_mcubes_radn.py
#   python tools/train.py $CONFIG
#   python tools/test.py $CONFIG work_dirs/.../best_mIoU_*.pth
_base_ = [
    '../_base_/models/memorysam_hiera_bplus.py',
    '../_base_/datasets/mcubes.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_200e_adamw_poly.py'
]

num_classes = 20
modalities = ('rgb', 'aolp', 'dolp', 'nir')
modality_channels = (3, 2, 1, 1)
crop_size = (1024, 1024)
batch_size = 4
max_epochs = 500
warmup_epochs = 10
lr = 4e-4
sam2_width = 256  # SAM2 Hiera-B+ neck / decoder width

train_pipeline = [
    dict(
        type='LoadRGBTImageFromFile',
        npy_value_ranges={{_base_.npy_value_ranges}}),
    dict(type='LoadCheckedAnnotations'),
    dict(type='CropMargins', left=192),
    dict(
        type='RandomResize',
        scale=(1024, 1024),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
model = dict(
    data_preprocessor=dict(
        # RGB: ImageNet; AoLP (0..255 from [-1, 1]): back to [-1, 1];
        # DoLP (0..255 from [0, 1]) and NIR: / 255.
        mean=[123.675, 116.28, 103.53, 127.5, 127.5, 0.0, 0.0],
        std=[58.395, 57.12, 57.375, 127.5, 127.5, 255.0, 255.0],
        size=crop_size),
    backbone=dict(
        modality_channels=modality_channels, modality_names=modalities),
    decode_head=dict(
        in_channels=[len(modalities) * sam2_width] * 3,
        num_classes=num_classes,
        sampler=dict(min_kept=crop_size[0] * crop_size[1] // 16)))
train_dataloader = dict(
    batch_size=batch_size,
    dataset=dict(modalities=modalities, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(modalities=modalities))
test_dataloader = dict(dataset=dict(modalities=modalities))

optim_wrapper = dict(optimizer=dict(lr=lr))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.1,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=0.0,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(checkpoint=dict(save_best='mIoU'))
