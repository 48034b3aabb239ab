"""Point and box prompts for SAM, placed in its input frame.

:class:`MaskPromptSampler` turns fusion-mask logits (or, in training only, a
ground-truth foreground) into SAM point and box prompts in the pixel
coordinates of a :class:`~fusionsam_mmseg.models.sam.frame.SAMInputFrame`.
"""
from typing import NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .frame import SAMInputFrame


class Prompts(NamedTuple):
    """SAM prompts for a batch, in SAM input-frame pixel coordinates.

    Attributes:
        points (tuple[Tensor, Tensor] | None): Coordinates (B, N, 2) as (x, y)
            and labels (B, N): 1 foreground point, -1 padding (not a point).
        boxes (Tensor | None): (B, 4) boxes as (x0, y0, x1, y1).
    """

    points: Optional[Tuple[Tensor, Tensor]]
    boxes: Optional[Tensor]


class MaskPromptSampler:
    """Point and box prompts from a fusion mask.

    Points are the ``num_points`` highest local maxima of the mask logits that
    lie on the mask (logit > 0, i.e. probability > 0.5); fewer maxima leave
    the remaining points as padding (label -1). The box is the extent of the
    mask (logit > 0), or the whole image when the mask is empty. Both are
    deterministic. :meth:`from_foreground` (training only, behind the head's
    ``gt_prompts_in_train``) draws random points from a given foreground.

    Args:
        num_points (int): Points per image; 0 disables points. Default: 10.
        use_box (bool): Whether to add the box prompt. Default: True.
        peak_kernel (int): Odd side of the window in which a point must be
            the maximum (keeps points apart). Default: 3.
    """

    def __init__(self,
                 num_points: int = 10,
                 use_box: bool = True,
                 peak_kernel: int = 3) -> None:
        if num_points < 0:
            raise ValueError(
                f'MaskPromptSampler: num_points={num_points}, expected >= 0.')
        if peak_kernel < 1 or peak_kernel % 2 == 0:
            raise ValueError(
                f'MaskPromptSampler: peak_kernel={peak_kernel}, expected an '
                'odd number >= 1.')
        self.num_points = num_points
        self.use_box = use_box
        self.peak_kernel = peak_kernel

    def from_logits(self, mask_logits: Tensor,
                    frame: SAMInputFrame) -> Prompts:
        """Prompts from (B, 1, h, w) fusion-mask logits covering the image."""
        logits = mask_logits.detach()[:, 0].float()
        foreground = logits > 0
        peaks = logits == F.max_pool2d(
            logits[:, None], self.peak_kernel, stride=1,
            padding=self.peak_kernel // 2)[:, 0]
        scores = logits.masked_fill(~(peaks & foreground), float('-inf'))
        return self._prompts(scores, foreground, frame)

    def from_foreground(self, foreground: Tensor,
                        frame: SAMInputFrame) -> Prompts:
        """Prompts from a (B, h, w) boolean foreground: ``num_points`` random
        foreground pixels and the foreground's box."""
        scores = torch.rand(foreground.shape, device=foreground.device)
        scores = scores.masked_fill(~foreground, float('-inf'))
        return self._prompts(scores, foreground, frame)

    def _prompts(self, scores: Tensor, foreground: Tensor,
                 frame: SAMInputFrame) -> Prompts:
        points = (self._top_points(scores, frame)
                  if self.num_points > 0 else None)
        boxes = self._boxes(foreground, frame) if self.use_box else None
        return Prompts(points, boxes)

    def _top_points(self, scores: Tensor,
                    frame: SAMInputFrame) -> Tuple[Tensor, Tensor]:
        batch_size, height, width = scores.shape
        count = min(self.num_points, height * width)
        top_scores, indices = scores.flatten(1).topk(count, dim=1)
        scale_x, scale_y = frame.pixel_scale((height, width))
        coords = torch.stack([
            (indices % width + 0.5) * scale_x - 0.5,
            (indices // width + 0.5) * scale_y - 0.5,
        ], dim=-1).float()
        labels = torch.where(torch.isfinite(top_scores), 1, -1)
        missing = self.num_points - count
        coords = F.pad(coords, (0, 0, 0, missing))
        labels = F.pad(labels, (0, missing), value=-1)
        return coords, labels

    @staticmethod
    def _boxes(foreground: Tensor, frame: SAMInputFrame) -> Tensor:
        _, height, width = foreground.shape
        scale_x, scale_y = frame.pixel_scale((height, width))
        x0, x1 = _extent(foreground.any(dim=1))
        y0, y1 = _extent(foreground.any(dim=2))
        return torch.stack([
            x0 * scale_x, y0 * scale_y, (x1 + 1) * scale_x - 1,
            (y1 + 1) * scale_y - 1
        ], dim=-1).float()


def _extent(occupied: Tensor) -> Tuple[Tensor, Tensor]:
    """First and last occupied index per row of (B, L); 0 and L-1 when a row
    is empty (the whole image)."""
    length = occupied.shape[1]
    positions = torch.arange(length, device=occupied.device)
    first = positions.masked_fill(~occupied, length).amin(dim=1)
    last = positions.masked_fill(~occupied, -1).amax(dim=1)
    empty = ~occupied.any(dim=1)
    return (first.masked_fill(empty, 0), last.masked_fill(empty, length - 1))
