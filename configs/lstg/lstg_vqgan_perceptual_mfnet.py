# Stage-1 VQ-GAN with the VGG16 perceptual loss. Needs mmpretrain's ImageNet
# VGG16 weights on disk (no download happens here):
#   https://download.openmmlab.com/mmclassification/v0/vgg/
#   vgg16_batch256_imagenet_20210208-db26f1a5.pth  ->  checkpoints/
_base_ = ['./lstg_vqgan_mfnet.py']

vgg16_checkpoint = 'checkpoints/vgg16_batch256_imagenet_20210208-db26f1a5.pth'
model = dict(
    backbone=dict(
        loss_perceptual=dict(
            type='PerceptualLoss',
            layer_weights=(1.0, 1.0, 1.0, 1.0, 1.0),
            criterion='l1',
            loss_weight=0.1,
            init_cfg=dict(
                type='Pretrained',
                checkpoint=vgg16_checkpoint,
                prefix='backbone.'))))
