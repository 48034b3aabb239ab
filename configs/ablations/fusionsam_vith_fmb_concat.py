# Ablation (B), concat instead of FMP, on FMB: see
# ../_base_/ablations/concat_instead_of_fmp.py. Everything else (settings,
# data, protocol) is ../fusionsam_vith_fmb.py.
_base_ = [
    '../fusionsam_vith_fmb.py', '../_base_/ablations/concat_instead_of_fmp.py'
]

model = {{_base_.concat_instead_of_fmp}}
