# Baseline of the "SAM on fused images" table (the paper's Table 4: "SAM and
# SAM2 directly infer the fused feature maps generated in FusionSAM"), SAM2
# row, FMB: Segment Anything 2 (SAM 2.0 Hiera-L, frozen, its own mask
# decoder with 4 mask tokens and high-resolution features) on the fused
# images of a trained FusionSAM, prompted with the same 10 points + 1 box
# from its fusion mask, without the FMP dense prompt.
#
# What trains: only the readout (StockSAM2Head's 3x3 ConvModule + 1x1
# conv_seg: SAM2's 4 class-agnostic masks and image embedding -> class
# logits), which a stock SAM2 needs to name classes. LSTG + FMP come from
# `fusionsam_checkpoint` (a checkpoint of ../fusionsam_vith_fmb.py, loaded
# strictly) and stay frozen in eval mode; SAM2 is frozen. Data and schedule
# are those of ../fusionsam_vith_fmb.py.
#
# SAM 2.0, not 2.1: the paper added its SAM2 rows right after SAM2's launch
# (July 2024), before SAM 2.1 (September 2024). SAM 2.1 Hiera-L stays an
# option: sam2_config = 'configs/sam2.1/sam2.1_hiera_l.yaml' and
# sam2_checkpoint = 'checkpoints/sam2/sam2.1_hiera_large.pt'
# (download_checkpoints.py --models sam2.1_hiera_l).
#
# Optional extra: needs the `sam2` package (see docs/tables.md).
#
#   python tools/misc/download_checkpoints.py --models sam2_hiera_l
#   mkdir -p checkpoints/fusionsam
#   cp work_dirs/fusionsam_vith_fmb/epoch_100.pth \
#       checkpoints/fusionsam/fusionsam_vith_fmb.pth
#   python tools/train.py configs/baselines/sam2_hiera_l_fused_fmb.py
#   python tools/test.py configs/baselines/sam2_hiera_l_fused_fmb.py CKPT \
#       --work-dir work_dirs/sam2_fused_fmb_test
#   python tools/analysis/make_tables.py \
#       --sam2-fmb work_dirs/sam2_fused_fmb_test/<ts>/<ts>.json \
#       --out work_dirs/tables
_base_ = ['../fusionsam_vith_fmb.py']

# The FusionSAM whose fused images SAM2 segments.
fusionsam_checkpoint = 'checkpoints/fusionsam/fusionsam_vith_fmb.pth'
sam2_config = 'configs/sam2/sam2_hiera_l.yaml'  # inside the sam2 package
sam2_checkpoint = 'checkpoints/sam2/sam2_hiera_large.pt'
num_classes = 15
readout_channels = 64  # hidden width of the per-class readout

model = dict(
    part_checkpoints=dict(
        backbone=fusionsam_checkpoint, neck=fusionsam_checkpoint),
    freeze_fusion=True,
    decode_head=dict(
        _delete_=True,
        type='StockSAM2Head',
        in_channels=256,
        num_classes=num_classes,
        sam2_config=sam2_config,
        checkpoint=sam2_checkpoint,
        image_size=1024,
        num_points=10,
        use_box=True,
        readout_channels=readout_channels,
        ignore_index=255,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
