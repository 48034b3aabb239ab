"""Semantic Persistent Attention (SPA), the stage of SAGE's teacher.

An image branch and two mask branches (visible / infrared SAM mask stacks)
attend on the same token grid. The image branch's cross-attention keys and
values of every block are kept in a *persistent repository*; the mask
branches take them as their keys and values (re-projected by their own
``to_k`` / ``to_v``), then the fused mask branch hands its own to the image
branch. Facts of the official code (RollingPlain/SAGE_IVIF) kept here: the
Stable-Diffusion-style spatial transformer (GroupNorm, 1x1 in/out
projections with a zero-initialised output, pre-norm self-attention,
cross-attention, GEGLU feed-forward), attention on a 4x max-pooled grid,
and the residual 3x3 convolutions that merge the branches. Attention uses
``scaled_dot_product_attention`` (memory linear in tokens where kernels
allow).
"""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor, nn

KeyValue = Tuple[Tensor, Tensor]
LEAKY_RELU = dict(type='LeakyReLU', negative_slope=0.01)


class RepositoryAttention(nn.Module):
    """Multi-head attention whose keys / values may come from a repository.

    Args:
        channels (int): Token width C (= heads * head_channels).
        num_heads (int): Attention heads.

    ``forward(x, repository)``: queries from ``x`` (B, N, C); keys / values
    projected from ``repository`` (two (B, M, C) tensors) or, when it is
    None, from ``x``. Returns the output (B, N, C) and the projected keys /
    values (each (B, M, C)) for the next branch's repository.
    """

    def __init__(self, *, channels: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.to_q = nn.Linear(channels, channels, bias=False)
        self.to_k = nn.Linear(channels, channels, bias=False)
        self.to_v = nn.Linear(channels, channels, bias=False)
        self.to_out = nn.Linear(channels, channels)

    def _heads(self, x: Tensor) -> Tensor:
        batch, length, channels = x.shape
        return x.view(batch, length, self.num_heads,
                      channels // self.num_heads).transpose(1, 2)

    def forward(self, x: Tensor,
                repository: Optional[KeyValue] = None
                ) -> Tuple[Tensor, KeyValue]:
        key_source, value_source = repository if repository is not None \
            else (x, x)
        k, v = self.to_k(key_source), self.to_v(value_source)
        out = F.scaled_dot_product_attention(
            self._heads(self.to_q(x)), self._heads(k), self._heads(v))
        return self.to_out(out.transpose(1, 2).flatten(2)), (k, v)


class GEGLUFeedForward(nn.Sequential):
    """Linear -> GEGLU (x * GELU(gate)) -> Linear, hidden width 4C."""

    def __init__(self, *, channels: int) -> None:
        super().__init__()
        self.proj_in = nn.Linear(channels, channels * 8)
        self.proj_out = nn.Linear(channels * 4, channels)

    def forward(self, x: Tensor) -> Tensor:
        value, gate = self.proj_in(x).chunk(2, dim=-1)
        return self.proj_out(value * F.gelu(gate))


class PersistentBlock(nn.Module):
    """Pre-norm block: self-attention, repository cross-attention, FFN.

    Args:
        channels (int): Token width C.
        num_heads (int): Attention heads.
    """

    def __init__(self, *, channels: int, num_heads: int) -> None:
        super().__init__()
        self.norm_self = nn.LayerNorm(channels)
        self.self_attn = RepositoryAttention(channels=channels,
                                             num_heads=num_heads)
        self.norm_cross = nn.LayerNorm(channels)
        self.cross_attn = RepositoryAttention(channels=channels,
                                              num_heads=num_heads)
        self.norm_ffn = nn.LayerNorm(channels)
        self.ffn = GEGLUFeedForward(channels=channels)

    def forward(self, x: Tensor, repository: Optional[KeyValue] = None
                ) -> Tuple[Tensor, KeyValue]:
        """(B, N, C) tokens -> tokens and this block's cross keys / values."""
        x = x + self.self_attn(self.norm_self(x))[0]
        attended, key_value = self.cross_attn(self.norm_cross(x), repository)
        x = x + attended
        return x + self.ffn(self.norm_ffn(x)), key_value


class PersistentTransformer(BaseModule):
    """Spatial transformer on (B, C, h, w) maps with a K/V repository.

    Args:
        in_channels (int): Channels of the map.
        num_heads (int): Attention heads.
        head_channels (int): Channels per head.
        depth (int): Blocks. Default: 1.
    """

    def __init__(self, *, in_channels: int, num_heads: int,
                 head_channels: int, depth: int = 1) -> None:
        super().__init__()
        channels = num_heads * head_channels
        self.norm = nn.GroupNorm(4, in_channels, eps=1e-6)
        self.proj_in = nn.Conv2d(in_channels, channels, 1)
        self.blocks = nn.ModuleList(
            PersistentBlock(channels=channels, num_heads=num_heads)
            for _ in range(depth))
        self.proj_out = nn.Conv2d(channels, in_channels, 1)
        nn.init.zeros_(self.proj_out.weight)
        nn.init.zeros_(self.proj_out.bias)

    def forward(self, x: Tensor,
                repository: Optional[List[KeyValue]] = None
                ) -> Tuple[Tensor, List[KeyValue]]:
        """Map -> map and the blocks' keys / values (the repository the
        next branch reads)."""
        height, width = x.shape[-2:]
        tokens = self.proj_in(self.norm(x)).flatten(2).transpose(1, 2)
        repository = repository or [None] * len(self.blocks)
        kept = []
        for block, key_value in zip(self.blocks, repository):
            tokens, key_value = block(tokens, key_value)
            kept.append(key_value)
        tokens = tokens.transpose(1, 2).unflatten(2, (height, width))
        return x + self.proj_out(tokens), kept


def merge_conv(in_channels: int, out_channels: int) -> ConvModule:
    """3x3 convolution + LeakyReLU that merges concatenated branches."""
    return ConvModule(in_channels, out_channels, 3, padding=1, norm_cfg=None,
                      act_cfg=LEAKY_RELU)


class SemanticPersistentAttention(BaseModule):
    """One SPA stage: image and mask branches on a 4x pooled token grid.

    Args:
        channels (int): Channels C of each branch.
        num_heads (int): Attention heads. Default: 2.
        head_channels (int): Channels per head (num_heads * head_channels
            must equal ``channels``). Default: 32.
        pool (int): Max-pooling factor of the attention grid. Default: 4.

    ``forward(image, visible_masks, infrared_masks)`` takes three
    (B, C, h, w) maps and returns the stage features (B, 4C, h, w) and the
    updated visible / infrared mask maps (B, C, h, w each).
    """

    def __init__(self, *, channels: int, num_heads: int = 2,
                 head_channels: int = 32, pool: int = 4) -> None:
        super().__init__()
        if num_heads * head_channels != channels:
            raise ValueError(
                f'SemanticPersistentAttention: num_heads={num_heads} x '
                f'head_channels={head_channels} must equal channels='
                f'{channels} (the repository is re-projected).')
        self.pool = pool

        def transformer() -> PersistentTransformer:
            return PersistentTransformer(in_channels=channels,
                                         num_heads=num_heads,
                                         head_channels=head_channels)

        self.image_attention = transformer()
        self.visible_attention = transformer()
        self.infrared_attention = transformer()
        self.mask_fusion_attention = transformer()
        self.image_fusion_attention = transformer()
        self.merge_image = merge_conv(2 * channels, channels)
        self.merge_visible = merge_conv(2 * channels, channels)
        self.merge_infrared = merge_conv(2 * channels, channels)
        self.merge_masks = merge_conv(2 * channels, channels)

    def forward(self, image: Tensor, visible: Tensor, infrared: Tensor
                ) -> Tuple[Tensor, Tensor, Tensor]:
        size = image.shape[-2:]
        image_in, visible_in, infrared_in = (
            F.max_pool2d(x, self.pool) for x in (image, visible, infrared))
        image_att, repository = self.image_attention(image_in)
        visible_att, _ = self.visible_attention(visible_in, repository)
        infrared_att, _ = self.infrared_attention(infrared_in, repository)
        visible = self.merge_visible(torch.cat([visible_att, visible_in],
                                               1)) + visible_att
        infrared = self.merge_infrared(
            torch.cat([infrared_att, infrared_in], 1)) + infrared_att
        masks = (self.merge_masks(torch.cat([infrared, visible], 1)) +
                 infrared + visible + visible_att + infrared_att)
        merged_image = self.merge_image(torch.cat([image_att, image_in],
                                                  1)) + image_att
        masks, mask_repository = self.mask_fusion_attention(
            masks, repository)
        fused_image, _ = self.image_fusion_attention(merged_image,
                                                     mask_repository)
        features = torch.cat([fused_image, image_in, merged_image, masks], 1)

        def upsample(x: Tensor) -> Tensor:
            return F.interpolate(x, size=size, mode='bilinear',
                                 align_corners=False)

        return upsample(features), upsample(visible), upsample(infrared)
