# Mixing: the plugin's SAM2LoRABackbone (tiny random SAM2 of
# ../memorysam/memorysam_tiny_demo.py, 4 DELIVER demo modalities as 4
# frames) under mmseg's stock SegformerHead (all-MLP over the three FPN
# levels, each (B, 4 x 32, h, w): the frames' features side by side). No
# memory across frames; the head fuses them. CPU, demo data.
#
#   python tools/train.py configs/mixing/sam2lora_segformerhead_demo.py
_base_ = ['../memorysam/memorysam_tiny_demo.py']

model = dict(
    decode_head=dict(
        _delete_=True,
        type='SegformerHead',
        in_channels=[len(_base_.modalities) * _base_.sam2_width] * 3,
        in_index=[0, 1, 2],
        channels=64,
        dropout_ratio=0.1,
        num_classes={{_base_.num_classes}},
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
