"""SAM's image encoder, prompt encoder and mask decoder as a head's parts.

:class:`SAMPartsHeadBase` builds the three (all through
:mod:`fusionsam_mmseg.models.sam.builder`) as the head's own modules
``image_encoder``, ``prompt_encoder`` and ``mask_decoder`` (a decoder with
``num_mask_tokens`` output tokens), encodes the fused image (without
gradient unless ``encoder_grad_to_input``) and loads the official SAM
checkpoint into them. :class:`SAMPromptHead` (class tokens + FMP dense
prompt) and :class:`StockSAMHead` (SAM's own 4 tokens + readout) add their
decoding.
"""
from typing import Dict, List, Optional

import torch
from torch import Tensor, nn

from ..sam import (SAM2_CONFIGS, SAMInputFrame,
                   build_class_token_mask_decoder, build_sam2_image_embedding,
                   build_sam_image_encoder, build_sam_prompt_encoder,
                   load_sam_checkpoint, read_sam_parts,
                   resolve_sam_architecture)
from .sam_head_base import SAMHeadBase


class SAMPartsHeadBase(SAMHeadBase):
    """Frozen SAM image encoder + prompt encoder + mask decoder.

    Takes the arguments of
    :class:`~fusionsam_mmseg.models.decode_heads.sam_head_base.SAMHeadBase`
    (``image_size=1024``, ``checkpoint``: an official-layout SAM file such as
    ``sam_vit_h_4b8939.pth``, ``with_fusion_neck=True``, ``num_points=10``,
    ``use_box=True``, ``point_peak_kernel=3``, ``gt_prompts_in_train=False``,
    ``gt_background_index=0``) and:

    Args:
        in_channels (int): Channels C of the fusion features.
        num_classes (int): Number of classes.
        num_mask_tokens (int): Output tokens of the mask decoder.
        sam_type (str): ``'vit_b'``, ``'vit_l'``, ``'vit_h'`` (official
            dimensions), ``'custom'`` (dimensions from ``encoder_cfg``), or
            a SAM2 model of ``SAM2_CONFIGS`` (``'sam2_hiera_l'`` ...): SAM2's
            Hiera + FPN image encoder in place of the ViT, SAM's prompt
            encoder and decoder with SAM2's dimensions, ``checkpoint`` the
            official SAM2 file, ``encoder_cfg`` optionally
            ``dict(sam2_overrides=[...])`` (Hydra overrides, tiny models),
            the ``encoder_*`` options unused. Default: 'vit_h'.
        encoder_cfg (dict, optional): Dimensions for ``sam_type='custom'``,
            the fields of
            :class:`~fusionsam_mmseg.models.sam.SAMArchitecture`.
            Default: None.
        encoder_attention (str): ``'sdpa'`` or ``'stock'`` (see
            :func:`~fusionsam_mmseg.models.sam.build_sam_image_encoder`).
            Default: 'sdpa'.
        encoder_autocast (str, optional): ``'auto'`` (bf16 on CUDA, fp32
            elsewhere), ``'bf16'`` or None (fp32). Default: None.
        encoder_compile (bool): ``torch.compile`` the frozen encoder.
            Default: False.
        encoder_grad_to_input (bool): Let the segmentation loss's gradient
            flow through the frozen encoder into the fused image (and so
            into the neck that made it); the encoder's weights stay frozen
            and its blocks run under activation checkpointing to bound the
            memory. False runs the encoder under ``no_grad``, as the
            authors' code does, so the fused image learns only from the
            neck's own losses. ViT encoders only. Default: False.
        channels (int, optional): ``BaseDecodeHead`` channels (what
            ``conv_seg``, where a subclass uses it, reads); None: SAM's
            prompt width. Default: None.
        **kwargs: The ``SAMHeadBase`` / ``BaseDecodeHead`` options.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 *,
                 num_mask_tokens: int,
                 sam_type: str = 'vit_h',
                 encoder_cfg: Optional[dict] = None,
                 image_size: int = 1024,
                 encoder_attention: str = 'sdpa',
                 encoder_autocast: Optional[str] = None,
                 encoder_compile: bool = False,
                 encoder_grad_to_input: bool = False,
                 channels: Optional[int] = None,
                 **kwargs) -> None:
        sam2_encoder = None
        if sam_type in SAM2_CONFIGS and encoder_grad_to_input:
            raise ValueError(
                f'{type(self).__name__}: encoder_grad_to_input=True needs a '
                "SAM ViT encoder (sam_type 'vit_b', 'vit_l', 'vit_h' or "
                f"'custom'), got sam_type={sam_type!r}.")
        if sam_type in SAM2_CONFIGS:
            sam2_encoder, self.arch = build_sam2_image_embedding(
                sam_type, image_size,
                (encoder_cfg or {}).get('sam2_overrides', ()))
        else:
            self.arch = resolve_sam_architecture(sam_type, encoder_cfg)
        super().__init__(
            in_channels,
            num_classes,
            channels=channels or self.arch.prompt_embed_dim,
            image_size=image_size,
            **kwargs)
        self.sam_type = sam_type
        self.embedding_size = image_size // self.arch.patch_size
        self.encoder_grad_to_input = encoder_grad_to_input
        self.image_encoder = sam2_encoder if sam2_encoder is not None else \
            build_sam_image_encoder(
                self.arch, image_size, encoder_attention, encoder_autocast,
                encoder_compile,
                activation_checkpointing=encoder_grad_to_input)
        self.prompt_encoder = build_sam_prompt_encoder(self.arch, image_size)
        self.mask_decoder = build_class_token_mask_decoder(
            self.arch, num_mask_tokens)

    def frozen_modules(self) -> List[nn.Module]:
        """Modules without gradient, kept in eval mode (subclasses add)."""
        return [self.image_encoder]

    def file_copied_modules(self) -> List[str]:
        """SAM parts that stay verbatim copies of the SAM checkpoint (left
        out of this head's checkpoints once one is loaded)."""
        return ['image_encoder']

    def read_checkpoint(self, path: str) -> Dict[str, Tensor]:
        """The :meth:`file_copied_modules` tensors of the SAM file."""
        return read_sam_parts(path, self.file_copied_modules())

    def load_checkpoint(self) -> List[str]:
        """Load the SAM file into the three parts; return the keys of
        :meth:`file_copied_modules`."""
        load_sam_checkpoint(
            self.checkpoint, self.image_encoder, self.prompt_encoder,
            self.mask_decoder,
            f"{type(self).__name__}(sam_type='{self.sam_type}', "
            f'image_size={self.image_size}, '
            f'num_classes={self.num_classes})')
        return [
            f'{name}.{key}' for name in self.file_copied_modules()
            for key in getattr(self, name).state_dict()
        ]

    def encode_image(self, fused_image: Tensor,
                     frame: SAMInputFrame) -> Tensor:
        """Frozen image embedding (B, prompt_dim, E, E) fp32; its gradient
        reaches ``fused_image`` only with ``encoder_grad_to_input``."""
        with torch.set_grad_enabled(self.encoder_grad_to_input
                                    and torch.is_grad_enabled()):
            return self.image_encoder(frame.to_sam_input(fused_image)).float()
