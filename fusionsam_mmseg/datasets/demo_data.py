"""Small deterministic RGB-T datasets in the real MFNet / FMB layouts.

Every class is drawn as a shape whose appearance is defined per modality:
some classes show only in the thermal channel (warm objects: visible pixels
equal the background), some only in the visible image (painted marks:
thermal pixels equal the background), some in both. Both modalities get
noise, and night images (stem suffix ``N``) have a darker visible image. A
model that sees one modality cannot separate the classes the other one
carries, so it cannot reach the fused score.
"""
import os
import os.path as osp
from typing import Dict, List, NamedTuple, Optional, Tuple

import cv2
import numpy as np



class ClassLook(NamedTuple):
    """How one class is drawn. ``None`` means "looks like the background"."""
    label: int
    shape: str  # 'rect', 'ellipse', 'hbar' or 'line'
    visible_rgb: Optional[Tuple[int, int, int]]
    thermal: Optional[int]


MFNET_LOOKS = [
    ClassLook(1, 'rect', (40, 40, 170), 175),  # car: both
    ClassLook(2, 'ellipse', None, 245),  # person: thermal only
    ClassLook(3, 'rect', None, 210),  # bike: thermal only
    ClassLook(4, 'line', (245, 245, 245), None),  # curve: visible only
    ClassLook(5, 'rect', (225, 205, 40), None),  # car_stop: visible only
    ClassLook(6, 'hbar', (150, 150, 150), 120),  # guardrail: both
    ClassLook(7, 'ellipse', (250, 120, 20), None),  # color_cone: visible
    ClassLook(8, 'hbar', (120, 70, 30), 150),  # bump: both
]

FMB_LOOKS = [
    ClassLook(1, 'hbar', (90, 90, 90), 115),  # Road: both
    ClassLook(2, 'hbar', (200, 180, 160), None),  # Sidewalk: visible only
    ClassLook(3, 'rect', (150, 100, 80), 140),  # Building: both
    ClassLook(4, 'ellipse', None, 250),  # Lamp: thermal only
    ClassLook(5, 'rect', (230, 30, 30), None),  # Sign: visible only
    ClassLook(6, 'ellipse', (40, 160, 40), 95),  # Vegetation: both
    ClassLook(7, 'hbar', (120, 170, 240), None),  # Sky: visible only
    ClassLook(8, 'ellipse', None, 235),  # Person: thermal only
    ClassLook(9, 'rect', (30, 30, 150), 180),  # Car: both
    ClassLook(10, 'rect', (200, 200, 220), 200),  # Truck: both
    ClassLook(11, 'rect', (230, 200, 60), 190),  # Bus: both
    ClassLook(12, 'rect', None, 220),  # Motorcycle: thermal only
    ClassLook(13, 'line', None, 205),  # Bicycle: thermal only
    ClassLook(14, 'line', (60, 60, 60), 160),  # Pole: both
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


def render_sample(looks: List[ClassLook], height: int, width: int,
                  night: bool, rng: np.random.Generator
                  ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw one sample.

    Returns:
        tuple: visible (H, W, 3) uint8 RGB, thermal (H, W) uint8 and labels
        (H, W) uint8 (0 = unlabeled background).
    """
    rows = np.linspace(0, 1, height)[:, None, None]
    background_visible = (90 + 60 * rows + rng.normal(0, 12, (1, 1, 3))
                          ) * np.ones((height, width, 3))
    background_thermal = 70 + 20 * rows[..., 0] * np.ones((height, width))
    visible, thermal = background_visible.copy(), background_thermal.copy()
    labels = np.zeros((height, width), np.uint8)
    for look in looks:
        if rng.random() > 0.75:
            continue
        mask = _object_mask(look.shape, height, width, rng)
        labels[mask] = look.label
        visible[mask] = (background_visible[mask]
                         if look.visible_rgb is None else look.visible_rgb)
        thermal[mask] = (background_thermal[mask]
                         if look.thermal is None else look.thermal)
    if night:
        visible *= 0.45
    visible += rng.normal(0, 6, visible.shape)
    thermal += rng.normal(0, 5, thermal.shape)
    return (np.clip(visible, 0, 255).astype(np.uint8),
            np.clip(thermal, 0, 255).astype(np.uint8), labels)


def _write_png(path: str, image: np.ndarray) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, image):
        raise OSError(f'could not write {path}')


def _stems(start: int, count: int) -> List[str]:
    return [f'{start + i:05d}{"N" if i % 2 else "D"}' for i in range(count)]


def _write_mfnet(out_dir: str, splits: Dict[str, List[str]], height: int,
                 width: int, rng: np.random.Generator) -> None:
    for split, stems in splits.items():
        for stem in stems:
            visible, thermal, labels = render_sample(
                MFNET_LOOKS, height, width, stem.endswith('N'), rng)
            bgra = np.dstack([visible[..., ::-1], thermal])
            _write_png(osp.join(out_dir, 'images', f'{stem}.png'), bgra)
            _write_png(osp.join(out_dir, 'labels', f'{stem}.png'), labels)
        with open(osp.join(out_dir, f'{split}.txt'), 'w') as split_file:
            split_file.write('\n'.join(stems) + '\n')
    for part, suffix in (('test_day', 'D'), ('test_night', 'N')):
        with open(osp.join(out_dir, f'{part}.txt'), 'w') as split_file:
            chosen = [s for s in splits['test'] if s.endswith(suffix)]
            split_file.write('\n'.join(chosen) + '\n')


def _write_fmb(out_dir: str, splits: Dict[str, List[str]], height: int,
               width: int, rng: np.random.Generator) -> None:
    for split, stems in splits.items():
        for stem in stems:
            visible, thermal, labels = render_sample(
                FMB_LOOKS, height, width, stem.endswith('N'), rng)
            root = osp.join(out_dir, split)
            _write_png(osp.join(root, 'Visible', f'{stem}.png'),
                       visible[..., ::-1])
            _write_png(osp.join(root, 'Infrared', f'{stem}.png'),
                       np.dstack([thermal] * 3))
            _write_png(osp.join(root, 'Label', f'{stem}.png'), labels)


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
        fmt (str): ``'mfnet'`` (images/, labels/, split files incl. val,
            test_day and test_night) or ``'fmb'`` (train/ and test/ with
            Visible/, Infrared/ (grey in 3 channels), Label/).
        num_train (int): Training images. Defaults to 24.
        num_test (int): Test (and, for MFNet, validation) images.
            Defaults to 8.
        seed (int): Random seed; the same seed writes the same files.
        height (int): Image height. Defaults to 120.
        width (int): Image width. Defaults to 160.
    """
    if fmt not in ('mfnet', 'fmb'):
        raise ValueError(f"fmt must be 'mfnet' or 'fmb', got {fmt!r}")
    if num_train < 1 or num_test < 1:
        raise ValueError('num_train and num_test must be at least 1, got '
                         f'{num_train} and {num_test}')
    rng = np.random.default_rng(seed)
    if fmt == 'mfnet':
        splits = dict(
            train=_stems(1, num_train),
            val=_stems(num_train + 1, num_test),
            test=_stems(num_train + num_test + 1, num_test))
        _write_mfnet(out_dir, splits, height, width, rng)
    else:
        splits = dict(
            train=_stems(1, num_train),
            test=_stems(num_train + 1, num_test))
        _write_fmb(out_dir, splits, height, width, rng)
    return out_dir

