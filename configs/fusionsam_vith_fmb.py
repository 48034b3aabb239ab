# FusionSAM, frozen SAM ViT-H, FMB (FMB table, "FusionSAM" row: 61.8 mIoU;
# 15 classes, `unlabeled` counted). Paper settings are the top-level
# variables of _base_/fusionsam_paper.py.
#
# Protocol: FMB has no validation split: train on the whole train split
# without validation, keep the last checkpoint, test once on test at
# 600x800. 14-class convention: num_classes = 14, the datasets'
# count_unlabeled=False, model.background_index=None and
# model.decode_head.gt_background_index=None.
#
#   python tools/misc/download_checkpoints.py --models sam_vit_h vgg16
#   python tools/train.py configs/fusionsam_vith_fmb.py
#   python tools/test.py configs/fusionsam_vith_fmb.py work_dirs/.../epoch_100.pth
_base_ = ['./_base_/fusionsam_paper.py', './_base_/datasets/fmb.py']

num_classes = 15  # FMB, `unlabeled` counted
model = dict(
    data_preprocessor=dict(size={{_base_.crop_size}}),
    decode_head=dict(num_classes=num_classes))
val_cfg = None
# Test: per-class IoU, and the fusion quality (EN ... MS-SSIM) of the FMP's
# fused image.
test_evaluator = dict(
    type='PerClassIoUMetric', iou_metrics=['mIoU'], fusion_quality=dict())
