# FusionSAM-tiny on four modalities: the FusionSAM data flow (LSTG -> FMP ->
# SAMPromptHead) at the sizes of ./_base_/models/fusionsam_tiny.py, with LSTG
# and FMP taking N = 4 modalities (RGB, depth, event, LiDAR; 3 channels
# each), CPU, on the DELIVER-layout demo data (some classes show only in
# depth, event or LiDAR):
#
#   python tools/dataset_converters/make_demo_rgbt.py --format deliver \
#       --out data/demo_deliver
#   python tools/train.py configs/fusionsam_tiny_deliver_demo.py \
#       --work-dir work_dirs/tiny_deliver
#   python tools/test.py configs/fusionsam_tiny_deliver_demo.py \
#       work_dirs/tiny_deliver/iter_200.pth
#
# RGB-D / RGB-D-E variants: set `modalities` below to ('rgb', 'depth') or
# ('rgb', 'depth', 'event'); channels, normalisation, LSTG and FMP follow.
# DELIVER has no background class (raw 0 is void, ignored), so the fusion
# mask is trained on "any labelled pixel" (background_index=None).
_base_ = [
    './_base_/models/fusionsam_tiny.py', './_base_/datasets/deliver_demo.py',
    './_base_/cpu_runtime.py', './_base_/schedules/schedule_demo_cpu.py'
]

# ---- settings ---------------------------------------------------------------
num_classes = 25
modalities = ('rgb', 'depth', 'event', 'lidar')
modality_channels = (3, ) * len(modalities)
crop_size = (96, 128)
num_points = 10
use_box = True
max_iters = 200
batch_size = 4
lr = 3e-3
# -----------------------------------------------------------------------------

model = dict(
    data_preprocessor=dict(
        # RGB: ImageNet mean / std; depth, event, LiDAR: / 255, as the
        # public DELIVER loader normalises them.
        mean=[123.675, 116.28, 103.53] + [0.0] * sum(modality_channels[1:]),
        std=[58.395, 57.12, 57.375] + [255.0] * sum(modality_channels[1:]),
        size=crop_size),
    background_index=None,
    backbone=dict(
        modality_channels=modality_channels, modality_names=modalities),
    neck=dict(num_modalities=len(modalities)),
    decode_head=dict(
        num_classes=num_classes, num_points=num_points, use_box=use_box))
train_dataloader = dict(
    batch_size=batch_size, dataset=dict(modalities=modalities))
val_dataloader = dict(dataset=dict(modalities=modalities))
test_dataloader = dict(dataset=dict(modalities=modalities))
optim_wrapper = dict(optimizer=dict(lr=lr))
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=max_iters))
