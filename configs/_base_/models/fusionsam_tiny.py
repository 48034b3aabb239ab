# FusionSAM-tiny: the FusionSAM data flow of ./fusionsam.py (LSTG -> FMP ->
# SAMPromptHead) at tiny random-initialised sizes (SAM included: no
# checkpoint) that train in minutes on a CPU. Besides the sizes: the LSTG
# trains without its reconstruction decoders (codebook / commitment loss
# only; they halve the learning speed at the demo budget), and the class
# masks take CE + Dice (the demo images are mostly background). The
# top-level configs add the classes, the modalities and the data:
# ../../fusionsam_tiny_demo.py, ../../fusionsam_tiny_deliver_demo.py,
# ../../own_data/fusionsam_tiny_own_rgbt.py.
_base_ = ['./fusionsam.py']
embed_dims = 32  # LSTG token / FMP width
sam_image_size = 128  # SAM input side (1024 for the official weights)
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
        out_channels=embed_dims,
        image_channels=8),
    decode_head=dict(
        in_channels=embed_dims,
        sam_type='custom',
        encoder_cfg=tiny_sam,
        image_size=sam_image_size,
        loss_decode=[
            dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            dict(type='DiceLoss', loss_weight=1.0)
        ]))
