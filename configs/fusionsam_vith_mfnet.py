# FusionSAM, frozen SAM ViT-H, MFNet: the paper's main setting (MFNet table,
# "FusionSAM" row: 63.0 mIoU). Paper settings (epochs, Adam lr / weight
# decay, batch 4, 10 points + 1 box, 1/4 tokens, VGG16 perceptual loss) are
# the top-level variables of _base_/fusionsam_paper.py.
#
# Protocol: train on train.txt, keep the best checkpoint by mIoU on val.txt,
# test once on test.txt at 480x640.
#
#   python tools/misc/download_checkpoints.py --models sam_vit_h vgg16
#   python tools/train.py configs/fusionsam_vith_mfnet.py
#   python tools/test.py configs/fusionsam_vith_mfnet.py work_dirs/.../best_mIoU_*.pth
#
# Training stops before the first iteration when a weights file is missing;
# a smoke run without them: --cfg-options model.decode_head.checkpoint=None
# model.backbone.loss_perceptual=None (random SAM, no perceptual loss).
_base_ = ['./_base_/fusionsam_paper.py', './_base_/datasets/mfnet.py']

num_classes = 9  # MFNet, `unlabeled` counted
model = dict(
    data_preprocessor=dict(size={{_base_.crop_size}}),
    decode_head=dict(num_classes=num_classes))
default_hooks = dict(checkpoint=dict(save_best='mIoU'))
# Test: per-class IoU, and the fusion quality (EN ... MS-SSIM) of the FMP's
# fused image.
test_evaluator = dict(
    type='PerClassIoUMetric', iou_metrics=['mIoU'], fusion_quality=dict())
