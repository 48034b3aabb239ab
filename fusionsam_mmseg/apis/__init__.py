"""Registered components; importing this package registers them."""
from .fusion_inferencer import FusionInferencer  # noqa: F401
from .rgbt_inferencer import (MultiModalSegInferencer, RGBTSegInferencer,
                              dataset_meta_from_config)
from .rgbt_inputs import (MultiModalInput, pair_modality_folders,
                          parse_modality_options, resolve_inputs,
                          stack_arrays, stack_modalities)

__all__ = [
    'MultiModalSegInferencer', 'RGBTSegInferencer',
    'dataset_meta_from_config', 'MultiModalInput',
    'pair_modality_folders', 'parse_modality_options', 'resolve_inputs',
    'stack_arrays', 'stack_modalities'
]
