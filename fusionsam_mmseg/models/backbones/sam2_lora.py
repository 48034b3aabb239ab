"""SAM2LoRABackbone: SAM2's image encoder with LoRA, one frame per modality.

MemorySAM (Liao et al. 2025) treats the N modalities of a scene as N frames
of a video. This backbone is the image-encoder half of that: SAM2's Hiera
trunk + FPN neck, built by the installed ``sam2`` package (its configs,
``build_sam2``), frozen, with LoRA on the trunk's attention::

    inputs (B, sum C_m, H, W), normalised per channel
      └─ split by modality_channels ── modality m (B, C_m, H, W)
         └─ 3-channel frame: 3 channels as they are; 1 -> (c, c, c);
            2 -> (c0, c1, c0)
            └─ resized to image_size x image_size (SAM2's square input)
               └─ Hiera trunk (frozen + LoRA) + FPN neck (frozen)
    outputs: one (B, N * C, h_l, w_l) map per FPN level l (strides 4, 8, 16
             for the official configs), frames stacked along channels in
             modality order: channels [m * C, (m + 1) * C) are frame m's.

The 1- and 2-channel rules are the official MemorySAM loaders' (thermal,
NIR and DoLP repeated three times; AoLP given as (sin, cos, sin)).
Stretching the frame to SAM2's square input (rather than letterboxing it)
is what makes every FPN level a square map, which SAM2's memory attention
(rotary encoding of a square grid) requires; the decode head's logits are
resized back to the input size by mmseg as usual.

Trained: the LoRA parameters only (``lora_a`` / ``lora_b`` of every wrapped
layer, default q and v of each trunk block's ``attn.qkv``). The trunk and the
neck are frozen and kept in eval mode.
"""
from typing import List, Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..layers.frozen_parts import FrozenPartsMixin
from ..layers.lora import add_lora
from ..layers.modalities import check_modalities, split_modalities
from ..pretrained_file import PretrainedFile
from ..sam import build_sam2_model, load_sam2_image_encoder, read_sam2_state

# Channels of a modality -> which of its channels fill the 3 frame channels.
FRAME_CHANNELS = {1: (0, 0, 0), 2: (0, 1, 0), 3: (0, 1, 2)}


@MODELS.register_module()
class SAM2LoRABackbone(FrozenPartsMixin, BaseModule):
    """SAM2 image encoder (Hiera + FPN) with LoRA, run once per modality.

    Args:
        modality_channels (Sequence[int]): Channels of each modality in the
            stacked input, in order (1, 2 or 3 each). Default: (3, 3).
        modality_names (Sequence[str], optional): Names of the modalities.
            Default: None.
        sam2_config (str): SAM2 model name (``'sam2_hiera_b+'``,
            ``'sam2.1_hiera_l'`` ...) or config path in the ``sam2`` package.
            Default: 'sam2_hiera_b+' (SAM2.0 Hiera-B+, as MemorySAM).
        sam2_overrides (Sequence[str]): Hydra overrides of that config (tiny
            test models); the decode head must get the same. Default: ().
        image_size (int): Side of SAM2's square input. Default: 1024.
        checkpoint (str, optional): Official SAM2 file
            (``sam2_hiera_base_plus.pt``); its ``image_encoder.*`` part is
            loaded in :meth:`init_weights`. None keeps random weights
            (tests). Default: None.
        lora_rank (int): LoRA rank. Default: 4.
        lora_alpha (float): LoRA scale numerator (scale alpha / rank).
            Default: 4.0 (scale 1, as the official code).
        lora_targets (Sequence[str]): Trunk layers that get LoRA, see
            :func:`~fusionsam_mmseg.models.layers.lora.add_lora`.
            Default: ('attn.qkv:q', 'attn.qkv:v').
        init_cfg (dict, optional): Initialization config. Default: None.

    Shapes:
        forward: (B, sum(modality_channels), H, W) -> tuple of
        (B, N * C, image_size / s_l, image_size / s_l) per FPN level, with
        N modalities and C the neck width (256 for the official configs).
    """

    def __init__(self,
                 *,
                 modality_channels: Sequence[int] = (3, 3),
                 modality_names: Optional[Sequence[str]] = None,
                 sam2_config: str = 'sam2_hiera_b+',
                 sam2_overrides: Sequence[str] = (),
                 image_size: int = 1024,
                 checkpoint: Optional[str] = None,
                 lora_rank: int = 4,
                 lora_alpha: float = 4.0,
                 lora_targets: Sequence[str] = ('attn.qkv:q', 'attn.qkv:v'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.modality_channels, self.modality_names = check_modalities(
            'SAM2LoRABackbone', modality_channels, modality_names)
        unsupported = [(name, channels) for name, channels in zip(
            self.modality_names, self.modality_channels)
                       if channels not in FRAME_CHANNELS]
        if unsupported:
            raise ValueError(
                f'SAM2LoRABackbone: modalities {unsupported} have more than '
                '3 channels; each modality becomes one 3-channel SAM2 frame '
                '(1 channel is repeated, 2 channels give (c0, c1, c0)). '
                'Split such a modality into several in the dataset.')
        self.sam2_config = sam2_config
        self.image_size = image_size
        self.checkpoint = checkpoint
        self.image_encoder = build_sam2_model(sam2_config, image_size,
                                              sam2_overrides).image_encoder
        self.freeze_frozen_modules()
        self.lora_layers = add_lora(self.image_encoder.trunk, lora_targets,
                                    lora_rank, lora_alpha)
        self.embed_dims = self.image_encoder.neck.d_model
        # Once the file is loaded, checkpoints hold the LoRA tensors only.
        self.sam2_file = PretrainedFile(
            self, 'SAM2LoRABackbone: SAM2 checkpoint',
            lambda: self.checkpoint, read_sam2_state)

    @property
    def num_frames(self) -> int:
        """N, the number of modalities (= SAM2 frames)."""
        return len(self.modality_channels)

    def frozen_modules(self) -> List[nn.Module]:
        """SAM2's image encoder, frozen before the LoRA layers (trained, no
        mode-dependent parts) are added to its trunk."""
        return [self.image_encoder]

    def init_weights(self) -> None:
        """Apply ``init_cfg``, load the SAM2 checkpoint's image encoder if
        one is set, and log what trains."""
        super().init_weights()
        if self.checkpoint is not None:
            lora_keys = load_sam2_image_encoder(
                self.checkpoint, self.image_encoder, self._description())
            self.sam2_file.loaded(self.checkpoint, [
                f'image_encoder.{key}'
                for key in self.image_encoder.state_dict()
                if key not in lora_keys
            ])
        trained = sum(p.numel() for p in self.parameters() if p.requires_grad)
        frozen = sum(p.numel() for p in self.parameters()
                     if not p.requires_grad)
        print_log(
            f'{self._description()}: trained: LoRA ({trained} parameters in '
            f'{len(self.lora_layers)} layers of the trunk); frozen: the '
            f'Hiera trunk and the FPN neck ({frozen} parameters).',
            logger='current')

    def _description(self) -> str:
        return (f"SAM2LoRABackbone(sam2_config='{self.sam2_config}', "
                f'image_size={self.image_size})')

    def to_frames(self, inputs: Tensor) -> Tensor:
        """(B, sum C_m, H, W) -> (N * B, 3, S, S) frames, modality-major."""
        frames = []
        for modality in split_modalities('SAM2LoRABackbone', inputs,
                                         self.modality_channels):
            frame = modality[:, list(FRAME_CHANNELS[modality.shape[1]])]
            if frame.shape[-2:] != (self.image_size, self.image_size):
                frame = resize(
                    frame, size=(self.image_size, self.image_size),
                    mode='bilinear', align_corners=False)
            frames.append(frame)
        return torch.cat(frames, dim=0)

    def forward(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """Per-frame FPN features, frames stacked along channels (shapes in
        the class docstring)."""
        batch_size = inputs.shape[0]
        levels = self.image_encoder(self.to_frames(inputs))['backbone_fpn']
        return tuple(
            level.unflatten(0, (self.num_frames, batch_size)).transpose(
                0, 1).flatten(1, 2) for level in levels)
