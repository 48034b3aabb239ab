# FusionSAM: LSTG (per-modality VQ tokens at 1/4 resolution) -> FMP (fusion
# features, fusion mask, fused image) -> SAMPromptHead (frozen SAM image
# encoder on the fused image; 10 points + 1 box from the fusion mask; one
# mask-decoder token per class). Paper sizes; ../fusionsam_paper.py adds the
# paper's weights files (SAM, VGG16) and schedule, the top-level configs the
# classes and the data. LSTG's VQ-GAN settings (adversarial start, perceptual
# weight, discriminator optimizer) are those of stage 1:
# ../lstg_vqgan_training.py.
_base_ = ['../lstg_vqgan_training.py']
norm_cfg = dict(type='BN', requires_grad=True)
# The modalities, visible first, as (name, channels): LSTG's modality_names /
# modality_channels, FMP's num_modalities and the preprocessor's mean / std
# (RGB: ImageNet; every further channel 127.5 / 64) follow from this tuple.
# Configs with other modalities set their own (fusionsam_tiny_deliver_demo.py).
default_modalities = (('rgb', 3), ('thermal', 1))
default_names, default_channels = zip(*default_modalities)
rgbt_mean = [123.675, 116.28, 103.53] + [127.5] * sum(default_channels[1:])
rgbt_std = [58.395, 57.12, 57.375] + [64.0] * sum(default_channels[1:])
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=rgbt_mean,
    std=rgbt_std,
    bgr_to_rgb=False,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='FusionSAM',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='LSTG',
        modality_channels=default_channels,
        modality_names=default_names,
        embed_dims=256,
        base_channels=32,
        num_downsamples=2,
        num_res_blocks=1,
        quantize=True,
        num_codes=512,
        quantizer_cfg=dict(use_ema=True, ema_decay=0.99),
        loss_vq=dict(type='VQLoss', beta=0.25, loss_weight=1.0),
        loss_recon=dict(
            type='ReconstructionLoss', criterion='l1', loss_weight=1.0),
        # Perceptual loss (Eq. 7): on in ../fusionsam_paper.py, which names
        # the VGG16 file; off in the tiny demo models.
        loss_perceptual=None,
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
                norm_cfg=norm_cfg))),
    neck=dict(
        type='FMP',
        in_channels=256,
        num_modalities=len(default_modalities),
        embed_dims=256,
        num_heads=8,
        # Token-to-token attention over the whole 1/4-resolution map, as the
        # paper ('window': SwinFusion's window-8 attention); an integer pools
        # K/V (an approximation for small machines).
        attention='global',
        kv_pool_size=None,
        # F_c: the modalities attend to each other both ways ('cross_modal':
        # the one-way unit of earlier checkpoints).
        complementary_unit='bidirectional',
        out_channels=256,
        image_channels=64,
        num_upsamples=2,
        norm_cfg=norm_cfg),
    decode_head=dict(
        type='SAMPromptHead',
        in_channels=256,
        num_classes=9,
        sam_type='vit_h',
        image_size=1024,
        checkpoint=None,
        num_points=10,
        use_box=True,
        gt_prompts_in_train=False,
        encoder_attention='sdpa',
        # Frozen encoder in bf16 where CUDA runs it, fp32 on CPU.
        encoder_autocast='auto',
        # The encoder runs under no_grad, as the authors' code does (the text
        # is silent): the fused image learns from the fusion losses only.
        # True: the segmentation gradient flows through the frozen encoder
        # into the fused image (activation checkpointing; docs/benchmarks.md).
        encoder_grad_to_input=False,
        ignore_index=255,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    # BCE of the fusion mask vs the objects (FusionSAM's
    # fusion_mask_classes, named by the dataset configs); add
    # dict(type='DiceLoss', use_sigmoid=False, loss_name='loss_fusion_dice')
    # in a list for BCE + Dice.
    loss_fusion_mask=dict(
        type='CrossEntropyLoss',
        use_sigmoid=False,
        avg_non_ignore=True,
        loss_weight=0.4,
        loss_name='loss_fusion_mask'),
    loss_fusion_image=dict(
        type='FusionLoss',
        intensity_weight=1.0,
        gradient_weight=1.0,
        chroma_weight=0.5,
        loss_weight=1.0),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
