"""Loading of stacked multi-modal images and checked label maps.

Value convention of the stacked image: every channel is on the 0..255 scale.
8-bit PNGs keep their values (the stack stays uint8 when every file is 8-bit);
16-bit PNGs are scaled by 255 / 65535 and ``.npy`` arrays from their
documented value range ``(low, high)`` to 0..255 (``255 * (x - low) /
(high - low)``); a stack holding either is float32.
"""
import io
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
from mmcv.image.geometric import cv2_interp_codes
from mmcv.transforms import BaseTransform
from mmengine import fileio
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS

from ..label_colours import ids_from_colours

Source = Union[str, Sequence[str]]
_UINT16_SCALE = 255.0 / 65535.0


def _read_bytes(path: str, backend_args: Optional[dict], what: str) -> bytes:
    if backend_args is None and not osp.isfile(path):
        raise FileNotFoundError(f'{what} file {path} does not exist.')
    return fileio.get(path, backend_args=backend_args)


def decode_image(path: str, backend_args: Optional[dict],
                 what: str) -> np.ndarray:
    """Decode a PNG/JPEG with its channels in file order (R, G, B[, A]).

    Returns:
        np.ndarray: (H, W, C) uint8 or uint16 array.
    """
    image = mmcv.imfrombytes(
        _read_bytes(path, backend_args, what), flag='unchanged',
        backend='cv2')
    if image is None:
        raise ValueError(f'{what} file {path} could not be decoded; expected '
                         'a readable PNG/JPEG image (is it truncated?).')
    if image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f'{what} file {path} has dtype {image.dtype}; '
                         'expected 8- or 16-bit images.')
    if image.ndim == 2:
        return image[..., None]
    if image.shape[2] >= 3:  # cv2 decodes B, G, R[, A]
        image = np.concatenate([image[..., 2::-1], image[..., 3:]], axis=2)
    return image


def read_npy(path: str, backend_args: Optional[dict], what: str,
             value_range: Optional[Tuple[float, float]]) -> np.ndarray:
    """Load a float ``.npy`` array and scale ``value_range`` to 0..255.

    Returns:
        np.ndarray: (H, W, C) float32 array in [0, 255].
    """
    if value_range is None:
        raise ValueError(
            f'{what} file {path} is a .npy array but '
            'LoadMultiModalImageFromFile has no value range for it; set '
            'npy_value_ranges={...: (low, high)} for this modality so it can '
            'be scaled to 0..255.')
    try:
        array = np.load(io.BytesIO(_read_bytes(path, backend_args, what)),
                        allow_pickle=False)
    except ValueError as error:
        raise ValueError(f'{what} file {path} is not a readable .npy array '
                         f'({error}).') from error
    if not np.issubdtype(array.dtype, np.floating) or array.ndim not in (2,
                                                                        3):
        raise ValueError(
            f'{what} file {path} holds a {array.dtype} array of shape '
            f'{array.shape}; expected a float (H, W) or (H, W, C) array.')
    low, high = value_range
    finite = np.isfinite(array)
    if not finite.all() or array.min() < low or array.max() > high:
        found = (f'{int((~finite).sum())} non-finite value(s)'
                 if not finite.all() else
                 f'values in [{array.min():.4g}, {array.max():.4g}]')
        raise ValueError(
            f'{what} file {path} has {found}; expected values in '
            f'[{low}, {high}] (npy_value_ranges of '
            'LoadMultiModalImageFromFile).')
    scaled = (array.astype(np.float32) - low) * (255.0 / (high - low))
    return scaled if scaled.ndim == 3 else scaled[..., None]


def match_channels(image: np.ndarray, expected: int, path: str,
                   what: str) -> np.ndarray:
    """Return ``image`` with ``expected`` channels without losing data.

    A grey image stored in 3 identical channels keeps one when 1 is expected;
    a fully opaque alpha channel is dropped when 3 are expected. Anything
    else that differs from ``expected`` is an error.
    """
    found = image.shape[2]
    if found == expected:
        return image
    if expected == 1 and found == 3 and (image[..., :1] == image).all():
        return image[..., :1]
    if expected == 3 and found == 4 and image.dtype.kind == 'u' and \
            (image[..., 3] == np.iinfo(image.dtype).max).all():
        return image[..., :3]
    raise ValueError(
        f'{what} file {path} has {found} channel(s); expected {expected} '
        '(a grey image in 3 equal channels counts as 1, an opaque alpha '
        'channel is dropped; nothing else is converted).')


def to_0_255(image: np.ndarray) -> np.ndarray:
    """uint8 unchanged; uint16 scaled to float32 0..255; float kept."""
    if image.dtype == np.uint16:
        return image.astype(np.float32) * _UINT16_SCALE
    return image


@TRANSFORMS.register_module(
    name=['LoadMultiModalImageFromFile', 'LoadRGBTImageFromFile'])
class LoadMultiModalImageFromFile(BaseTransform):
    """Load N modalities into one (H, W, sum C_m) array, visible first.

    Channels are R, G, B, then each further modality with its native
    channels (see the module docstring for the 0..255 value convention), so
    every stock geometric transform moves all modalities together. Two
    layouts of ``results``:

    - ``modality_paths`` present (DELIVER, MCubeS, FMB, MSRS, PST900):
      ``img_path`` is the visible image and ``modality_paths`` one source
      per further modality, a path or a list of paths whose channels are
      concatenated (MCubeS AoLP = sin and cos ``.npy``).
      ``modality_names`` and ``modality_channels`` (expected channels per
      modality, visible included) give one entry per source; for one
      further source they default to ``('rgb', 'thermal')`` and
      ``(3, thermal_channels)`` (RGB-T). A grey image stored in 3 channels
      keeps one.
    - absent: ``img_path`` is one stacked PNG (MFNet: R, G, B, thermal as
      alpha). A 3-channel file is an error, never silently padded.

    Files are ``.png`` (8- or 16-bit) or ``.npy`` (float, scaled from its
    ``npy_value_ranges`` entry). Every modality must have the visible
    image's height and width: nothing is resized, cropped or padded, unless
    ``resize_to_visible`` names the modality.

    Added keys: ``img``, ``img_shape``, ``ori_shape``, ``modality_channels``
    and ``modality_names``, which :class:`PackSegInputs` must list in its
    ``meta_keys``.

    Args:
        thermal_channels (int): Thermal channels for results that do not
            list ``modality_channels`` (files given directly, e.g. by the
            inferencer). Defaults to 1.
        npy_value_ranges (dict[str, tuple[float, float]], optional): Value
            range of the ``.npy`` files of each modality, by modality name,
            mapped linearly to 0..255; values outside it are an error.
            E.g. ``dict(aolp=(-1, 1), dolp=(0, 1))``. Defaults to None.
        to_float32 (bool): Return float32 even for all-8-bit stacks.
            Defaults to False.
        backend_args (dict, optional): mmengine file backend arguments.
        resize_to_visible (dict[str, str], optional): Opt-in, by modality
            name: the interpolation (``mmcv.imresize``'s ``'nearest'``,
            ``'bilinear'``, ``'bicubic'``, ``'area'`` or ``'lanczos'``) that
            resizes a file of another size to the visible image's, e.g.
            ``dict(event='nearest')`` for DELIVER's event frames, as the
            official DELIVER / MemorySAM loaders do. Names of modalities a
            sample does not load are unused. Every other modality of another
            size stays an error that names both sizes. Defaults to None.
    """

    def __init__(self,
                 thermal_channels: int = 1,
                 npy_value_ranges: Optional[Dict[str, Sequence[float]]] = None,
                 to_float32: bool = False,
                 backend_args: Optional[dict] = None,
                 resize_to_visible: Optional[Dict[str, str]] = None) -> None:
        self.thermal_channels = thermal_channels
        self.npy_value_ranges = {
            name: (float(low), float(high))
            for name, (low, high) in (npy_value_ranges or {}).items()
        }
        for name, (low, high) in self.npy_value_ranges.items():
            if not high > low:
                raise ValueError(
                    'LoadMultiModalImageFromFile: '
                    f'npy_value_ranges[{name!r}] = '
                    f'({low}, {high}); expected (low, high) with high > low.')
        self.to_float32 = to_float32
        self.backend_args = backend_args
        self.resize_to_visible = dict(resize_to_visible or {})
        unknown = {name: mode for name, mode in self.resize_to_visible.items()
                   if mode not in cv2_interp_codes}
        if unknown:
            raise ValueError(
                f'LoadMultiModalImageFromFile: resize_to_visible={unknown}; '
                f'expected interpolations among {sorted(cv2_interp_codes)}.')

    def _layout(self, results: dict
                ) -> Tuple[List[Source], Tuple[str, ...], Tuple[int, ...]]:
        """Sources (visible first), names and expected channels."""
        if results.get('thermal_path') is not None:
            raise ValueError(
                f'LoadMultiModalImageFromFile: {results["img_path"]} comes '
                f'with thermal_path={results["thermal_path"]!r}; expected '
                'modality_paths=[<thermal file>] (one source per modality '
                'after the visible one).')
        sources = [results['img_path'], *(results.get('modality_paths') or ())]
        names = results.get('modality_names') or ('rgb', 'thermal')
        channels = results.get('modality_channels') or \
            (3, self.thermal_channels)
        if len(sources) > 1 and \
                not len(names) == len(channels) == len(sources):
            raise ValueError(
                f'LoadMultiModalImageFromFile: {results["img_path"]} has '
                f'{len(sources)} sources (img_path + modality_paths) but '
                f'modality_names={names} and modality_channels='
                f'{channels}; expected one name and one channel count '
                'per source.')
        return sources, tuple(names), tuple(int(c) for c in channels)

    def _read_file(self, path: str, name: str) -> np.ndarray:
        what = f'{name} image'
        if path.endswith('.npy'):
            return read_npy(path, self.backend_args, what,
                            self.npy_value_ranges.get(name))
        return decode_image(path, self.backend_args, what)

    def _load_source(self, source: Source, name: str,
                     channels: int) -> np.ndarray:
        """One modality as (H, W, channels) on the 0..255 scale."""
        paths = [source] if isinstance(source, str) else list(source)
        parts = [self._read_file(path, name) for path in paths]
        for path, part in zip(paths[1:], parts[1:]):
            if part.shape[:2] != parts[0].shape[:2]:
                raise ValueError(
                    f'{name} file {path} is {part.shape[:2]} (H, W) but '
                    f'{paths[0]} is {parts[0].shape[:2]}; expected the files '
                    'of one modality to have the same size.')
        if len(parts) == 1:
            return to_0_255(match_channels(parts[0], channels, paths[0],
                                           f'{name} image'))
        image = np.concatenate([to_0_255(part) for part in parts], axis=2)
        if image.shape[2] != channels:
            raise ValueError(
                f'{name} files {paths} hold {image.shape[2]} channels '
                f'together; expected {channels}.')
        return image

    def _load_stacked(self, path: str, channels: Tuple[int, ...],
                      names: Tuple[str, ...]) -> np.ndarray:
        """Read an MFNet-style PNG whose alpha channel holds the thermal."""
        image = decode_image(path, self.backend_args, 'RGB-thermal image')
        expected = sum(channels)
        if image.shape[2] != expected:
            raise ValueError(
                f'RGB-thermal image {path} has {image.shape[2]} channel(s); '
                f'expected {expected} ({", ".join(names)} with '
                f'modality_channels={channels}: R, G, B, then thermal stored '
                'as alpha, as in MFNet). Set `modality_paths` for separate '
                'modality files.')
        return to_0_255(image)

    def _load_groups(self, sources: List[Source], names: Tuple[str, ...],
                     channels: Tuple[int, ...]) -> np.ndarray:
        """Load every modality and check they share the visible size."""
        groups = [
            self._load_source(source, name, count)
            for source, name, count in zip(sources, names, channels)
        ]
        visible = groups[0]
        for index, (source, name, group) in enumerate(
                zip(sources[1:], names[1:], groups[1:]), start=1):
            if group.shape[:2] == visible.shape[:2]:
                continue
            if name not in self.resize_to_visible:
                raise ValueError(
                    f'visible image {sources[0]} is {visible.shape[:2]} '
                    f'(H, W) but {name} image {source} is '
                    f'{group.shape[:2]}; expected aligned images of the same '
                    'size (nothing is resized or cropped silently; '
                    f"resize_to_visible=dict({name}='nearest') opts in).")
            height, width = visible.shape[:2]
            groups[index] = mmcv.imresize(
                group, (width, height),
                interpolation=self.resize_to_visible[name]).reshape(
                    height, width, group.shape[2])
        if len({group.dtype for group in groups}) > 1:
            groups = [group.astype(np.float32) for group in groups]
        return np.concatenate(groups, axis=2)

    def transform(self, results: dict) -> dict:
        """Load the modalities and record their channel groups."""
        sources, names, channels = self._layout(results)
        if channels[0] != 3:
            raise ValueError(
                f'LoadMultiModalImageFromFile: {results["img_path"]} has '
                f'modality_names={names}, modality_channels={channels}; '
                'expected the 3-channel visible image first.')
        if len(sources) == 1:
            image = self._load_stacked(sources[0], channels, names)
        else:
            image = self._load_groups(sources, names, channels)
        if self.to_float32:
            image = image.astype(np.float32)
        results['img'] = np.ascontiguousarray(image)
        results['img_shape'] = image.shape[:2]
        results['ori_shape'] = image.shape[:2]
        results['modality_channels'] = channels
        results['modality_names'] = names
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(thermal_channels='
                f'{self.thermal_channels}, npy_value_ranges='
                f'{self.npy_value_ranges}, to_float32={self.to_float32}, '
                f'resize_to_visible={self.resize_to_visible})')


@TRANSFORMS.register_module()
class LoadCheckedAnnotations(LoadAnnotations):
    """mmseg's ``LoadAnnotations`` that rejects unknown label values.

    Raw label values must lie in ``[0, num_label_values)`` or equal
    ``ignore_index``; the check runs before ``label_map`` /
    ``reduce_zero_label``, which are then applied as mmseg applies them.
    ``num_label_values`` comes from the dataset's data info (set by the
    datasets of this package) unless given here. The label map must have
    the image's size. When the data info carries ``label_palette``
    (:class:`MultiModalFolderDataset` with ``label_format='color'``), the
    label PNG holds palette colours, which are mapped to class ids first.

    Args:
        num_label_values (int, optional): Number of raw label values.
        ignore_index (int): Label value that is always allowed. Defaults to
            255.
        label_channel (int, optional): For label PNGs with several
            channels, the channel (in file order: 0 = R) that holds the
            class ids (DELIVER: 0). None requires a single-channel PNG.
            Defaults to None.
        **kwargs: Passed to :class:`mmseg.datasets.transforms.LoadAnnotations`.
    """

    def __init__(self,
                 num_label_values: Optional[int] = None,
                 ignore_index: int = 255,
                 label_channel: Optional[int] = None,
                 imdecode_backend: str = 'cv2',
                 **kwargs) -> None:
        super().__init__(imdecode_backend=imdecode_backend, **kwargs)
        self.num_label_values = num_label_values
        self.ignore_index = ignore_index
        self.label_channel = label_channel

    def _read_label(self, path: str) -> np.ndarray:
        """(H, W) uint8 class ids of the label PNG."""
        label = decode_image(path, self.backend_args, 'label map')
        if label.dtype != np.uint8:
            raise ValueError(f'label map {path} has dtype {label.dtype}; '
                             'expected an 8-bit PNG of class ids.')
        if label.shape[2] == 1:
            return label[..., 0]
        if self.label_channel is None:
            raise ValueError(
                f'label map {path} has shape {label.shape[:2]} with '
                f'{label.shape[2]} channels; expected a single-channel PNG '
                'of class ids (set label_channel for a dataset that stores '
                'them in one channel of a colour PNG).')
        if not 0 <= self.label_channel < label.shape[2]:
            raise ValueError(
                f'label map {path} has {label.shape[2]} channels; '
                f'label_channel={self.label_channel} is not one of them.')
        return np.ascontiguousarray(label[..., self.label_channel])

    def _check_values(self, label: np.ndarray, path: str,
                      results: dict) -> None:
        num_values = self.num_label_values or results.get('num_label_values')
        if num_values is None:
            return
        bad = np.unique(label[(label >= num_values)
                              & (label != self.ignore_index)])
        if bad.size:
            raise ValueError(
                f'label map {path} contains value(s) {bad.tolist()}; '
                f'expected class ids 0..{num_values - 1} or '
                f'{self.ignore_index} (ignore).')

    def _load_seg_map(self, results: dict) -> None:
        path = results['seg_map_path']
        palette = results.get('label_palette')
        label = self._read_label(path) if palette is None else \
            ids_from_colours(decode_image(path, self.backend_args,
                                          'label map'), palette, path)
        if 'img_shape' in results and label.shape != tuple(
                results['img_shape'][:2]):
            raise ValueError(
                f'label map {path} is {label.shape} (H, W) but its image '
                f'{results["img_path"]} is {tuple(results["img_shape"][:2])}; '
                'expected the same size.')
        self._check_values(label, path, results)
        if self.reduce_zero_label is None:
            self.reduce_zero_label = results['reduce_zero_label']
        if self.reduce_zero_label != results['reduce_zero_label']:
            raise ValueError(
                f'LoadCheckedAnnotations(reduce_zero_label='
                f'{self.reduce_zero_label}) but the dataset of {path} uses '
                f'reduce_zero_label={results["reduce_zero_label"]}; leave it '
                'unset here to follow the dataset.')
        if self.reduce_zero_label:  # mmseg's: 0 -> 255, k -> k - 1
            label = np.where(label == 0, 255, label - 1).astype(np.uint8)
            label[label == 254] = 255
        if results.get('label_map') is not None:
            mapped = label.copy()
            for old_id, new_id in results['label_map'].items():
                mapped[label == old_id] = new_id
            label = mapped
        results['gt_seg_map'] = label
        results['seg_fields'].append('gt_seg_map')
