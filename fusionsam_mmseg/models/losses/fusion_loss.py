"""FusionLoss: unsupervised image-fusion loss for the FMP fused image.

The fused image should keep, at every pixel, the brighter of the visible
image and another source (intensity term) and the stronger of their edges
(gradient term), the usual targets of infrared-visible fusion (e.g.
SeAFusion, Tang et al. 2022). Each modality after the visible one (thermal;
or depth, event, LiDAR, ...) is a source of its own, paired with the
visible image. Both terms compare luminance; an optional chroma term keeps
the visible colours so that the 3-channel image the frozen SAM encoder sees
stays a natural RGB image.

All images are in [0, 1]; a source may have several channels (their mean is
its intensity).
"""
from typing import Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmseg.registry import MODELS
from ..layers.image_space import rgb_to_ycbcr

_SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))


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

    ``loss = loss_weight * (mean_k [intensity_weight * L1(Y_f, max(Y_v, S_k))
    + gradient_weight * L1(|grad Y_f|, max(|grad Y_v|, |grad S_k|))]
    + chroma_weight * L1(CbCr_f, CbCr_v))`` with Y the luminance, S_k the
    intensity (channel mean) of the k-th non-visible source, the mean over
    the K sources, and |grad| the Sobel magnitude. With one source (RGB-T)
    this is the two-source loss of SeAFusion; RGB-D-E-L has K = 3 sources,
    each judged against the visible image on its own.

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
        fused: (B, 3, H, W); visible: (B, 3, H, W); others: one (B, C_k, H, W)
        tensor per non-visible source, or a single tensor for one source;
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
                others: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        """Loss of ``fused`` against ``visible`` and each other source."""
        others = [others] if isinstance(others, Tensor) else list(others)
        self._check_shapes(fused, visible, others)
        fused_ycbcr = rgb_to_ycbcr(fused)
        visible_ycbcr = rgb_to_ycbcr(visible)
        fused_y, visible_y = fused_ycbcr[:, :1], visible_ycbcr[:, :1]
        terms = [
            self._source_term(fused_y, visible_y,
                              other.mean(dim=1, keepdim=True))
            for other in others
        ]
        chroma = F.l1_loss(fused_ycbcr[:, 1:], visible_ycbcr[:, 1:])
        return self.loss_weight * (
            sum(terms) / len(terms) + self.chroma_weight * chroma)

    def _source_term(self, fused_y: Tensor, visible_y: Tensor,
                     source_y: Tensor) -> Tensor:
        """Weighted intensity + gradient terms of one (B, 1, H, W) source."""
        intensity = F.l1_loss(fused_y, torch.maximum(visible_y, source_y))
        gradient = F.l1_loss(
            self.gradient(fused_y),
            torch.maximum(self.gradient(visible_y), self.gradient(source_y)))
        return self.intensity_weight * intensity + \
            self.gradient_weight * gradient

    @staticmethod
    def _check_shapes(fused: Tensor, visible: Tensor,
                      others: Sequence[Tensor]) -> None:
        """Raise unless fused / visible have 3 channels and all share H, W."""
        if fused.shape[1] != 3 or visible.shape[1] != 3:
            raise ValueError(
                'FusionLoss expects 3-channel fused and visible images, got '
                f'fused {tuple(fused.shape)} and visible '
                f'{tuple(visible.shape)}.')
        if not others:
            raise ValueError(
                'FusionLoss: no source besides the visible image; expected '
                'one (B, C, H, W) tensor per other modality.')
        sizes = {tuple(image.shape[-2:])
                 for image in (fused, visible, *others)}
        if len(sizes) > 1:
            raise ValueError(
                'FusionLoss: fused, visible and the other sources must share '
                f'H, W; got {tuple(fused.shape)}, {tuple(visible.shape)}, '
                f'{[tuple(other.shape) for other in others]}.')

    @property
    def loss_name(self) -> str:
        """Key of this loss in the loss dict."""
        return self._loss_name
