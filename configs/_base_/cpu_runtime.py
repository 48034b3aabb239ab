# default_runtime for CPU runs (demo configs, tests): gloo for DDP, no cuDNN
# autotuning, fixed seed.
_base_ = ['./default_runtime.py']
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, deterministic=False)
# DDP on CPU: torch refuses device_ids for a CPU model.
model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None)
