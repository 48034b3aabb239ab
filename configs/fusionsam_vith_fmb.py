# FusionSAM, frozen SAM ViT-H, FMB (FMB table, "FusionSAM" row: 61.8 mIoU;
# 15 classes, `unlabeled` counted). Paper settings are the top-level
# variables of _base_/fusionsam_paper.py.
#
# Protocol: FMB has no validation split: train on the whole train split
# without validation, keep the last checkpoint, test once on test at
# 600x800. 14-class convention: num_classes = 14, the datasets'
# count_unlabeled=False, model.fusion_mask_classes each one lower and
# model.decode_head.gt_background_index=None.
#
# Two stages, as the paper trains: LSTG starts from the stage-1 VQ-GAN of
# configs/lstg/lstg_vqgan_perceptual_fmb.py at `lstg_checkpoint` (the
# recipe: docs/lstg.md); lstg_checkpoint = None trains in one stage
# (--cfg-options model.part_checkpoints.backbone=None). The fusion mask
# (and so the box and point prompts) covers FMB's thing classes only:
# `fusion_mask_classes` of _base_/datasets/fmb.py.
#
#   python tools/misc/download_checkpoints.py --models sam_vit_h vgg16
#   python tools/train.py configs/fusionsam_vith_fmb.py
#   python tools/test.py configs/fusionsam_vith_fmb.py work_dirs/.../epoch_100.pth
_base_ = ['./_base_/fusionsam_paper.py', './_base_/datasets/fmb.py']

num_classes = 15  # FMB, `unlabeled` counted
lstg_checkpoint = 'checkpoints/lstg/lstg_vqgan_perceptual_fmb.pth'
model = dict(
    data_preprocessor=dict(size={{_base_.crop_size}}),
    fusion_mask_classes={{_base_.fusion_mask_classes}},
    part_checkpoints=dict(backbone=lstg_checkpoint),
    decode_head=dict(num_classes=num_classes))
val_cfg = None
# Test: per-class IoU, and the fusion quality (EN ... MS-SSIM) of the FMP's
# fused image.
test_evaluator = dict(
    type='PerClassIoUMetric', iou_metrics=['mIoU'], fusion_quality=dict())
