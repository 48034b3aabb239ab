# Ablation (A), without LSTG, on FMB: see
# ../_base_/ablations/without_lstg.py. Everything else (settings, data,
# protocol) is ../fusionsam_vith_fmb.py.
_base_ = ['../fusionsam_vith_fmb.py', '../_base_/ablations/without_lstg.py']

# The patch embedding reads the modalities of the model base.
model = dict(
    _base_.without_lstg,
    backbone=dict(
        _base_.without_lstg.backbone,
        modality_channels=_base_.default_channels,
        modality_names=_base_.default_names))
