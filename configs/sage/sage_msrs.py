# SAGE on MSRS (the paper's fusion benchmark): 100 epochs, batch 4, random
# 192x256 crops + flips, Adam (teacher 5e-4, student 2e-3), cosine to 1e-5,
# SAM ViT-B priors (top 4 of the 20 cached masks per modality).
# Before training, cache the priors of the train split once:
#   python tools/dataset_converters/sam_mask_priors.py --data-root data/MSRS \
#       --split train --sam-type vit_b \
#       --checkpoint checkpoints/sam/sam_vit_b_01ec64.pth
# Testing runs the student alone on the test split at native resolution and
# reports the fusion metrics of its fused images (EN ... MS-SSIM).
_base_ = [
    '../_base_/datasets/msrs.py', '../_base_/default_runtime.py',
    './_base_/sage_model.py', './_base_/schedule_sage_100e.py'
]
crop_size = (192, 256)
batch_size = 4
train_pipeline = [
    dict(type='LoadMultiModalImageFromFile'),
    dict(type='LoadSAMMaskPriors', num_masks={{_base_.num_masks}}),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
test_pipeline = [
    dict(type='LoadMultiModalImageFromFile'),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
train_dataloader = dict(
    batch_size=batch_size, dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_evaluator = dict(_delete_=True, type='FusionQualityMetric')
