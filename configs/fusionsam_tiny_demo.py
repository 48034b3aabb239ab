# FusionSAM-tiny: the full FusionSAM data flow (LSTG -> FMP -> SAMPromptHead)
# with tiny random-initialised dimensions (SAM included: no checkpoint), CPU,
# on the bundled demo data (`make demo` generates data/demo_mfnet). Trains
# and tests in a few minutes on 2 cores. Differences from the paper configs
# besides the sizes: the LSTG trains without its reconstruction decoders
# (codebook/commitment loss only; they halve the learning speed at this
# budget), CE + Dice on the class masks (the demo images are mostly background), and an
# iteration schedule with a higher learning rate. FMP's complementary unit is
# the one-way 'cross_modal' one: at this budget the paper's two-way unit
# learns slower (make demo's test mIoU 39.22 two-way vs 55.45 one-way,
# 2026-12-04; `--cfg-options model.neck.complementary_unit=bidirectional`).
#
#   python tools/train.py configs/fusionsam_tiny_demo.py --work-dir work_dirs/tiny
#   python tools/test.py configs/fusionsam_tiny_demo.py work_dirs/tiny/iter_300.pth
#
# Single-modality baselines (the modality is blacked out in training and
# testing): add `--cfg-options model.zeroed_modalities="[1]"` (RGB only) or
# `model.zeroed_modalities="[0]"` (thermal only).
_base_ = [
    './_base_/models/fusionsam.py', './_base_/datasets/mfnet_demo.py',
    './_base_/cpu_runtime.py', './_base_/schedules/schedule_demo_cpu.py'
]

# ---- settings ---------------------------------------------------------------
num_classes = 9
crop_size = (96, 128)
embed_dims = 32  # LSTG token / FMP width
sam_image_size = 128  # SAM input side (1024 for the official weights)
num_points = 10
use_box = True
max_iters = 300
lr = 3e-3
zeroed_modalities = ()  # (1,): RGB only; (0,): thermal only
# -----------------------------------------------------------------------------

tiny_sam = dict(
    embed_dim=32,
    depth=2,
    num_heads=2,
    global_attn_indexes=(1, ),
    window_size=4,
    patch_size=8,
    mlp_ratio=2.0,
    prompt_embed_dim=128,
    mask_in_chans=16,
    decoder_depth=1,
    decoder_mlp_dim=256,
    decoder_num_heads=4,
    iou_head_hidden_dim=16)
model = dict(
    data_preprocessor=dict(size=crop_size),
    zeroed_modalities=zeroed_modalities,
    backbone=dict(
        embed_dims=embed_dims,
        base_channels=8,
        channel_multipliers=(1, 2, 4),
        num_codes=64,
        with_decoder=False,
        loss_adv=None),
    neck=dict(
        in_channels=embed_dims,
        embed_dims=embed_dims,
        num_heads=2,
        feedforward_channels=2 * embed_dims,
        kv_pool_size=None,
        complementary_unit='cross_modal',
        out_channels=embed_dims,
        image_channels=8),
    decode_head=dict(
        in_channels=embed_dims,
        num_classes=num_classes,
        sam_type='custom',
        encoder_cfg=tiny_sam,
        image_size=sam_image_size,
        num_points=num_points,
        use_box=use_box,
        loss_decode=[
            dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            dict(type='DiceLoss', loss_weight=1.0)
        ]))
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
