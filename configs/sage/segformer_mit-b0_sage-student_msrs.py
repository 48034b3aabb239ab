# SAGE "and beyond": a stock mmseg SegFormer (MiT-B0 + SegformerHead)
# segments the fused images of the frozen SAM-free SAGE student on MSRS
# (9 MFNet classes, `unlabeled` counted), tested at native resolution.
# The student comes from a trained SAGE run:
#   python tools/model_converters/extract_sage_student.py \
#       work_dirs/sage_msrs/epoch_100.pth checkpoints/sage_student_msrs.pth
# SegFormer schedule (AdamW 6e-5, head lr x10, 1500 warm-up iterations,
# poly), 40k iterations of batch 8. The MiT-B0 encoder trains from scratch
# unless `model.backbone.backbone.init_cfg` points at ImageNet weights.
_base_ = ['../_base_/datasets/msrs.py', '../_base_/default_runtime.py']
crop_size = (480, 640)
batch_size = 8
num_classes = 9
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        bgr_to_rgb=False,
        size=crop_size,
        pad_val=0,
        seg_pad_val=255),
    backbone=dict(
        type='FusedImageBackbone',
        fusion=dict(type='SAGEStudent', channels=32),
        fusion_checkpoint='checkpoints/sage_student_msrs.pth',
        backbone=dict(
            type='MixVisionTransformer',
            in_channels=3,
            embed_dims=32,
            num_stages=4,
            num_layers=[2, 2, 2, 2],
            num_heads=[1, 2, 5, 8],
            patch_sizes=[7, 3, 3, 3],
            sr_ratios=[8, 4, 2, 1],
            out_indices=(0, 1, 2, 3),
            mlp_ratio=4,
            qkv_bias=True,
            drop_rate=0.0,
            attn_drop_rate=0.0,
            drop_path_rate=0.1)),
    decode_head=dict(
        type='SegformerHead',
        in_channels=[32, 64, 160, 256],
        in_index=[0, 1, 2, 3],
        channels=256,
        dropout_ratio=0.1,
        num_classes=num_classes,
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
train_dataloader = dict(
    batch_size=batch_size,
    sampler=dict(type='InfiniteSampler', shuffle=True))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(
        custom_keys=dict(
            pos_block=dict(decay_mult=0.0),
            norm=dict(decay_mult=0.0),
            head=dict(lr_mult=10.0))))
max_iters = 40000
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
         end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=1500,
         end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
val_cfg = None
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=4000,
        max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
