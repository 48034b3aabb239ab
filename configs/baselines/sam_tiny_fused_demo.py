# The "SAM on fused images" baseline (StockSAMHead: frozen stock SAM with its
# own 4-token mask decoder, same point + box prompts, no FMP dense prompt,
# per-class readout) at the tiny random-initialised sizes of
# ../fusionsam_tiny_demo.py, on the bundled demo data, CPU:
#
#   python tools/train.py configs/baselines/sam_tiny_fused_demo.py
_base_ = ['../fusionsam_tiny_demo.py']

readout_channels = 16

model = dict(
    decode_head=dict(type='StockSAMHead', readout_channels=readout_channels))
