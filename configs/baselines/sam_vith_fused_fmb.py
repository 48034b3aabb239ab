# Baseline of the "SAM on fused images" table, FMB: the stock Segment
# Anything (ViT-H, frozen, its own mask decoder with 4 mask tokens) on the
# fused images of FusionSAM's LSTG + FMP, prompted with the same 10 points +
# 1 box from the fusion mask but without the FMP dense prompt. SAM's masks
# are class-agnostic, so a small trainable readout (StockSAMHead) maps them
# and SAM's image embedding to class logits. Everything else (LSTG + FMP,
# data, schedule, SAM checkpoint path) is ../fusionsam_vith_fmb.py.
#
#   python tools/train.py configs/baselines/sam_vith_fused_fmb.py
#   python tools/test.py configs/baselines/sam_vith_fused_fmb.py CKPT \
#       --work-dir work_dirs/sam_fused_fmb_test
#   python tools/analysis/make_tables.py \
#       --sam-fmb work_dirs/sam_fused_fmb_test/<ts>/<ts>.json \
#       --out work_dirs/tables
_base_ = ['../fusionsam_vith_fmb.py']

readout_channels = 64  # hidden width of the per-class readout
readout_with_embedding = True  # False: the readout sees SAM's 4 masks only

model = dict(
    decode_head=dict(
        type='StockSAMHead',
        readout_channels=readout_channels,
        readout_with_embedding=readout_with_embedding))
