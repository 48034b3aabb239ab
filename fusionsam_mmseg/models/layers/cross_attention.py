"""Cross-attention between token maps of different modalities.

:class:`CrossAttention` is multi-head attention whose queries come from one
sequence and keys/values from another, computed with
``torch.nn.functional.scaled_dot_product_attention`` (flash / memory-efficient
kernels where the device has them). :class:`CrossAttentionBlock` wraps it as a
post-norm transformer block on (B, C, h, w) maps: residual + LayerNorm after
the attention, residual + LayerNorm after the feed-forward network (the FMP
cross-domain and complementary fusion units of FusionSAM are this block).
:class:`WindowCrossAttentionBlock` is the same block with attention inside
non-overlapping windows (SwinFusion's window cross-attention).
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks.transformer import FFN
from mmengine.model import BaseModule
from segment_anything.modeling.image_encoder import (window_partition,
                                                     window_unpartition)
from torch import Tensor, nn

from mmseg.utils import ConfigType, OptMultiConfig


class CrossAttention(BaseModule):
    """Multi-head attention: queries from one sequence, keys/values from
    another.

    Args:
        embed_dims (int): Channels C of queries, keys and values.
        num_heads (int): Number of attention heads; must divide
            ``embed_dims``. Defaults to 8.
        attn_drop (float): Dropout on the attention weights (training only).
            Defaults to 0.
        proj_drop (float): Dropout after the output projection.
            Defaults to 0.
        init_cfg (dict, optional): Initialization config. Defaults to None.

    Shapes:
        query: (..., Nq, C); key_value: (..., Nk, C); attn_bias (optional):
        additive, broadcastable to (..., num_heads, Nq, Nk); output:
        (..., Nq, C). ``...`` are batch dimensions (e.g. batch and window).
    """

    def __init__(self,
                 *,
                 embed_dims: int,
                 num_heads: int = 8,
                 attn_drop: float = 0.0,
                 proj_drop: float = 0.0,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if embed_dims % num_heads != 0:
            raise ValueError(
                f'CrossAttention: embed_dims ({embed_dims}) must be '
                f'divisible by num_heads ({num_heads}).')
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.q_proj = nn.Linear(embed_dims, embed_dims)
        self.kv_proj = nn.Linear(embed_dims, 2 * embed_dims)
        self.out_proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)

    def _split_heads(self, x: Tensor) -> Tensor:
        """(..., N, C) -> (..., heads, N, C / heads)."""
        *batch, length, channels = x.shape
        return x.view(*batch, length, self.num_heads,
                      channels // self.num_heads).transpose(-3, -2)

    def forward(self,
                query: Tensor,
                key_value: Tensor,
                attn_bias: Optional[Tensor] = None) -> Tensor:
        """Attend from ``query`` (..., Nq, C) to ``key_value`` (..., Nk, C),
        adding ``attn_bias`` to the attention logits."""
        q = self._split_heads(self.q_proj(query))
        k, v = map(self._split_heads, self.kv_proj(key_value).chunk(2, -1))
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_bias,
            dropout_p=self.attn_drop if self.training else 0.0)
        out = out.transpose(-3, -2).flatten(-2)
        return self.proj_drop(self.out_proj(out))


class CrossAttentionBlock(BaseModule):
    """Post-norm cross-attention block on token maps.

    ``x = LN1(x + CrossAttention(x, kv))``, then ``x = LN2(x + FFN(x))``,
    where ``kv`` is the token sequence of all ``key_value_maps`` concatenated
    (each optionally average-pooled to ``kv_pool_size`` first).

    Args:
        embed_dims (int): Channels C of every map.
        num_heads (int): Attention heads. Defaults to 8.
        feedforward_channels (int, optional): Hidden width of the FFN.
            Defaults to ``4 * embed_dims``.
        kv_pool_size (int, optional): When set, each key/value map larger
            than ``kv_pool_size x kv_pool_size`` is adaptive-average-pooled
            to that size before attention, so memory grows with
            ``h * w * kv_pool_size**2`` instead of ``(h * w)**2``. None
            attends over every token. Defaults to None.
        attn_drop (float): Attention-weight dropout. Defaults to 0.
        ffn_drop (float): FFN dropout. Defaults to 0.
        norm_cfg (dict): Norm layer after attention and after the FFN.
            Defaults to ``dict(type='LN')``.
        act_cfg (dict): FFN activation. Defaults to ``dict(type='GELU')``.
        init_cfg (dict, optional): Initialization config. Defaults to None.

    Shapes:
        query_map: (B, C, h, w); key_value_maps: each (B, C, h_i, w_i);
        output: (B, C, h, w).
    """

    def __init__(self,
                 *,
                 embed_dims: int,
                 num_heads: int = 8,
                 feedforward_channels: Optional[int] = None,
                 kv_pool_size: Optional[int] = None,
                 attn_drop: float = 0.0,
                 ffn_drop: float = 0.0,
                 norm_cfg: ConfigType = dict(type='LN'),
                 act_cfg: ConfigType = dict(type='GELU'),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if kv_pool_size is not None and kv_pool_size < 1:
            raise ValueError('CrossAttentionBlock: kv_pool_size must be a '
                             f'positive int or None, got {kv_pool_size}.')
        self.kv_pool_size = kv_pool_size
        self.attn = CrossAttention(
            embed_dims=embed_dims, num_heads=num_heads, attn_drop=attn_drop)
        self.norm_attn = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = FFN(
            embed_dims=embed_dims,
            feedforward_channels=feedforward_channels or 4 * embed_dims,
            act_cfg=act_cfg,
            ffn_drop=ffn_drop)
        self.norm_ffn = build_norm_layer(norm_cfg, embed_dims)[1]

    def _key_value_tokens(self, key_value_maps: Sequence[Tensor]) -> Tensor:
        """Concatenate (optionally pooled) maps into (B, sum N_i, C)."""
        tokens = []
        for kv_map in key_value_maps:
            height, width = kv_map.shape[-2:]
            pool = self.kv_pool_size
            if pool is not None and height * width > pool * pool:
                kv_map = F.adaptive_avg_pool2d(
                    kv_map, (min(height, pool), min(width, pool)))
            tokens.append(kv_map.flatten(2).transpose(1, 2))
        return torch.cat(tokens, dim=1)

    def forward(self, query_map: Tensor,
                key_value_maps: Sequence[Tensor]) -> Tensor:
        """Update ``query_map`` with what it reads from ``key_value_maps``."""
        batch, channels, height, width = query_map.shape
        x = query_map.flatten(2).transpose(1, 2)
        x = self.residual_ffn(
            x, self.attn(x, self._key_value_tokens(key_value_maps)))
        return x.transpose(1, 2).reshape(batch, channels, height, width)

    def residual_ffn(self, tokens: Tensor, attended: Tensor) -> Tensor:
        """``LN2(y + FFN(y))`` with ``y = LN1(tokens + attended)``; both
        (..., C)."""
        return self.norm_ffn(self.ffn(self.norm_attn(tokens + attended)))


class WindowCrossAttentionBlock(CrossAttentionBlock):
    """:class:`CrossAttentionBlock` whose attention stays inside windows.

    The query map and every key/value map (all of the query's size) are cut
    into the same ``window_size x window_size`` windows; the tokens of a
    query window attend to the tokens of that window in every key/value map,
    with a learned relative-position bias per head. This is SwinFusion's
    window cross-attention (queries from one modality, keys/values from the
    other, window 8). ``shift_size`` moves the window grid down and right by
    that many tokens (Swin's shifted windows, which SwinFusion alternates
    with unshifted ones): the maps are zero-padded by ``shift_size`` at the
    top/left and up to whole windows at the bottom/right, and padded keys
    are masked out, so no output depends on the padding. Time and memory
    grow with ``h * w * window_size**2`` instead of ``(h * w)**2``.

    Args:
        window_size (int): Window side, in tokens. Defaults to 8.
        shift_size (int): Offset of the window grid, in
            ``[0, window_size)``. Defaults to 0.
        **kwargs: The :class:`CrossAttentionBlock` arguments but
            ``kv_pool_size``.

    Shapes:
        query_map: (B, C, h, w); key_value_maps: each (B, C, h, w);
        output: (B, C, h, w).
    """

    def __init__(self,
                 *,
                 window_size: int = 8,
                 shift_size: int = 0,
                 **kwargs) -> None:
        if kwargs.get('kv_pool_size') is not None:
            raise ValueError('WindowCrossAttentionBlock: kv_pool_size does '
                             'not apply to window attention; leave it None.')
        if window_size < 1 or not 0 <= shift_size < window_size:
            raise ValueError(
                'WindowCrossAttentionBlock: needs window_size >= 1 and 0 <= '
                f'shift_size < window_size, got window_size={window_size}, '
                f'shift_size={shift_size}.')
        super().__init__(**kwargs)
        self.window_size = window_size
        self.shift_size = shift_size
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * window_size - 1)**2, self.attn.num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer(
            'relative_position_index',
            _relative_position_index(window_size),
            persistent=False)

    def forward(self, query_map: Tensor,
                key_value_maps: Sequence[Tensor]) -> Tensor:
        """Update ``query_map`` with what each of its windows reads from the
        same window of ``key_value_maps``."""
        height, width = query_map.shape[-2:]
        for kv_map in key_value_maps:
            if kv_map.shape[-2:] != query_map.shape[-2:]:
                raise ValueError(
                    'WindowCrossAttentionBlock: key/value maps must have the '
                    f'query map\'s size {tuple(query_map.shape[-2:])}, got '
                    f'{tuple(kv_map.shape[-2:])}.')
        query, padded_hw = self._windows(query_map)
        key_value = torch.cat([self._windows(m)[0] for m in key_value_maps],
                              dim=2)
        attended = self.attn(
            query, key_value,
            self._attention_bias(query_map, len(key_value_maps)))
        attended = self._merge_windows(attended, padded_hw, height, width)
        return self.residual_ffn(query_map.permute(0, 2, 3, 1),
                                 attended).permute(0, 3, 1, 2)

    def _windows(self, maps: Tensor) -> Tuple[Tensor, Tuple[int, int]]:
        """(B, C, h, w) -> windows (B, num_windows, window_size**2, C) and
        the padded (Hp, Wp) of the shifted grid."""
        shift = self.shift_size
        tokens = F.pad(maps, (shift, 0, shift, 0)).permute(0, 2, 3,
                                                           1).contiguous()
        windows, padded_hw = window_partition(tokens, self.window_size)
        return windows.view(maps.shape[0], -1, self.window_size**2,
                            maps.shape[1]), padded_hw

    def _merge_windows(self, windows: Tensor, padded_hw: Tuple[int, int],
                       height: int, width: int) -> Tensor:
        """Windows (B, num_windows, window_size**2, C) -> (B, h, w, C)."""
        shift, size = self.shift_size, self.window_size
        tokens = window_unpartition(
            windows.reshape(-1, size, size, windows.shape[-1]), size,
            padded_hw, (height + shift, width + shift))
        return tokens[:, shift:, shift:]

    def _attention_bias(self, query_map: Tensor, num_maps: int) -> Tensor:
        """Relative-position bias (heads, N, num_maps * N), plus -inf on
        padded keys as (num_windows, heads, N, num_maps * N) when the grid
        needs padding (N = window_size**2)."""
        tokens = self.window_size**2
        bias = self.relative_position_bias_table[
            self.relative_position_index.flatten()].view(
                tokens, tokens, -1).permute(2, 0, 1).repeat(1, 1, num_maps)
        valid = self._windows(query_map.new_ones(1, 1,
                                                 *query_map.shape[-2:]))[0]
        valid = valid[0, :, :, 0].bool()
        if bool(valid.all()):
            return bias
        padding = torch.zeros_like(valid, dtype=bias.dtype).masked_fill(
            ~valid, float('-inf')).repeat(1, num_maps)
        return bias + padding[:, None, None, :]


def _relative_position_index(window_size: int) -> Tensor:
    """(N, N) long: row of a ((2 * window_size - 1)**2, heads) bias table
    for the offset between every two tokens of a window (N =
    window_size**2, Swin's indexing)."""
    axis = torch.arange(window_size)
    coords = torch.stack(torch.meshgrid(axis, axis, indexing='ij')).flatten(1)
    offsets = coords[:, :, None] - coords[:, None, :] + window_size - 1
    return offsets[0] * (2 * window_size - 1) + offsets[1]
