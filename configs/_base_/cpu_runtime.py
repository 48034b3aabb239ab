# default_runtime for CPU runs (demo configs, tests): gloo for DDP, no cuDNN
# autotuning, fixed seed.
_base_ = ['./default_runtime.py']
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, deterministic=False)
