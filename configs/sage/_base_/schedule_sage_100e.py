# 100 epochs, no validation split (MSRS / FMB: the last checkpoint is
# tested once). Cosine to 1e-5 over T_max = 2 x the run, stepped every
# iteration: the official schedulers step only on their own network's
# (every other) iteration with T_max = every batch of the run, so they too
# end half way down the cosine.
max_epochs = 100
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
val_cfg = None
test_cfg = dict(type='TestLoop')
cosine_schedule = [
    dict(
        type='CosineAnnealingLR',
        T_max=2 * max_epochs,
        eta_min=1e-5,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True)
]
param_scheduler = dict(teacher=cosine_schedule, student=cosine_schedule)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=True, interval=10, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
