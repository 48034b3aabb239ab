"""FusionFidelityLoss: SAGE's pixel and gradient terms of a fused image.

For a fused luminance F, the sources Y (visible) and IR, and optionally a
reference fusion R (the other network of SAGE's teacher / student pair)::

    pixel    = w_Y MSE(F, Y) + w_IR MSE(F, IR) + w_R MSE(F, R)
    gradient = g_S L1(|grad F|, max(|grad Y|, |grad IR|))
             + g_R L1(|grad F|, |grad R|)

with |grad| = |Sobel_x| + |Sobel_y|, the terms of the official code. Its
teacher objective is ``mse_weights=(1, 1, 0), gradient_weights=(2, 0)``;
its student objective ``3 * (3, 2, 4)`` and ``3 * (9, 3)``.
"""
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn

from .fusion_loss import SobelGradient


@MODELS.register_module()
class FusionFidelityLoss(nn.Module):
    """Weighted MSE and Sobel-gradient terms against sources / reference.

    Args:
        mse_weights (Sequence[float]): (w_Y, w_IR, w_R). Default: (1, 1, 0).
        gradient_weights (Sequence[float]): (g_S, g_R). Default: (2, 0).

    ``forward(fused, visible_y, infrared, reference=None)`` takes
    (B, 1, H, W) images and returns ``dict(pixel=..., gradient=...)``
    (scalars). A non-zero reference weight needs ``reference``.
    """

    def __init__(self,
                 *,
                 mse_weights: Sequence[float] = (1.0, 1.0, 0.0),
                 gradient_weights: Sequence[float] = (2.0, 0.0)) -> None:
        super().__init__()
        if len(mse_weights) != 3 or len(gradient_weights) != 2:
            raise ValueError(
                'FusionFidelityLoss: mse_weights must be (w_Y, w_IR, w_R) '
                'and gradient_weights (g_sources, g_reference); got '
                f'{tuple(mse_weights)} and {tuple(gradient_weights)}.')
        self.mse_weights = tuple(float(w) for w in mse_weights)
        self.gradient_weights = tuple(float(w) for w in gradient_weights)
        self.gradient = SobelGradient()

    @property
    def uses_reference(self) -> bool:
        return bool(self.mse_weights[2] or self.gradient_weights[1])

    def forward(self, fused: Tensor, visible_y: Tensor, infrared: Tensor,
                reference: Optional[Tensor] = None) -> Dict[str, Tensor]:
        if self.uses_reference and reference is None:
            raise ValueError(
                'FusionFidelityLoss: a reference weight is set '
                f'(mse_weights={self.mse_weights}, gradient_weights='
                f'{self.gradient_weights}) but no reference was given.')
        w_y, w_ir, w_ref = self.mse_weights
        pixel = w_y * F.mse_loss(fused, visible_y) + \
            w_ir * F.mse_loss(fused, infrared)
        fused_gradient = self.gradient(fused)
        source_gradient = torch.maximum(
            self.gradient(visible_y), self.gradient(infrared))
        gradient = self.gradient_weights[0] * F.l1_loss(
            fused_gradient, source_gradient)
        if self.uses_reference:
            pixel = pixel + w_ref * F.mse_loss(fused, reference)
            gradient = gradient + self.gradient_weights[1] * F.l1_loss(
                fused_gradient, self.gradient(reference))
        return dict(pixel=pixel, gradient=gradient)
