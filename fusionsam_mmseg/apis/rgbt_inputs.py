"""Turn user inputs (paths, arrays, folders) into visible/thermal pairs."""
import os
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

ImageLike = Union[str, np.ndarray]
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')
_MAX_LISTED = 20


@dataclass(frozen=True)
class RGBTInput:
    """One image to segment.

    Attributes:
        visible (str | np.ndarray): Visible image path or (H, W, 3) array;
            when ``thermal`` is None, a 4-channel MFNet-style PNG path
            (R, G, B, thermal as alpha) or a stacked (H, W, 3 + Ct) array.
        thermal (str | np.ndarray | None): Thermal image path or (H, W) /
            (H, W, C) array, or None for stacked inputs.
        name (str | None): Output file stem (the visible file's stem);
            None for arrays, which the inferencer numbers.
    """
    visible: ImageLike
    thermal: Optional[ImageLike]
    name: Optional[str]


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
    """Map file stem -> path for the images directly inside ``folder``.

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


def pair_folders(visible_dir: str, thermal_dir: str) -> List[RGBTInput]:
    """Pair the images of two folders by file stem.

    Args:
        visible_dir (str): Folder of visible (RGB) images.
        thermal_dir (str): Folder of thermal images with the same stems.

    Returns:
        list[RGBTInput]: One pair per stem, sorted by stem.

    Raises:
        ValueError: Some stems have no partner (all of them are listed).
    """
    visible = images_by_stem(visible_dir)
    thermal = images_by_stem(thermal_dir)
    only_visible = sorted(set(visible) - set(thermal))
    only_thermal = sorted(set(thermal) - set(visible))
    if only_visible or only_thermal:
        problems = []
        if only_visible:
            problems.append(f'{len(only_visible)} visible image(s) without '
                            f'a thermal image: {_listed(only_visible)}')
        if only_thermal:
            problems.append(f'{len(only_thermal)} thermal image(s) without '
                            f'a visible image: {_listed(only_thermal)}')
        raise ValueError(
            f'folders {visible_dir} (visible) and {thermal_dir} (thermal) do '
            f'not pair up by file stem; {"; ".join(problems)}. Expected one '
            'thermal image per visible image with the same stem.')
    return [
        RGBTInput(visible[stem], thermal[stem], stem)
        for stem in sorted(visible)
    ]


def _resolve_pair(visible: ImageLike,
                  thermal: ImageLike) -> Tuple[List[RGBTInput], bool]:
    """Resolve a (visible, thermal) pair of files, folders or arrays."""
    if isinstance(visible, str) and isinstance(thermal, str):
        if osp.isdir(visible) and osp.isdir(thermal):
            return pair_folders(visible, thermal), False
        if osp.isdir(visible) or osp.isdir(thermal):
            raise ValueError(
                f'visible {visible} and thermal {thermal}: one is a folder '
                'and the other is not; expected two image files or two '
                'folders.')
        _check_file(visible, 'visible image')
        _check_file(thermal, 'thermal image')
        return [RGBTInput(visible, thermal, _stem(visible))], True
    if isinstance(visible, np.ndarray) and isinstance(thermal, np.ndarray):
        return [RGBTInput(visible, thermal, None)], True
    raise TypeError(
        'a visible/thermal pair must be two file paths, two folders or two '
        f'numpy arrays; got {type(visible).__name__} and '
        f'{type(thermal).__name__}.')


def _resolve_one(item) -> Tuple[List[RGBTInput], bool]:
    """Resolve one user input; the flag says it is a single image."""
    if isinstance(item, dict):
        missing = {'visible', 'thermal'} - set(item)
        if missing:
            raise KeyError(f'an input dict needs the keys visible and '
                           f'thermal; missing {sorted(missing)}.')
        return _resolve_pair(item['visible'], item['thermal'])
    if isinstance(item, tuple):
        if len(item) != 2:
            raise ValueError(
                f'a tuple input is one (visible, thermal) pair; got a tuple '
                f'of {len(item)} items. Put several pairs in a list.')
        return _resolve_pair(*item)
    if isinstance(item, np.ndarray):
        return [RGBTInput(item, None, None)], True
    if isinstance(item, str):
        if osp.isdir(item):
            return [
                RGBTInput(path, None, stem)
                for stem, path in images_by_stem(item).items()
            ], False
        _check_file(item, 'RGB-thermal image')
        return [RGBTInput(item, None, _stem(item))], True
    raise TypeError(
        f'unsupported input of type {type(item).__name__}; expected a '
        '(visible, thermal) tuple, a dict(visible=..., thermal=...), a '
        '4-channel PNG path, a folder, a stacked numpy array or a list of '
        'those.')


def resolve_inputs(inputs) -> Tuple[List[RGBTInput], bool]:
    """Expand user inputs into a flat list of pairs.

    Accepted forms (a list may mix them):

    - ``(visible, thermal)`` tuple or ``dict(visible=..., thermal=...)``:
      two image paths, two numpy arrays, or two folders paired by stem;
    - a path to a 4-channel MFNet-style PNG, or a folder of them;
    - a stacked (H, W, 3 + Ct) numpy array.

    Every path is checked here, before any model work.

    Returns:
        tuple[list[RGBTInput], bool]: The pairs, and whether ``inputs`` was
        one single image (results are then returned unwrapped).
    """
    if isinstance(inputs, list):
        items = []
        for item in inputs:
            items.extend(_resolve_one(item)[0])
        return items, False
    return _resolve_one(inputs)


def stack_arrays(visible: np.ndarray,
                 thermal: Optional[np.ndarray],
                 thermal_channels: int,
                 visible_order: str = 'rgb',
                 where: str = 'input') -> np.ndarray:
    """Stack array inputs like :class:`LoadRGBTImageFromFile` stacks files.

    Args:
        visible (np.ndarray): (H, W, 3) uint8 visible image, or the stacked
            (H, W, 3 + Ct) array when ``thermal`` is None.
        thermal (np.ndarray, optional): (H, W) or (H, W, C >= Ct) uint8
            thermal image; a grey image stored in 3 channels keeps its
            first ``thermal_channels``.
        thermal_channels (int): Ct, thermal channels the model reads.
        visible_order (str): ``'rgb'`` or ``'bgr'`` (``cv2.imread``), order
            of the visible channels of the arrays. Defaults to ``'rgb'``.
        where (str): Name of the input in error messages.

    Returns:
        np.ndarray: (H, W, 3 + Ct) uint8, R, G, B, then thermal.
    """
    arrays = dict(visible=visible)
    if thermal is not None:
        arrays['thermal'] = thermal
    for what, array in arrays.items():
        if array.dtype != np.uint8:
            raise ValueError(f'{where}: {what} array has dtype {array.dtype}; '
                             'expected uint8 (8-bit images).')
    if thermal is None:
        expected = 3 + thermal_channels
        if visible.ndim != 3 or visible.shape[2] != expected:
            raise ValueError(
                f'{where}: stacked array has shape {visible.shape}; expected '
                f'(H, W, {expected}) with R, G, B then {thermal_channels} '
                'thermal channel(s), or pass (visible, thermal) arrays.')
        stacked = visible.copy()
    else:
        if visible.ndim != 3 or visible.shape[2] != 3:
            raise ValueError(f'{where}: visible array has shape '
                             f'{visible.shape}; expected (H, W, 3).')
        if thermal.ndim == 2:
            thermal = thermal[..., None]
        if thermal.ndim != 3 or thermal.shape[2] < thermal_channels:
            raise ValueError(
                f'{where}: thermal array has shape {thermal.shape}; expected '
                f'(H, W) or (H, W, C) with C >= {thermal_channels}.')
        if visible.shape[:2] != thermal.shape[:2]:
            raise ValueError(
                f'{where}: visible array is {visible.shape[:2]} (H, W) but '
                f'thermal array is {thermal.shape[:2]}; expected aligned '
                'pairs of the same size.')
        stacked = np.concatenate([visible, thermal[..., :thermal_channels]],
                                 axis=2)
    if visible_order == 'bgr':
        stacked[..., :3] = stacked[..., 2::-1].copy()
    return np.ascontiguousarray(stacked)
