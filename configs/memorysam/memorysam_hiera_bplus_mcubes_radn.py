# MemorySAM, SAM2.0 Hiera-B+ (LoRA rank 4 on q, v), MCubeS R-A-D-N: RGB,
# AoLP (sin, cos), DoLP and NIR as 4 SAM2 frames in this order (published:
# 52.88 mIoU on list_folder/test.txt, best epoch on it: see
# docs/tables.md). Official schedule (MemorySAM's MCubeS config and
# loader): batch 4, 500 epochs, AdamW / weight decay 0.01, 10 warm-up
# epochs then poly 0.9, lr 3.5e-4: the released R-A-D-N run's, whose
# checkpoint is `.../mcubesiadn_lr0.00035batch4epoch500/MCubeS_CMNeXt-B2_
# iadn/epoch453_52.88.pth` (EVAL.MODEL_PATH of configs/mcubes_rgbadn_sam.yaml,
# Chenfei-Liao/MemorySAM; the config's own LR reads 4e-4).
# Train recipe: the authors' MCubeS augmentations (semseg/datasets/mcubes.py,
# transform_tr): horizontal flip, short side drawn from 0.5-2 x 1024, a
# 1024x1024 crop, Gaussian blur of RGB and NIR (p 0.5, sigma uniform in
# [0, 1), kernel from sigma), no colour jitter; crops under 1024 are padded
# by the data preprocessor (labels 255).
# The 2-channel AoLP becomes the frame (sin, cos, sin), DoLP and
# NIR are repeated three times (SAM2LoRABackbone), as the official loader
# does; each modality is fed on the official loader's scale (`modalities`
# below): RGB with the ImageNet mean / std, AoLP in [-1, 1], DoLP in
# [0, 1], NIR / 255.
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
# The modalities, RGB first, as (name, channels, mean, std of each further
# channel): the backbone's modality_names / modality_channels, the head's
# width and the preprocessor's mean / std follow from this tuple. AoLP
# (0..255 from [-1, 1]) goes back to [-1, 1]; DoLP (0..255 from [0, 1])
# and NIR are divided by 255.
modalities = (('rgb', 3, None, None), ('aolp', 2, 127.5, 127.5),
              ('dolp', 1, 0.0, 255.0), ('nir', 1, 0.0, 255.0))
modality_names = tuple(name for name, *_ in modalities)
modality_channels = tuple(channels for _, channels, *_ in modalities)
norm_mean = [123.675, 116.28, 103.53] + sum(
    ([mean] * channels for _, channels, mean, _ in modalities[1:]), [])
norm_std = [58.395, 57.12, 57.375] + sum(
    ([std] * channels for _, channels, _, std in modalities[1:]), [])
crop_size = (1024, 1024)
batch_size = 4
max_epochs = 500
warmup_epochs = 10
lr = 3.5e-4  # the released R-A-D-N run (see above)
sam2_width = 256  # SAM2 Hiera-B+ neck / decoder width

train_pipeline = [
    dict(
        type='LoadMultiModalImageFromFile',
        npy_value_ranges={{_base_.npy_value_ranges}}),
    dict(type='LoadCheckedAnnotations'),
    dict(type='CropMargins', left=192),
    dict(type='RandomFlip', prob=0.5),
    # (long, short) = (4 x, 1 x) 1024: the short side becomes ratio x 1024.
    dict(
        type='RandomResize',
        scale=(4096, 1024),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(
        type='ModalityGaussianBlur',
        modalities=('rgb', 'nir'),
        prob=0.5,
        kernel_size=None,
        sigma_range=(0.0, 1.0)),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
model = dict(
    data_preprocessor=dict(
        mean=norm_mean,
        std=norm_std,
        size=crop_size),
    backbone=dict(
        modality_channels=modality_channels,
        modality_names=modality_names),
    decode_head=dict(
        in_channels=[len(modalities) * sam2_width] * 3,
        num_classes=num_classes,
        sampler=dict(min_kept=crop_size[0] * crop_size[1] // 16)))
train_dataloader = dict(
    batch_size=batch_size,
    dataset=dict(modalities=modality_names, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(modalities=modality_names))
test_dataloader = dict(dataset=dict(modalities=modality_names))

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
