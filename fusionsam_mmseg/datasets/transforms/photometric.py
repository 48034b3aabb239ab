"""Photometric distortion for stacked visible + thermal images."""
import numpy as np
from mmseg.datasets.transforms import PhotoMetricDistortion
from mmseg.registry import TRANSFORMS
from numpy import random


@TRANSFORMS.register_module()
class RGBTPhotoMetricDistortion(PhotoMetricDistortion):
    """mmseg's ``PhotoMetricDistortion`` on the visible group only.

    The stock transform converts to HSV and crashes on 4 channels. Here the
    first ``modality_channels[0]`` (R, G, B) channels get the stock colour
    jitter; thermal channels are left alone unless ``distort_thermal`` is
    set, in which case they get random brightness and contrast (each with
    probability 0.5).

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
                 thermal_contrast_range=(0.8, 1.2),
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

    def transform(self, results: dict) -> dict:
        """Jitter the visible channels (and optionally the thermal ones)."""
        image = results['img']
        num_visible = results.get('modality_channels', (3, ))[0]
        if num_visible != 3:
            raise ValueError(
                f'RGBTPhotoMetricDistortion expects 3 visible channels first; '
                f'modality_channels is {results["modality_channels"]}.')
        visible_bgr = np.ascontiguousarray(image[..., 2::-1])
        visible_bgr = super().transform(dict(img=visible_bgr))['img']
        thermal = image[..., 3:]
        if self.distort_thermal:
            thermal = self._distort_thermal(thermal)
        results['img'] = np.concatenate([visible_bgr[..., ::-1], thermal],
                                        axis=2)
        return results
