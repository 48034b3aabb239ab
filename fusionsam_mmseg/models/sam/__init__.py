"""Segment Anything (SAM, SAM2) inside the plugin.

``architectures`` (model dimensions), ``builder`` (the one builder of SAM
and SAM2 modules), ``checkpoint`` (official checkpoint loading),
``fast_image_encoder`` (SDPA / bf16 / compile drop-in for the ViT),
``frame`` (SAM's input geometry), ``prompt_sampler`` (points and boxes from
a fusion mask), ``class_token_mask_decoder`` (one mask token per class),
``mask_readout`` (per-class readout of stock SAM masks) and
``sam2_image_embedding`` (SAM2's image encoder in the place of SAM's).
"""
from .architectures import (OFFICIAL_CHECKPOINT_FILES, SAM_ARCHITECTURES,
                            SAMArchitecture, resolve_sam_architecture)
from .builder import (SAM2_CONFIGS, build_class_token_mask_decoder,
                      build_sam2_class_token_decoder,
                      build_sam2_image_embedding, build_sam2_model,
                      build_sam_image_encoder, build_sam_prompt_encoder,
                      resolve_sam2_config)
from .checkpoint import (as_sam_layout, describe_sam2_state, guess_sam_type,
                         load_sam2_checkpoint, load_sam2_image_encoder,
                         load_sam2_without_image_encoder, load_sam_checkpoint,
                         read_sam2_checkpoint, read_sam2_state, read_sam_parts,
                         sam2_state_as_sam_layout)
from .class_token_mask_decoder import ClassTokenMaskDecoder
from .fast_image_encoder import FastImageEncoderViT, SDPABlock
from .frame import SAM_PIXEL_MEAN, SAM_PIXEL_STD, SAMInputFrame
from .mask_readout import MaskReadout
from .prompt_sampler import MaskPromptSampler, Prompts
from .sam2_image_embedding import SAM2ImageEmbedding

__all__ = [
    'OFFICIAL_CHECKPOINT_FILES', 'SAM_ARCHITECTURES', 'SAMArchitecture',
    'resolve_sam_architecture', 'build_class_token_mask_decoder',
    'build_sam2_model', 'build_sam_image_encoder', 'build_sam_prompt_encoder',
    'guess_sam_type', 'load_sam2_checkpoint', 'load_sam_checkpoint',
    'read_sam2_state', 'read_sam_parts',
    'SAM2_CONFIGS', 'build_sam2_class_token_decoder',
    'build_sam2_image_embedding', 'resolve_sam2_config', 'as_sam_layout',
    'describe_sam2_state', 'load_sam2_image_encoder',
    'load_sam2_without_image_encoder', 'read_sam2_checkpoint',
    'sam2_state_as_sam_layout', 'SAM2ImageEmbedding',
    'ClassTokenMaskDecoder', 'FastImageEncoderViT', 'SDPABlock',
    'SAM_PIXEL_MEAN', 'SAM_PIXEL_STD', 'SAMInputFrame', 'MaskReadout',
    'MaskPromptSampler', 'Prompts'
]
