# FusionSAM with a frozen SAM ViT-H on FMB (15 classes, `unlabeled` counted).
#
#   python tools/train.py configs/fusionsam_vith_fmb.py
#   python tools/test.py configs/fusionsam_vith_fmb.py work_dirs/.../best_mIoU_*.pth
#
# SAM weights: the official `sam_vit_h_4b8939.pth` must be at
# `sam_checkpoint` below; `python tools/misc/download_sam_checkpoints.py
# --out-dir checkpoints/sam` puts it there, or point to another copy with
# `--cfg-options model.decode_head.checkpoint=/path/to/sam_vit_h_4b8939.pth`.
# Training stops before the first iteration when the file is missing.
# Precision: bfloat16 autocast (AmpOptimWrapper, CUDA); set `use_amp = False`
# for fp32 (also the setting for CPU runs, where AMP is unavailable).
_base_ = [
    './_base_/models/fusionsam.py', './_base_/datasets/fmb.py',
    './_base_/default_runtime.py', './_base_/schedules/schedule_100e_adam.py'
]

# ---- paper settings ---------------------------------------------------------
sam_type = 'vit_h'  # frozen SAM image encoder
sam_checkpoint = 'checkpoints/sam/sam_vit_h_4b8939.pth'
# FMB, `unlabeled` counted. 14-class convention: num_classes = 14, the
# datasets' count_unlabeled=False, model.background_index=None and
# model.decode_head.gt_background_index=None.
num_classes = 15
max_epochs = 100
batch_size = 4
lr = 1e-4  # Adam
weight_decay = 1e-3
num_points = 10  # point prompts from the fusion mask
use_box = True  # + 1 box prompt
num_downsamples = 2  # LSTG tokens at 1/4 of the input resolution
use_amp = True  # False: fp32 training
# -----------------------------------------------------------------------------

model = dict(
    backbone=dict(num_downsamples=num_downsamples),
    neck=dict(num_upsamples=num_downsamples),
    decode_head=dict(
        sam_type=sam_type,
        checkpoint=sam_checkpoint,
        num_classes=num_classes,
        num_points=num_points,
        use_box=use_box,
        encoder_autocast='bf16' if use_amp else None))
train_dataloader = dict(
    batch_size=batch_size,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(num_workers=2)
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=max_epochs)
log_processor = dict(by_epoch=True)
optim_wrapper = dict(
    type='AmpOptimWrapper' if use_amp else 'OptimWrapper',
    **(dict(dtype='bfloat16') if use_amp else dict()),
    optimizer=dict(type='Adam', lr=lr, weight_decay=weight_decay))
