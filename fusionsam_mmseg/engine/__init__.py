"""Runtime pieces: hooks (registered in mmseg's HOOKS), the CPU-capable
``pytorch`` launcher, the clean process-group exit, the checkpoint
allow-list and the runner for mmseg's shipped scripts."""
from .cpu_launcher import init_dist_pytorch, install_cpu_launcher
from .hooks import DatasetModelCheckHook, NonFiniteLossHook, RNGStateHook
from .optimizers import MultiOptimWrapperConstructor  # noqa: F401

__all__ = [
    'DatasetModelCheckHook', 'NonFiniteLossHook', 'RNGStateHook',
    'init_dist_pytorch', 'install_cpu_launcher'
]
