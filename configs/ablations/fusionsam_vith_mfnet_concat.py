# Ablation "concat instead of FMP" (paper: 47.3 / 57.6 mIoU on MFNet / FMB):
# the modality tokens are concatenated and convolved (ConcatFusion, same
# outputs: fusion features, fusion-mask logits, fused image) instead of the
# cross-attention fusion units. Everything else is ../fusionsam_vith_mfnet.py.
_base_ = '../fusionsam_vith_mfnet.py'

model = dict(
    neck=dict(
        _delete_=True,
        type='ConcatFusion',
        in_channels=256,
        num_modalities=2,
        embed_dims=256,
        out_channels=256,
        image_channels=64,
        num_upsamples={{_base_.num_downsamples}},
        norm_cfg={{_base_.norm_cfg}}))
