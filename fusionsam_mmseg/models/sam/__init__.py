"""Segment Anything (SAM, SAM2) inside the plugin.

``architectures`` (model dimensions), ``builder`` (the one builder of SAM
and SAM2 modules), ``sam_checkpoint`` and ``sam2_checkpoint`` (official
files of each format, one reader each, opened and named in errors by
``official_checkpoint``), ``fast_image_encoder`` (SDPA / bf16 / compile
drop-in for the ViT), ``frame`` (SAM's input geometry), ``prompt_sampler``
(points and boxes from a fusion mask), ``class_token_mask_decoder`` (one
mask token per class), ``mask_readout`` (per-class readout of stock SAM
masks), ``sam2_image_embedding`` (SAM2's image encoder in the place of
SAM's), ``truncated_image_encoder`` (SAM's first blocks as a feature
extractor) and ``automatic_masks`` (SAM's automatic masks).

Every module outside this room imports from this package; ``__all__`` holds
exactly the names they use.
"""
from .architectures import (SAM_ARCHITECTURES, SAMArchitecture,
                            resolve_sam_architecture)
from .automatic_masks import AutomaticMaskGenerator, AutomaticMaskSettings
from .builder import (SAM2_CONFIGS, build_class_token_mask_decoder,
                      build_sam2_class_token_decoder,
                      build_sam2_image_embedding, build_sam2_model,
                      build_sam_image_encoder, build_sam_mask_decoder,
                      build_sam_prompt_encoder)
from .fast_image_encoder import FastImageEncoderViT
from .frame import SAMInputFrame
from .mask_readout import MaskReadout
from .prompt_sampler import MaskPromptSampler, Prompts
from .sam2_checkpoint import (load_sam2_checkpoint, load_sam2_image_encoder,
                              load_sam2_without_image_encoder,
                              read_sam2_state)
from .sam2_image_embedding import SAM2ImageEmbedding
from .sam_checkpoint import guess_sam_type, load_sam_checkpoint, read_sam_parts
from .truncated_image_encoder import TruncatedSAMImageEncoder

__all__ = [
    'SAM_ARCHITECTURES', 'SAMArchitecture', 'resolve_sam_architecture',
    'AutomaticMaskGenerator', 'AutomaticMaskSettings', 'SAM2_CONFIGS',
    'build_class_token_mask_decoder', 'build_sam2_class_token_decoder',
    'build_sam2_image_embedding', 'build_sam2_model',
    'build_sam_image_encoder', 'build_sam_mask_decoder',
    'build_sam_prompt_encoder', 'FastImageEncoderViT', 'SAMInputFrame',
    'MaskReadout', 'MaskPromptSampler', 'Prompts', 'load_sam2_checkpoint',
    'load_sam2_image_encoder', 'load_sam2_without_image_encoder',
    'read_sam2_state', 'SAM2ImageEmbedding', 'guess_sam_type',
    'load_sam_checkpoint', 'read_sam_parts', 'TruncatedSAMImageEncoder'
]
