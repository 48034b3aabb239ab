# Stage-1 VQ-GAN with the VGG16 perceptual loss. Needs the ImageNet VGG16
# weights in torchvision's key layout on disk (no download happens here):
#   https://download.pytorch.org/models/vgg16-397923af.pth  ->  checkpoints/
_base_ = ['./lstg_vqgan_mfnet.py']

vgg16_checkpoint = 'checkpoints/vgg16-397923af.pth'
model = dict(
    backbone=dict(
        loss_perceptual=dict(
            type='PerceptualLoss',
            layer_weights=(1.0, 1.0, 1.0, 1.0, 1.0),
            criterion='l1',
            loss_weight=0.1,
            init_cfg=dict(type='Pretrained', checkpoint=vgg16_checkpoint))))
