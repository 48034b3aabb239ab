# Stage 1 of the paper on MFNet: the VQ-GAN with the VGG16 perceptual loss
# (Eq. 7), the LSTG of the paper configs (../fusionsam_vith_mfnet.py loads
# its checkpoint through `lstg_checkpoint`; docs/lstg.md). Needs
# torchvision's ImageNet VGG16 weights on disk; fetch and verify them with
#   python tools/misc/download_checkpoints.py --models vgg16
_base_ = ['./lstg_vqgan_mfnet.py']

vgg16_checkpoint = 'checkpoints/vgg16/vgg16-397923af.pth'
model = dict(
    backbone=dict(
        loss_perceptual=dict(
            type='PerceptualLoss',
            layer_weights=(1.0, 1.0, 1.0, 1.0, 1.0),
            criterion='l1',
            loss_weight={{_base_.perceptual_loss_weight}},
            init_cfg=dict(type='Pretrained', checkpoint=vgg16_checkpoint))))
