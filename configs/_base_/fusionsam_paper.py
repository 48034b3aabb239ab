# FusionSAM paper settings (Table "implementation details"), shared by every
# paper, ablation and baseline config; the dataset configs add the data and
# the number of classes. `python tools/misc/download_checkpoints.py --models
# sam_vit_h vgg16` puts the weights where `sam_checkpoint` and
# `vgg16_checkpoint` point.
#
# Precision: fp32 wherever there is no CUDA (no edit, no option); on CUDA the
# frozen SAM encoder runs in bf16 (`encoder_autocast='auto'`) and the
# trainable parts in fp32; mmseg's `tools/train.py --amp` turns on mixed
# precision for everything (the quantizer's code search stays fp32).
#
# Codebooks: one per modality (LSTG's default, `share_codebook=False`). The
# text quantizes with one "learned codebook Z"; the authors' code
# (LDXDU/FusionSAM-being-updated), the one record of how the published
# numbers were made, trains one VQGAN per modality and fuses their latents,
# so the paper configs follow the code. The text's one codebook is
# configs/ablations/*_shared_codebook.py. FMP attends token-to-token over the
# whole map as the text says (`attention='window'` is the code's SwinFusion
# window-8 attention), and the SAM encoder passes no gradient to the fused
# image, as in the code (`encoder_grad_to_input=False`; the text is silent).
_base_ = [
    './models/fusionsam.py', './default_runtime.py',
    './schedules/schedule_100e_adam.py'
]

# ---- paper settings ---------------------------------------------------------
sam_type = 'vit_h'  # frozen SAM image encoder
sam_checkpoint = 'checkpoints/sam/sam_vit_h_4b8939.pth'
vgg16_checkpoint = 'checkpoints/vgg16/vgg16-397923af.pth'  # perceptual loss
max_epochs = 100
lr = 1e-4  # Adam
weight_decay = 1e-3
num_points = 10  # point prompts from the fusion mask
use_box = True  # + 1 box prompt
num_downsamples = 2  # LSTG tokens at 1/4 of the input resolution
# batch 4: `batch_size` of the dataset configs
# -----------------------------------------------------------------------------

model = dict(
    backbone=dict(
        num_downsamples=num_downsamples,
        loss_perceptual=dict(
            _delete_=True,
            type='PerceptualLoss',
            layer_weights=(1.0, 1.0, 1.0, 1.0, 1.0),
            criterion='l1',
            loss_weight={{_base_.perceptual_loss_weight}},
            init_cfg=dict(type='Pretrained', checkpoint=vgg16_checkpoint))),
    neck=dict(num_upsamples=num_downsamples),
    decode_head=dict(
        sam_type=sam_type,
        checkpoint=sam_checkpoint,
        num_points=num_points,
        use_box=use_box))
train_cfg = dict(max_epochs=max_epochs)
log_processor = dict(by_epoch=True)
# Weight decay (a pull towards 0) suits weight matrices. It is off for the
# pretrained SAM decoder's tokens and the embedding tables (prompt
# embeddings, a learned codebook), which it would drag away from their
# learned positions, and for the scales and shifts of every norm layer; the
# discriminator takes the stage-1 settings (./lstg_vqgan_training.py).
no_decay = dict(decay_mult=0.0)
optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=lr, weight_decay=weight_decay),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,  # BN / GN / LayerNorm
        custom_keys={
            'mask_decoder.iou_token': no_decay,
            'mask_decoder.mask_tokens': no_decay,  # class tokens
            'prompt_encoder.point_embeddings': no_decay,
            'prompt_encoder.not_a_point_embed': no_decay,
            'prompt_encoder.no_mask_embed': no_decay,
            'codebook': no_decay,
            # SAM's LayerNorm2d, which norm_decay_mult does not recognise
            'mask_decoder.output_upscaling.1.': no_decay,
            'prompt_encoder.mask_downscaling.1.': no_decay,
            'prompt_encoder.mask_downscaling.4.': no_decay,
            'loss_adv.discriminator': {{_base_.discriminator_optim}},
        }))
