# SAGE-tiny on the MSRS-layout demo data (CPU, a few minutes): a narrow
# teacher / student and a tiny random SAM encoder for the semantic loss.
# Demo data and its priors (random SAM, the demo is about the pipeline):
#   python tools/dataset_converters/make_demo_rgbt.py --format msrs \
#       --out data/demo_msrs
#   python tools/dataset_converters/sam_mask_priors.py \
#       --data-root data/demo_msrs --split train --checkpoint none \
#       --image-size 256 --points-per-side 8 --crop-n-layers 0
_base_ = [
    '../_base_/datasets/msrs_demo.py', '../_base_/default_runtime.py',
    './_base_/sage_model.py'
]
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, deterministic=False)
batch_size = 2
train_pipeline = [
    dict(type='LoadMultiModalImageFromFile'),
    dict(type='LoadSAMMaskPriors', num_masks={{_base_.num_masks}}),
    dict(type='RandomCrop', crop_size={{_base_.crop_size}}),
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
# 120x160 demo images: MS-SSIM needs >= 161 pixels a side (176 under
# convention='matlab').
test_evaluator = dict(
    _delete_=True,
    type='FusionQualityMetric',
    fusion_metrics=('EN', 'SD', 'SF', 'AG', 'MI', 'SCD', 'VIF', 'Qabf',
                    'SSIM'))
model = dict(
    sam_checkpoint=None,
    teacher=dict(channels=16, head_channels=8, feature_channels=8),
    student=dict(channels=8),
    loss_semantic=dict(
        sam_type='custom',
        encoder_cfg=dict(
            embed_dim=32, depth=2, num_heads=2, global_attn_indexes=(),
            window_size=4, patch_size=8)))
max_iters = 20
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
val_cfg = None
test_cfg = dict(type='TestLoop')
cosine_schedule = [
    dict(
        type='CosineAnnealingLR',
        T_max=2 * max_iters,
        eta_min=1e-5,
        by_epoch=False,
        begin=0,
        end=max_iters)
]
param_scheduler = dict(teacher=cosine_schedule, student=cosine_schedule)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=5, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=20),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
