"""Fuse visible + infrared pairs with SAGE's SAM-free student.

:class:`FusionInferencer` runs the student of a SAGE config (no teacher,
no SAM) by the SAGE authors' test protocol (RollingPlain/SAGE_IVIF
``test.py``), so that the released weights give the released images:

1. the visible image goes to YCrCb as OpenCV converts 8-bit images
   (:func:`~fusionsam_mmseg.models.layers.image_space.rgb_to_ycrcb`, the
   model's own conversion, so ``tools/test.py`` sees the same), a colour
   infrared image to grey by OpenCV;
2. the student fuses (Y, infrared) / 255 at native size: nothing is
   resized, padded or cropped;
3. the fused Y (the Tanh output, not clamped) and the visible Cr, Cb go
   back to RGB with the authors' matrix
   (:func:`~fusionsam_mmseg.models.layers.image_space.ycrcb_to_rgb`);
4. the RGB image is rounded to 8 bits as ``torchvision.utils.save_image``
   rounds it
   (:func:`~fusionsam_mmseg.models.layers.image_space.to_8bit`).
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple, Union

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmseg.registry import MODELS
from rich.progress import track

from ..datasets.transforms.loading import decode_image, match_channels
from ..models.fusion.sage_student import SAGEStudent, load_student_weights
from ..models.layers.image_space import rgb_to_ycrcb, to_8bit, ycrcb_to_rgb
from .rgbt_inputs import images_by_stem

ConfigLike = Union[str, Config]
_MAX_LISTED = 10


def build_student(cfg: Config, where: str) -> SAGEStudent:
    """The student of a SAGE config (or a config whose model is one)."""
    model = cfg.model
    if model.get('type') == 'SAGE':
        model = model.student
    if model.get('type') != 'SAGEStudent':
        raise ValueError(
            f"{where}: model type {cfg.model.get('type')!r} has no SAGE "
            'student; expected a SAGE config (configs/sage/, e.g. '
            'sage_student_official.py).')
    return MODELS.build(model)


def _listed(stems: List[str]) -> str:
    return ', '.join(stems[:_MAX_LISTED]) + (
        f' (+{len(stems) - _MAX_LISTED} more)'
        if len(stems) > _MAX_LISTED else '')


def pair_images(visible: str, infrared: str) -> List[Tuple[str, str, str]]:
    """``(stem, visible_path, infrared_path)`` of two files, or of two
    folders whose images pair by file stem (any image extension).

    Raises:
        ValueError: A stem in one folder only, or a file with a folder.
    """
    if osp.isfile(visible) and osp.isfile(infrared):
        return [(osp.splitext(osp.basename(visible))[0], visible, infrared)]
    if not (osp.isdir(visible) and osp.isdir(infrared)):
        raise ValueError(
            f'visible {visible} and infrared {infrared}: expected two '
            'existing image files or two existing folders.')
    visible_images = images_by_stem(visible)
    infrared_images = images_by_stem(infrared)
    only_visible = sorted(set(visible_images) - set(infrared_images))
    only_infrared = sorted(set(infrared_images) - set(visible_images))
    if only_visible or only_infrared:
        raise ValueError(
            f'visible folder {visible} and infrared folder {infrared} do not '
            'pair by file stem: ' + '; '.join(
                f'{what}: {_listed(stems)}' for what, stems in (
                    ('visible without infrared', only_visible),
                    ('infrared without visible', only_infrared)) if stems) +
            '.')
    return [(stem, visible_images[stem], infrared_images[stem])
            for stem in sorted(visible_images)]


def _read_8bit(path: str, what: str) -> np.ndarray:
    """(H, W, C) uint8 in file order (R, G, B[, A])."""
    image = decode_image(path, None, what)
    if image.dtype != np.uint8:
        raise ValueError(f'{what} file {path} is {image.dtype}; expected an '
                         '8-bit image (the authors read 8 bits with OpenCV).')
    return image


def read_pair(visible_path: str,
              infrared_path: str) -> Tuple[np.ndarray, np.ndarray]:
    """Visible (H, W, 3) RGB and infrared (H, W) grey, both uint8.

    A grey visible image is repeated to 3 channels and a colour infrared
    image turned grey by OpenCV, as the authors' ``cv2.imread`` +
    ``cvtColor`` do; an opaque alpha channel is dropped.

    Raises:
        ValueError: Naming both files when their sizes differ.
    """
    visible = _read_8bit(visible_path, 'visible')
    if visible.shape[2] == 1:
        visible = np.repeat(visible, 3, axis=2)
    visible = match_channels(visible, 3, visible_path, 'visible')
    infrared = _read_8bit(infrared_path, 'infrared')
    if infrared.shape[2] > 1:
        infrared = cv2.cvtColor(
            match_channels(infrared, 3, infrared_path, 'infrared'),
            cv2.COLOR_RGB2GRAY)[..., None]
    if visible.shape[:2] != infrared.shape[:2]:
        raise ValueError(
            f'visible {visible_path} is {visible.shape[0]}x{visible.shape[1]}'
            f' but infrared {infrared_path} is {infrared.shape[0]}x'
            f'{infrared.shape[1]} (HxW); expected a registered pair of the '
            'same size (nothing is resized).')
    return np.ascontiguousarray(visible), np.ascontiguousarray(
        infrared[..., 0])


class FusionInferencer:
    """Fuse visible + infrared images with a SAGE student checkpoint.

    Args:
        config (str | Config): A SAGE config; only its ``model.student`` is
            built (e.g. ``configs/sage/sage_student_official.py``).
        weights (str): A SAGE checkpoint, the output of
            ``sage_official_to_mmseg.py`` or ``extract_sage_student.py``;
            loaded strictly into the student.
        device (str, optional): ``'cpu'``, ``'cuda'`` or ``'cuda:N'``; None
            picks CUDA when available. Default: None.

    Example:
        >>> inferencer = FusionInferencer(
        ...     'configs/sage/sage_student_official.py',
        ...     'checkpoints/sage/sage_student_official.pth')
        >>> fused = inferencer('Vis/00000.png', 'Ir/00000.png')['00000']
        >>> fused.shape, fused.dtype
        ((768, 1024, 3), dtype('uint8'))
        >>> inferencer('Vis', 'Ir', out_dir='fused')  # writes fused/<stem>.png
    """

    def __init__(self,
                 config: ConfigLike,
                 weights: str,
                 device: Optional[str] = None) -> None:
        where = config if isinstance(config, str) else 'the config'
        if isinstance(config, str):
            if not osp.isfile(config):
                raise FileNotFoundError(f'config file {config} does not '
                                        'exist.')
            config = Config.fromfile(config)
        if not osp.isfile(weights):
            raise FileNotFoundError(
                f'checkpoint {weights} does not exist; convert the released '
                'student with tools/model_converters/sage_official_to_mmseg.py'
                ' or train one (tools/train.py configs/sage/...).')
        self.student = build_student(config, where)
        load_student_weights(self.student, weights)
        self.device = torch.device(
            device or ('cuda' if torch.cuda.is_available() else 'cpu'))
        self.student.to(self.device).eval()

    @torch.no_grad()
    def fuse(self, visible: np.ndarray, infrared: np.ndarray) -> np.ndarray:
        """One pair by the authors' protocol (module docstring).

        Args:
            visible (np.ndarray): (H, W, 3) uint8 RGB.
            infrared (np.ndarray): (H, W) uint8 grey.

        Returns:
            np.ndarray: (H, W, 3) uint8 RGB fused image.
        """
        visible = torch.from_numpy(visible).permute(2, 0, 1)[None].float()
        ycrcb = rgb_to_ycrcb(visible.div(255).to(self.device))
        infrared = torch.from_numpy(infrared)[None, None].float().div(255)
        fused_y, _ = self.student(ycrcb[:, :1], infrared.to(self.device))
        rgb = ycrcb_to_rgb(torch.cat([fused_y, ycrcb[:, 1:]], 1))
        return to_8bit(rgb)[0].permute(1, 2, 0).cpu().numpy()

    def __call__(self,
                 visible: str,
                 infrared: str,
                 out_dir: Optional[str] = None,
                 show_progress: bool = True
                 ) -> Dict[str, Union[np.ndarray, str]]:
        """Fuse two files, or two folders paired by file stem.

        Args:
            visible (str): Visible image or folder.
            infrared (str): Infrared image or folder.
            out_dir (str, optional): Write ``<stem>.png`` there (native
                size); None keeps the images in memory. Default: None.
            show_progress (bool): Show a progress bar. Default: True.

        Returns:
            dict: stem -> written path with ``out_dir``, else stem ->
            (H, W, 3) uint8 RGB fused image.
        """
        pairs = pair_images(visible, infrared)
        if out_dir is not None:
            os.makedirs(out_dir, exist_ok=True)
        results = {}
        for stem, visible_path, infrared_path in track(
                pairs, description='fusing', disable=not show_progress):
            fused = self.fuse(*read_pair(visible_path, infrared_path))
            if out_dir is None:
                results[stem] = fused
                continue
            results[stem] = osp.join(out_dir, f'{stem}.png')
            cv2.imwrite(results[stem], np.ascontiguousarray(fused[..., ::-1]))
        return results
