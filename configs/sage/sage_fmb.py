# SAGE on FMB (600x800): the settings of sage_msrs.py. Cache the priors of
# the train split first:
#   python tools/dataset_converters/sam_mask_priors.py --data-root data/fmb \
#       --split train --dataset FMBDataset --sam-type vit_b \
#       --checkpoint checkpoints/sam/sam_vit_b_01ec64.pth
_base_ = [
    '../_base_/datasets/fmb.py', '../_base_/default_runtime.py',
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
