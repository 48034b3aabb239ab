# FusionSAM, frozen SAM ViT-H, MFNet: the paper's main setting (MFNet table,
# "FusionSAM" row: 63.0 mIoU). Paper settings (epochs, Adam lr / weight
# decay, batch 4, 10 points + 1 box, 1/4 tokens, VGG16 perceptual loss) are
# the top-level variables of _base_/fusionsam_paper.py.
#
# Protocol: train on train.txt, keep the best checkpoint by mIoU on val.txt,
# test once on test.txt at 480x640.
#
# Two stages, as the paper trains: LSTG starts from the stage-1 VQ-GAN of
# configs/lstg/lstg_vqgan_perceptual_mfnet.py at `lstg_checkpoint` (the
# recipe: docs/lstg.md); lstg_checkpoint = None trains in one stage
# (--cfg-options model.part_checkpoints.backbone=None).
#
#   python tools/misc/download_checkpoints.py --models sam_vit_h vgg16
#   python tools/train.py configs/fusionsam_vith_mfnet.py
#   python tools/test.py configs/fusionsam_vith_mfnet.py work_dirs/.../best_mIoU_*.pth
#
# Training stops before the first iteration when a weights file is missing;
# a smoke run without them: --cfg-options model.decode_head.checkpoint=None
# model.backbone.loss_perceptual=None model.part_checkpoints.backbone=None
# (random SAM, no perceptual loss, one stage).
_base_ = ['./_base_/fusionsam_paper.py', './_base_/datasets/mfnet.py']

num_classes = 9  # MFNet, `unlabeled` counted
lstg_checkpoint = 'checkpoints/lstg/lstg_vqgan_perceptual_mfnet.pth'
model = dict(
    data_preprocessor=dict(size={{_base_.crop_size}}),
    fusion_mask_classes={{_base_.fusion_mask_classes}},
    part_checkpoints=dict(backbone=lstg_checkpoint),
    decode_head=dict(num_classes=num_classes))
default_hooks = dict(checkpoint=dict(save_best='mIoU'))
# Test: per-class IoU, and the fusion quality (EN ... MS-SSIM) of the FMP's
# fused image.
test_evaluator = dict(
    type='PerClassIoUMetric', iou_metrics=['mIoU'], fusion_quality=dict())
