"""What every head that runs a frozen SAM on a fused image shares.

:class:`SAMHeadBase` reads the fields of the neck's
:class:`~fusionsam_mmseg.models.necks.FusionNeckOutput` (or, behind a stock
backbone, derives the fusion mask and the fused image from its features),
samples point / box prompts from the fusion mask (or, in training only, the
ground truth), keeps its frozen modules frozen and in eval mode and loads
its official checkpoint in :meth:`~SAMHeadBase.init_weights`, leaving the
copied tensors out of its own checkpoints.
:class:`~.sam_parts_head_base.SAMPartsHeadBase` (SAM's encoder, prompt
encoder and mask decoder as parts; :class:`SAMPromptHead`,
:class:`StockSAMHead`) and :class:`StockSAM2Head` (a whole SAM2) build the
model and decode.
"""
from abc import abstractmethod
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.utils import SampleList
from ..layers.frozen_parts import FrozenPartsMixin
from ..necks import FusionNeckOutput
from ..pretrained_file import PretrainedFile
from ..sam import MaskPromptSampler, Prompts, SAMInputFrame

HeadInputs = Union[FusionNeckOutput, Sequence[Tensor]]


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


class SAMHeadBase(FrozenPartsMixin, BaseDecodeHead):
    """Frozen SAM-family model on a fusion neck's fused image, prompted by
    its fusion mask.

    Args:
        in_channels (int): Channels C of the fusion features.
        num_classes (int): Number of classes.
        channels (int): ``BaseDecodeHead`` channels (what ``conv_seg``, where
            a subclass uses it, reads).
        image_size (int): Side of SAM's square input (1024 for the official
            checkpoints). Default: 1024.
        checkpoint (str, optional): Official checkpoint, loaded in
            :meth:`init_weights`; building needs no weights. Default: None.
        with_fusion_neck (bool): True: the inputs are a fusion neck's
            :class:`FusionNeckOutput`. False: they are a stock backbone's
            levels; the head reads the last one as fusion features and
            derives from it the fusion-mask logits (a 1x1 conv, built only
            when a prompt reads them) and the fused image (a fixed, frozen
            1x1 conv averaging three channel groups + sigmoid, because the
            frozen encoder passes no gradient to its input by default).
            Default: True.
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
        **kwargs: ``BaseDecodeHead`` options (``loss_decode``,
            ``ignore_index``, ``align_corners``, ``norm_cfg``,
            ``init_cfg``...).

    Subclasses build their model, call :meth:`freeze_frozen_modules` at the
    end of ``__init__`` and define :meth:`frozen_modules`,
    :meth:`read_checkpoint`, :meth:`load_checkpoint` and
    ``forward(inputs, gt_foreground=None)``.
    """

    #: The checkpoint's format, as messages name it.
    checkpoint_format = 'SAM'

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 *,
                 channels: int,
                 image_size: int = 1024,
                 checkpoint: Optional[str] = None,
                 with_fusion_neck: bool = True,
                 num_points: int = 10,
                 use_box: bool = True,
                 point_peak_kernel: int = 3,
                 gt_prompts_in_train: bool = False,
                 gt_background_index: Optional[int] = 0,
                 **kwargs) -> None:
        kwargs.setdefault('init_cfg', None)
        super().__init__(
            in_channels,
            channels,
            num_classes=num_classes,
            in_index=-1,
            dropout_ratio=0.0,
            **kwargs)
        self.image_size = image_size
        self.checkpoint = checkpoint
        self.with_fusion_neck = with_fusion_neck
        self.gt_prompts_in_train = gt_prompts_in_train
        self.gt_background_index = gt_background_index
        self.prompt_sampler = MaskPromptSampler(num_points, use_box,
                                                point_peak_kernel)
        self.mask_from_features = (
            nn.Conv2d(in_channels, 1, kernel_size=1)
            if not with_fusion_neck and self.reads_fusion_mask else None)
        self.image_from_features = (
            None if with_fusion_neck else channel_group_mean(in_channels))
        self.checkpoint_file = PretrainedFile(
            self,
            f'{type(self).__name__}: {self.checkpoint_format} checkpoint',
            lambda: self.checkpoint, self.read_checkpoint)

    @property
    def reads_fusion_mask(self) -> bool:
        """Whether any prompt comes from the fusion mask."""
        sampler = self.prompt_sampler
        return sampler.num_points > 0 or sampler.use_box

    @abstractmethod
    def read_checkpoint(self, path: str) -> Dict[str, Tensor]:
        """The tensors of the checkpoint file ``path`` that this head holds
        verbatim, keyed as in its state dict (what its checkpoints leave
        out and a load re-reads)."""

    @abstractmethod
    def load_checkpoint(self) -> List[str]:
        """Load :attr:`checkpoint` into the model; return the keys of the
        tensors copied verbatim."""

    def init_weights(self) -> None:
        """Apply ``init_cfg``, then load the checkpoint if one is set."""
        super().init_weights()
        if self.checkpoint is not None:
            self.checkpoint_file.loaded(self.checkpoint,
                                        self.load_checkpoint())

    def read_inputs(self, inputs: HeadInputs
                    ) -> Tuple[Tensor, Optional[Tensor], Tensor]:
        """Fusion features (B, C, h, w), fusion-mask logits (B, 1, h, w)
        (None when no prompt reads them) and fused image (B, 3, H, W)."""
        if not self.with_fusion_neck:
            features = self._transform_inputs(inputs)
            mask_logits = (None if self.mask_from_features is None else
                           self.mask_from_features(features))
            return (features, mask_logits,
                    self.image_from_features(features).sigmoid())
        if not isinstance(inputs, FusionNeckOutput):
            raise TypeError(
                f'{type(self).__name__}: expected the FusionNeckOutput of a '
                f'fusion neck (FMP, ConcatFusion), got '
                f'{type(inputs).__name__}; behind a stock backbone set '
                'with_fusion_neck=False.')
        mask_logits = inputs.mask_logits if self.reads_fusion_mask else None
        self._check_neck_output(mask_logits, inputs.fused_image)
        return inputs.features, mask_logits, inputs.fused_image

    def _check_neck_output(self, mask_logits: Optional[Tensor],
                           fused_image: Tensor) -> None:
        """Raise unless the neck gave (B, 1, h, w) mask logits (when the head
        reads them) and a (B, 3, H, W) fused image."""
        name = type(self).__name__
        if self.reads_fusion_mask and mask_logits is None:
            raise ValueError(
                f'{name}: the neck makes no fusion-mask logits '
                '(mask_logits=None) but the prompts read them; set '
                'num_points=0 and use_box=False (and, for SAMPromptHead, '
                'use_mask_prompt=False), as the concat ablation does.')
        if mask_logits is not None and (mask_logits.dim() != 4
                                        or mask_logits.shape[1] != 1):
            raise ValueError(
                f"{name}: the neck's mask_logits must be fusion-mask logits "
                f'(B, 1, h, w), got {tuple(mask_logits.shape)}.')
        if fused_image.dim() != 4 or fused_image.shape[1] != 3:
            raise ValueError(
                f"{name}: the neck's fused_image must be (B, 3, H, W) in "
                f'[0, 1], got {tuple(fused_image.shape)}.')

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

    def loss(self, inputs: HeadInputs, batch_data_samples: SampleList,
             train_cfg: dict) -> dict:
        """Segmentation losses (``BaseDecodeHead.loss`` with GT prompts when
        ``gt_prompts_in_train``)."""
        gt_foreground = (
            self._gt_foreground(batch_data_samples)
            if self.gt_prompts_in_train else None)
        seg_logits = self.forward(inputs, gt_foreground)
        return self.loss_by_feat(seg_logits, batch_data_samples)
