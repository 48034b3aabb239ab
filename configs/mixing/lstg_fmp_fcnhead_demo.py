# Mixing test (a): the plugin's LSTG backbone and FMP neck in front of a
# stock mmseg FCNHead (in_index=0 reads the fusion features), under the stock
# EncoderDecoder: only the head's cross-entropy trains it (no LSTG or fusion
# losses; the fused-image decoder gets no gradient, so multi-GPU runs need
# model_wrapper_cfg=dict(type='MMDistributedDataParallel',
# find_unused_parameters=True)). Demo data, CPU.
_base_ = [
    '../_base_/datasets/mfnet_demo.py', '../_base_/cpu_runtime.py',
    '../_base_/schedules/schedule_demo_cpu.py'
]
crop_size = (96, 128)
embed_dims = 32
norm_cfg = dict(type='BN', requires_grad=True)
# The modalities, visible first, as (name, channels): LSTG's
# modality_channels, FMP's num_modalities and the preprocessor's mean / std
# (RGB: ImageNet; every further channel 127.5 / 64) follow from this tuple.
modalities = (('rgb', 3), ('thermal', 1))
modality_channels = tuple(channels for _, channels in modalities)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53] + [127.5] * sum(modality_channels[1:]),
    std=[58.395, 57.12, 57.375] + [64.0] * sum(modality_channels[1:]),
    bgr_to_rgb=False,
    pad_val=0,
    seg_pad_val=255,
    size=crop_size)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='LSTG',
        modality_channels=modality_channels,
        embed_dims=embed_dims,
        base_channels=16,
        channel_multipliers=(1, 2, 2),
        num_downsamples=2,
        num_codes=64,
        with_decoder=False),
    neck=dict(
        type='FMP',
        in_channels=embed_dims,
        num_modalities=len(modalities),
        embed_dims=embed_dims,
        num_heads=2,
        out_channels=embed_dims,
        image_channels=16,
        num_upsamples=2,
        norm_cfg=norm_cfg),
    decode_head=dict(
        type='FCNHead',
        in_channels=embed_dims,
        in_index=0,
        channels=32,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=9,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
