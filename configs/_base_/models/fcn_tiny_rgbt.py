# A small stock mmseg model (ResNet-18-style + FCN head) that reads 4-channel
# RGB-T inputs: `in_channels=4` plus 4-value mean/std. No plugin component.
norm_cfg = dict(type='BN', requires_grad=True)
# The modality channels, visible first: the stem's in_channels and the
# preprocessor's mean / std (RGB: ImageNet; thermal 127.5 / 64) follow.
rgbt_channels = (3, 1)
rgbt_mean = [123.675, 116.28, 103.53] + [127.5] * sum(rgbt_channels[1:])
rgbt_std = [58.395, 57.12, 57.375] + [64.0] * sum(rgbt_channels[1:])
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=rgbt_mean,
    std=rgbt_std,
    bgr_to_rgb=False,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNetV1c',
        in_channels=sum(rgbt_channels),
        depth=18,
        stem_channels=16,
        base_channels=16,
        num_stages=4,
        out_indices=(3, ),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=False,
        contract_dilation=True),
    decode_head=dict(
        type='FCNHead',
        in_channels=128,
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
