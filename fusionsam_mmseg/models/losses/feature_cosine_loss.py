"""FeatureCosineLoss: feature-level distillation between two networks."""
from typing import Sequence

import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class FeatureCosineLoss(nn.Module):
    """``loss_weight * sum_l (1 - mean_b cos(a_l[b], t_l[b]))``, the cosine
    of the flattened maps of sample b at level l.

    SAGE's feature term (the official code: weight 0.3 for the student
    against the teacher, 0.01 the other way round).

    Args:
        loss_weight (float): Weight. Default: 1.0.

    ``forward(features, targets)`` takes two sequences of (B, C, h, w)
    maps of equal shapes, level by level, and returns a scalar.
    """

    def __init__(self, *, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, features: Sequence[Tensor],
                targets: Sequence[Tensor]) -> Tensor:
        if len(features) != len(targets):
            raise ValueError(
                f'FeatureCosineLoss: {len(features)} feature levels vs '
                f'{len(targets)} target levels; expected the same number.')
        total = 0.0
        for level, (feature, target) in enumerate(zip(features, targets)):
            if feature.shape != target.shape:
                raise ValueError(
                    f'FeatureCosineLoss: level {level} has shape '
                    f'{tuple(feature.shape)} vs target '
                    f'{tuple(target.shape)}; the student width must equal '
                    "the teacher's feature_channels.")
            cosine = F.cosine_similarity(feature.flatten(1),
                                         target.flatten(1), dim=1)
            total = total + 1 - cosine.mean()
        return self.loss_weight * total
