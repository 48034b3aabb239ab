# The "SAM2 on fused images" baseline (StockSAM2Head, frozen SAM 2.1
# Hiera-T, random init, 256-pixel input) behind the tiny LSTG + FMP of
# ../fusionsam_tiny_demo.py, on the bundled demo data, CPU. Needs the `sam2`
# package (see docs/tables.md).
#
#   python tools/train.py configs/baselines/sam2_tiny_fused_demo.py
_base_ = ['../fusionsam_tiny_demo.py']

model = dict(
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
