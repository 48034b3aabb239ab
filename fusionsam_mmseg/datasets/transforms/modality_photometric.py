"""Photometric transforms of named modalities of the stacked image.

:class:`LoadMultiModalImageFromFile` stacks the modalities one after another in
``results['img']`` and records ``modality_names`` / ``modality_channels``.
These transforms change the channels of the modalities they name and leave
every other channel bit-identical, for any number of modalities: e.g. the
MemorySAM authors blur RGB only on DELIVER and RGB and NIR on MCubeS, and
jitter the colours of RGB only.
"""
from typing import List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS


def modality_slices(results: dict, names: Sequence[str],
                    transform: str) -> List[slice]:
    """Channel slices of ``results['img']`` of the modalities ``names``.

    Args:
        results (dict): A sample with ``modality_names`` and
            ``modality_channels`` (set by ``LoadMultiModalImageFromFile``).
        names (Sequence[str]): Modalities wanted, e.g. ``('rgb', 'nir')``.
        transform (str): The caller, for the error message.

    Returns:
        list[slice]: One ``[start, stop)`` channel slice per name.
    """
    available = tuple(results.get('modality_names', ()))
    channels = tuple(results.get('modality_channels', ()))
    missing = [name for name in names if name not in available]
    if missing or len(available) != len(channels):
        raise ValueError(
            f'{transform}: {results.get("img_path", "the sample")} has '
            f'modality_names={available}, modality_channels={channels}; '
            f'expected the modalities {tuple(names)} among them (put it '
            'after LoadMultiModalImageFromFile).')
    starts = np.cumsum((0, ) + channels)
    indices = [available.index(name) for name in names]
    return [slice(int(starts[i]), int(starts[i + 1])) for i in indices]


def _check_range(value: Sequence[float], what: str) -> Tuple[float, float]:
    low, high = (float(v) for v in value)
    if not 0 <= low <= high:
        raise ValueError(f'{what}={tuple(value)}; expected (low, high) with '
                         '0 <= low <= high.')
    return low, high


@TRANSFORMS.register_module()
class ModalityGaussianBlur(BaseTransform):
    """Gaussian blur of the named modalities, with probability ``prob``.

    One draw per sample decides whether to blur and gives one sigma for all
    named modalities (``cv2.GaussianBlur``, borders reflected without the
    edge pixel, as torchvision's ``gaussian_blur``); the other channels are
    not touched. uint8 groups are rounded back to uint8.

    The MemorySAM authors' settings (Chenfei-Liao/MemorySAM):

    - DELIVER (``semseg/augmentations_mm.py``): RGB, ``prob=0.2``, a 3x3
      kernel with torchvision's default sigma for it, 0.8:
      ``kernel_size=3, sigma_range=(0.8, 0.8)``.
    - MCubeS (``semseg/datasets/mcubes.py``): RGB and NIR, ``prob=0.5``,
      sigma uniform in [0, 1), the kernel derived from sigma as OpenCV does
      for float images: ``kernel_size=None, sigma_range=(0.0, 1.0)``.

    Args:
        modalities (Sequence[str]): Names of the modalities to blur.
            Defaults to ``('rgb', )``.
        prob (float): Probability of blurring a sample. Defaults to 0.5.
        sigma_range (Sequence[float]): Sigma drawn uniformly from
            ``[low, high]``. Defaults to ``(0.8, 0.8)``.
        kernel_size (int, optional): Odd kernel side; None derives it from
            sigma (``round(8 * sigma + 1) | 1``). Defaults to 3.
    """

    def __init__(self,
                 modalities: Sequence[str] = ('rgb', ),
                 prob: float = 0.5,
                 sigma_range: Sequence[float] = (0.8, 0.8),
                 kernel_size: Optional[int] = 3) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'ModalityGaussianBlur: prob={prob}; expected '
                             'a probability in [0, 1].')
        if kernel_size is not None and (kernel_size < 1
                                        or kernel_size % 2 == 0):
            raise ValueError(f'ModalityGaussianBlur: kernel_size='
                             f'{kernel_size}; expected an odd size or None.')
        self.modalities = tuple(modalities)
        self.prob = prob
        self.sigma_range = _check_range(sigma_range,
                                        'ModalityGaussianBlur: sigma_range')
        self.kernel_size = kernel_size

    def transform(self, results: dict) -> dict:
        """Blur the named modalities' channels of ``results['img']``."""
        groups = modality_slices(results, self.modalities,
                                 'ModalityGaussianBlur')
        if np.random.rand() >= self.prob:
            return results
        sigma = np.random.uniform(*self.sigma_range)
        size = self.kernel_size or (int(round(8 * sigma + 1)) | 1)
        image = results['img'].copy()
        for group in groups:
            part = np.ascontiguousarray(image[..., group])
            image[..., group] = cv2.GaussianBlur(
                part, (size, size), sigma).reshape(part.shape)
        results['img'] = image
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(modalities={self.modalities}, '
                f'prob={self.prob}, sigma_range={self.sigma_range}, '
                f'kernel_size={self.kernel_size})')


@TRANSFORMS.register_module()
class ModalityColorJitter(BaseTransform):
    """Brightness, contrast and saturation of one 3-channel RGB modality.

    With probability ``prob`` the three factors are drawn uniformly from
    their ranges and applied in this order with mmcv's
    ``adjust_brightness`` / ``adjust_contrast`` / ``adjust_color`` (the
    blends of torchvision's ``adjust_*``, up to rounding); no hue change.
    The other channels are not touched. The MemorySAM authors' DELIVER
    setting (``RandomColorJitter(p=0.2)`` of ``semseg/augmentations_mm.py``)
    is the default.

    Args:
        modality (str): Name of the RGB modality (R, G, B order). Defaults
            to ``'rgb'``.
        prob (float): Probability of jittering a sample. Defaults to 0.2.
        brightness (Sequence[float]): Range of the brightness factor.
            Defaults to ``(0.5, 1.5)``.
        contrast (Sequence[float]): Range of the contrast factor. Defaults
            to ``(0.5, 1.5)``.
        saturation (Sequence[float]): Range of the saturation factor.
            Defaults to ``(0.5, 1.5)``.
    """

    def __init__(self,
                 modality: str = 'rgb',
                 prob: float = 0.2,
                 brightness: Sequence[float] = (0.5, 1.5),
                 contrast: Sequence[float] = (0.5, 1.5),
                 saturation: Sequence[float] = (0.5, 1.5)) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'ModalityColorJitter: prob={prob}; expected a '
                             'probability in [0, 1].')
        self.modality = modality
        self.prob = prob
        self.brightness = _check_range(brightness,
                                       'ModalityColorJitter: brightness')
        self.contrast = _check_range(contrast, 'ModalityColorJitter: contrast')
        self.saturation = _check_range(saturation,
                                       'ModalityColorJitter: saturation')

    def transform(self, results: dict) -> dict:
        """Jitter the RGB modality's channels of ``results['img']``."""
        group, = modality_slices(results, (self.modality, ),
                                 'ModalityColorJitter')
        if group.stop - group.start != 3:
            raise ValueError(
                f'ModalityColorJitter: {results.get("img_path", "the sample")}'
                f' has {group.stop - group.start} channel(s) of '
                f"'{self.modality}'; expected 3 (R, G, B).")
        if np.random.rand() >= self.prob:
            return results
        bgr = np.ascontiguousarray(results['img'][..., group][..., ::-1])
        bgr = mmcv.adjust_brightness(bgr, np.random.uniform(*self.brightness))
        bgr = mmcv.adjust_contrast(bgr, np.random.uniform(*self.contrast))
        bgr = mmcv.adjust_color(bgr, np.random.uniform(*self.saturation))
        image = results['img'].copy()
        image[..., group] = bgr[..., ::-1]
        results['img'] = image
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(modality={self.modality!r}, '
                f'prob={self.prob}, brightness={self.brightness}, '
                f'contrast={self.contrast}, saturation={self.saturation})')
