# Runtime shared by every fusionsam_mmseg config (mirrors mmseg's own).
default_scope = 'mmseg'
custom_imports = dict(imports=['fusionsam_mmseg'], allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='MultiModalSegLocalVisualizer',
    vis_backends=vis_backends,
    name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
# fusionsam_mmseg.engine.hooks: num_classes / channel checks, stop on a NaN
# loss before it is saved, generator states saved for an exact --resume.
custom_hooks = [
    dict(type='DatasetModelCheckHook'),
    dict(type='NonFiniteLossHook'),
    dict(type='RNGStateHook'),
]
load_from = None
resume = False
