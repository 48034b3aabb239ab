# Ablation (B), concat instead of FMP, on MFNet: see
# ../_base_/ablations/concat_instead_of_fmp.py. Everything else (settings,
# data, protocol) is ../fusionsam_vith_mfnet.py.
_base_ = [
    '../fusionsam_vith_mfnet.py', '../_base_/ablations/concat_instead_of_fmp.py'
]

model = {{_base_.concat_instead_of_fmp}}
