"""A faster, numerically equal drop-in for SAM's ``ImageEncoderViT``.

The frozen ViT is most of FusionSAM's cost. The stock ``segment_anything``
block computes attention by hand: it materialises the logits, adds the
decomposed relative-position terms with two broadcast adds, runs softmax and
a second matmul (four ``(B*heads, N, N)`` tensors). :class:`SDPABlock` keeps
the stock block's submodules (so the ``state_dict`` keys are the official
``blocks.<i>.attn.qkv.weight`` ...) and changes only how they are combined:

* attention runs through ``F.scaled_dot_product_attention`` (fused kernels:
  CPU flash attention, CUDA memory-efficient / flash);
* the relative-position terms ``rel_h (.., N, kh)`` and ``rel_w (.., N, kw)``
  are computed once per block, as in the stock code, then either
  (``rel_pos_mode='mask'``, default) broadcast-added into one additive
  ``attn_mask`` -- the only ``N x N`` tensor left, no logits/softmax
  temporaries -- or (``'concat'``) concatenated onto the queries and matched
  by one-hot columns appended to the keys, so that
  ``[q * scale, rel_h, rel_w] . [k, onehot(kh), onehot(kw)]`` equals the
  stock logits and no ``N x N`` tensor exists at all (more FLOPs, O(N)
  memory: use it where memory is the limit);
* ``qkv`` and ``proj`` run on the real tokens only. The stock block pads the
  normalised tokens with zeros before window partition; ``qkv(0)`` is the
  ``qkv`` bias, so the padded keys/values are that bias, added after the
  partition. ``proj`` acts per token, so applying it after un-partitioning
  only skips outputs the stock block throws away.

bf16/fp16 autocast, ``torch.compile`` (``nn.Module.compile``, which keeps
the ``state_dict`` keys) and activation checkpointing of the blocks (for a
gradient through the frozen encoder to its input) are constructor switches.
This module needs only torch and ``segment_anything`` (no OpenMMLab), so that
``tools/analysis/benchmark_sam_encoder.py`` can run on bare GPU machines.
"""
from typing import Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from segment_anything.modeling import image_encoder as _sam_image_encoder
from torch.utils.checkpoint import checkpoint

ImageEncoderViT = _sam_image_encoder.ImageEncoderViT

ATTENTION_MODES = ('sdpa', 'stock')
REL_POS_MODES = ('mask', 'concat')
_AUTOCAST_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16}


class SDPABlock(nn.Module):
    """A stock SAM ViT ``Block`` whose attention runs through SDPA.

    Args:
        block (nn.Module): the ``segment_anything`` ``Block`` to wrap; its
            ``norm1``, ``attn``, ``norm2`` and ``mlp`` are reused (shared
            parameters, same ``state_dict`` keys).
        rel_pos_mode (str): how the decomposed relative-position terms reach
            SDPA: ``'mask'`` (additive ``attn_mask``) or ``'concat'``
            (appended to q/k, no ``N x N`` tensor). Default: ``'mask'``.
    """

    def __init__(self, block: nn.Module, *, rel_pos_mode: str = 'mask'):
        super().__init__()
        if rel_pos_mode not in REL_POS_MODES:
            raise ValueError(f'SDPABlock: rel_pos_mode must be one of '
                             f'{REL_POS_MODES}, got {rel_pos_mode!r}')
        self.norm1 = block.norm1
        self.attn = block.attn
        self.norm2 = block.norm2
        self.mlp = block.mlp
        self.window_size = block.window_size
        self.rel_pos_mode = rel_pos_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x (Tensor): tokens (B, H, W, C). Returns: (B, H, W, C)."""
        x = x + self._attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))

    def _attention(self, x: torch.Tensor) -> torch.Tensor:
        """Windowed or global attention of normalised tokens (B, H, W, C)."""
        height, width = x.shape[1:3]
        qkv, padded_hw = self._qkv_windows(x)
        out = self._sdpa(qkv)
        if self.window_size > 0:
            out = _sam_image_encoder.window_unpartition(
                out, self.window_size, padded_hw, (height, width))
        return self.attn.proj(out)

    def _qkv_windows(
            self, x: torch.Tensor
    ) -> Tuple[torch.Tensor, Optional[Tuple[int, int]]]:
        """qkv of the windows the stock block attends over.

        Returns:
            tuple: qkv (B * num_windows, ws, ws, 3C) -- or (B, H, W, 3C) for
            global blocks -- and the padded (Hp, Wp) (None when global).
        """
        qkv_proj = self.attn.qkv
        if self.window_size == 0:
            return qkv_proj(x), None
        height, width = x.shape[1:3]
        needs_padding = height % self.window_size or width % self.window_size
        if not needs_padding or qkv_proj.bias is None:
            return _sam_image_encoder.window_partition(
                qkv_proj(x), self.window_size)
        windows, padded_hw = _sam_image_encoder.window_partition(
            F.linear(x, qkv_proj.weight), self.window_size)
        return windows + qkv_proj.bias, padded_hw

    def _sdpa(self, qkv: torch.Tensor) -> torch.Tensor:
        """Multi-head attention of qkv (b, h, w, 3C) -> (b, h, w, C)."""
        attn = self.attn
        batch, height, width, _ = qkv.shape
        q, k, v = qkv.reshape(batch, height * width, 3, attn.num_heads,
                              -1).permute(2, 0, 3, 1, 4).unbind(0)
        if not attn.use_rel_pos:
            out = F.scaled_dot_product_attention(q, k, v, scale=attn.scale)
        elif self.rel_pos_mode == 'mask':
            rel_h, rel_w = self._rel_pos_terms(q, height, width)
            bias = (rel_h.unsqueeze(-1) + rel_w.unsqueeze(-2)).flatten(-2)
            out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=bias.to(q.dtype), scale=attn.scale)
        else:
            out = self._concat_rel_pos_attention(q, k, v, height, width)
        return out.transpose(1, 2).reshape(batch, height, width, -1)

    def _rel_pos_terms(self, q: torch.Tensor, height: int,
                       width: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """Decomposed relative-position logits, as the stock block adds them.

        Args:
            q (Tensor): queries (b, heads, h*w, head_dim), unscaled.

        Returns:
            tuple: rel_h (b, heads, h*w, h) and rel_w (b, heads, h*w, w).
        """
        rel_pos_h = _sam_image_encoder.get_rel_pos(height, height,
                                                   self.attn.rel_pos_h)
        rel_pos_w = _sam_image_encoder.get_rel_pos(width, width,
                                                   self.attn.rel_pos_w)
        grid_q = q.unflatten(2, (height, width))
        rel_h = torch.einsum('bnhwc,hkc->bnhwk', grid_q, rel_pos_h)
        rel_w = torch.einsum('bnhwc,wkc->bnhwk', grid_q, rel_pos_w)
        return rel_h.flatten(2, 3), rel_w.flatten(2, 3)

    def _concat_rel_pos_attention(self, q: torch.Tensor, k: torch.Tensor,
                                  v: torch.Tensor, height: int,
                                  width: int) -> torch.Tensor:
        """Attention with the rel-pos terms folded into q and k.

        ``[q * scale, rel_h, rel_w] . [k, onehot(row), onehot(col)]`` is the
        stock logit ``scale * q.k + rel_h[row(k)] + rel_w[col(k)]``. v is
        zero-padded to the augmented head size so fused kernels (which want
        equal head sizes) apply; the padding is cut from the output.
        """
        rel_h, rel_w = self._rel_pos_terms(q, height, width)
        eye_h = torch.eye(height, dtype=q.dtype, device=q.device)
        eye_w = torch.eye(width, dtype=q.dtype, device=q.device)
        key_rows = eye_h.repeat_interleave(width, dim=0)
        key_cols = eye_w.repeat(height, 1)
        key_pos = torch.cat([key_rows, key_cols], dim=-1)
        q_aug = torch.cat([q * self.attn.scale, rel_h.to(q.dtype),
                           rel_w.to(q.dtype)], dim=-1)
        k_aug = torch.cat([k, key_pos.expand(*k.shape[:2], -1, -1)], dim=-1)
        head_dim = v.shape[-1]
        v_aug = F.pad(v, (0, height + width))
        out = F.scaled_dot_product_attention(q_aug, k_aug, v_aug, scale=1.0)
        return out[..., :head_dim]


class FastImageEncoderViT(ImageEncoderViT):
    """SAM's ``ImageEncoderViT`` with SDPA attention, autocast and compile.

    Loads the official ``image_encoder.*`` weights unchanged (same
    ``state_dict`` keys as the stock encoder).

    Args:
        attention (str): ``'sdpa'`` (:class:`SDPABlock`, default) or
            ``'stock'`` (the unchanged ``segment_anything`` blocks).
        rel_pos_mode (str): ``'mask'`` (default) or ``'concat'``; see
            :class:`SDPABlock`. Ignored for ``attention='stock'``.
        autocast_dtype (str | torch.dtype | None): run the forward under
            ``torch.autocast`` in ``'bf16'`` or ``'fp16'``; ``'auto'`` is
            bf16 for inputs on a CUDA device and no autocast elsewhere (a
            CPU run stays fp32). The output is cast back to the input dtype.
            None (default): no autocast.
        compile (bool | dict): ``torch.compile`` the encoder in place
            (``nn.Module.compile``; a dict gives ``torch.compile`` kwargs,
            e.g. ``dict(mode='max-autotune')``). Default: False.
        activation_checkpointing (bool): Where a gradient is recorded, run
            each block under ``torch.utils.checkpoint`` (non-reentrant): its
            activations are recomputed in the backward pass instead of
            kept, so a backward through the encoder (e.g. to its input)
            holds one block's activations at a time, for one more forward
            of compute. Default: False.
        **encoder_kwargs: ``ImageEncoderViT`` arguments (``img_size``,
            ``embed_dim``, ``depth``, ...; see
            :func:`~fusionsam_mmseg.models.sam.builder.build_sam_image_encoder`).

    Shapes:
        forward: (B, in_chans, img_size, img_size) images, normalised and
        padded to the square as ``Sam.preprocess`` does ->
        (B, out_chans, img_size / patch_size, img_size / patch_size).
    """

    def __init__(self,
                 *,
                 attention: str = 'sdpa',
                 rel_pos_mode: str = 'mask',
                 autocast_dtype: Union[str, torch.dtype, None] = None,
                 compile: Union[bool, dict] = False,
                 activation_checkpointing: bool = False,
                 **encoder_kwargs) -> None:
        if attention not in ATTENTION_MODES:
            raise ValueError(f'FastImageEncoderViT: attention must be one of '
                             f'{ATTENTION_MODES}, got {attention!r}')
        super().__init__(**encoder_kwargs)
        self.attention = attention
        self.activation_checkpointing = activation_checkpointing
        if attention == 'sdpa':
            self.blocks = nn.ModuleList(
                SDPABlock(block, rel_pos_mode=rel_pos_mode)
                for block in self.blocks)
        self.autocast_on_cuda_only = autocast_dtype == 'auto'
        self.autocast_dtype = (torch.bfloat16 if self.autocast_on_cuda_only
                               else _parse_autocast_dtype(autocast_dtype))
        if compile:
            self.compile(**({} if compile is True else dict(compile)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x (Tensor): (B, in_chans, S, S). Returns: (B, out, S/p, S/p).
        """
        self._check_input(x)
        dtype = self.autocast_dtype_for(x.device)
        if dtype is None:
            return self._embed(x)
        with torch.autocast(device_type=x.device.type, dtype=dtype):
            embeddings = self._embed(x)
        return embeddings.to(x.dtype)

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        """``ImageEncoderViT.forward``; with ``activation_checkpointing``
        and a gradient being recorded, each block is checkpointed."""
        if not (self.activation_checkpointing and torch.is_grad_enabled()):
            return super().forward(x)
        x = self.patch_embed(x)
        if self.pos_embed is not None:
            x = x + self.pos_embed
        for block in self.blocks:
            x = checkpoint(block, x, use_reentrant=False)
        return self.neck(x.permute(0, 3, 1, 2))

    def autocast_dtype_for(self, device: torch.device
                           ) -> Optional[torch.dtype]:
        """The autocast dtype of a forward on ``device`` (None: fp32)."""
        if self.autocast_on_cuda_only and device.type != 'cuda':
            return None
        return self.autocast_dtype

    def _check_input(self, x: torch.Tensor) -> None:
        in_chans = self.patch_embed.proj.in_channels
        expected = (in_chans, self.img_size, self.img_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f'FastImageEncoderViT expects images of shape (B, {in_chans}, '
                f'{self.img_size}, {self.img_size}) (resized so the long side '
                f'is image_size={self.img_size}, then padded to the square, '
                f'as Sam.preprocess does); got {tuple(x.shape)}')


def _parse_autocast_dtype(
    autocast_dtype: Union[str, torch.dtype, None]
) -> Optional[torch.dtype]:
    if autocast_dtype is None or isinstance(autocast_dtype, torch.dtype):
        return autocast_dtype
    if autocast_dtype not in _AUTOCAST_DTYPES:
        raise ValueError(f'FastImageEncoderViT: autocast_dtype must be None, '
                         f"'auto', {tuple(_AUTOCAST_DTYPES)} or a "
                         'torch.dtype, got '
                         f'{autocast_dtype!r}')
    return _AUTOCAST_DTYPES[autocast_dtype]
