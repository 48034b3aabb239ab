"""The stacked multi-modal input: one channel group per modality.

Datasets stack every modality of a sample into one (H, W, sum C_m) image
(visible first) and record ``modality_channels`` (e.g. ``(3, 1)``) and
``modality_names`` (e.g. ``('rgb', 'thermal')``). Backbones that treat the
modalities separately check and split the input with these two functions.
"""
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor


def check_modalities(owner: str, modality_channels: Sequence[int],
                     modality_names: Optional[Sequence[str]] = None
                     ) -> Tuple[Tuple[int, ...], Tuple[str, ...]]:
    """Validate the channel groups and their names.

    Args:
        owner (str): The class named in errors, e.g. ``'LSTG'``.
        modality_channels (Sequence[int]): Channels per modality, in order.
        modality_names (Sequence[str], optional): One name per modality;
            None gives ``m0``, ``m1``, ...

    Returns:
        tuple: ``(modality_channels, modality_names)`` as tuples.
    """
    channels = tuple(int(c) for c in modality_channels)
    if not channels or min(channels) < 1:
        raise ValueError(f'{owner}: modality_channels must list at least one '
                         'positive channel count per modality, got '
                         f'{tuple(modality_channels)}.')
    if modality_names is None:
        return channels, tuple(f'm{i}' for i in range(len(channels)))
    if len(modality_names) != len(channels):
        raise ValueError(
            f'{owner}: modality_names={tuple(modality_names)} must name each '
            f'of the {len(channels)} modalities of '
            f'modality_channels={channels}.')
    return channels, tuple(modality_names)


def split_modalities(owner: str, inputs: Tensor,
                     modality_channels: Sequence[int]) -> Tuple[Tensor, ...]:
    """Split (B, sum(modality_channels), H, W) into one tensor per modality.

    Returns:
        tuple[Tensor]: (B, C_m, H, W) per modality, in order.
    """
    expected = sum(modality_channels)
    if inputs.dim() != 4 or inputs.shape[1] != expected:
        raise ValueError(
            f'{owner}: modality_channels={tuple(modality_channels)} sums to '
            f'{expected} channels, but the input has shape '
            f'{tuple(inputs.shape)} (expected (B, {expected}, H, W)). Set '
            'modality_channels to match the dataset.')
    return tuple(torch.split(inputs, list(modality_channels), dim=1))
