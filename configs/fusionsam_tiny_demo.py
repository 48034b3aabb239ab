# FusionSAM-tiny: the full FusionSAM data flow (LSTG -> FMP -> SAMPromptHead)
# at the tiny random-initialised sizes of ./_base_/models/fusionsam_tiny.py
# (SAM included: no checkpoint), CPU, on the bundled demo data (`make demo`
# generates data/demo_mfnet). Trains and tests in a few minutes on 2 cores.
# Differences from the paper configs besides the sizes: no LSTG
# reconstruction decoders, CE + Dice on the class masks (the base's notes),
# and an iteration schedule with a higher learning rate. FMP's complementary
# unit is the one-way 'cross_modal' one: at this budget the paper's two-way
# unit learns slower (make demo's test mIoU 39.22 two-way vs 55.45 one-way,
# 2026-12-04; `--cfg-options model.neck.complementary_unit=bidirectional`).
#
#   python tools/train.py configs/fusionsam_tiny_demo.py --work-dir work_dirs/tiny
#   python tools/test.py configs/fusionsam_tiny_demo.py work_dirs/tiny/iter_300.pth
#
# Single-modality baselines (the modality is blacked out in training and
# testing): add `--cfg-options model.zeroed_modalities="[1]"` (RGB only) or
# `model.zeroed_modalities="[0]"` (thermal only).
_base_ = [
    './_base_/models/fusionsam_tiny.py', './_base_/datasets/mfnet_demo.py',
    './_base_/cpu_runtime.py', './_base_/schedules/schedule_demo_cpu.py'
]

# ---- settings ---------------------------------------------------------------
num_classes = 9
crop_size = (96, 128)
num_points = 10
use_box = True
max_iters = 300
lr = 3e-3
zeroed_modalities = ()  # (1,): RGB only; (0,): thermal only
# -----------------------------------------------------------------------------

model = dict(
    data_preprocessor=dict(size=crop_size),
    zeroed_modalities=zeroed_modalities,
    neck=dict(complementary_unit='cross_modal'),
    decode_head=dict(
        num_classes=num_classes, num_points=num_points, use_box=use_box))
optim_wrapper = dict(optimizer=dict(lr=lr))
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=max_iters))
# Test: per-class IoU, and the fusion quality of the FMP's fused image
# (MS-SSIM needs >= 176 pixels a side; the demo images are 120x160).
test_evaluator = dict(
    type='PerClassIoUMetric',
    iou_metrics=['mIoU'],
    fusion_quality=dict(fusion_metrics=('EN', 'SD', 'SF', 'AG', 'MI', 'SCD',
                                        'VIF', 'Qabf', 'SSIM')))
