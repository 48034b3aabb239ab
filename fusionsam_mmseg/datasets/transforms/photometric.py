"""Photometric distortion for stacked multi-modal images."""
from typing import Sequence

import numpy as np
from mmseg.datasets.transforms import PhotoMetricDistortion
from mmseg.registry import TRANSFORMS
from numpy import random


@TRANSFORMS.register_module(
    name=['MultiModalPhotoMetricDistortion', 'RGBTPhotoMetricDistortion'])
class MultiModalPhotoMetricDistortion(PhotoMetricDistortion):
    """mmseg's ``PhotoMetricDistortion`` on the visible group only.

    The stock transform converts to HSV and crashes on more than 3
    channels. Here the visible group (the first ``modality_channels[0]`` =
    3 channels, R, G, B) gets the stock colour jitter, in 8 bits (a float
    stack's visible channels are rounded to uint8 first); every other
    modality (thermal, depth, event, LiDAR, polarisation, NIR) is left
    alone, for any number of modalities. With ``distort_thermal`` the
    modality named ``'thermal'`` also gets random brightness and contrast
    (each with probability 0.5).

    Args:
        distort_thermal (bool): Jitter thermal brightness / contrast.
            Defaults to False.
        thermal_brightness_delta (int): Max thermal brightness shift.
            Defaults to 16.
        thermal_contrast_range (tuple[float]): Thermal contrast factor
            range. Defaults to (0.8, 1.2).
        **kwargs: Colour-jitter arguments of ``PhotoMetricDistortion``.
    """

    def __init__(self,
                 distort_thermal: bool = False,
                 thermal_brightness_delta: int = 16,
                 thermal_contrast_range: Sequence[float] = (0.8, 1.2),
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.distort_thermal = distort_thermal
        self.thermal_brightness_delta = thermal_brightness_delta
        self.thermal_contrast_range = tuple(thermal_contrast_range)

    def _distort_thermal(self, thermal: np.ndarray) -> np.ndarray:
        if random.randint(2):
            thermal = self.convert(
                thermal,
                beta=random.uniform(-self.thermal_brightness_delta,
                                    self.thermal_brightness_delta))
        if random.randint(2):
            thermal = self.convert(
                thermal, alpha=random.uniform(*self.thermal_contrast_range))
        return thermal

    def _thermal_slice(self, results: dict) -> slice:
        """Channels of the modality named 'thermal' (after the visible)."""
        if 'modality_channels' not in results:
            return slice(3, results['img'].shape[2])
        channels = tuple(results.get('modality_channels', (3, )))
        names = tuple(results.get('modality_names', ('rgb', 'thermal')))
        if 'thermal' not in names:
            raise ValueError(
                'MultiModalPhotoMetricDistortion(distort_thermal=True): '
                f'{results.get("img_path", "the sample")} has '
                f'modality_names={names}, no thermal modality to distort.')
        index = names.index('thermal')
        start = sum(channels[:index])
        return slice(start, start + channels[index])

    def transform(self, results: dict) -> dict:
        """Jitter the visible channels (and optionally the thermal ones)."""
        image = results['img']
        channels = tuple(results.get('modality_channels', (3, )))
        if channels[0] != 3:
            raise ValueError(
                'MultiModalPhotoMetricDistortion expects 3 visible '
                f'channels first; modality_channels is {channels}.')
        visible = np.clip(np.round(image[..., :3]), 0, 255).astype(np.uint8)
        visible_bgr = np.ascontiguousarray(visible[..., ::-1])
        visible_bgr = super().transform(dict(img=visible_bgr))['img']
        others = image[..., 3:]
        if self.distort_thermal:
            others = others.copy()
            thermal = self._thermal_slice(results)
            thermal = slice(thermal.start - 3, thermal.stop - 3)
            others[..., thermal] = self._distort_thermal(others[..., thermal])
        results['img'] = np.concatenate(
            [visible_bgr[..., ::-1].astype(image.dtype), others], axis=2)
        return results
