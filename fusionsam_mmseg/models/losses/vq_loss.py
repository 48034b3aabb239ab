"""Codebook + commitment loss of a vector quantizer (van den Oord 2017)."""
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class VQLoss(nn.Module):
    """``loss_weight * (||sg[z_e] - e||² + beta * ||z_e - sg[e]||²)``.

    The codebook term moves the selected codes ``e`` toward the encoder
    output ``z_e``; the commitment term keeps ``z_e`` close to its codes.
    With an EMA codebook (no gradient to the codes) the codebook term is only
    logged as part of the value and trains nothing.

    Args:
        beta (float): Weight of the commitment term. Default: 0.25.
        loss_weight (float): Weight of the whole loss. Default: 1.0.
        loss_name (str): Key of this loss in the losses dict; must start
            with ``loss_`` to be summed by the runner. Default: 'loss_vq'.
    """

    def __init__(self,
                 *,
                 beta: float = 0.25,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_vq'):
        super().__init__()
        self.beta = beta
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, latents: Tensor, codes: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            latents (Tensor): (B, D, h, w) encoder output ``z_e``.
            codes (Tensor): (B, D, h, w) selected codebook rows ``e`` (not
                the straight-through output).

        Returns:
            Tensor: scalar loss.
        """
        if latents.shape != codes.shape:
            raise ValueError('VQLoss: latents and codes must have the same '
                             f'shape, got {tuple(latents.shape)} and '
                             f'{tuple(codes.shape)}.')
        codebook_term = F.mse_loss(codes, latents.detach())
        commitment_term = F.mse_loss(latents, codes.detach())
        return self.loss_weight * (codebook_term +
                                   self.beta * commitment_term)

    @property
    def loss_name(self) -> str:
        """Key of this loss in the losses dict."""
        return self._loss_name
