"""Cross-attention between token maps of different modalities.

:class:`CrossAttention` is multi-head attention whose queries come from one
sequence and keys/values from another, computed with
``torch.nn.functional.scaled_dot_product_attention`` (flash / memory-efficient
kernels where the device has them). :class:`CrossAttentionBlock` wraps it as a
post-norm transformer block on (B, C, h, w) maps: residual + LayerNorm after
the attention, residual + LayerNorm after the feed-forward network (the FMP
cross-domain and complementary fusion units of FusionSAM are this block).
"""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks.transformer import FFN
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmseg.utils import ConfigType, OptMultiConfig


class CrossAttention(BaseModule):
    """Multi-head attention: queries from one sequence, keys/values from another.

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
        query: (B, Nq, C); key_value: (B, Nk, C); output: (B, Nq, C).
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
        """(B, N, C) -> (B, heads, N, C / heads)."""
        batch, length, channels = x.shape
        return x.view(batch, length, self.num_heads,
                      channels // self.num_heads).transpose(1, 2)

    def forward(self, query: Tensor, key_value: Tensor) -> Tensor:
        """Attend from ``query`` (B, Nq, C) to ``key_value`` (B, Nk, C)."""
        q = self._split_heads(self.q_proj(query))
        k, v = map(self._split_heads, self.kv_proj(key_value).chunk(2, -1))
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0.0)
        out = out.transpose(1, 2).flatten(2)
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
        x = self.norm_attn(
            x + self.attn(x, self._key_value_tokens(key_value_maps)))
        x = self.norm_ffn(self.ffn(x))
        return x.transpose(1, 2).reshape(batch, channels, height, width)
