# Baseline of the "SAM on fused images" table, SAM2 row, FMB: Segment
# Anything 2 (SAM 2.1 Hiera-L, frozen, its own mask decoder with 4 mask
# tokens and high-resolution features) on the fused images of FusionSAM's
# LSTG + FMP, prompted with the same 10 points + 1 box from the fusion mask,
# without the FMP dense prompt; a small trainable readout (StockSAM2Head)
# maps SAM2's masks and image embedding to class logits. LSTG + FMP, data and
# schedule are those of ../fusionsam_vith_fmb.py.
#
# Optional extra: needs the `sam2` package (see docs/tables.md) and the
# official checkpoint at `sam2_checkpoint`.
#
#   python tools/train.py configs/baselines/sam2_hiera_l_fused_fmb.py
#   python tools/test.py configs/baselines/sam2_hiera_l_fused_fmb.py CKPT \
#       --work-dir work_dirs/sam2_fused_fmb_test
#   python tools/analysis/make_tables.py \
#       --sam2-fmb work_dirs/sam2_fused_fmb_test/<ts>/<ts>.json \
#       --out work_dirs/tables
_base_ = ['../fusionsam_vith_fmb.py']

sam2_config = 'configs/sam2.1/sam2.1_hiera_l.yaml'  # inside the sam2 package
sam2_checkpoint = 'checkpoints/sam2/sam2.1_hiera_large.pt'
num_classes = 15
readout_channels = 64  # hidden width of the per-class readout

model = dict(
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
