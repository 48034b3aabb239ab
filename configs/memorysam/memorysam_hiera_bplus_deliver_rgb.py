# MemorySAM, SAM2.0 Hiera-B+, DELIVER RGB (published: 53.22 mIoU on
# DELIVER val, best of 200 epochs): memorysam_hiera_bplus_deliver_rgbdel.py
# with the modality list ('rgb', ); everything else (schedule,
# protocol, commands) as there.
_base_ = ['./memorysam_hiera_bplus_deliver_rgbdel.py']

modalities = ('rgb', )
modality_channels = (3, ) * len(modalities)  # DELIVER: 3 each
non_rgb_channels = sum(modality_channels[1:])  # fed as value / 255

model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53] + [0.0] * non_rgb_channels,
        std=[58.395, 57.12, 57.375] + [255.0] * non_rgb_channels),
    backbone=dict(
        modality_channels=modality_channels, modality_names=modalities),
    decode_head=dict(in_channels=[len(modalities) * _base_.sam2_width] * 3))
train_dataloader = dict(dataset=dict(modalities=modalities))
val_dataloader = dict(dataset=dict(modalities=modalities))
test_dataloader = dict(dataset=dict(modalities=modalities))
