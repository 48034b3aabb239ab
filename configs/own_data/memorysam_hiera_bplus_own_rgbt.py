# MemorySAM, SAM2.0 Hiera-B+ (LoRA rank 4 on q, v), on your own data
# (docs/own_data.md): each modality of ../_base_/datasets/own_rgbt.py is one
# SAM2 frame (a 1-channel image is repeated into 3 channels inside the
# model), with MemorySAM's DELIVER schedule (batch 4, 200 epochs, AdamW
# lr 6e-4 / weight decay 0.01, 10 warm-up epochs then poly 0.9).
#
# Protocol: train on splits/train.txt, keep the best checkpoint by mIoU on
# splits/val.txt, test once on splits/test.txt at native resolution.
#
#   python tools/misc/download_checkpoints.py --models sam2_hiera_b+
#   python tools/train.py configs/own_data/memorysam_hiera_bplus_own_rgbt.py \
#       --work-dir work_dirs/own_memorysam
_base_ = [
    '../_base_/models/memorysam_hiera_bplus.py',
    '../_base_/datasets/own_rgbt.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_200e_adamw_poly.py'
]

sam2_width = 256  # SAM2 Hiera-B+ neck / decoder width
# The head reads every frame's features: N modalities x sam2_width channels
# per level, N the number of modalities of own_rgbt.py. OHEM keeps at least
# 1/16 of the pixels of own_rgbt.py's crop.
crop_pixels = _base_.crop_size[0] * _base_.crop_size[1]

model = dict(
    data_preprocessor=dict(
        mean={{_base_.norm_mean}},
        std={{_base_.norm_std}},
        size={{_base_.crop_size}}),
    backbone=dict(
        modality_channels={{_base_.modality_channels}},
        modality_names={{_base_.modality_names}}),
    decode_head=dict(
        in_channels=[_base_.num_modalities * sam2_width] * 3,
        num_classes={{_base_.num_classes}},
        sampler=dict(min_kept=crop_pixels // 16)))
default_hooks = dict(checkpoint=dict(save_best='mIoU'))
