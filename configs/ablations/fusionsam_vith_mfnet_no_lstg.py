# Ablation (A), without LSTG, on MFNet: see
# ../_base_/ablations/without_lstg.py. Everything else (settings, data,
# protocol) is ../fusionsam_vith_mfnet.py.
_base_ = ['../fusionsam_vith_mfnet.py', '../_base_/ablations/without_lstg.py']

model = {{_base_.without_lstg}}
