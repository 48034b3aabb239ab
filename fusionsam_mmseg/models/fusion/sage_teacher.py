"""SAGETeacher: SAGE's SAM-guided fusion network (training only).

Inputs: visible luminance Y and infrared (B, 1, H, W each) and the two SAM
prior stacks (B, k, H, W each: the top-k SAM masks applied to their source
image). Five Semantic Persistent Attention stages in a U-shape (full, 1/2,
1/4, 1/2, full resolution), as in the official code::

    [Y, IR] ─ conv ─ f0 (C/2) ─ conv ─ f1 (C) ┐      prior stacks ─ conv ─ m
    SPA(f1, m) ─ s1 (4C, H) ─ 1x1 ─ pool ─ SPA ─ s2 (4C, H/2) ─ 1x1 ─ pool
    ─ SPA ─ s3 (4C, H/4) ─ up + s2 ─ 1x1 ─ SPA ─ s4 (4C, H/2) ─ up + s1 ─ 1x1
    ─ SPA ─ s5 (4C, H) ─ [s5, f1] ─ decoder ─ [., f0] ─ decoder ─ fused Y

The official network applies one SPA module (one set of weights) at all
five stages; ``shared_stages=False`` gives each stage its own. Its five
stage outputs, compressed to ``feature_channels`` by 1x1 convolutions, are
the features the student is distilled on.
"""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn

from .persistent_attention import (LEAKY_RELU, SemanticPersistentAttention,
                                   merge_conv)

NUM_STAGES = 5


def _conv_stack(channels: List[int], last_act: bool = True) -> nn.Sequential:
    """3x3 convolutions + LeakyReLU between consecutive widths."""
    layers = []
    for index, (cin, cout) in enumerate(zip(channels[:-1], channels[1:])):
        last = index == len(channels) - 2
        layers.append(
            ConvModule(cin, cout, 3, padding=1, norm_cfg=None,
                       act_cfg=LEAKY_RELU if last_act or not last else None))
    return nn.Sequential(*layers)


def _resize(x: Tensor, like: Tensor) -> Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode='bilinear',
                         align_corners=False)


@MODELS.register_module()
class SAGETeacher(BaseModule):
    """SPA U-Net over Y, IR and the SAM prior stacks.

    Args:
        num_masks (int): Masks k per prior stack. Default: 4.
        channels (int): Branch width C. Default: 64.
        num_heads (int): SPA attention heads. Default: 2.
        head_channels (int): Channels per head (heads x head_channels =
            C). Default: 32.
        feature_channels (int): Width of the five distillation features
            (the student's width). Default: 32.
        shared_stages (bool): One SPA module for all five stages, as the
            official code. Default: True.
        init_cfg (dict, optional): Initialisation config. Default: None.

    ``forward(visible_y, infrared, visible_priors, infrared_priors)``
    returns the fused luminance (B, 1, H, W) (LeakyReLU output, unbounded
    as in the official code) and five features (B, feature_channels,
    H / s, W / s) for s = 1, 2, 4, 2, 1.
    """

    def __init__(self,
                 *,
                 num_masks: int = 4,
                 channels: int = 64,
                 num_heads: int = 2,
                 head_channels: int = 32,
                 feature_channels: int = 32,
                 shared_stages: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_masks = num_masks
        half = channels // 2
        self.encode_image = _conv_stack([2, half // 2, half])
        self.encode_image_deep = _conv_stack([half, channels])
        self.encode_visible = _conv_stack([num_masks, half // 2, half,
                                           channels])
        self.encode_infrared = _conv_stack([num_masks, half // 2, half,
                                            channels])
        stages = 1 if shared_stages else NUM_STAGES
        self.stages = nn.ModuleList(
            SemanticPersistentAttention(channels=channels,
                                        num_heads=num_heads,
                                        head_channels=head_channels)
            for _ in range(stages))
        self.compress = nn.ModuleList(
            merge_conv(4 * channels, channels) for _ in range(4))
        self.decode = _conv_stack([4 * channels + channels, 4 * channels,
                                   2 * channels, channels])
        self.decode_out = _conv_stack([channels + half, channels, half,
                                       half // 2, 1])
        self.feature_heads = nn.ModuleList(
            nn.Conv2d(4 * channels, feature_channels, 1)
            for _ in range(NUM_STAGES))

    def _stage(self, index: int, image: Tensor, visible: Tensor,
               infrared: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        spa = self.stages[index % len(self.stages)]
        return spa(image, visible, infrared)

    def forward(self, visible_y: Tensor, infrared: Tensor,
                visible_priors: Tensor, infrared_priors: Tensor
                ) -> Tuple[Tensor, Tuple[Tensor, ...]]:
        shallow = self.encode_image(torch.cat([visible_y, infrared], 1))
        image = self.encode_image_deep(shallow)
        visible = self.encode_visible(visible_priors)
        infrared_masks = self.encode_infrared(infrared_priors)
        stage1, visible, infrared_masks = self._stage(0, image, visible,
                                                      infrared_masks)
        down = F.max_pool2d(self.compress[0](stage1), 2)
        visible, infrared_masks = (F.max_pool2d(x, 2)
                                   for x in (visible, infrared_masks))
        stage2, visible, infrared_masks = self._stage(1, down, visible,
                                                      infrared_masks)
        down = F.max_pool2d(self.compress[1](stage2), 2)
        visible, infrared_masks = (F.max_pool2d(x, 2)
                                   for x in (visible, infrared_masks))
        stage3, visible, infrared_masks = self._stage(2, down, visible,
                                                      infrared_masks)
        up = self.compress[2](_resize(stage3, stage2) + stage2)
        visible, infrared_masks = (_resize(x, up)
                                   for x in (visible, infrared_masks))
        stage4, visible, infrared_masks = self._stage(3, up, visible,
                                                      infrared_masks)
        up = self.compress[3](_resize(stage4, stage1) + stage1)
        visible, infrared_masks = (_resize(x, up)
                                   for x in (visible, infrared_masks))
        stage5, _, _ = self._stage(4, up, visible, infrared_masks)
        decoded = self.decode(torch.cat([stage5, image], 1))
        fused = self.decode_out(torch.cat([decoded, shallow], 1))
        stages = (stage1, stage2, stage3, stage4, stage5)
        features = tuple(
            head(stage) for head, stage in zip(self.feature_heads, stages))
        return fused, features
