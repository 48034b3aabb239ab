"""Pixel reconstruction loss (L1 or MSE)."""
from typing import Optional

import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.losses.utils import weight_reduce_loss
from mmseg.registry import MODELS
from torch import Tensor

_CRITERIA = {'l1': F.l1_loss, 'mse': F.mse_loss}


@MODELS.register_module()
class ReconstructionLoss(nn.Module):
    """Element-wise L1 or MSE between a reconstruction and its target.

    Args:
        criterion (str): 'l1' or 'mse'. Default: 'l1'.
        reduction (str): 'mean', 'sum' or 'none'. Default: 'mean'.
        loss_weight (float): Weight of the loss. Default: 1.0.
        loss_name (str): Key of this loss in the losses dict.
            Default: 'loss_recon'.
    """

    def __init__(self,
                 *,
                 criterion: str = 'l1',
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_recon'):
        super().__init__()
        if criterion not in _CRITERIA:
            raise ValueError(
                f'ReconstructionLoss: criterion must be one of '
                f'{sorted(_CRITERIA)}, got {criterion!r}.')
        self.criterion = criterion
        self.reduction = reduction
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): (B, C, H, W) reconstruction.
            target (Tensor): (B, C, H, W) target, same shape.
            weight (Tensor, optional): Element-wise weight broadcastable to
                ``pred``. Default: None.

        Returns:
            Tensor: scalar loss (or element-wise with reduction='none').
        """
        if pred.shape != target.shape:
            raise ValueError('ReconstructionLoss: pred and target must have '
                             f'the same shape, got {tuple(pred.shape)} and '
                             f'{tuple(target.shape)}.')
        loss = _CRITERIA[self.criterion](pred, target, reduction='none')
        if weight is not None:
            weight = weight.expand_as(loss).float()
        return self.loss_weight * weight_reduce_loss(
            loss, weight=weight, reduction=self.reduction)

    @property
    def loss_name(self) -> str:
        """Key of this loss in the losses dict."""
        return self._loss_name
