"""Turn user inputs (paths, arrays, folders) into per-modality samples.

A model reads the modalities its config's dataset names
(``modality_names``, e.g. ``('rgb', 'thermal')`` or ``('rgb', 'depth',
'event', 'lidar')``), in that order, stacked into one (H, W, sum C_m) array.
Each sample is given per modality (a dict keyed by name, or a tuple in
``modality_names`` order) or already stacked (a multi-channel PNG or array).
"""
import os
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

ImageLike = Union[str, np.ndarray]
# One modality of one sample: a file, the files whose channels make up the
# modality (MCubeS AoLP: sin and cos .npy), or an array.
Source = Union[ImageLike, Tuple[str, ...]]
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.npy')
LEGACY_KEYS = ('visible', 'thermal')  # dict keys of visible + thermal pairs
_MAX_LISTED = 20
_UINT16_SCALE = 255.0 / 65535.0


@dataclass(frozen=True)
class MultiModalInput:
    """One sample to segment.

    Attributes:
        sources (tuple): One source per modality, in ``modality_names``
            order (a path, a tuple of paths whose channels are concatenated,
            or an (H, W) / (H, W, C) array); or a single stacked source (a
            multi-channel PNG such as MFNet's R, G, B, thermal-as-alpha, or
            an (H, W, sum C_m) array).
        name (str | None): Output file stem (the first file's stem); None for
            arrays, which the inferencer numbers.
    """
    sources: Tuple[Source, ...]
    name: Optional[str]

    @property
    def stacked(self) -> bool:
        """Whether the sample is one stacked image."""
        return len(self.sources) == 1


def _stem(path: str) -> str:
    return osp.splitext(osp.basename(path))[0]


def _listed(names: Sequence[str]) -> str:
    """Comma-separated names, cut after ``_MAX_LISTED``."""
    shown = ', '.join(names[:_MAX_LISTED])
    if len(names) > _MAX_LISTED:
        shown += f', ... ({len(names) - _MAX_LISTED} more)'
    return shown


def _check_file(path: str, what: str) -> None:
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} {path} does not exist.')


def images_by_stem(folder: str) -> Dict[str, str]:
    """Map file stem -> path for the images and ``.npy`` arrays in ``folder``.

    Raises:
        ValueError: The folder holds no image or two images share a stem.
    """
    by_stem: Dict[str, str] = {}
    for file_name in sorted(os.listdir(folder)):
        path = osp.join(folder, file_name)
        if not (osp.isfile(path)
                and file_name.lower().endswith(IMAGE_SUFFIXES)):
            continue
        stem = _stem(file_name)
        if stem in by_stem:
            raise ValueError(
                f'folder {folder} holds two images with stem {stem!r} '
                f'({osp.basename(by_stem[stem])}, {file_name}); expected one '
                'image per stem.')
        by_stem[stem] = path
    if not by_stem:
        raise ValueError(f'folder {folder} holds no image; expected files '
                         f'ending in {", ".join(IMAGE_SUFFIXES)}.')
    return by_stem


def pairing_key(stem: str, modality: str) -> str:
    """The stem without its first ``_``-separated part equal to ``modality``.

    Files of one sample pair by this key, so DELIVER's
    ``000123_rgb_front`` (rgb) and ``000123_depth_front`` (depth) pair as
    ``000123_front``; stems without the modality's name pair as they are.
    """
    parts = stem.split('_')
    if modality in parts:
        parts.remove(modality)
    return '_'.join(parts)


def pair_modality_folders(
        folders: Dict[str, Tuple[str, ...]]) -> List[MultiModalInput]:
    """Pair the files of one folder per modality by stem.

    Args:
        folders (dict[str, tuple[str, ...]]): Modality name -> its folder(s),
            in ``modality_names`` order. A modality stored in several files
            (MCubeS AoLP: sin and cos) lists one folder per file.

    Returns:
        list[MultiModalInput]: One sample per stem (see :func:`pairing_key`),
        sorted, named after the first modality's file.

    Raises:
        ValueError: Some stems lack a modality (all of them are listed).
    """
    parts = [(name, folder) for name, dirs in folders.items()
             for folder in dirs]
    keyed = []
    for name, folder in parts:
        files: Dict[str, str] = {}
        for stem, path in images_by_stem(folder).items():
            key = pairing_key(stem, name)
            if key in files:
                raise ValueError(
                    f'folder {folder} ({name}) holds {osp.basename(path)} '
                    f'and {osp.basename(files[key])}, which pair as the same '
                    f'sample {key!r}; expected one file per sample.')
            files[key] = path
        keyed.append(files)
    all_keys = sorted(set().union(*keyed))
    problems = []
    for (name, folder), files in zip(parts, keyed):
        missing = [key for key in all_keys if key not in files]
        if missing:
            problems.append(f'no {name} file in {folder} for '
                            f'{len(missing)} sample(s): {_listed(missing)}')
    if problems:
        described = ', '.join(f'{name}={folder}' for name, folder in parts)
        raise ValueError(
            f'folders {described} do not pair up by file stem; '
            f'{"; ".join(problems)}. Expected one file per modality with the '
            'same stem (a `_<modality name>` part, as in DELIVER\'s '
            '<id>_rgb_front.png, is ignored).')
    samples = []
    for key in all_keys:
        sources = []
        index = 0
        for dirs in folders.values():
            paths = tuple(files[key] for files in keyed[index:index +
                                                        len(dirs)])
            index += len(dirs)
            sources.append(paths[0] if len(paths) == 1 else paths)
        samples.append(MultiModalInput(tuple(sources), _stem(sources[0])))
    return samples


def _as_paths(value) -> Optional[Tuple[str, ...]]:
    """The path(s) of a per-modality value, or None for an array."""
    if isinstance(value, str):
        return (value, )
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(v, str) for v in value):
        return tuple(value)
    if isinstance(value, np.ndarray):
        return None
    raise TypeError(
        f'a modality must be given as a path, a list of paths (one modality '
        f'stored in several files) or a numpy array; got {value!r:.80}.')


def _resolve_sample(sources: Dict[str, object]
                    ) -> Tuple[List[MultiModalInput], bool]:
    """Resolve one sample given per modality (files, folders or arrays)."""
    paths = {name: _as_paths(value) for name, value in sources.items()}
    kinds = {
        'array' if p is None else 'folder' if all(map(osp.isdir, p)) else
        'file' if not any(map(osp.isdir, p)) else 'mixed'
        for p in paths.values()
    }
    if len(kinds) > 1 or kinds == {'mixed'}:
        described = ', '.join(
            f'{name}={"array" if p is None else list(p)}'
            for name, p in paths.items())
        raise ValueError(
            f'one sample mixes arrays, files and folders ({described}); '
            'expected all modalities as files, all as folders or all as '
            'arrays.')
    kind = kinds.pop()
    if kind == 'folder':
        return pair_modality_folders(paths), False
    if kind == 'array':
        return [MultiModalInput(tuple(sources.values()), None)], True
    for name, files in paths.items():
        for path in files:
            _check_file(path, f'{name} image')
    resolved = tuple(p[0] if len(p) == 1 else p for p in paths.values())
    return [MultiModalInput(resolved, _stem(resolved[0]))], True


def _by_name(item: dict, modality_names: Sequence[str]) -> Dict[str, object]:
    """The modalities of a dict input, in ``modality_names`` order."""
    names = tuple(modality_names)
    if len(names) == 2 and set(item) == set(LEGACY_KEYS):
        return {names[0]: item['visible'], names[1]: item['thermal']}
    missing = [name for name in names if name not in item]
    unexpected = [str(key) for key in item if key not in names]
    if missing or unexpected:
        problems = []
        if missing:
            problems.append(f'missing {", ".join(missing)}')
        if unexpected:
            problems.append(f'unexpected {", ".join(unexpected)}')
        legacy = (' (or visible and thermal)' if len(names) == 2 else '')
        raise KeyError(
            f'an input dict has the keys {[str(k) for k in item]}: '
            f'{"; ".join(problems)}. The model expects one entry per '
            f'modality: {", ".join(names)}{legacy}.')
    return {name: item[name] for name in names}


def _resolve_one(item, modality_names: Sequence[str]
                 ) -> Tuple[List[MultiModalInput], bool]:
    """Resolve one user input; the flag says it is a single image."""
    names = tuple(modality_names)
    if isinstance(item, dict):
        return _resolve_sample(_by_name(item, names))
    if isinstance(item, (tuple, list)):
        if len(item) != len(names):
            raise ValueError(
                f'a tuple input is one sample with one item per modality '
                f'({", ".join(names)}); got {len(item)} item(s). Put several '
                'samples in a list.')
        return _resolve_sample(dict(zip(names, item)))
    if isinstance(item, np.ndarray):
        return [MultiModalInput((item, ), None)], True
    if isinstance(item, str):
        if osp.isdir(item):
            return [
                MultiModalInput((path, ), stem)
                for stem, path in images_by_stem(item).items()
            ], False
        _check_file(item, 'stacked image')
        return [MultiModalInput((item, ), _stem(item))], True
    raise TypeError(
        f'unsupported input of type {type(item).__name__}; expected a dict '
        f'{{modality name: path, paths, folder or array}} or a tuple in the '
        f'order {", ".join(names)}, a stacked image path or folder, a '
        'stacked numpy array, or a list of those.')


def resolve_inputs(inputs, modality_names: Sequence[str] = ('rgb', 'thermal')
                   ) -> Tuple[List[MultiModalInput], bool]:
    """Expand user inputs into a flat list of samples.

    Accepted forms (a list holds several and may mix them):

    - ``dict`` keyed by modality name (``dict(visible=..., thermal=...)``
      for a two-modality model too), or a ``tuple`` in ``modality_names``
      order (a list nested inside the outer list counts as a tuple), whose
      values are all files, all numpy arrays, or all folders paired by
      :func:`pair_modality_folders`; a modality stored in several files
      takes a list of paths (or folders);
    - a path to a stacked image (MFNet: R, G, B, thermal as alpha), or a
      folder of them;
    - a stacked (H, W, sum C_m) numpy array.

    Every path is checked here, before any model work.

    Args:
        inputs: The inputs.
        modality_names (Sequence[str]): The model's modalities, in order.
            Defaults to ``('rgb', 'thermal')``.

    Returns:
        tuple[list[MultiModalInput], bool]: The samples, and whether
        ``inputs`` was one single image (results are then returned
        unwrapped).
    """
    if isinstance(inputs, list):
        items = []
        for item in inputs:
            items.extend(_resolve_one(item, modality_names)[0])
        return items, False
    return _resolve_one(inputs, modality_names)


def parse_modality_options(
        options: Sequence[str],
        flag: str) -> Dict[str, Union[str, List[str]]]:
    """Command-line ``NAME=PATH`` options -> ``{name: path}``.

    ``NAME=PATH1,PATH2`` gives a modality stored in several files (or
    folders) as a list. ``flag`` names the option in errors.
    """
    modalities: Dict[str, Union[str, List[str]]] = {}
    for option in options:
        name, sep, value = option.partition('=')
        if not sep or not name or not value:
            raise ValueError(f'{flag} {option!r}: expected NAME=PATH, e.g. '
                             f'{flag} thermal=ir/00001.png.')
        if name in modalities:
            raise ValueError(f'{flag}: modality {name!r} is given twice.')
        paths = value.split(',')
        modalities[name] = paths[0] if len(paths) == 1 else paths
    return modalities


def _scaled_to_0_255(array: np.ndarray,
                     value_range: Optional[Tuple[float, float]],
                     what: str) -> np.ndarray:
    """uint8 unchanged, uint16 and float arrays scaled to 0..255 float32.

    Float arrays are scaled from ``value_range`` as
    :class:`LoadMultiModalImageFromFile` scales ``.npy`` files.
    """
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        return array.astype(np.float32) * _UINT16_SCALE
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f'{what} has dtype {array.dtype}; expected uint8, '
                         'uint16 or a float array with a value range.')
    if value_range is None:
        raise ValueError(
            f'{what} is a {array.dtype} array but the config gives no value '
            'range for this modality; expected uint8 (0..255) or uint16, or '
            'set npy_value_ranges of LoadMultiModalImageFromFile.')
    low, high = value_range
    finite = np.isfinite(array)
    if not finite.all() or array.min() < low or array.max() > high:
        raise ValueError(
            f'{what} has values outside [{low}, {high}] (or non-finite '
            'values); expected the value range npy_value_ranges of '
            'LoadMultiModalImageFromFile gives this modality.')
    return (array.astype(np.float32) - low) * (255.0 / (high - low))


def _with_channels(array: np.ndarray, expected: int,
                   what: str) -> np.ndarray:
    """``array`` as (H, W, expected); a grey image in 3 equal channels
    counts as 1."""
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3:
        raise ValueError(f'{what} has shape {array.shape}; expected (H, W) '
                         'or (H, W, C).')
    found = array.shape[2]
    if found == expected:
        return array
    if expected == 1 and found == 3 and (array[..., :1] == array).all():
        return array[..., :1]
    raise ValueError(
        f'{what} has shape {array.shape}; expected {expected} channel(s) (a '
        'grey image in 3 equal channels counts as 1).')


def stack_modalities(arrays: Sequence[np.ndarray],
                     modality_names: Sequence[str],
                     modality_channels: Sequence[int],
                     visible_order: str = 'rgb',
                     value_ranges: Optional[Dict[str, Tuple[float,
                                                            float]]] = None,
                     where: str = 'input') -> np.ndarray:
    """Stack array inputs as :class:`LoadMultiModalImageFromFile` stacks files.

    Args:
        arrays (Sequence[np.ndarray]): One (H, W) / (H, W, C) array per
            modality in ``modality_names`` order, or a single stacked
            (H, W, sum C_m) array.
        modality_names (Sequence[str]): Names of the model's modalities.
        modality_channels (Sequence[int]): Their channels; the first
            (visible) has 3.
        visible_order (str): ``'rgb'`` or ``'bgr'`` (``cv2.imread``), order
            of the visible channels. Defaults to ``'rgb'``.
        value_ranges (dict, optional): Value range of float arrays, by
            modality name (``npy_value_ranges`` of the loader).
        where (str): Name of the input in error messages.

    Returns:
        np.ndarray: (H, W, sum C_m), uint8 when every array is uint8, else
        float32 on the 0..255 scale; visible R, G, B first.
    """
    names, channels = tuple(modality_names), tuple(modality_channels)
    if len(arrays) == 1 and len(names) > 1:
        arrays = [arrays[0]]
        names, channels = ('stacked', ), (sum(channels), )
    groups = [
        _with_channels(
            _scaled_to_0_255(array, (value_ranges or {}).get(name),
                             f'{where}: {name} array'), count,
            f'{where}: {name} array')
        for array, name, count in zip(arrays, names, channels)
    ]
    sizes = {name: group.shape[:2] for name, group in zip(names, groups)}
    if len(set(sizes.values())) > 1:
        described = ', '.join(f'{name} {size}' for name, size in sizes.items())
        raise ValueError(
            f'{where}: the arrays are {described} (H, W); expected aligned '
            'images of the same size (nothing is resized or cropped).')
    if len({group.dtype for group in groups}) > 1:
        groups = [group.astype(np.float32) for group in groups]
    stacked = np.concatenate(groups, axis=2)
    if visible_order == 'bgr':
        stacked[..., :3] = stacked[..., 2::-1].copy()
    return np.ascontiguousarray(stacked)


def stack_arrays(visible: np.ndarray,
                 thermal: Optional[np.ndarray],
                 thermal_channels: int,
                 visible_order: str = 'rgb',
                 where: str = 'input') -> np.ndarray:
    """Stack a visible + thermal pair of uint8 arrays (R, G, B, thermal).

    Args:
        visible (np.ndarray): (H, W, 3) uint8 visible image, or the stacked
            (H, W, 3 + Ct) array when ``thermal`` is None.
        thermal (np.ndarray, optional): (H, W) or (H, W, C >= Ct) uint8
            thermal image; a grey image stored in 3 channels keeps its
            first ``thermal_channels``.
        thermal_channels (int): Ct, thermal channels the model reads.
        visible_order (str): ``'rgb'`` or ``'bgr'`` (``cv2.imread``).
            Defaults to ``'rgb'``.
        where (str): Name of the input in error messages.

    Returns:
        np.ndarray: (H, W, 3 + Ct) uint8, R, G, B, then thermal.
    """
    arrays = [visible]
    if thermal is not None:
        thermal = thermal if thermal.ndim == 2 else \
            thermal[..., :thermal_channels]
        arrays.append(thermal)
    for array in arrays:
        if array.dtype != np.uint8:
            raise ValueError(f'{where}: array has dtype {array.dtype}; '
                             'expected uint8 (8-bit images).')
    return stack_modalities(arrays, ('visible', 'thermal'),
                            (3, thermal_channels), visible_order, None, where)
