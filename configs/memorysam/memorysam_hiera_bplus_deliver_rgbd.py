# MemorySAM, SAM2.0 Hiera-B+, DELIVER RGB-D (published: 63.48 mIoU on
# DELIVER val, best of 200 epochs): memorysam_hiera_bplus_deliver_rgbdel.py
# with the modality list ('rgb', 'depth') and the released run's learning rate
# (below); everything else (schedule, protocol, commands) as there.
_base_ = ['./memorysam_hiera_bplus_deliver_rgbdel.py']

modalities = ('rgb', 'depth')
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
# The learning rate of the released RGB-D run (63.48): its checkpoint is
# `.../AblationStudy_RGBD_mo08_weight1lr0.00045/DELIVER_CMNeXt-B2_id/
# epoch154_63.48.pth` (EVAL.MODEL_PATH of configs/deliver_rgbdel_sam.yaml,
# Chenfei-Liao/MemorySAM), i.e. lr 4.5e-4, prototype momentum 0.8, weight 1.
optim_wrapper = dict(optimizer=dict(lr=4.5e-4))
