"""Test-time removal of one modality: a failed or missing sensor."""
import zlib
from typing import Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

DROP_MODES = ('zero', 'mean', 'noise')


@TRANSFORMS.register_module()
class DropModality(BaseTransform):
    """Replace the channels of one modality of the stacked image.

    Simulates a sensor that fails at test time. The stacked image of
    :class:`LoadMultiModalImageFromFile` is split by the sample's
    ``modality_channels`` / ``modality_names``; the named modality's
    channels are replaced, the others are left untouched:

    - ``'zero'``: 0 everywhere (a dead sensor);
    - ``'mean'``: each channel's own spatial mean everywhere (a sensor that
      sees nothing: no structure, the usual brightness);
    - ``'noise'``: Gaussian noise with each channel's own mean and standard
      deviation, clipped to 0..255 (a sensor that returns only noise); the
      noise is drawn from ``seed`` and the sample's ``img_path``, so every
      run (and every loader worker) gives the same pixels.

    Place it right after the loading steps (before any resizing), so the
    statistics are those of the native image. The image keeps its dtype.

    Args:
        modality (str): The modality to drop (one of the sample's
            ``modality_names``, e.g. ``'thermal'`` or ``'depth'``).
        mode (str): ``'zero'``, ``'mean'`` or ``'noise'``. Defaults to
            ``'zero'``.
        seed (int): Seed of the noise. Defaults to 0.
    """

    def __init__(self,
                 modality: str,
                 mode: str = 'zero',
                 seed: int = 0) -> None:
        if mode not in DROP_MODES:
            raise ValueError(f'DropModality: mode={mode!r}; expected one of '
                             f'{DROP_MODES}.')
        self.modality = modality
        self.mode = mode
        self.seed = seed

    def _channels(self, results: dict) -> Tuple[int, int]:
        """[start, stop) channels of the dropped modality in ``img``."""
        names = tuple(results.get('modality_names', ()))
        channels = tuple(results.get('modality_channels', ()))
        if self.modality not in names or len(names) != len(channels):
            raise ValueError(
                f'DropModality(modality={self.modality!r}): '
                f'{results.get("img_path", "the sample")} has '
                f'modality_names={names}, modality_channels={channels}; '
                'expected one of those names (put DropModality after '
                'LoadMultiModalImageFromFile).')
        index = names.index(self.modality)
        start = sum(channels[:index])
        return start, start + channels[index]

    def _replacement(self, group: np.ndarray, key: str) -> np.ndarray:
        """(H, W, C) values that take the place of ``group``; ``key``
        (the sample's path) seeds the noise."""
        if self.mode == 'zero':
            return np.zeros_like(group)
        values = group.astype(np.float64)
        mean = values.mean(axis=(0, 1))
        if self.mode == 'mean':
            replaced = np.broadcast_to(mean, group.shape)
        else:
            rng = np.random.default_rng(
                (self.seed, zlib.crc32(key.encode())))
            replaced = rng.normal(mean, values.std(axis=(0, 1)), group.shape)
        if group.dtype == np.uint8:
            return np.clip(np.round(replaced), 0, 255).astype(np.uint8)
        return np.clip(replaced, 0, 255).astype(group.dtype)

    def transform(self, results: dict) -> dict:
        """Replace the modality's channels of ``results['img']``."""
        start, stop = self._channels(results)
        image = results['img'].copy()
        image[..., start:stop] = self._replacement(
            image[..., start:stop], str(results.get('img_path', '')))
        results['img'] = image
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(modality={self.modality!r}, '
                f'mode={self.mode!r}, seed={self.seed})')
