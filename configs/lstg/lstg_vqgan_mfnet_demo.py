# Stage-1 VQ-GAN on the bundled demo data (MFNet layout, 120x160) on CPU:
# small LSTG, 96x128 crops, 300 iterations, PSNR / SSIM every 100.
#   python tools/dataset_converters/make_demo_rgbt.py ...  (data/demo_mfnet)
#   python tools/train.py configs/lstg/lstg_vqgan_mfnet_demo.py
_base_ = ['./lstg_vqgan_mfnet.py']

data_root = 'data/demo_mfnet'
crop_size = (96, 128)
max_iters = 300
val_interval = 100
lr = 1e-3
adversarial_start_iter = 150

train_pipeline = [
    dict(type='LoadMultiModalImageFromFile'),
    dict(type='LoadCheckedAnnotations'),
    dict(
        type='RandomResize',
        scale=(160, 120),
        ratio_range=(0.75, 1.5),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='MultiModalPhotoMetricDistortion'),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        embed_dims=64,
        base_channels=16,
        num_codes=128,
        loss_adv=dict(
            start_iter=adversarial_start_iter,
            discriminator=dict(base_channels=16))))

optim_wrapper = dict(optimizer=dict(lr=lr))
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=val_interval))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, deterministic=False)
