# Ablation "without LSTG" (paper: 35.6 / 41.4 mIoU on MFNet / FMB): the same
# encoders give continuous latents; no codebook, no vector quantization.
# Everything else is ../fusionsam_vith_mfnet.py.
_base_ = '../fusionsam_vith_mfnet.py'

model = dict(backbone=dict(quantize=False))
