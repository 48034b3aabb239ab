# MemorySAM (Liao et al. 2025; code: Chenfei-Liao/MemorySAM): the N
# modalities of a scene are N frames of SAM2 (SAM2.0 Hiera-B+). A stock
# EncoderDecoder holds SAM2LoRABackbone (frozen Hiera + FPN, LoRA rank 4 on
# q and v of every trunk block) and MemorySAMHead (frame 0 conditioning,
# frame i attends to the memories of frames < i; one decoder token per
# class; mean of the per-frame logits), trained with OHEM cross-entropy and
# the training-only prototype loss. The same official SAM2 file is given to
# the backbone (its image encoder) and the head (the rest).
# Top-level configs set: the modalities (backbone modality_channels /
# modality_names, head in_channels = [N * 256] * 3), num_classes, the
# per-channel mean / std of the data preprocessor, the OHEM min_kept.
sam2_config = 'sam2_hiera_b+'
sam2_checkpoint = 'checkpoints/sam2/sam2_hiera_base_plus.pt'
sam2_image_size = 1024
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        bgr_to_rgb=False,
        pad_val=0,
        seg_pad_val=255),
    backbone=dict(
        type='SAM2LoRABackbone',
        sam2_config=sam2_config,
        image_size=sam2_image_size,
        checkpoint=sam2_checkpoint,
        lora_rank=4,
        lora_alpha=4.0,
        lora_targets=('attn.qkv:q', 'attn.qkv:v')),
    decode_head=dict(
        type='MemorySAMHead',
        sam2_config=sam2_config,
        image_size=sam2_image_size,
        checkpoint=sam2_checkpoint,
        in_index=(0, 1, 2),
        # Our prototype loss (present classes, one division by the pixel
        # count) at the weight that matches the official loss's pull
        # against the cross-entropy at 1024x1024 (docs/memorysam.md).
        loss_prototype=dict(
            type='PrototypeMemoryLoss', momentum=0.8, loss_weight=0.01),
        ignore_index=255,
        align_corners=False,
        # OHEM as the official loss: pixels whose probability of the true
        # class is below 0.7, at least min_kept per image (official: 1/16
        # of the batch's labelled pixels; top-level configs set crop/16),
        # the cross-entropy averaged over the kept pixels (official
        # OhemCrossEntropy: mean of the kept pixels' losses).
        sampler=dict(type='OHEMPixelSampler', thresh=0.7, min_kept=65536),
        loss_decode=dict(type='SampledCrossEntropyLoss', loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
