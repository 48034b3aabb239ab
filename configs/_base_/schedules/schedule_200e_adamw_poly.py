# MemorySAM's schedule (official DELIVER config, warmuppolylr): AdamW
# lr 6e-4, betas (0.9, 0.999), weight decay 0.01; the rate rises linearly
# from 0.1 x lr over 10 epochs, then decays with poly 0.9 to the end, both
# stepped every iteration. 200 epochs, validation every epoch.
# The official optimizer exempts 1-D parameters (biases, norms) from weight
# decay; `paramwise_cfg=dict(flat_decay_mult=0.0)` in optim_wrapper does the
# same, at the price of one mmengine warning per frozen tensor (~600 log
# lines for Hiera-B+), so it is left out here.
optimizer = dict(
    type='AdamW', lr=6e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=optimizer,
    clip_grad=None)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.1,
        by_epoch=True,
        begin=0,
        end=10,
        convert_to_iter_based=True),
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=0.0,
        by_epoch=True,
        begin=10,
        end=200,
        convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=200, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
