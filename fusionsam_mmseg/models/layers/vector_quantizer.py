"""Vector quantizer of the LSTG backbone (VQ-VAE / VQ-GAN codebook).

Every spatial vector of a latent map ``z_e`` (B, D, h, w) is replaced by its
nearest codebook row (squared L2 distance). The gradient passes the
non-differentiable lookup unchanged (straight-through estimator): the output
is ``z_e + (z_q - z_e).detach()``.

The codebook (K, D) is either

* learned (``use_ema=False``): an ``nn.Parameter`` trained by the codebook
  term of :class:`~fusionsam_mmseg.models.losses.VQLoss`, or
* an exponential moving average of the vectors assigned to each code
  (``use_ema=True``, van den Oord et al. 2017, appendix): a buffer updated in
  training mode with Laplace-smoothed cluster sizes; the codebook term of the
  loss then carries no gradient and only the commitment term trains.

Both modes initialise the codebook from the first training batch (random
encoder outputs) and keep an exponential moving average of how many vectors
each code receives per step. Codes whose average falls below
``dead_code_threshold`` are restarted from random encoder outputs of the
current batch. Under distributed training the statistics are summed over
processes and the restart vectors are broadcast from rank 0, so every
process keeps the same codebook.

The nearest-code search and the statistics (EMA codebook, usage, restarts)
always run in fp32 with autocast off, so bf16 / fp16 autocast (mmseg's
``--amp``) picks the same codes as an fp32 run for the same latents.

Several latent maps can share one codebook
(:meth:`VectorQuantizer.quantize_jointly`, LSTG's ``share_codebook=True``):
they are quantized as one batch, so the codebook is initialised from, and
its statistics updated with, the vectors of all of them once per step; each
map keeps its own usage statistics.

The commitment weight beta lives in ``VQLoss``; the quantizer returns the
raw codes (:attr:`QuantizerOutput.codes`) that the loss needs.
"""
from typing import List, NamedTuple, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_reduce, broadcast
from mmengine.model import BaseModule
from torch import Tensor


class QuantizerOutput(NamedTuple):
    """What :class:`VectorQuantizer` returns.

    Attributes:
        quantized (Tensor): (B, D, h, w) straight-through output; its values
            are codebook rows, its gradient flows to the input latents.
        codes (Tensor): (B, D, h, w) the selected codebook rows, with the
            gradient path to a learned codebook (for the codebook loss).
        indices (Tensor): (B, h, w) long, selected code per position.
        perplexity (Tensor): scalar, exp(entropy) of this batch's code use.
        usage (Tensor): scalar, fraction of codes used in this batch.
    """
    quantized: Tensor
    codes: Tensor
    indices: Tensor
    perplexity: Tensor
    usage: Tensor


class VectorQuantizer(BaseModule):
    """Nearest-neighbour vector quantizer with a (K, D) codebook.

    Args:
        num_codes (int): Codebook size K. Default: 512.
        embed_dims (int): Code dimension D (channels of the latents).
            Default: 256.
        use_ema (bool): Update the codebook by exponential moving averages
            instead of gradients. Default: True.
        ema_decay (float): Decay of the moving averages (codebook and code
            usage). Default: 0.99.
        epsilon (float): Laplace smoothing of the EMA cluster sizes.
            Default: 1e-5.
        restart_dead_codes (bool): Re-initialise codes whose usage average
            falls below ``dead_code_threshold``. Default: True.
        dead_code_threshold (float): Minimum moving average of vectors
            assigned to a code per training step. Default: 0.01.
        init_cfg (dict, optional): Initialization config. Default: None.
    """

    def __init__(self,
                 *,
                 num_codes: int = 512,
                 embed_dims: int = 256,
                 use_ema: bool = True,
                 ema_decay: float = 0.99,
                 epsilon: float = 1e-5,
                 restart_dead_codes: bool = True,
                 dead_code_threshold: float = 0.01,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if num_codes < 1 or embed_dims < 1:
            raise ValueError(
                'VectorQuantizer: num_codes and embed_dims must be positive, '
                f'got num_codes={num_codes}, embed_dims={embed_dims}.')
        if not 0.0 <= ema_decay < 1.0:
            raise ValueError('VectorQuantizer: ema_decay must be in [0, 1), '
                             f'got {ema_decay}.')
        self.num_codes = num_codes
        self.embed_dims = embed_dims
        self.use_ema = use_ema
        self.ema_decay = ema_decay
        self.epsilon = epsilon
        self.restart_dead_codes = restart_dead_codes
        self.dead_code_threshold = dead_code_threshold

        codebook = torch.empty(num_codes, embed_dims).uniform_(
            -1.0 / num_codes, 1.0 / num_codes)
        if use_ema:
            self.register_buffer('codebook', codebook)
            self.register_buffer('ema_code_sum', codebook.clone())
        else:
            self.codebook = nn.Parameter(codebook)
        self.register_buffer('ema_cluster_size', torch.ones(num_codes))
        self.register_buffer('initialized', torch.zeros((), dtype=torch.long))

    def forward(self, latents: Tensor) -> QuantizerOutput:
        """Quantize latents; update the codebook statistics in training.

        Args:
            latents (Tensor): (B, D, h, w) encoder output.

        Returns:
            QuantizerOutput: quantized latents, codes, indices and stats.
        """
        if latents.dim() != 4 or latents.shape[1] != self.embed_dims:
            raise ValueError(
                'VectorQuantizer expects latents of shape (B, embed_dims='
                f'{self.embed_dims}, h, w), got {tuple(latents.shape)}.')
        with torch.autocast(device_type=latents.device.type, enabled=False):
            return self._quantize(latents.float())

    def _quantize(self, latents: Tensor) -> QuantizerOutput:
        """:meth:`forward` on fp32 latents, autocast off."""
        batch, dims, height, width = latents.shape
        flat = latents.permute(0, 2, 3, 1).reshape(-1, dims)
        if self.training and not bool(self.initialized):
            self._init_codebook_from(flat.detach())

        indices = self.nearest_code_indices(flat.detach())
        codes_flat = F.embedding(indices, self.codebook)
        codes = codes_flat.view(batch, height, width, dims).permute(0, 3, 1, 2)
        counts = torch.bincount(indices, minlength=self.num_codes).float()
        if self.training:
            self._update_statistics(flat.detach(), indices, counts)

        quantized = latents + (codes - latents).detach()
        return QuantizerOutput(
            quantized, codes.contiguous(), indices.view(batch, height, width),
            *_usage_statistics(counts))

    def quantize_jointly(self, latents: Sequence[Tensor]
                         ) -> List[QuantizerOutput]:
        """Quantize several latent maps against this one codebook.

        The maps are quantized as one batch (one codebook initialisation
        and one statistics update per call, from the vectors of all maps);
        each map gets its own output, with the perplexity and usage of its
        own codes.

        Args:
            latents (Sequence[Tensor]): M maps, each (B, D, h, w), of one
                shape.

        Returns:
            list[QuantizerOutput]: one per map, in order.
        """
        shapes = {tuple(z.shape) for z in latents}
        if len(shapes) != 1:
            raise ValueError(
                'VectorQuantizer.quantize_jointly expects latent maps of one '
                f'shape, got {[tuple(z.shape) for z in latents]}.')
        joint = self(torch.cat(list(latents), dim=0))
        outputs = []
        chunks = (t.chunk(len(latents))
                  for t in (joint.quantized, joint.codes, joint.indices))
        for quantized, codes, indices in zip(*chunks):
            counts = torch.bincount(
                indices.flatten(), minlength=self.num_codes).float()
            outputs.append(
                QuantizerOutput(quantized, codes, indices,
                                *_usage_statistics(counts)))
        return outputs

    @torch.no_grad()
    def nearest_code_indices(self, vectors: Tensor) -> Tensor:
        """Index of the nearest codebook row (squared L2) for each vector.

        Args:
            vectors (Tensor): (N, D).

        Returns:
            Tensor: (N,) long indices into the codebook.
        """
        codebook = self.codebook.detach()
        vectors = vectors.to(codebook.dtype)
        distances = (vectors.pow(2).sum(1, keepdim=True) -
                     2.0 * vectors @ codebook.t() +
                     codebook.pow(2).sum(1)[None, :])
        return distances.argmin(dim=1)

    @torch.no_grad()
    def _init_codebook_from(self, vectors: Tensor) -> None:
        """Set every code to a random vector of the first training batch."""
        self._reset_codes(
            torch.ones(self.num_codes, dtype=torch.bool,
                       device=vectors.device), vectors)
        self.initialized.fill_(1)

    @torch.no_grad()
    def _update_statistics(self, vectors: Tensor, indices: Tensor,
                           counts: Tensor) -> None:
        """EMA usage (and EMA codebook) update, then dead-code restarts."""
        counts = counts.clone()
        all_reduce(counts, op='sum')
        decay = self.ema_decay
        self.ema_cluster_size.mul_(decay).add_(counts, alpha=1.0 - decay)
        if self.use_ema:
            code_sum = torch.zeros_like(self.ema_code_sum)
            code_sum.index_add_(0, indices, vectors.to(code_sum.dtype))
            all_reduce(code_sum, op='sum')
            self.ema_code_sum.mul_(decay).add_(code_sum, alpha=1.0 - decay)
            total = self.ema_cluster_size.sum()
            smoothed = ((self.ema_cluster_size + self.epsilon) /
                        (total + self.num_codes * self.epsilon) * total)
            self.codebook.copy_(self.ema_code_sum / smoothed[:, None])
        if self.restart_dead_codes:
            dead = self.ema_cluster_size < self.dead_code_threshold
            if bool(dead.any()):
                self._reset_codes(dead, vectors)

    @torch.no_grad()
    def _reset_codes(self, mask: Tensor, vectors: Tensor) -> None:
        """Replace the codes selected by ``mask`` with random ``vectors``.

        The replacement rows are drawn on rank 0 and broadcast, so that all
        processes keep one codebook. Restarted codes get a usage of 1.
        """
        num_reset = int(mask.sum())
        picks = torch.randint(0, vectors.shape[0], (num_reset, ),
                              device=vectors.device)
        replacements = vectors[picks].to(self.codebook.dtype).contiguous()
        broadcast(replacements, src=0)
        self.codebook.data[mask] = replacements
        self.ema_cluster_size[mask] = 1.0
        if self.use_ema:
            self.ema_code_sum[mask] = replacements

    def extra_repr(self) -> str:
        return (f'num_codes={self.num_codes}, embed_dims={self.embed_dims}, '
                f'use_ema={self.use_ema}')


def _usage_statistics(counts: Tensor) -> Tuple[Tensor, Tensor]:
    """Perplexity (exp of the entropy of code use) and the fraction of codes
    used, from per-code counts (K,); both detached scalars."""
    probs = counts / counts.sum().clamp(min=1.0)
    perplexity = torch.exp(-(probs * torch.log(probs + 1e-10)).sum())
    return perplexity.detach(), (counts > 0).float().mean().detach()
