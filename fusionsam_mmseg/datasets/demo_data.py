"""Small deterministic multi-modal datasets in the real on-disk layouts.

Every class is drawn as a shape whose appearance is defined per modality:
some classes show in one modality only (RGB-T: warm objects only in the
thermal image, painted marks only in the visible one; DELIVER: a class only
in depth, event or LiDAR; MCubeS: materials only in polarisation or NIR),
the others where they look like the background. Every modality gets noise,
and night images have a darker visible image. A model that sees a subset of
the modalities cannot separate the classes the others carry, so it cannot
reach the fused score.

Formats (``make_demo_dataset(fmt=...)``): ``mfnet``, ``fmb``, ``msrs``,
``pst900``, ``deliver`` and ``mcubes``, each in the layout its dataset class
documents, and ``multimodal_folder``: a folder of RGB-T pairs with colour
labels, as a user brings their own data to :class:`MultiModalFolderDataset`
(configs/_base_/datasets/own_rgbt.py describes it).
"""
import os
import os.path as osp
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np

Values = Optional[Tuple[int, ...]]


class ClassLook(NamedTuple):
    """How one class is drawn.

    ``values`` has one entry per modality: the per-channel value of the
    class in that modality, or ``None`` for "looks like the background".
    """
    label: int
    shape: str  # 'rect', 'ellipse', 'hbar' or 'line'
    values: Tuple[Values, ...]


def _rgbt(label: int, shape: str, visible: Values,
          thermal: Optional[int]) -> ClassLook:
    return ClassLook(label, shape,
                     (visible, None if thermal is None else (thermal, )))


MFNET_LOOKS = [
    _rgbt(1, 'rect', (40, 40, 170), 175),  # car: both
    _rgbt(2, 'ellipse', None, 245),  # person: thermal only
    _rgbt(3, 'rect', None, 210),  # bike: thermal only
    _rgbt(4, 'line', (245, 245, 245), None),  # curve: visible only
    _rgbt(5, 'rect', (225, 205, 40), None),  # car_stop: visible only
    _rgbt(6, 'hbar', (150, 150, 150), 120),  # guardrail: both
    _rgbt(7, 'ellipse', (250, 120, 20), None),  # color_cone: visible
    _rgbt(8, 'hbar', (120, 70, 30), 150),  # bump: both
]

FMB_LOOKS = [
    _rgbt(1, 'hbar', (90, 90, 90), 115),  # Road: both
    _rgbt(2, 'hbar', (200, 180, 160), None),  # Sidewalk: visible only
    _rgbt(3, 'rect', (150, 100, 80), 140),  # Building: both
    _rgbt(4, 'ellipse', None, 250),  # Lamp: thermal only
    _rgbt(5, 'rect', (230, 30, 30), None),  # Sign: visible only
    _rgbt(6, 'ellipse', (40, 160, 40), 95),  # Vegetation: both
    _rgbt(7, 'hbar', (120, 170, 240), None),  # Sky: visible only
    _rgbt(8, 'ellipse', None, 235),  # Person: thermal only
    _rgbt(9, 'rect', (30, 30, 150), 180),  # Car: both
    _rgbt(10, 'rect', (200, 200, 220), 200),  # Truck: both
    _rgbt(11, 'rect', (230, 200, 60), 190),  # Bus: both
    _rgbt(12, 'rect', None, 220),  # Motorcycle: thermal only
    _rgbt(13, 'line', None, 205),  # Bicycle: thermal only
    _rgbt(14, 'line', (60, 60, 60), 160),  # Pole: both
]

PST900_LOOKS = [
    _rgbt(1, 'rect', (200, 30, 30), 150),  # fire_extinguisher: both
    _rgbt(2, 'rect', (40, 60, 160), None),  # backpack: visible only
    _rgbt(3, 'ellipse', None, 235),  # hand_drill: thermal only
    _rgbt(4, 'ellipse', (200, 180, 150), 245),  # rescue_randy: both
]

# DELIVER raw ids (0 = void, 1..25 = classes); modalities rgb, depth (HHA),
# event, lidar, 3 channels each. The background is Road (raw 7).
DELIVER_BACKGROUND = 7
DELIVER_LOOKS = [
    ClassLook(1, 'rect', ((150, 100, 80), (60, 60, 200), None,
                          (200, 200, 200))),  # Building: rgb, depth, lidar
    ClassLook(4, 'ellipse', (None, None, (250, 40, 40), None)),  # Pedestrian
    ClassLook(5, 'line', (None, (230, 40, 40), None, None)),  # Pole: depth
    ClassLook(6, 'hbar', ((245, 245, 245), None, None, None)),  # RoadLine
    ClassLook(10, 'rect', ((30, 30, 150), (40, 200, 40), (40, 40, 250),
                           (230, 230, 120))),  # Cars: all four
    ClassLook(12, 'rect', ((220, 220, 0), None, None, None)),  # TrafficSign
    ClassLook(13, 'hbar', ((120, 170, 240), (10, 10, 10), None,
                           None)),  # Sky: rgb, depth
    ClassLook(23, 'rect', (None, None, None, (250, 250, 60))),  # TwoWheeler
    ClassLook(25, 'rect', (None, (200, 120, 40), None,
                           (180, 60, 200))),  # Truck: depth, lidar
    ClassLook(0, 'hbar', (None, None, None, None)),  # void pixels
]
DELIVER_CASES = ('cloud', 'fog', 'night', 'rain', 'sun')

# MCubeS ids 0..19 (255 = unlabeled); modalities rgb (3), aolp (sin, cos:
# 2), dolp (1), nir (1), drawn on the 0..255 scale. Background: asphalt.
MCUBES_BACKGROUND = 0
MCUBES_LOOKS = [
    ClassLook(1, 'rect', ((170, 170, 170), None, None, (200, ))),  # concrete
    ClassLook(2, 'rect', (None, (240, 30), (230, ), None)),  # metal: pol.
    ClassLook(3, 'hbar', ((245, 245, 245), None, None, None)),  # marking
    ClassLook(5, 'rect', (None, (20, 220), (250, ), None)),  # glass: pol.
    ClassLook(14, 'ellipse', ((40, 160, 40), None, None, (250, ))),  # grass
    ClassLook(16, 'ellipse', (None, None, None, (240, ))),  # leaf: NIR only
    ClassLook(18, 'ellipse', ((200, 150, 120), None, None, (180, ))),
    ClassLook(19, 'hbar', ((120, 170, 240), None, (180, ), None)),  # sky
    ClassLook(255, 'hbar', (None, None, None, None)),  # unlabeled pixels
]
MCUBES_LEFT_BAND = 192  # columns the warped NIR image does not cover

# Your-own-data example (configs/_base_/datasets/own_rgbt.py): RGB-T, colour
# labels in this palette, every class id drawn by its look.
OWN_CLASSES = ('background', 'person', 'car', 'bicycle', 'lane_mark',
               'pole')
OWN_PALETTE = [[0, 0, 0], [220, 20, 60], [0, 0, 142], [119, 11, 32],
               [255, 255, 255], [153, 153, 153]]
OWN_LOOKS = [
    _rgbt(1, 'ellipse', None, 245),  # person: thermal only
    _rgbt(2, 'rect', (40, 40, 170), 175),  # car: both
    _rgbt(3, 'rect', None, 210),  # bicycle: thermal only
    _rgbt(4, 'line', (245, 245, 245), None),  # lane_mark: visible only
    _rgbt(5, 'line', (60, 60, 60), 160),  # pole: both
]


def _object_mask(shape: str, height: int, width: int,
                 rng: np.random.Generator) -> np.ndarray:
    """A random filled shape as a boolean (H, W) mask."""
    mask = np.zeros((height, width), np.uint8)
    cy, cx = int(rng.integers(0, height)), int(rng.integers(0, width))
    size = int(rng.integers(max(4, height // 10), max(6, height // 4)))
    if shape == 'rect':
        cv2.rectangle(mask, (cx - size, cy - size // 2),
                      (cx + size, cy + size // 2), 1, -1)
    elif shape == 'ellipse':
        cv2.ellipse(mask, (cx, cy), (size // 2, size), 0, 0, 360, 1, -1)
    elif shape == 'hbar':
        mask[cy:cy + max(3, size // 3), :] = 1
    else:
        end = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.line(mask, (cx, cy), end, 1, max(2, height // 40))
    return mask.astype(bool)


def render_modalities(looks: Sequence[ClassLook],
                      channels: Sequence[int],
                      height: int,
                      width: int,
                      night: bool,
                      rng: np.random.Generator,
                      background_label: int = 0
                      ) -> Tuple[List[np.ndarray], np.ndarray]:
    """Draw one sample in every modality.

    Args:
        looks (Sequence[ClassLook]): Classes, one value per modality.
        channels (Sequence[int]): Channels per modality, visible (3) first.
        height (int): Image height.
        width (int): Image width.
        night (bool): Darken the visible image.
        rng (np.random.Generator): Source of randomness.
        background_label (int): Label of pixels no shape covers.

    Returns:
        tuple: the modalities as (H, W, C_m) uint8 arrays (visible in
        R, G, B order) and the (H, W) uint8 labels.
    """
    rows = np.linspace(0, 1, height)[:, None, None]
    backgrounds = [(90 + 60 * rows + rng.normal(0, 12, (1, 1, 3))) *
                   np.ones((height, width, 3))]
    backgrounds += [70 + 20 * rows * np.ones((height, width, count))
                    for count in channels[1:]]
    images = [background.copy() for background in backgrounds]
    labels = np.full((height, width), background_label, np.uint8)
    for look in looks:
        if rng.random() > 0.75:
            continue
        mask = _object_mask(look.shape, height, width, rng)
        labels[mask] = look.label
        for image, background, value in zip(images, backgrounds,
                                            look.values):
            image[mask] = background[mask] if value is None else value
    if night:
        images[0] *= 0.45
    images[0] += rng.normal(0, 6, images[0].shape)
    for image in images[1:]:
        image += rng.normal(0, 5, image.shape)
    return [np.clip(image, 0, 255).astype(np.uint8)
            for image in images], labels


def _write_png(path: str, image: np.ndarray) -> None:
    """Write (H, W) grey or (H, W, 3) R, G, B as a PNG."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    if image.ndim == 3 and image.shape[2] == 3:
        image = image[..., ::-1]
    if not cv2.imwrite(path, np.ascontiguousarray(image)):
        raise OSError(f'could not write {path}')


def _write_lines(path: str, lines: Sequence[str]) -> None:
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    with open(path, 'w') as split_file:
        split_file.write('\n'.join(lines) + '\n')


def _stems(start: int, count: int) -> List[str]:
    return [f'{start + i:05d}{"N" if i % 2 else "D"}' for i in range(count)]


def _rgbt_splits(num_train: int, num_test: int,
                 with_val: bool) -> Dict[str, List[str]]:
    splits = dict(train=_stems(1, num_train))
    if with_val:
        splits['val'] = _stems(num_train + 1, num_test)
    splits['test'] = _stems(num_train + num_test * with_val + 1, num_test)
    return splits


def _write_mfnet(out_dir: str, num_train: int, num_test: int, height: int,
                 width: int, rng: np.random.Generator) -> None:
    splits = _rgbt_splits(num_train, num_test, with_val=True)
    for split, stems in splits.items():
        for stem in stems:
            (visible, thermal), labels = render_modalities(
                MFNET_LOOKS, (3, 1), height, width, stem.endswith('N'), rng)
            bgra = np.dstack([visible[..., ::-1], thermal])
            _write_png(osp.join(out_dir, 'images', f'{stem}.png'), bgra)
            _write_png(osp.join(out_dir, 'labels', f'{stem}.png'), labels)
        _write_lines(osp.join(out_dir, f'{split}.txt'), stems)
    for part, suffix in (('test_day', 'D'), ('test_night', 'N')):
        _write_lines(
            osp.join(out_dir, f'{part}.txt'),
            [s for s in splits['test'] if s.endswith(suffix)])


def _paired_folder_writer(looks: Sequence[ClassLook],
                          folders: Tuple[str, str, str],
                          thermal_in_three: bool = False,
                          name: Callable[[str], str] = str) -> Callable:
    """A writer of ``<split>/{visible,thermal,label}/<name>.png`` folders."""
    visible_dir, thermal_dir, label_dir = folders

    def write(out_dir: str, num_train: int, num_test: int, height: int,
              width: int, rng: np.random.Generator) -> None:
        splits = _rgbt_splits(num_train, num_test, with_val=False)
        for split, stems in splits.items():
            for stem in stems:
                (visible, thermal), labels = render_modalities(
                    looks, (3, 1), height, width, stem.endswith('N'), rng)
                if thermal_in_three:
                    thermal = np.dstack([thermal] * 3)
                root = osp.join(out_dir, split)
                file_name = f'{name(stem)}.png'
                _write_png(osp.join(root, visible_dir, file_name), visible)
                _write_png(osp.join(root, thermal_dir, file_name), thermal)
                _write_png(osp.join(root, label_dir, file_name), labels)

    return write


def _pst900_name(stem: str) -> str:
    return f'{int(stem[:-1]) % 7:02d}_bag1a_rect_rgb_frame{stem[:-1]:0>10}'


def _deliver_label_png(labels: np.ndarray) -> np.ndarray:
    """Class ids in R (channel 0) and other content in G, B, as in CARLA."""
    return np.dstack([labels, np.full_like(labels, 3), 255 - labels])


def _write_deliver(out_dir: str, num_train: int, num_test: int, height: int,
                   width: int, rng: np.random.Generator) -> None:
    folders = dict(rgb='img', depth='hha', event='event', lidar='lidar')
    counts = dict(train=num_train, val=num_test, test=num_test)
    frame = 0
    for split, count in counts.items():
        for index in range(count):
            case = DELIVER_CASES[index % len(DELIVER_CASES)]
            sequence = f'MAP_{1 + index % 2}_point{index // 2}'
            images, labels = render_modalities(
                DELIVER_LOOKS, (3, 3, 3, 3), height, width, case == 'night',
                rng, DELIVER_BACKGROUND)
            frame += 1
            where = (case, split, sequence)
            for (modality, folder), image in zip(folders.items(), images):
                _write_png(
                    osp.join(out_dir, folder, *where,
                             f'{frame:06d}_{modality}_front.png'), image)
            _write_png(
                osp.join(out_dir, 'semantic', *where,
                         f'{frame:06d}_semantic_front.png'),
                _deliver_label_png(labels))


def _write_multimodal_folder(out_dir: str, num_train: int, num_test: int,
                             height: int, width: int,
                             rng: np.random.Generator) -> None:
    """``rgb/<stem>.jpg``, ``thermal/<stem>.png`` (grey) and
    ``labels/<stem>.png`` (OWN_PALETTE colours) for num_train + num_test
    stems; no split lists."""
    palette = np.asarray(OWN_PALETTE, np.uint8)
    for stem in _stems(1, num_train + num_test):
        (visible, thermal), labels = render_modalities(
            OWN_LOOKS, (3, 1), height, width, stem.endswith('N'), rng)
        name = f'frame_{stem}'
        _write_png(osp.join(out_dir, 'rgb', f'{name}.jpg'), visible)
        _write_png(osp.join(out_dir, 'thermal', f'{name}.png'), thermal)
        _write_png(osp.join(out_dir, 'labels', f'{name}.png'),
                   palette[labels])


def _write_mcubes(out_dir: str, num_train: int, num_test: int, height: int,
                  width: int, rng: np.random.Generator) -> None:
    full_width = MCUBES_LEFT_BAND + width
    counts = dict(train=num_train, val=num_test, test=num_test)
    frame = 0
    for split, count in counts.items():
        names = []
        for index in range(count):
            frame += 1
            name = f'outscene{frame:04d}_{index % 3}'
            (rgb, aolp, dolp, nir), labels = render_modalities(
                MCUBES_LOOKS, (3, 2, 1, 1), height, full_width, index % 4 == 3,
                rng, MCUBES_BACKGROUND)
            nir[:, :MCUBES_LEFT_BAND] = 0
            aolp = aolp.astype(np.float32) / 127.5 - 1.0
            for folder, array in (('polL_aolp_sin', aolp[..., 0]),
                                  ('polL_aolp_cos', aolp[..., 1]),
                                  ('polL_dolp',
                                   dolp[..., 0].astype(np.float32) / 255)):
                os.makedirs(osp.join(out_dir, folder), exist_ok=True)
                np.save(osp.join(out_dir, folder, f'{name}.npy'), array)
            _write_png(osp.join(out_dir, 'polL_color', f'{name}.png'), rgb)
            _write_png(osp.join(out_dir, 'NIR_warped', f'{name}.png'), nir)
            _write_png(osp.join(out_dir, 'GT', f'{name}.png'), labels)
            names.append(name)
        _write_lines(osp.join(out_dir, 'list_folder', f'{split}.txt'), names)


DEMO_WRITERS = dict(
    mfnet=_write_mfnet,
    fmb=_paired_folder_writer(
        FMB_LOOKS, ('Visible', 'Infrared', 'Label'), thermal_in_three=True),
    msrs=_paired_folder_writer(MFNET_LOOKS,
                               ('vi', 'ir', 'Segmentation_labels')),
    pst900=_paired_folder_writer(
        PST900_LOOKS, ('rgb', 'thermal', 'labels'), name=_pst900_name),
    deliver=_write_deliver,
    mcubes=_write_mcubes,
    multimodal_folder=_write_multimodal_folder)


def make_demo_dataset(out_dir: str,
                      fmt: str = 'mfnet',
                      num_train: int = 24,
                      num_test: int = 8,
                      seed: int = 0,
                      height: int = 120,
                      width: int = 160) -> str:
    """Write a deterministic demo dataset and return ``out_dir``.

    Args:
        out_dir (str): Dataset root to create.
        fmt (str): One of ``DEMO_WRITERS``: ``'mfnet'`` (images/, labels/,
            split files incl. val, test_day and test_night), ``'fmb'``
            (train/ and test/ with Visible/, Infrared/ (grey in 3 channels),
            Label/), ``'msrs'`` (train/ and test/ with vi/, ir/,
            Segmentation_labels/), ``'pst900'`` (train/ and test/ with rgb/,
            thermal/, labels/), ``'deliver'`` (img/, hha/, event/, lidar/,
            semantic/ by case, split and sequence; train, val and test) or
            ``'mcubes'`` (polL_color/, polL_aolp_{sin,cos}/, polL_dolp/,
            NIR_warped/, GT/, list_folder/{train,val,test}.txt; the files
            are ``width + 192`` wide, the left 192 columns having no NIR)
            or ``'multimodal_folder'`` (rgb/ .jpg, thermal/, labels/ in the
            colours of ``OWN_PALETTE``; ``num_train + num_test`` samples and
            no split lists: prepare_own_dataset.py writes them).
        num_train (int): Training images. Defaults to 24.
        num_test (int): Test (and, where the layout has one, validation)
            images. Defaults to 8.
        seed (int): Random seed; the same seed writes the same files.
        height (int): Image height. Defaults to 120.
        width (int): Image width. Defaults to 160.
    """
    if fmt not in DEMO_WRITERS:
        raise ValueError(
            f'fmt must be one of {sorted(DEMO_WRITERS)}, got {fmt!r}')
    if num_train < 1 or num_test < 1:
        raise ValueError('num_train and num_test must be at least 1, got '
                         f'{num_train} and {num_test}')
    DEMO_WRITERS[fmt](out_dir, num_train, num_test, height, width,
                      np.random.default_rng(seed))
    return out_dir
