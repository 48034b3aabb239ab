# Baseline of the "SAM on fused images" table (the paper's Table 4: "SAM and
# SAM2 directly infer the fused feature maps generated in FusionSAM"), SAM
# row, FMB: the stock Segment Anything (ViT-H, frozen, its own mask decoder
# with 4 mask tokens) on the fused images of a trained FusionSAM, prompted
# with the same 10 points + 1 box from its fusion mask but without the FMP
# dense prompt.
#
# What trains: only the readout (StockSAMHead's 3x3 ConvModule + 1x1
# conv_seg: SAM's 4 class-agnostic masks and image embedding -> class
# logits), which a stock SAM needs to name classes. LSTG + FMP come from
# `fusionsam_checkpoint` (a checkpoint of ../fusionsam_vith_fmb.py, loaded
# strictly) and stay frozen in eval mode; SAM is frozen. Data, schedule and
# SAM checkpoint path are those of ../fusionsam_vith_fmb.py.
#
#   python tools/train.py configs/fusionsam_vith_fmb.py
#   mkdir -p checkpoints/fusionsam
#   cp work_dirs/fusionsam_vith_fmb/epoch_100.pth \
#       checkpoints/fusionsam/fusionsam_vith_fmb.pth
#   python tools/train.py configs/baselines/sam_vith_fused_fmb.py
#   python tools/test.py configs/baselines/sam_vith_fused_fmb.py CKPT \
#       --work-dir work_dirs/sam_fused_fmb_test
#   python tools/analysis/make_tables.py \
#       --sam-fmb work_dirs/sam_fused_fmb_test/<ts>/<ts>.json \
#       --out work_dirs/tables
_base_ = ['../fusionsam_vith_fmb.py']

# The FusionSAM whose fused images SAM segments.
fusionsam_checkpoint = 'checkpoints/fusionsam/fusionsam_vith_fmb.pth'
readout_channels = 64  # hidden width of the per-class readout
readout_with_embedding = True  # False: the readout sees SAM's 4 masks only

model = dict(
    part_checkpoints=dict(
        backbone=fusionsam_checkpoint, neck=fusionsam_checkpoint),
    freeze_fusion=True,
    decode_head=dict(
        type='StockSAMHead',
        readout_channels=readout_channels,
        readout_with_embedding=readout_with_embedding))
