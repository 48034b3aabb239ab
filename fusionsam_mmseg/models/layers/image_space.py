"""Image space: colour conversions and the data preprocessor's normalisation.

Every room that turns model inputs back into images, or images into
luminance and chroma, reads these functions from here:

- BT.601 RGB -> YCbCr in floating point (:func:`rgb_to_ycbcr`, the
  FusionSAM fused-image loss);
- OpenCV's 8-bit RGB -> YCrCb and the SAGE authors' inverse
  (:func:`rgb_to_ycrcb`, :func:`ycrcb_to_rgb`), fused luminance recoloured
  with the visible chroma (:func:`colorize`) and the 8-bit rounding of saved
  images (:func:`to_8bit`);
- the ``mean`` / ``std`` of mmseg's ``SegDataPreProcessor``
  (:func:`input_normalization`) and its inverse (:func:`to_unit_range`), for
  models that compare outputs with their raw sources (fused-image losses,
  reconstructions, blacked-out modalities).

All images are (B, C, H, W) tensors.
"""
from typing import Optional, Tuple

import torch
from torch import Tensor, nn

_RGB_TO_YCBCR = (
    (0.299, 0.587, 0.114),
    (-0.168736, -0.331264, 0.5),
    (0.5, -0.418688, -0.081312),
)
# OpenCV's 8-bit RGB -> YCrCb (cv2.cvtColor of uint8 images, what the SAGE
# authors' loaders call): 14-bit fixed-point weights, rounded to nearest;
# Y = 0.299 R + 0.587 G + 0.114 B, Cr = 0.713 (R - Y), Cb = 0.564 (B - Y),
# the chroma offset by 128.
_OPENCV_SHIFT = 1 << 14
_OPENCV_LUMA = (4899, 9617, 1868)
_OPENCV_CHROMA = (11682, 9241)
# The SAGE authors' YCrCb -> RGB (their utils.YCrCb2RGB).
_YCRCB_TO_RGB = ((1.0, 1.403, 0.0), (1.0, -0.714, -0.344), (1.0, 0.0, 1.773))


def rgb_to_ycbcr(image: Tensor) -> Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> (B, 3, H, W) Y, Cb, Cr (Cb/Cr centred)."""
    matrix = image.new_tensor(_RGB_TO_YCBCR)
    return torch.einsum('oc,bchw->bohw', matrix, image)


def rgb_to_ycrcb(rgb: Tensor) -> Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> (B, 3, H, W) Y, Cr, Cb in [0, 1].

    The image is rounded to 8 bits, then converted as OpenCV converts
    8-bit images (its integer arithmetic, so the values are OpenCV's).
    """
    levels = torch.round(rgb * 255)
    half = _OPENCV_SHIFT // 2
    luma_weights = levels.new_tensor(_OPENCV_LUMA).view(1, 3, 1, 1)
    luma = torch.floor(((levels * luma_weights).sum(1, keepdim=True) + half) /
                       _OPENCV_SHIFT)
    offset = 128 * _OPENCV_SHIFT + half
    cr_weight, cb_weight = _OPENCV_CHROMA
    cr = torch.floor(((levels[:, :1] - luma) * cr_weight + offset) /
                     _OPENCV_SHIFT)
    cb = torch.floor(((levels[:, 2:] - luma) * cb_weight + offset) /
                     _OPENCV_SHIFT)
    return torch.cat([luma, cr, cb], 1).clamp(0, 255) / 255


def ycrcb_to_rgb(ycrcb: Tensor) -> Tensor:
    """(B, 3, H, W) Y, Cr, Cb in [0, 1] -> RGB, not clamped (the authors'
    ``YCrCb2RGB``)."""
    centred = ycrcb - ycrcb.new_tensor((0.0, 0.5, 0.5)).view(1, 3, 1, 1)
    return torch.einsum('oc,bchw->bohw', ycrcb.new_tensor(_YCRCB_TO_RGB),
                        centred)


def colorize(fused_y: Tensor, visible_rgb: Tensor) -> Tensor:
    """Fused luminance (B, 1, H, W) + the chroma of the visible image
    (B, 3, H, W) -> (B, 3, H, W) RGB in [0, 1] (the SAGE authors' test
    protocol, clamped as saving clamps)."""
    ycrcb = torch.cat([fused_y, rgb_to_ycrcb(visible_rgb)[:, 1:]], 1)
    return ycrcb_to_rgb(ycrcb).clamp(0.0, 1.0)


def to_8bit(image: Tensor) -> Tensor:
    """Image in [0, 1] -> uint8 of the same shape as
    ``torchvision.utils.save_image`` rounds it: floor(255 x + 0.5), clipped
    to 0..255."""
    return image.mul(255).add(0.5).clamp(0, 255).to(torch.uint8)


def input_normalization(data_preprocessor: Optional[nn.Module],
                        like: Tensor) -> Tuple[Tensor, Tensor]:
    """(mean, std) of shape (1, C, 1, 1) on ``like``'s device and dtype.

    mmseg's ``SegDataPreProcessor`` subtracts ``mean`` and divides by ``std``
    per channel (buffers of shape (C, 1, 1), present only when it
    normalises).

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
