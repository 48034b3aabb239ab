# FusionSAM with a frozen SAM ViT-B on your own data (docs/own_data.md): the
# paper settings of ../_base_/fusionsam_paper.py (100 epochs, Adam lr 1e-4 /
# weight decay 1e-3, batch 4, 10 points + 1 box, 1/4 tokens, VGG16
# perceptual loss) on the folders, classes and modalities that
# ../_base_/datasets/own_rgbt.py describes.
#
# Protocol: train on splits/train.txt, keep the best checkpoint by mIoU on
# splits/val.txt, test once on splits/test.txt at native resolution.
#
#   python tools/misc/download_checkpoints.py --models sam_vit_b vgg16
#   python tools/train.py configs/own_data/fusionsam_vitb_own_rgbt.py \
#       --work-dir work_dirs/own_vitb
#   python tools/test.py configs/own_data/fusionsam_vitb_own_rgbt.py \
#       work_dirs/own_vitb/best_mIoU_epoch_*.pth
_base_ = [
    '../_base_/fusionsam_paper.py', '../_base_/datasets/own_rgbt.py'
]

sam_type = 'vit_b'
sam_checkpoint = 'checkpoints/sam/sam_vit_b_01ec64.pth'
model = dict(
    data_preprocessor=dict(
        mean={{_base_.norm_mean}},
        std={{_base_.norm_std}},
        size={{_base_.crop_size}}),
    backbone=dict(
        modality_channels={{_base_.modality_channels}},
        modality_names={{_base_.modality_names}}),
    neck=dict(num_modalities={{_base_.num_modalities}}),
    decode_head=dict(
        num_classes={{_base_.num_classes}},
        sam_type=sam_type,
        checkpoint=sam_checkpoint))
default_hooks = dict(checkpoint=dict(save_best='mIoU'))
