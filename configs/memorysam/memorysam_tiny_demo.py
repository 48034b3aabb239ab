# MemorySAM-tiny: the full MemorySAM data flow (4 modalities as 4 SAM2
# frames, memory attention, class tokens, prototype loss) with a tiny
# random-initialised SAM2 (Hiera and memory sizes shrunk by Hydra overrides
# of the sam2_hiera_b+ config; no checkpoint), CPU, on DELIVER-layout demo
# data (RGB, depth, event, LiDAR; some classes show in one modality only):
#
#   python tools/dataset_converters/make_demo_rgbt.py --format deliver \
#       --out data/demo_deliver
#   python tools/train.py configs/memorysam/memorysam_tiny_demo.py \
#       --work-dir work_dirs/memorysam_tiny
#   python tools/test.py configs/memorysam/memorysam_tiny_demo.py \
#       work_dirs/memorysam_tiny/iter_400.pth
#
# Differences from the DELIVER configs besides the sizes: an iteration
# schedule (AdamW, 20 warm-up iterations, then poly) with a higher rate.
_base_ = [
    '../_base_/models/memorysam_hiera_bplus.py',
    '../_base_/datasets/deliver_demo.py', '../_base_/cpu_runtime.py'
]

# ---- settings ---------------------------------------------------------------
num_classes = 25
modalities = ('rgb', 'depth', 'event', 'lidar')
modality_channels = (3, ) * len(modalities)
crop_size = (96, 128)
sam2_image_size = 128  # SAM2 input side (1024 for the official weights)
sam2_width = 32  # SAM2 width (neck, memory attention, decoder); B+: 256
trunk, neck = '++model.image_encoder.trunk', '++model.image_encoder.neck'
attention, memory = '++model.memory_attention', '++model.memory_encoder'
sam2_overrides = [
    f'{trunk}.embed_dim=8', f'{trunk}.num_heads=1',
    f'{trunk}.stages=[1,1,2,1]', f'{trunk}.global_att_blocks=[3]',
    f'{trunk}.window_spec=[4,4,4,4]',
    f'{trunk}.window_pos_embed_bkg_spatial_size=[4,4]',
    f'{neck}.backbone_channel_list=[64,32,16,8]',
    f'{neck}.d_model={sam2_width}',
    f'{neck}.position_encoding.num_pos_feats={sam2_width}',
    f'{attention}.d_model={sam2_width}', f'{attention}.num_layers=1',
    f'{attention}.layer.d_model={sam2_width}',
    f'{attention}.layer.dim_feedforward={2 * sam2_width}',
    f'{attention}.layer.self_attention.embedding_dim={sam2_width}',
    f'{attention}.layer.cross_attention.embedding_dim={sam2_width}',
    f'{attention}.layer.cross_attention.kv_in_dim={sam2_width // 2}',
    f'{memory}.out_dim={sam2_width // 2}', f'{memory}.in_dim={sam2_width}',
    f'{memory}.position_encoding.num_pos_feats={sam2_width // 2}',
    f'{memory}.mask_downsampler.embed_dim={sam2_width}',
    f'{memory}.fuser.layer.dim={sam2_width}',
]
max_iters = 400
lr = 3e-3
batch_size = 4
# -----------------------------------------------------------------------------

model = dict(
    data_preprocessor=dict(
        # RGB: ImageNet mean / std; depth, event, LiDAR: / 255 (official).
        mean=[123.675, 116.28, 103.53] + [0.0] * sum(modality_channels[1:]),
        std=[58.395, 57.12, 57.375] + [255.0] * sum(modality_channels[1:]),
        size=crop_size),
    backbone=dict(
        modality_channels=modality_channels,
        modality_names=modalities,
        sam2_overrides=sam2_overrides,
        image_size=sam2_image_size,
        checkpoint=None),
    decode_head=dict(
        in_channels=[len(modalities) * sam2_width] * 3,
        num_classes=num_classes,
        sam2_overrides=sam2_overrides,
        image_size=sam2_image_size,
        checkpoint=None,
        sampler=dict(min_kept=crop_size[0] * crop_size[1] // 16)))
train_dataloader = dict(
    batch_size=batch_size, dataset=dict(modalities=modalities))
val_dataloader = dict(dataset=dict(modalities=modalities))
test_dataloader = dict(dataset=dict(modalities=modalities))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01),
    clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20),
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=0.0,
        by_epoch=False,
        begin=20,
        end=max_iters),
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
