# Ablation (B), concat instead of FMP, on FMB: see
# ../_base_/ablations/concat_instead_of_fmp.py. Everything else (settings,
# data, protocol) is ../fusionsam_vith_fmb.py.
_base_ = [
    '../fusionsam_vith_fmb.py', '../_base_/ablations/concat_instead_of_fmp.py'
]

# The concatenation takes as many modalities as the model base has.
model = dict(
    _base_.concat_instead_of_fmp,
    neck=dict(
        _base_.concat_instead_of_fmp.neck,
        num_modalities=len(_base_.default_modalities)))
