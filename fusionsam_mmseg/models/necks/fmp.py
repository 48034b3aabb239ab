"""FMP: Fusion Mask Prompting neck of FusionSAM.

Data flow for per-modality token maps ``z_1 .. z_N`` (each (B, C_in, h, w)):

1. Input projection: 1x1 conv to ``embed_dims`` plus a depthwise 3x3
   positional encoding (resolution-free, so any input size works).
2. Cross-domain fusion unit: every modality queries the others
   (``CrossAttentionBlock``: Q from modality m, K/V from every other
   modality, residual + LN, FFN + residual + LN). For N = 2 this is the
   paper's bidirectional cross-attention (RGB queries thermal, thermal
   queries RGB). For N > 2 it is the pairwise design generalised: modality m
   attends over the concatenated tokens of all N - 1 other modalities (one
   block per modality; no shared query).
3. Concat of the N enhanced maps + 3x3 conv -> initial fusion mask
   embedding M0 (B, embed_dims, h, w).
4. Complementary fusion unit: "the two modalities are first fused through a
   cross-attention mechanism to produce F_c ... then combined with the
   initial fusion mask M0"; F_c "encapsulates the distinctive features of
   each individual modality". ``complementary_unit`` (all: F_c + M0 or the
   attended M0 -> 3x3 conv -> fusion features F (B, out_channels, h, w)):

   * ``'bidirectional'`` (default, the paper's text): on the projected
     tokens of step 1, the visible (first) modality queries the others and
     every other modality queries the visible one (one block per
     modality); F_c is the mean of the N attended maps, F_c + M0.
   * ``'cross_modal'`` (the one-way unit of earlier checkpoints): F_c = the
     visible *enhanced* map querying the other enhanced maps, F_c + M0.
   * ``'mask_query'`` (the oldest checkpoints): M0 queries all enhanced
     maps (M0 + attention as the block's residual).

   The two one-way options keep their parameter names
   (``complementary_block.*``), so their checkpoints load strictly.
5. :class:`FusionOutputs`: fusion-mask logits (B, 1, h, w) and a fused
   image (B, 3, h * 2**k, w * 2**k) in [0, 1] decoded from F.

Attention (``attention``): ``'global'`` (default, the paper) attends
token-to-token over the whole map; ``'window'`` attends inside
``window_size x window_size`` windows (SwinFusion's window-8 cross-attention,
the fusion network of the authors' code;
:class:`~fusionsam_mmseg.models.layers.cross_attention.WindowCrossAttentionBlock`).
The cross-domain blocks use the plain window grid and the complementary
blocks the grid shifted by ``window_size // 2``, as SwinFusion alternates
windows and shifted windows, so the two units together cross every window
border.
"""
from typing import List, Optional, Sequence

import torch
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptMultiConfig
from ..layers.cross_attention import (CrossAttentionBlock,
                                      WindowCrossAttentionBlock)
from .fusion_neck_output import FusionNeckOutput
from .fusion_outputs import FusionOutputs

COMPLEMENTARY_UNITS = ('bidirectional', 'cross_modal', 'mask_query')
ATTENTIONS = ('global', 'window')


class ModalityProjection(BaseModule):
    """1x1 conv to ``embed_dims`` + depthwise 3x3 positional encoding.

    Args:
        in_channels (int): Channels of the modality's token map.
        embed_dims (int): Output channels.
        init_cfg (dict, optional): Initialization config. Defaults to None.

    Shapes:
        (B, in_channels, h, w) -> (B, embed_dims, h, w).
    """

    def __init__(self,
                 *,
                 in_channels: int,
                 embed_dims: int,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.proj = nn.Conv2d(in_channels, embed_dims, kernel_size=1)
        self.pos_embed = nn.Conv2d(
            embed_dims, embed_dims, kernel_size=3, padding=1,
            groups=embed_dims)

    def forward(self, tokens: Tensor) -> Tensor:
        x = self.proj(tokens)
        return x + self.pos_embed(x)


@MODELS.register_module()
class FMP(BaseModule):
    """Fusion Mask Prompting neck (cross-domain + complementary fusion).

    Args:
        in_channels (int): Channels of each modality's token map (the LSTG
            ``embed_dims``). Defaults to 256.
        num_modalities (int): Number N of token maps the backbone returns.
            Defaults to 2.
        embed_dims (int): Width of the attention units. Defaults to 256.
        num_heads (int): Attention heads. Defaults to 8.
        feedforward_channels (int, optional): FFN hidden width. Defaults to
            ``4 * embed_dims``.
        attention (str): ``'global'`` (token-to-token over the whole map, as
            the paper) or ``'window'`` (inside windows, SwinFusion's; see
            the module docstring). Defaults to ``'global'``.
        window_size (int): Window side in tokens for
            ``attention='window'``. Defaults to 8.
        kv_pool_size (int, optional): With ``attention='global'``, pool
            key/value maps to at most ``kv_pool_size x kv_pool_size`` tokens
            before attention, an approximation for small machines (see
            :class:`CrossAttentionBlock`). None attends token-to-token over
            the whole map, as the paper does. Defaults to None.
        complementary_unit (str): ``'bidirectional'`` (the paper: F_c from
            cross-attention in both directions between the projected
            modalities, added to M0), ``'cross_modal'`` (one way: the
            visible enhanced map queries the others) or ``'mask_query'`` (M0
            queries the modalities); see the module docstring. Defaults to
            ``'bidirectional'``.
        out_channels (int): Channels of the fusion features. Defaults to 256.
        image_channels (int): Width of the fused-image decoder.
            Defaults to 64.
        num_upsamples (int): Upsampling stages of the fused-image decoder;
            equals the backbone's ``num_downsamples`` so the fused image is at
            the input resolution. Defaults to 2.
        attn_drop (float): Attention dropout. Defaults to 0.
        ffn_drop (float): FFN dropout. Defaults to 0.
        norm_cfg (dict): Norm of the convolutions. Defaults to
            ``dict(type='BN')``.
        act_cfg (dict): Activation of the convolutions. Defaults to
            ``dict(type='ReLU')``.
        align_corners (bool): Upsampling ``align_corners``. Defaults to False.
        init_cfg (dict, optional): Initialization config. Defaults to None.

    Shapes:
        forward(tokens): N maps (B, in_channels, h, w) -> a
        :class:`FusionNeckOutput`: ``features`` (B, out_channels, h, w),
        ``mask_logits`` (B, 1, h, w), ``fused_image``
        (B, 3, h * 2**num_upsamples, w * 2**num_upsamples) in [0, 1].
        A stock decode head with ``in_index=0`` reads the fusion features.
    """

    def __init__(self,
                 *,
                 in_channels: int = 256,
                 num_modalities: int = 2,
                 embed_dims: int = 256,
                 num_heads: int = 8,
                 feedforward_channels: Optional[int] = None,
                 attention: str = 'global',
                 window_size: int = 8,
                 kv_pool_size: Optional[int] = None,
                 complementary_unit: str = 'bidirectional',
                 out_channels: int = 256,
                 image_channels: int = 64,
                 num_upsamples: int = 2,
                 attn_drop: float = 0.0,
                 ffn_drop: float = 0.0,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 align_corners: bool = False,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_modalities < 2:
            raise ValueError('FMP: num_modalities must be >= 2 (it fuses '
                             f'modalities), got {num_modalities}.')
        if complementary_unit not in COMPLEMENTARY_UNITS:
            raise ValueError(
                f'FMP: complementary_unit={complementary_unit!r} is not one '
                f'of {COMPLEMENTARY_UNITS}.')
        if attention not in ATTENTIONS:
            raise ValueError(
                f'FMP: attention={attention!r} is not one of {ATTENTIONS}.')
        if attention == 'window' and kv_pool_size is not None:
            raise ValueError(
                "FMP: kv_pool_size applies to attention='global' only; set "
                "it to None with attention='window'.")
        self.num_modalities = num_modalities
        self.complementary_unit = complementary_unit
        self.projections = nn.ModuleList(
            ModalityProjection(in_channels=in_channels, embed_dims=embed_dims)
            for _ in range(num_modalities))
        block_cfg = dict(
            embed_dims=embed_dims,
            num_heads=num_heads,
            feedforward_channels=feedforward_channels,
            attn_drop=attn_drop,
            ffn_drop=ffn_drop)
        if attention == 'window':
            block_type = WindowCrossAttentionBlock
            block_cfg.update(window_size=window_size)
            complementary_cfg = dict(block_cfg, shift_size=window_size // 2)
        else:
            block_type = CrossAttentionBlock
            block_cfg.update(kv_pool_size=kv_pool_size)
            complementary_cfg = block_cfg
        self.cross_domain_blocks = nn.ModuleList(
            block_type(**block_cfg) for _ in range(num_modalities))
        conv = dict(kernel_size=3, padding=1, norm_cfg=norm_cfg,
                    act_cfg=act_cfg)
        self.initial_fusion = ConvModule(num_modalities * embed_dims,
                                         embed_dims, **conv)
        if complementary_unit == 'bidirectional':
            self.complementary_blocks = nn.ModuleList(
                block_type(**complementary_cfg)
                for _ in range(num_modalities))
        else:
            self.complementary_block = block_type(**complementary_cfg)
        self.fusion_conv = ConvModule(embed_dims, out_channels, **conv)
        self.outputs = FusionOutputs(
            in_channels=out_channels,
            image_channels=image_channels,
            num_upsamples=num_upsamples,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            align_corners=align_corners)

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args,
                              **kwargs) -> None:
        """Load, after checking that the state dict's complementary unit
        has this FMP's layout (also where the loader is not strict, so that
        an old checkpoint never runs with a random unit)."""
        saved = {
            unit
            for unit, key in (('one-way', 'complementary_block.'),
                              ('bidirectional', 'complementary_blocks.'))
            if any(name.startswith(prefix + key) for name in state_dict)
        }
        built = ('bidirectional' if self.complementary_unit == 'bidirectional'
                 else 'one-way')
        if saved and built not in saved:
            raise ValueError(
                f"FMP '{prefix.rstrip('.')}': the state dict holds a "
                f'{saved.pop()} complementary unit, this FMP a {built} one '
                f'(complementary_unit={self.complementary_unit!r}). Set '
                "model.neck.complementary_unit to the checkpoint's: "
                "'bidirectional' ('complementary_blocks.*'), 'cross_modal' "
                "('complementary_block.*'; before commit f27a702: "
                "'mask_query').")
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def cross_domain_fusion(self, tokens: Sequence[Tensor]) -> List[Tensor]:
        """Each modality's map after querying the other modalities."""
        return [
            block(tokens[m], tokens[:m] + tokens[m + 1:])
            for m, block in enumerate(self.cross_domain_blocks)
        ]

    def forward(self, tokens: Sequence[Tensor]) -> FusionNeckOutput:
        """Fuse N token maps; see the class docstring for shapes."""
        if len(tokens) != self.num_modalities:
            raise ValueError(
                f'FMP expects {self.num_modalities} token maps (one per '
                f'modality, set by num_modalities) but got {len(tokens)}.')
        projected = [proj(t) for proj, t in zip(self.projections, tokens)]
        enhanced = self.cross_domain_fusion(projected)
        initial_mask = self.initial_fusion(torch.cat(enhanced, dim=1))
        return self.outputs(
            self.fusion_conv(
                self.complementary_fusion(projected, enhanced,
                                          initial_mask)))

    def complementary_fusion(self, projected: Sequence[Tensor],
                             enhanced: Sequence[Tensor],
                             initial_mask: Tensor) -> Tensor:
        """Complementary unit before its conv: F_c + M0
        (``'bidirectional'``, ``'cross_modal'``) or M0 after querying the
        modalities (``'mask_query'``).

        Args:
            projected (Sequence[Tensor]): N maps (B, embed_dims, h, w) from
                the input projection, visible first.
            enhanced (Sequence[Tensor]): N maps (B, embed_dims, h, w) from
                the cross-domain unit, visible first.
            initial_mask (Tensor): M0 (B, embed_dims, h, w).

        Returns:
            Tensor: (B, embed_dims, h, w).
        """
        if self.complementary_unit == 'bidirectional':
            return self.complementary_features(projected) + initial_mask
        if self.complementary_unit == 'mask_query':
            return self.complementary_block(initial_mask, enhanced)
        cross_modal = self.complementary_block(enhanced[0], enhanced[1:])
        return cross_modal + initial_mask

    def complementary_features(self, projected: Sequence[Tensor]) -> Tensor:
        """F_c of ``'bidirectional'``: the mean of the visible map querying
        the others and each other map querying the visible one.

        Args:
            projected (Sequence[Tensor]): N maps (B, embed_dims, h, w),
                visible first.

        Returns:
            Tensor: F_c (B, embed_dims, h, w).
        """
        visible, others = projected[0], list(projected[1:])
        first, *rest = self.complementary_blocks
        attended = [first(visible, others)] + [
            block(other, [visible]) for block, other in zip(rest, others)
        ]
        return torch.stack(attended).mean(dim=0)
