"""SampledCrossEntropyLoss: cross-entropy averaged over the sampled pixels.

mmseg's ``OHEMPixelSampler`` marks the hard pixels of a batch with weight 1
(the others 0) and ``BaseDecodeHead.loss_by_feat`` hands that weight map to
the loss. mmseg's ``CrossEntropyLoss`` then divides the weighted sum by the
number of all pixels (or of the non-ignored ones with ``avg_non_ignore``),
so the loss shrinks as fewer pixels are kept. OHEM losses that average over
the kept pixels only (the ``OhemCrossEntropy`` of MemorySAM / CMNeXt /
semseg: ``mean(loss[kept])``) are this class::

    loss = loss_weight * sum_p w_p * CE_p / sum_p w_p      (w: sampler weight)

Without a weight map (no sampler) it is mmseg's ``CrossEntropyLoss``.
"""
from typing import Optional

from mmseg.models.losses import CrossEntropyLoss
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class SampledCrossEntropyLoss(CrossEntropyLoss):
    """mmseg's softmax ``CrossEntropyLoss`` averaged over the pixels a pixel
    sampler keeps.

    Args:
        **kwargs: ``CrossEntropyLoss`` arguments (``loss_weight``,
            ``class_weight``, ``loss_name``...); ``use_sigmoid`` and
            ``use_mask`` must stay False.
    """

    def __init__(self, **kwargs) -> None:
        if kwargs.get('use_sigmoid') or kwargs.get('use_mask'):
            raise ValueError(
                'SampledCrossEntropyLoss: use_sigmoid / use_mask are not '
                'supported; it averages the softmax cross-entropy over the '
                'sampled pixels.')
        super().__init__(**kwargs)

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                **kwargs) -> Tensor:
        """Cross-entropy of (N, K, H, W) scores and (N, H, W) labels; with a
        (N, H, W) sampler weight, averaged over its sum (the kept pixels)."""
        if weight is not None and avg_factor is None:
            avg_factor = weight.float().sum()
        return super().forward(
            cls_score, label, weight=weight, avg_factor=avg_factor, **kwargs)
