# Ablation (B) of the paper (Fig. 4, "replacing FMP with direct concat",
# "without introducing the fusion mask hint"; 47.3 / 57.6 mIoU on MFNet /
# FMB): the LSTG tokens are concatenated and convolved (ConcatFusion) and
# feed SAM as its dense prompt and, through the fused-image decoder, its
# image; there is no fusion mask (the neck's mask_logits is None), so SAM
# receives no point, box or mask prompt and there is no fusion-mask loss.
# configs/ablations/*_concat.py use it as their model, with the number of
# modalities (num_modalities) of the model base they inherit.
concat_instead_of_fmp = dict(
    neck=dict(
        _delete_=True,
        type='ConcatFusion',
        in_channels=256,
        embed_dims=256,
        out_channels=256,
        image_channels=64,
        num_upsamples=2,
        norm_cfg=dict(type='BN', requires_grad=True),
        with_mask_logits=False),
    decode_head=dict(
        num_points=0,
        use_box=False,
        use_mask_prompt=False),
    loss_fusion_mask=None)
