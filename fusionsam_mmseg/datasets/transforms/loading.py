"""Loading of stacked visible + thermal images and checked label maps."""
import os.path as osp
from typing import Optional

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine import fileio
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS


def _read_image(path: str, flag: str, backend_args: Optional[dict],
                what: str, channel_order: str = 'bgr') -> np.ndarray:
    """Decode an image file, naming it in every error.

    Returns:
        np.ndarray: (H, W) or (H, W, C) uint8 array.
    """
    if not osp.isfile(path) and backend_args is None:
        raise FileNotFoundError(f'{what} file {path} does not exist.')
    image = mmcv.imfrombytes(
        fileio.get(path, backend_args=backend_args),
        flag=flag,
        channel_order=channel_order,
        backend='cv2')
    if image is None:
        raise ValueError(f'{what} file {path} could not be decoded; expected '
                         'a readable PNG/JPEG image (is it truncated?).')
    if image.dtype != np.uint8:
        raise ValueError(f'{what} file {path} has dtype {image.dtype}; '
                         'expected 8-bit images.')
    return image


@TRANSFORMS.register_module()
class LoadRGBTImageFromFile(BaseTransform):
    """Load visible + thermal images into one (H, W, 3 + Ct) uint8 array.

    Channels are R, G, B, then the thermal channel(s), so every stock
    geometric transform moves both modalities together. Two layouts:

    - ``results['thermal_path']`` absent: ``img_path`` is one 4-channel PNG
      (MFNet: R, G, B, thermal stored as alpha). A 3-channel file is an
      error, never silently padded.
    - ``results['thermal_path']`` present (FMB, MSRS): ``img_path`` is the
      visible image and ``thermal_path`` the infrared image; a grey image
      stored in 3 channels keeps one channel.

    Added keys: ``img``, ``img_shape``, ``ori_shape`` and
    ``modality_channels`` (``(3, thermal_channels)``), which
    :class:`PackSegInputs` must list in its ``meta_keys``.

    Args:
        thermal_channels (int): Thermal channels kept. Defaults to 1.
        to_float32 (bool): Return float32 instead of uint8. Defaults to
            False.
        backend_args (dict, optional): mmengine file backend arguments.
    """

    def __init__(self,
                 thermal_channels: int = 1,
                 to_float32: bool = False,
                 backend_args: Optional[dict] = None) -> None:
        self.thermal_channels = thermal_channels
        self.to_float32 = to_float32
        self.backend_args = backend_args

    def _load_stacked(self, path: str) -> np.ndarray:
        """Read an MFNet-style PNG whose alpha channel holds the thermal."""
        image = _read_image(path, 'unchanged', self.backend_args,
                            'RGB-thermal image')
        expected = 3 + self.thermal_channels
        if image.ndim != 3 or image.shape[2] != expected:
            found = 1 if image.ndim == 2 else image.shape[2]
            raise ValueError(
                f'RGB-thermal image {path} has {found} channel(s); expected '
                f'{expected} (R, G, B, then thermal stored as alpha, as in '
                'MFNet). Set `thermal_path` for separate thermal files.')
        bgr, thermal = image[..., :3], image[..., 3:]
        return np.concatenate([bgr[..., ::-1], thermal], axis=2)

    def _load_pair(self, visible_path: str, thermal_path: str) -> np.ndarray:
        """Read separate visible (RGB) and thermal (grey) images."""
        visible = _read_image(visible_path, 'color', self.backend_args,
                              'visible image', channel_order='rgb')
        thermal = _read_image(thermal_path, 'unchanged', self.backend_args,
                              'thermal image')
        if thermal.ndim == 2:
            thermal = thermal[..., None]
        if thermal.shape[2] < self.thermal_channels:
            raise ValueError(
                f'thermal image {thermal_path} has {thermal.shape[2]} '
                f'channel(s); expected at least {self.thermal_channels}.')
        thermal = thermal[..., :self.thermal_channels]
        if visible.shape[:2] != thermal.shape[:2]:
            raise ValueError(
                f'visible image {visible_path} is {visible.shape[:2]} (H, W) '
                f'but thermal image {thermal_path} is {thermal.shape[:2]}; '
                'expected aligned pairs of the same size (nothing is '
                'resized or cropped silently).')
        return np.concatenate([visible, thermal], axis=2)

    def transform(self, results: dict) -> dict:
        """Load the pair and record the modality channel split."""
        thermal_path = results.get('thermal_path')
        if thermal_path is None:
            image = self._load_stacked(results['img_path'])
        else:
            image = self._load_pair(results['img_path'], thermal_path)
        if self.to_float32:
            image = image.astype(np.float32)
        results['img'] = np.ascontiguousarray(image)
        results['img_shape'] = image.shape[:2]
        results['ori_shape'] = image.shape[:2]
        results['modality_channels'] = (3, self.thermal_channels)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(thermal_channels='
                f'{self.thermal_channels}, to_float32={self.to_float32})')


@TRANSFORMS.register_module()
class LoadCheckedAnnotations(LoadAnnotations):
    """mmseg's ``LoadAnnotations`` that rejects unknown label values.

    Raw label values must lie in ``[0, num_label_values)`` or equal
    ``ignore_index``; the check runs before ``label_map`` /
    ``reduce_zero_label``. ``num_label_values`` comes from the dataset's data
    info (set by the datasets of this package) unless given here. The label
    map must have the image's size.

    Args:
        num_label_values (int, optional): Number of raw label values.
        ignore_index (int): Label value that is always allowed. Defaults to
            255.
        **kwargs: Passed to :class:`mmseg.datasets.transforms.LoadAnnotations`.
    """

    def __init__(self,
                 num_label_values: Optional[int] = None,
                 ignore_index: int = 255,
                 imdecode_backend: str = 'cv2',
                 **kwargs) -> None:
        super().__init__(imdecode_backend=imdecode_backend, **kwargs)
        self.num_label_values = num_label_values
        self.ignore_index = ignore_index

    def _load_seg_map(self, results: dict) -> None:
        path = results['seg_map_path']
        label = _read_image(path, 'unchanged', self.backend_args, 'label map')
        if label.ndim != 2:
            raise ValueError(f'label map {path} has shape {label.shape}; '
                             'expected a single-channel PNG of class ids.')
        if 'img_shape' in results and label.shape != tuple(
                results['img_shape'][:2]):
            raise ValueError(
                f'label map {path} is {label.shape} (H, W) but its image '
                f'{results["img_path"]} is {tuple(results["img_shape"][:2])}; '
                'expected the same size.')
        num_values = self.num_label_values or results.get('num_label_values')
        if num_values is not None:
            bad = np.unique(label[(label >= num_values)
                                  & (label != self.ignore_index)])
            if bad.size:
                raise ValueError(
                    f'label map {path} contains value(s) {bad.tolist()}; '
                    f'expected class ids 0..{num_values - 1} or '
                    f'{self.ignore_index} (ignore).')
        super()._load_seg_map(results)
