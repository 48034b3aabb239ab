"""Registered components; importing this package registers them."""
from .hooks import DatasetModelCheckHook, NonFiniteLossHook, RNGStateHook

__all__ = ['DatasetModelCheckHook', 'NonFiniteLossHook', 'RNGStateHook']
