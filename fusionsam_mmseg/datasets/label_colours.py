"""Colour label maps (one palette colour per class) to class-id maps."""
from typing import Sequence

import numpy as np

_MAX_LISTED = 5


def _packed(colours: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 R, G, B -> (...) int64 ``R << 16 | G << 8 | B``."""
    colours = colours.astype(np.int64)
    return colours[..., 0] << 16 | colours[..., 1] << 8 | colours[..., 2]


def ids_from_colours(label: np.ndarray, palette: Sequence[Sequence[int]],
                     path: str) -> np.ndarray:
    """Map a colour label map to class ids through the palette.

    Args:
        label (np.ndarray): (H, W, 3) uint8 label map in R, G, B order.
        palette (Sequence[Sequence[int]]): R, G, B colour of each class, in
            class order (class id = index); colours must be distinct.
        path (str): The label file, named in errors.

    Returns:
        np.ndarray: (H, W) uint8 class ids.

    Raises:
        ValueError: The map is not 3-channel 8-bit, or holds colours that are
            not in the palette (the first few are listed with their pixel
            counts).
    """
    if label.dtype != np.uint8 or label.ndim != 3 or label.shape[2] != 3:
        raise ValueError(
            f'colour label map {path} has shape {label.shape} and dtype '
            f'{label.dtype}; expected an 8-bit (H, W, 3) RGB PNG whose '
            'colours are those of the palette.')
    codes = _packed(np.asarray(palette, np.uint8))
    if len(codes) > 256 or len(set(codes.tolist())) != len(codes):
        raise ValueError(
            f'the palette used to read {path} has {len(codes)} colours, '
            'some of them equal (or more than 256); expected one distinct '
            'colour per class.')
    pixels = _packed(label)
    order = np.argsort(codes)
    index = np.clip(np.searchsorted(codes[order], pixels), 0, len(codes) - 1)
    ids = order[index]
    unknown = codes[ids] != pixels
    if unknown.any():
        values, counts = np.unique(pixels[unknown], return_counts=True)
        biggest = np.argsort(-counts)[:_MAX_LISTED]
        shown = ', '.join(
            f'{[int(v >> 16), int(v >> 8 & 255), int(v & 255)]} '
            f'({counts[i]} px)' for i, v in zip(biggest, values[biggest]))
        more = (f' and {len(values) - _MAX_LISTED} more'
                if len(values) > _MAX_LISTED else '')
        raise ValueError(
            f'colour label map {path} has {len(values)} colour(s) that are '
            f'not in the palette: {shown}{more}; expected only the palette '
            'colours of the classes (no anti-aliased edges: export labels '
            'without smoothing).')
    return ids.astype(np.uint8)
