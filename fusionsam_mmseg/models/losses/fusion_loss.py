"""FusionLoss: unsupervised image-fusion loss for the FMP fused image.

The fused image should keep, at every pixel, the brighter of the two sources
(intensity term) and the stronger of their edges (gradient term), the usual
targets of infrared-visible fusion (e.g. SeAFusion, Tang et al. 2022). Both
terms compare luminance; an optional chroma term keeps the visible colours so
that the 3-channel image the frozen SAM encoder sees stays a natural RGB image.

All images are in [0, 1]; thermal may have several channels (their mean is
the thermal intensity).
"""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmseg.registry import MODELS

_RGB_TO_YCBCR = (
    (0.299, 0.587, 0.114),
    (-0.168736, -0.331264, 0.5),
    (0.5, -0.418688, -0.081312),
)
_SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))


def rgb_to_ycbcr(image: Tensor) -> Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> (B, 3, H, W) Y, Cb, Cr (Cb/Cr centred)."""
    matrix = image.new_tensor(_RGB_TO_YCBCR)
    return torch.einsum('oc,bchw->bohw', matrix, image)


class SobelGradient(nn.Module):
    """|d/dx| + |d/dy| of a single-channel image (B, 1, H, W), replicate-padded."""

    def __init__(self) -> None:
        super().__init__()
        sobel_x = torch.tensor(_SOBEL_X)
        self.register_buffer(
            'kernels', torch.stack([sobel_x, sobel_x.t()]).unsqueeze(1),
            persistent=False)

    def forward(self, image: Tensor) -> Tensor:
        padded = F.pad(image, (1, 1, 1, 1), mode='replicate')
        grads = F.conv2d(padded, self.kernels.to(image.dtype))
        return grads.abs().sum(dim=1, keepdim=True)


@MODELS.register_module()
class FusionLoss(nn.Module):
    """Intensity + gradient (+ chroma) loss of a fused image vs its sources.

    ``loss = loss_weight * (intensity_weight * L1(Y_f, max(Y_v, T))
    + gradient_weight * L1(|grad Y_f|, max(|grad Y_v|, |grad T|))
    + chroma_weight * L1(CbCr_f, CbCr_v))`` with Y the luminance, T the
    thermal intensity and |grad| the Sobel magnitude.

    Args:
        intensity_weight (float): Weight of the intensity term.
            Defaults to 1.0.
        gradient_weight (float): Weight of the gradient term. Defaults to 1.0.
        chroma_weight (float): Weight of the term that keeps the visible
            chroma (0 disables it). Defaults to 0.5.
        loss_weight (float): Overall weight. Defaults to 1.0.
        loss_name (str): Key of the loss in the loss dict; must start with
            ``loss_`` to be summed. Defaults to 'loss_fusion_image'.

    Shapes:
        fused: (B, 3, H, W); visible: (B, 3, H, W); thermal: (B, Ct, H, W);
        all in [0, 1]. Returns a scalar.
    """

    def __init__(self,
                 *,
                 intensity_weight: float = 1.0,
                 gradient_weight: float = 1.0,
                 chroma_weight: float = 0.5,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_fusion_image') -> None:
        super().__init__()
        self.intensity_weight = intensity_weight
        self.gradient_weight = gradient_weight
        self.chroma_weight = chroma_weight
        self.loss_weight = loss_weight
        self._loss_name = loss_name
        self.gradient = SobelGradient()

    def forward(self, fused: Tensor, visible: Tensor,
                thermal: Tensor) -> Tensor:
        """Loss of ``fused`` against ``visible`` and ``thermal``."""
        if fused.shape[1] != 3 or visible.shape[1] != 3:
            raise ValueError(
                'FusionLoss expects 3-channel fused and visible images, got '
                f'fused {tuple(fused.shape)} and visible '
                f'{tuple(visible.shape)}.')
        if not fused.shape[-2:] == visible.shape[-2:] == thermal.shape[-2:]:
            raise ValueError(
                'FusionLoss: fused, visible and thermal must share H, W; got '
                f'{tuple(fused.shape)}, {tuple(visible.shape)}, '
                f'{tuple(thermal.shape)}.')
        fused_ycbcr = rgb_to_ycbcr(fused)
        visible_ycbcr = rgb_to_ycbcr(visible)
        fused_y, visible_y = fused_ycbcr[:, :1], visible_ycbcr[:, :1]
        thermal_y = thermal.mean(dim=1, keepdim=True)
        intensity = F.l1_loss(fused_y, torch.maximum(visible_y, thermal_y))
        gradient = F.l1_loss(
            self.gradient(fused_y),
            torch.maximum(self.gradient(visible_y), self.gradient(thermal_y)))
        chroma = F.l1_loss(fused_ycbcr[:, 1:], visible_ycbcr[:, 1:])
        return self.loss_weight * (
            self.intensity_weight * intensity +
            self.gradient_weight * gradient + self.chroma_weight * chroma)

    @property
    def loss_name(self) -> str:
        """Key of this loss in the loss dict."""
        return self._loss_name
