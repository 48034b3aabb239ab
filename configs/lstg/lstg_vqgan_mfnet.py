# Stage 1: train the LSTG backbone alone as a VQ-GAN (per-modality encoder,
# codebook, decoder; L1 + codebook/commitment + hinge PatchGAN) on MFNet.
# Validation reports PSNR / SSIM. The paper's stage 1 adds the perceptual
# loss: lstg_vqgan_perceptual_mfnet.py (needs VGG16 weights), whose
# checkpoint the paper configs load through `lstg_checkpoint` (docs/lstg.md:
# the two-stage recipe). Adversarial start, discriminator optimizer and
# perceptual weight: ../_base_/lstg_vqgan_training.py, shared with stage 2.
_base_ = [
    '../_base_/datasets/mfnet.py', '../_base_/default_runtime.py',
    '../_base_/lstg_vqgan_training.py'
]

# ---- settings a reader looks for -------------------------------------------
max_iters = 20000
val_interval = 2000
lr = 2e-4
batch_size = 4
embed_dims = 256
num_codes = 512

# The modalities, visible first, as (name, channels): LSTG's modality_names /
# modality_channels, the metric's modality_names and the preprocessor's
# mean / std (RGB: ImageNet; every further channel 127.5 / 64) follow.
modalities = (('rgb', 3), ('thermal', 1))
modality_names, modality_channels = zip(*modalities)
rgbt_mean = [123.675, 116.28, 103.53] + [127.5] * sum(modality_channels[1:])
rgbt_std = [58.395, 57.12, 57.375] + [64.0] * sum(modality_channels[1:])
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=rgbt_mean,
    std=rgbt_std,
    bgr_to_rgb=False,
    pad_val=0,
    seg_pad_val=255,
    size={{_base_.crop_size}})
model = dict(
    type='LSTGAutoencoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='LSTG',
        modality_channels=modality_channels,
        modality_names=modality_names,
        embed_dims=embed_dims,
        base_channels=32,
        num_downsamples=2,
        num_res_blocks=1,
        quantize=True,
        num_codes=num_codes,
        quantizer_cfg=dict(use_ema=True, ema_decay=0.99),
        loss_vq=dict(type='VQLoss', beta=0.25, loss_weight=1.0),
        loss_recon=dict(
            type='ReconstructionLoss', criterion='l1', loss_weight=1.0),
        loss_adv=dict(
            type='AdversarialLoss',
            gan_type='hinge',
            loss_weight=0.1,
            disc_loss_weight=1.0,
            start_iter={{_base_.adversarial_start_iter}},
            discriminator=dict(
                type='PatchDiscriminator',
                base_channels=64,
                num_layers=3,
                norm_cfg=dict(type='BN', requires_grad=True)))))

# Iteration-based: mmseg's InfiniteSampler (no idle epoch ends).
train_dataloader = dict(
    batch_size=batch_size, sampler=dict(type='InfiniteSampler', shuffle=True))
val_evaluator = dict(
    _delete_=True,
    type='ReconstructionMetric',
    modality_names=modality_names)
test_evaluator = val_evaluator

# Adam betas (0.5, 0.9), no weight decay for the whole VQ-GAN, as
# taming-transformers trains it; the discriminator's entry is the one stage 2
# uses too.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=lr, betas=(0.5, 0.9), weight_decay=0.0),
    paramwise_cfg=dict(custom_keys={
        'loss_adv.discriminator': {{_base_.discriminator_optim}}
    }),
    clip_grad=None)
param_scheduler = []
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=val_interval,
        max_keep_ckpts=3,
        save_best='PSNR',
        rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
