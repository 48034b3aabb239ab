"""Draw visible | infrared | teacher | student for one image pair of SAGE.

The four tiles, side by side under their labels, are the visible image, the
infrared image and the fused images of the teacher and of the student of
one SAGE training checkpoint (the teacher included), each fused luminance
clamped to [0, 1] and recoloured with the visible chroma. The teacher reads
the pair's SAM mask priors, which must be cached
(``tools/dataset_converters/sam_mask_priors.py``).

Example::

    python tools/analysis/sage_panel.py configs/sage/sage_msrs.py \\
        work_dirs/sage_msrs/epoch_100.pth \\
        data/msrs/test/vi/00001D.png data/msrs/test/ir/00001D.png \\
        --out work_dirs/sage_msrs/sage_panel.png
"""
import argparse
import os
import os.path as osp
from typing import List, Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from mmseg.registry import MODELS, TRANSFORMS
from mmseg.utils import register_all_modules

from fusionsam_mmseg.models.layers.image_space import colorize

LABELS = ('visible', 'infrared', 'teacher', 'student')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Draw visible | infrared | teacher | student of a SAGE '
        'model for one image pair.')
    parser.add_argument(
        'config', help='a SAGE config (its train pipeline\'s '
        'LoadSAMMaskPriors gives the number of masks)')
    parser.add_argument(
        'checkpoint', help='a SAGE training checkpoint (teacher included)')
    parser.add_argument(
        'visible', help='the visible image; its SAM mask priors cached by '
        'tools/dataset_converters/sam_mask_priors.py')
    parser.add_argument('infrared', help='the infrared image')
    parser.add_argument('--out', required=True, help='the PNG to write')
    return parser.parse_args(argv)


def panel_tile(image: np.ndarray, label: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (24 + H, W, 3) with its label written on a
    dark band above it."""
    band = np.zeros((24, image.shape[1], 3), np.uint8)
    cv2.putText(band, label, (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([band, image], axis=0)


def fused_tiles(config: str, checkpoint: str,
                results: dict) -> List[np.ndarray]:
    """The teacher's and the student's fused images, (H, W, 3) uint8 RGB.

    Args:
        config (str): The SAGE config.
        checkpoint (str): Its training checkpoint.
        results (dict): The pair loaded by
            ``LoadMultiModalImageFromFile`` (``img`` (H, W, 4) R, G, B,
            infrared on 0..255).
    """
    model = MODELS.build(Config.fromfile(config).model)
    load_checkpoint(model, checkpoint, map_location='cpu')
    model.eval()
    results = TRANSFORMS.build(
        dict(type='LoadSAMMaskPriors', num_masks=model.num_masks))(results)
    inputs = torch.from_numpy(
        np.ascontiguousarray(results['img'].transpose(2, 0, 1)))[None]
    with torch.no_grad():
        sources = model.sources(inputs.float(), with_priors=True)
        fusions = [model.teach(sources)[0], model.fuse(sources)[0]]
    tiles = []
    for fused in fusions:
        rgb = colorize(fused.clamp(0, 1), sources.visible_rgb)[0]
        tiles.append((rgb.permute(1, 2, 0).numpy() * 255).round().astype(
            np.uint8))
    return tiles


def sage_panel(config: str, checkpoint: str, visible: str, infrared: str,
               out_file: str) -> str:
    """Draw visible | infrared | teacher | student for one image pair.

    Args:
        config (str): A SAGE config (its train pipeline's
            ``LoadSAMMaskPriors`` gives the number of masks).
        checkpoint (str): A SAGE training checkpoint (teacher included).
        visible (str): The visible PNG; its priors must be cached.
        infrared (str): The infrared PNG.
        out_file (str): PNG to write: (24 + H, 4 W, 3).

    Returns:
        str: ``out_file``.
    """
    register_all_modules(init_default_scope=True)
    results = TRANSFORMS.build(dict(type='LoadMultiModalImageFromFile'))(
        dict(img_path=visible, modality_paths=[infrared]))
    image = results['img']
    tiles = [image[..., :3].astype(np.uint8),
             np.repeat(image[..., 3:4], 3, 2).astype(np.uint8),
             *fused_tiles(config, checkpoint, results)]
    panel = np.concatenate(
        [panel_tile(tile, label) for tile, label in zip(tiles, LABELS)],
        axis=1)
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    cv2.imwrite(out_file, cv2.cvtColor(panel, cv2.COLOR_RGB2BGR))
    return out_file


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    print('wrote ' + sage_panel(args.config, args.checkpoint, args.visible,
                                args.infrared, args.out))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
