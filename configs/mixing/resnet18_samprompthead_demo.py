# Mixing test (b): a stock mmseg backbone (ResNetV1c-18, in_channels=4, tiny)
# under the stock EncoderDecoder, with the plugin's SAMPromptHead as decode
# head. No fusion neck: with_fusion_neck=False makes the head derive the
# fusion-mask logits and the image for its frozen SAM encoder from the
# backbone's (last) feature level. Tiny random-initialised SAM, demo data, CPU.
_base_ = [
    '../_base_/models/fcn_tiny_rgbt.py', '../_base_/datasets/mfnet_demo.py',
    '../_base_/cpu_runtime.py', '../_base_/schedules/schedule_demo_cpu.py'
]
crop_size = (96, 128)
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(
        _delete_=True,
        type='SAMPromptHead',
        in_channels=128,
        with_fusion_neck=False,
        num_classes=9,
        sam_type='custom',
        encoder_cfg=dict(
            embed_dim=32,
            depth=2,
            num_heads=2,
            global_attn_indexes=(1, ),
            window_size=4,
            patch_size=8,
            mlp_ratio=2.0,
            prompt_embed_dim=32,
            mask_in_chans=8,
            decoder_depth=1,
            decoder_mlp_dim=64,
            decoder_num_heads=2,
            iou_head_hidden_dim=16),
        image_size=128,
        num_points=10,
        use_box=True,
        ignore_index=255,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
