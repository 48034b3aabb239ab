# MemorySAM, SAM2.0 Hiera-B+ (LoRA rank 4 on q, v), MFNet RGB-T: RGB and
# thermal as 2 SAM2 frames (the 1-channel thermal image is repeated into a
# 3-channel frame and fed / 255, like the non-RGB modalities of the
# official loaders). MemorySAM publishes no RGB-T setting: this uses its
# DELIVER schedule (batch 4, 200 epochs, AdamW lr 6e-4 / weight decay
# 0.01, 10 warm-up epochs then poly 0.9) on MFNet's 480x640 crops.
#
# Protocol: train on train.txt, keep the best checkpoint by mIoU on
# val.txt, test once on test.txt at the native 480x640.
#
#   python tools/misc/download_checkpoints.py --models sam2_hiera_b+
#   python tools/train.py configs/memorysam/memorysam_hiera_bplus_mfnet.py
_base_ = [
    '../_base_/models/memorysam_hiera_bplus.py',
    '../_base_/datasets/mfnet.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_200e_adamw_poly.py'
]

num_classes = 9  # MFNet, `unlabeled` counted
# The modalities, RGB first, as (name, channels): the backbone's
# modality_names / modality_channels, the head's width and the
# preprocessor's mean / std (RGB: ImageNet; every further channel / 255)
# follow from this tuple.
modalities = (('rgb', 3), ('thermal', 1))
modality_names, modality_channels = zip(*modalities)
sam2_width = 256  # SAM2 Hiera-B+ neck / decoder width

model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53] + [0.0] * sum(modality_channels[1:]),
        std=[58.395, 57.12, 57.375] + [255.0] * sum(modality_channels[1:]),
        size={{_base_.crop_size}}),
    backbone=dict(
        modality_channels=modality_channels,
        modality_names=modality_names),
    decode_head=dict(
        in_channels=[len(modalities) * sam2_width] * 3,
        num_classes=num_classes,
        sampler=dict(
            min_kept=_base_.crop_size[0] * _base_.crop_size[1] // 16)))
default_hooks = dict(checkpoint=dict(save_best='mIoU'))
