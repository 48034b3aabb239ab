"""Registered components; importing this package registers them (and
lets mmengine's ``pytorch`` launcher start on CPU-only machines)."""
from .cpu_launcher import install_cpu_launcher
from .hooks import DatasetModelCheckHook, NonFiniteLossHook, RNGStateHook

__all__ = [
    'DatasetModelCheckHook', 'NonFiniteLossHook', 'RNGStateHook',
    'install_cpu_launcher'
]
