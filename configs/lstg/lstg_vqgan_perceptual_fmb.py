# Stage 1 of the paper on FMB: the VQ-GAN of lstg_vqgan_perceptual_mfnet.py
# (same LSTG, perceptual loss, schedule) on FMB's train split, for the FMB
# paper configs (../fusionsam_vith_fmb.py loads its checkpoint through
# `lstg_checkpoint`; docs/lstg.md). FMB has no validation split: no
# validation, the last checkpoint (iter_20000.pth) is the result; the test
# split reports PSNR / SSIM once, after training.
#   python tools/misc/download_checkpoints.py --models vgg16
#   python tools/train.py configs/lstg/lstg_vqgan_perceptual_fmb.py
_base_ = ['./lstg_vqgan_perceptual_mfnet.py']

dataset_type = 'FMBDataset'
data_root = 'data/fmb'
crop_size = (600, 800)
train_pipeline = [
    dict(type='LoadMultiModalImageFromFile'),
    dict(type='LoadCheckedAnnotations'),
    dict(
        type='RandomResize',
        scale=(800, 600),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='MultiModalPhotoMetricDistortion'),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline))
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        split='test',
        pipeline={{_base_.test_pipeline}}))
val_dataloader = None
val_evaluator = None
val_cfg = None
model = dict(data_preprocessor=dict(size=crop_size))
default_hooks = dict(checkpoint=dict(save_best=None, rule=None))
