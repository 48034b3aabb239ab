"""Segment Anything (SAM, SAM2) inside the plugin.

``architectures`` (model dimensions), ``builder`` (the one builder of SAM
and SAM2 modules), ``checkpoint`` (official checkpoint loading),
``fast_image_encoder`` (SDPA / bf16 / compile drop-in for the ViT),
``frame`` (SAM's input geometry), ``prompt_sampler`` (points and boxes from
a fusion mask), ``class_token_mask_decoder`` (one mask token per class) and
``mask_readout`` (per-class readout of stock SAM masks).
"""
from .architectures import (OFFICIAL_CHECKPOINT_FILES, SAM_ARCHITECTURES,
                            SAMArchitecture, resolve_sam_architecture)
from .builder import (build_class_token_mask_decoder, build_sam2_model,
                      build_sam_image_encoder, build_sam_prompt_encoder)
from .checkpoint import guess_sam_type, load_sam2_checkpoint, load_sam_checkpoint
from .class_token_mask_decoder import ClassTokenMaskDecoder
from .fast_image_encoder import FastImageEncoderViT, SDPABlock
from .frame import SAM_PIXEL_MEAN, SAM_PIXEL_STD, SAMInputFrame
from .mask_readout import MaskReadout
from .prompt_sampler import MaskPromptSampler, Prompts

__all__ = [
    'OFFICIAL_CHECKPOINT_FILES', 'SAM_ARCHITECTURES', 'SAMArchitecture',
    'resolve_sam_architecture', 'build_class_token_mask_decoder',
    'build_sam2_model', 'build_sam_image_encoder', 'build_sam_prompt_encoder',
    'guess_sam_type', 'load_sam2_checkpoint', 'load_sam_checkpoint',
    'ClassTokenMaskDecoder', 'FastImageEncoderViT', 'SDPABlock',
    'SAM_PIXEL_MEAN', 'SAM_PIXEL_STD', 'SAMInputFrame', 'MaskReadout',
    'MaskPromptSampler', 'Prompts'
]
