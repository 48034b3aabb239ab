# FusionSAM-tiny on your own data (docs/own_data.md): the FusionSAM data
# flow (LSTG -> FMP -> SAMPromptHead) with the tiny random-initialised sizes
# of ../fusionsam_tiny_demo.py, CPU, on the folders, classes and modalities
# that ../_base_/datasets/own_rgbt.py describes. A first check that your data
# trains before the ViT-B config (./fusionsam_vitb_own_rgbt.py):
#
#   python tools/dataset_converters/prepare_own_dataset.py \
#       configs/own_data/fusionsam_tiny_own_rgbt.py --color-labels labels
#   python tools/train.py configs/own_data/fusionsam_tiny_own_rgbt.py \
#       --work-dir work_dirs/own_tiny
#   python tools/test.py configs/own_data/fusionsam_tiny_own_rgbt.py \
#       work_dirs/own_tiny/iter_300.pth
_base_ = [
    '../_base_/models/fusionsam.py', '../_base_/datasets/own_rgbt.py',
    '../_base_/cpu_runtime.py', '../_base_/schedules/schedule_demo_cpu.py'
]

# ---- settings ---------------------------------------------------------------
crop_size = (96, 128)  # CPU-sized training crops
train_scale = (160, 120)  # (W, H) the images are rescaled around first
embed_dims = 32  # LSTG token / FMP width
sam_image_size = 128  # SAM input side (1024 for the official weights)
max_iters = 300
lr = 3e-3
# -----------------------------------------------------------------------------

tiny_sam = dict(
    embed_dim=32,
    depth=2,
    num_heads=2,
    global_attn_indexes=(1, ),
    window_size=4,
    patch_size=8,
    mlp_ratio=2.0,
    prompt_embed_dim=128,
    mask_in_chans=16,
    decoder_depth=1,
    decoder_mlp_dim=256,
    decoder_num_heads=4,
    iou_head_hidden_dim=16)
model = dict(
    data_preprocessor=dict(
        mean={{_base_.norm_mean}}, std={{_base_.norm_std}}, size=crop_size),
    backbone=dict(
        modality_channels={{_base_.modality_channels}},
        modality_names={{_base_.modality_names}},
        embed_dims=embed_dims,
        base_channels=8,
        channel_multipliers=(1, 2, 4),
        num_codes=64,
        with_decoder=False,
        loss_adv=None),
    neck=dict(
        in_channels=embed_dims,
        num_modalities={{_base_.num_modalities}},
        embed_dims=embed_dims,
        num_heads=2,
        feedforward_channels=2 * embed_dims,
        kv_pool_size=None,
        out_channels=embed_dims,
        image_channels=8),
    decode_head=dict(
        in_channels=embed_dims,
        num_classes={{_base_.num_classes}},
        sam_type='custom',
        encoder_cfg=tiny_sam,
        image_size=sam_image_size,
        loss_decode=[
            dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            dict(type='DiceLoss', loss_weight=1.0)
        ]))
train_pipeline = [
    dict(type='LoadMultiModalImageFromFile'),
    dict(type='LoadCheckedAnnotations'),
    dict(
        type='RandomResize',
        scale=train_scale,
        ratio_range=(0.75, 1.5),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='MultiModalPhotoMetricDistortion'),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
# CPU loading: no worker processes; mmseg's InfiniteSampler (a finite
# sampler makes mmengine's iteration loop sleep 2 s at every epoch end).
train_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = dict(num_workers=0, persistent_workers=False)
optim_wrapper = dict(optimizer=dict(lr=lr))
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=20), checkpoint=dict(interval=max_iters))
