# The "SAM2 on fused images" baseline (StockSAM2Head, frozen SAM 2.1
# Hiera-T, random init, 256-pixel input) behind the tiny LSTG + FMP of
# ../fusionsam_tiny_demo.py, on the bundled demo data, CPU. As in the paper
# configs only the readout trains; LSTG + FMP are frozen, loaded from a
# trained ../fusionsam_tiny_demo.py checkpoint at `fusionsam_checkpoint`
# (None: random, a smoke run). Needs the `sam2` package (see
# docs/tables.md).
#
#   python tools/train.py configs/baselines/sam2_tiny_fused_demo.py
_base_ = ['../fusionsam_tiny_demo.py']

fusionsam_checkpoint = None

model = dict(
    part_checkpoints=dict(
        backbone=fusionsam_checkpoint, neck=fusionsam_checkpoint),
    freeze_fusion=True,
    decode_head=dict(
        _delete_=True,
        type='StockSAM2Head',
        in_channels={{_base_.embed_dims}},
        num_classes={{_base_.num_classes}},
        sam2_config='configs/sam2.1/sam2.1_hiera_t.yaml',
        checkpoint=None,
        image_size=256,
        num_points={{_base_.num_points}},
        use_box={{_base_.use_box}},
        readout_channels=16,
        ignore_index=255,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
