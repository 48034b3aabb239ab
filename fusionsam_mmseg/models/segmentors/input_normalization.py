"""Undo the data preprocessor's normalisation (the one place that does).

mmseg's ``SegDataPreProcessor`` subtracts ``mean`` and divides by ``std``
per channel (buffers of shape (C, 1, 1), present only when it normalises).
Models that compare outputs with their raw sources (fused-image loss,
reconstructions, blacked-out modalities) map back through these functions.
"""
from typing import Optional, Tuple

from torch import Tensor, nn


def input_normalization(data_preprocessor: Optional[nn.Module],
                        like: Tensor) -> Tuple[Tensor, Tensor]:
    """(mean, std) of shape (1, C, 1, 1) on ``like``'s device and dtype.

    Args:
        data_preprocessor (nn.Module, optional): The model's preprocessor.
        like (Tensor): A (B, C, H, W) model input.

    Returns:
        tuple[Tensor, Tensor]: The preprocessor's mean and std, or 0 and 1
        (shape (1, 1, 1, 1)) when it does not normalise.
    """
    mean = getattr(data_preprocessor, 'mean', None)
    std = getattr(data_preprocessor, 'std', None)
    if mean is None or std is None:
        return like.new_zeros(1, 1, 1, 1), like.new_ones(1, 1, 1, 1)
    return mean.view(1, -1, 1, 1).to(like), std.view(1, -1, 1, 1).to(like)


def to_unit_range(inputs: Tensor,
                  data_preprocessor: Optional[nn.Module]) -> Tensor:
    """Normalised model inputs (B, C, H, W) back to raw / 255 in [0, 1]."""
    mean, std = input_normalization(data_preprocessor, inputs)
    return ((inputs * std + mean) / 255.0).clamp(0.0, 1.0)
