"""Registered components; importing this package registers them."""
from .rgbt_inferencer import RGBTSegInferencer, dataset_meta_from_config
from .rgbt_inputs import RGBTInput, pair_folders, resolve_inputs, stack_arrays

__all__ = [
    'RGBTSegInferencer', 'dataset_meta_from_config', 'RGBTInput',
    'pair_folders', 'resolve_inputs', 'stack_arrays'
]
