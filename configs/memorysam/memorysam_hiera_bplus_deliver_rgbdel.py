# MemorySAM, SAM2.0 Hiera-B+ (LoRA rank 4 on q, v), DELIVER RGB-D-E-L:
# 4 modalities as 4 SAM2 frames in this order (published: 65.38 mIoU on
# DELIVER val, best of 200 epochs: see docs/tables.md). Official schedule:
# 1024x1024 crops, batch 4, 200 epochs, AdamW lr 6e-4 (the lr of the
# official DELIVER config; no released run names another for RGB-D-E-L) /
# weight decay 0.01, 10 warm-up epochs then poly 0.9
# (../_base_/schedules/schedule_200e_adamw_poly.py). Modalities other than
# RGB are fed as the official loader does (divided by 255, no mean / std).
#
# Train recipe: the MemorySAM authors' DELIVER augmentations
# (semseg/augmentations_mm.py, get_train_augmentation), in their order:
# colour jitter on RGB only (p 0.2; brightness, contrast, saturation each
# 0.5-1.5, no hue), horizontal flip, Gaussian blur on RGB only (3x3, sigma
# 0.8, p 0.2), short side rescaled to 0.5-2 x 1024, a 1024x1024 crop (no
# cat_max_ratio). Crops under 1024 are padded by the data preprocessor
# (labels 255, as the official; images 0 after normalisation, the official
# pads 0 before it). Event frames of another size than RGB are resized to
# it (nearest), as the official loader does (resize_to_visible).
#
# Protocol: train on `train`, keep the best checkpoint by mIoU on `val`,
# test once on `test` at the native 1042x1042 (the frames are resized to
# SAM2's 1024x1024 input inside the model, the logits back to 1042x1042).
#
#   python tools/misc/download_checkpoints.py --models sam2_hiera_b+
#   CONFIG=configs/memorysam/memorysam_hiera_bplus_deliver_rgbdel.py
#   python tools/train.py $CONFIG
#   python tools/test.py $CONFIG work_dirs/.../best_mIoU_*.pth
#
# RGB, RGB-D and RGB-D-E are the _rgb, _rgbd, _rgbde configs (only the
# modality list differs). A CPU smoke run with random weights:
#   --cfg-options model.backbone.checkpoint=None \
#       model.decode_head.checkpoint=None
# (shrink further with model.{backbone,decode_head}.sam2_config=sam2_hiera_t
# and model.{backbone,decode_head}.image_size=128).
_base_ = [
    '../_base_/models/memorysam_hiera_bplus.py',
    '../_base_/datasets/deliver.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_200e_adamw_poly.py'
]

num_classes = 25
modalities = ('rgb', 'depth', 'event', 'lidar')
crop_size = (1024, 1024)
batch_size = 4
sam2_width = 256  # SAM2 Hiera-B+ neck / decoder width
modality_channels = (3, ) * len(modalities)  # DELIVER: 3 each
non_rgb_channels = sum(modality_channels[1:])  # fed as value / 255

load_modalities = dict(
    type='LoadMultiModalImageFromFile',
    resize_to_visible=dict(event='nearest'))
train_pipeline = [
    load_modalities,
    dict(type='LoadCheckedAnnotations', label_channel=0),
    dict(
        type='ModalityColorJitter',
        modality='rgb',
        prob=0.2,
        brightness=(0.5, 1.5),
        contrast=(0.5, 1.5),
        saturation=(0.5, 1.5)),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='ModalityGaussianBlur',
        modalities=('rgb', ),
        prob=0.2,
        kernel_size=3,
        sigma_range=(0.8, 0.8)),
    # (long, short) = (4 x, 1 x) 1024: the short side becomes ratio x 1024.
    dict(
        type='RandomResize',
        scale=(4096, 1024),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
test_pipeline = [
    load_modalities,
    dict(type='LoadCheckedAnnotations', label_channel=0),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]

model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53] + [0.0] * non_rgb_channels,
        std=[58.395, 57.12, 57.375] + [255.0] * non_rgb_channels,
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
val_dataloader = dict(
    dataset=dict(modalities=modalities, pipeline=test_pipeline))
test_dataloader = dict(
    dataset=dict(modalities=modalities, pipeline=test_pipeline))
default_hooks = dict(checkpoint=dict(save_best='mIoU'))
