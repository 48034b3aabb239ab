"""What every head that runs a frozen SAM on a fused image shares.

:class:`SAMHeadBase` builds SAM's image encoder, prompt encoder and a mask
decoder with ``num_mask_tokens`` output tokens (all through
:mod:`fusionsam_mmseg.models.sam.builder`), reads the neck tuple
``(fusion_features, fusion_mask_logits, fused_image)``, encodes the fused
image without gradient, samples point / box prompts from the fusion mask,
loads the official checkpoint and keeps its frozen modules in eval mode.
:class:`SAMPromptHead` (class tokens + FMP dense prompt) and
:class:`StockSAMHead` (SAM's own 4 tokens + readout) add their decoding.
"""
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.utils import SampleList
from ..pretrained_file import PretrainedFile
from ..sam import (SAM2_CONFIGS, MaskPromptSampler, Prompts, SAMInputFrame,
                   build_class_token_mask_decoder, build_sam2_image_embedding,
                   build_sam_image_encoder,
                   build_sam_prompt_encoder, load_sam_checkpoint,
                   read_sam_parts, resolve_sam_architecture)


def check_prompt_sources(head: nn.Module, mask_logits: Optional[Tensor],
                         fused_image: Tensor) -> None:
    """Raise unless the neck gave (B, 1, h, w) mask logits (when the head
    reads them) and a (B, 3, H, W) fused image at the head's ``mask_index``
    / ``image_index``."""
    name = type(head).__name__
    if mask_logits is not None and (mask_logits.dim() != 4
                                    or mask_logits.shape[1] != 1):
        raise ValueError(
            f'{name}: inputs[mask_index={head.mask_index}] must be '
            'fusion-mask logits (B, 1, h, w), got '
            f'{tuple(mask_logits.shape)}.')
    if fused_image.dim() != 4 or fused_image.shape[1] != 3:
        raise ValueError(
            f'{name}: inputs[image_index={head.image_index}] must be a fused '
            f'image (B, 3, H, W) in [0, 1], got {tuple(fused_image.shape)}.')


def channel_group_mean(in_channels: int) -> nn.Conv2d:
    """Frozen 1x1 conv (in_channels -> 3): output channel k is the mean of
    the k-th of three channel groups (a fused image for a stock backbone)."""
    conv = nn.Conv2d(in_channels, 3, kernel_size=1, bias=False)
    weight = torch.zeros(3, in_channels)
    for row, group in enumerate(torch.arange(in_channels).tensor_split(3)):
        weight[row, group] = 1.0 / max(len(group), 1)
    conv.weight.data.copy_(weight[..., None, None])
    conv.requires_grad_(False)
    return conv


class SAMHeadBase(BaseDecodeHead):
    """Frozen SAM image encoder + prompt encoder + mask decoder.

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
        image_size (int): Side of SAM's square input (1024 for the official
            checkpoints). Default: 1024.
        checkpoint (str, optional): Official-layout SAM checkpoint
            (``sam_vit_h_4b8939.pth`` ...) loaded in :meth:`init_weights`;
            building needs no weights. Default: None.
        in_index (int): Position of the fusion features. Default: 0.
        mask_index (int, optional): Position of the fusion-mask logits
            (B, 1, h, w); None derives them from the features with a 1x1
            conv (e.g. behind a stock backbone), unless the head takes no
            prompt from a fusion mask, in which case none are read.
            Default: 1.
        image_index (int, optional): Position of the fused image
            (B, 3, H, W) in [0, 1]; None derives it from the features with a
            fixed (frozen) 1x1 conv averaging three channel groups + sigmoid,
            because the frozen encoder passes no gradient to its input.
            Default: 2.
        num_points (int): Point prompts per image from the fusion mask.
            Default: 10.
        use_box (bool): Add the fusion mask's box as a prompt. Default: True.
        point_peak_kernel (int): Odd window in which a point must be the
            local maximum of the mask logits. Default: 3.
        gt_prompts_in_train (bool): In training only, take the sparse prompts
            from the ground truth's foreground instead of the fusion mask.
            Never used at test time. Default: False.
        gt_background_index (int, optional): The label that is not
            foreground for ``gt_prompts_in_train``; None when no class is
            background. Default: 0.
        encoder_attention (str): ``'sdpa'`` or ``'stock'`` (see
            :func:`~fusionsam_mmseg.models.sam.build_sam_image_encoder`).
            Default: 'sdpa'.
        encoder_autocast (str, optional): ``'auto'`` (bf16 on CUDA, fp32
            elsewhere), ``'bf16'`` or None (fp32). Default: None.
        encoder_compile (bool): ``torch.compile`` the frozen encoder.
            Default: False.
        channels (int, optional): ``BaseDecodeHead`` channels (what
            ``conv_seg``, where a subclass uses it, reads); None: SAM's
            prompt width. Default: None.
        **kwargs: ``BaseDecodeHead`` options (``loss_decode``,
            ``ignore_index``, ``align_corners``, ``norm_cfg``, ``init_cfg``...).
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 *,
                 num_mask_tokens: int,
                 sam_type: str = 'vit_h',
                 encoder_cfg: Optional[dict] = None,
                 image_size: int = 1024,
                 checkpoint: Optional[str] = None,
                 in_index: int = 0,
                 mask_index: Optional[int] = 1,
                 image_index: Optional[int] = 2,
                 num_points: int = 10,
                 use_box: bool = True,
                 point_peak_kernel: int = 3,
                 gt_prompts_in_train: bool = False,
                 gt_background_index: Optional[int] = 0,
                 encoder_attention: str = 'sdpa',
                 encoder_autocast: Optional[str] = None,
                 encoder_compile: bool = False,
                 channels: Optional[int] = None,
                 **kwargs) -> None:
        sam2_encoder = None
        if sam_type in SAM2_CONFIGS:
            sam2_encoder, self.arch = build_sam2_image_embedding(
                sam_type, image_size,
                (encoder_cfg or {}).get('sam2_overrides', ()))
        else:
            self.arch = resolve_sam_architecture(sam_type, encoder_cfg)
        kwargs.setdefault('init_cfg', None)
        super().__init__(
            in_channels,
            channels or self.arch.prompt_embed_dim,
            num_classes=num_classes,
            in_index=in_index,
            dropout_ratio=0.0,
            **kwargs)
        self.sam_type = sam_type
        self.image_size = image_size
        self.embedding_size = image_size // self.arch.patch_size
        self.checkpoint = checkpoint
        self.mask_index = mask_index
        self.image_index = image_index
        self.gt_prompts_in_train = gt_prompts_in_train
        self.gt_background_index = gt_background_index
        self.prompt_sampler = MaskPromptSampler(num_points, use_box,
                                                point_peak_kernel)
        self.image_encoder = sam2_encoder if sam2_encoder is not None else \
            build_sam_image_encoder(self.arch, image_size, encoder_attention,
                                    encoder_autocast, encoder_compile)
        self.prompt_encoder = build_sam_prompt_encoder(self.arch, image_size)
        self.mask_decoder = build_class_token_mask_decoder(
            self.arch, num_mask_tokens)
        self.mask_from_features = (
            nn.Conv2d(in_channels, 1, kernel_size=1)
            if mask_index is None and self.reads_fusion_mask else None)
        self.image_from_features = (
            channel_group_mean(in_channels) if image_index is None else None)
        self.sam_file = PretrainedFile(
            self, f'{type(self).__name__}: SAM checkpoint',
            lambda: self.checkpoint,
            lambda path: read_sam_parts(path, self.file_copied_modules()))

    @property
    def reads_fusion_mask(self) -> bool:
        """Whether any prompt comes from the fusion mask."""
        sampler = self.prompt_sampler
        return sampler.num_points > 0 or sampler.use_box

    def frozen_modules(self) -> List[nn.Module]:
        """Modules without gradient, kept in eval mode (subclasses add)."""
        return [self.image_encoder]

    def file_copied_modules(self) -> List[str]:
        """SAM parts that stay verbatim copies of the SAM checkpoint (left
        out of this head's checkpoints once one is loaded)."""
        return ['image_encoder']

    def freeze(self) -> None:
        """Freeze :meth:`frozen_modules` (call at the end of ``__init__``)."""
        for module in self.frozen_modules():
            module.requires_grad_(False)
            module.eval()

    def train(self, mode: bool = True) -> 'SAMHeadBase':
        """Set train/eval mode; the frozen modules stay in eval."""
        super().train(mode)
        for module in self.frozen_modules():
            module.eval()
        return self

    def init_weights(self) -> None:
        """Apply ``init_cfg``, then load the SAM checkpoint if one is set."""
        super().init_weights()
        if self.checkpoint is None:
            return
        load_sam_checkpoint(
            self.checkpoint, self.image_encoder, self.prompt_encoder,
            self.mask_decoder,
            f"{type(self).__name__}(sam_type='{self.sam_type}', "
            f'image_size={self.image_size}, '
            f'num_classes={self.num_classes})')
        self.sam_file.loaded(self.checkpoint, [
            f'{name}.{key}' for name in self.file_copied_modules()
            for key in getattr(self, name).state_dict()
        ])

    def _select_inputs(self, inputs: Sequence[Tensor]
                       ) -> Tuple[Tensor, Optional[Tensor], Tensor]:
        """Fusion features, fusion-mask logits (None when no prompt reads
        them) and fused image."""
        features = self._transform_inputs(inputs)
        mask_logits = None
        if self.mask_from_features is not None:
            mask_logits = self.mask_from_features(features)
        elif self.reads_fusion_mask:
            mask_logits = inputs[self.mask_index]
        if self.image_from_features is not None:
            fused_image = self.image_from_features(features).sigmoid()
        else:
            fused_image = inputs[self.image_index]
        check_prompt_sources(self, mask_logits, fused_image)
        return features, mask_logits, fused_image

    def encode_image(self, fused_image: Tensor,
                     frame: SAMInputFrame) -> Tensor:
        """Frozen image embedding (B, prompt_dim, E, E) fp32, no gradient."""
        with torch.no_grad():
            return self.image_encoder(frame.to_sam_input(fused_image)).float()

    def get_prompts(self,
                    mask_logits: Optional[Tensor],
                    frame: SAMInputFrame,
                    gt_foreground: Optional[Tensor] = None) -> Prompts:
        """Sparse prompts: from the fusion mask, or (training with
        ``gt_prompts_in_train`` only) from the (B, H, W) GT foreground."""
        if (gt_foreground is not None and self.training
                and self.gt_prompts_in_train):
            return self.prompt_sampler.from_foreground(gt_foreground, frame)
        if mask_logits is None:
            return Prompts(None, None)
        return self.prompt_sampler.from_logits(mask_logits, frame)

    def _gt_foreground(self, batch_data_samples: SampleList) -> Tensor:
        labels = torch.stack(
            [sample.gt_sem_seg.data[0] for sample in batch_data_samples])
        foreground = labels != self.ignore_index
        if self.gt_background_index is not None:
            foreground &= labels != self.gt_background_index
        return foreground

    def loss(self, inputs: Sequence[Tensor], batch_data_samples: SampleList,
             train_cfg: dict) -> dict:
        """Segmentation losses (``BaseDecodeHead.loss`` with GT prompts when
        ``gt_prompts_in_train``)."""
        gt_foreground = (
            self._gt_foreground(batch_data_samples)
            if self.gt_prompts_in_train else None)
        seg_logits = self.forward(inputs, gt_foreground)
        return self.loss_by_feat(seg_logits, batch_data_samples)
