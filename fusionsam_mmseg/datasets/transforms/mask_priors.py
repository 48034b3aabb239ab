"""Load the cached SAM mask priors of a sample (SAGE's teacher input).

``tools/dataset_converters/sam_mask_priors.py`` writes, next to the
dataset, one ``<split>/sam_mask_priors/<stem>.npz`` per sample (the
folder beside the visible folder: MSRS ``vi/``, FMB ``Visible/``) holding
the top-k automatic SAM masks of each modality, largest first, and a
``manifest.json`` that records how they were made and whether the run
finished. :class:`LoadSAMMaskPriors` appends the first ``num_masks`` of
each as channels of ``results['img']``, so every stock geometric transform
moves them with the images.
"""
import json
import os.path as osp
from typing import Dict, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

PRIOR_FOLDER = 'sam_mask_priors'
MANIFEST = 'manifest.json'
MODALITY_KEYS = ('visible', 'infrared')
MASK_VALUE = 255
# Visible folder -> the dataset class that lists the pairs (tool default:
# MSRSDataset).
DATASET_OF_VISIBLE_FOLDER = dict(Visible='FMBDataset', rgb='PST900Dataset')


def mask_prior_path(img_path: str, folder: str = PRIOR_FOLDER) -> str:
    """Cache file of the sample whose visible image is ``img_path``."""
    split_dir = osp.dirname(osp.dirname(img_path))
    stem = osp.splitext(osp.basename(img_path))[0]
    return osp.join(split_dir, folder, f'{stem}.npz')


def prior_command(img_path: str) -> str:
    """The command that writes the cache of ``img_path``'s split."""
    visible_dir = osp.dirname(img_path)
    split_dir = osp.dirname(visible_dir)
    dataset = DATASET_OF_VISIBLE_FOLDER.get(osp.basename(visible_dir))
    return ('python tools/dataset_converters/sam_mask_priors.py --data-root '
            f'{osp.dirname(split_dir)} --split {osp.basename(split_dir)} '
            + (f'--dataset {dataset} ' if dataset else '') +
            '--sam-type vit_b --checkpoint checkpoints/sam/'
            'sam_vit_b_01ec64.pth')


def read_manifest(folder: str) -> dict:
    """The manifest of a prior folder ({} when there is none)."""
    path = osp.join(folder, MANIFEST)
    if not osp.isfile(path):
        return {}
    with open(path, encoding='utf-8') as file:
        return json.load(file)


@TRANSFORMS.register_module()
class LoadSAMMaskPriors(BaseTransform):
    """Append the top ``num_masks`` SAM masks of visible and infrared.

    Masks are appended after the image channels, visible ones first, as
    0 / 255 uint8 channels; ``modality_channels`` and ``modality_names``
    grow by ``(num_masks, num_masks)`` and ``('rgb_sam_masks',
    'thermal_sam_masks')``. A modality with fewer cached masks gets
    all-ones masks for the missing ones, so its prior stack repeats the
    whole source image, as the official code fills it; the number of real
    masks is recorded in ``results['num_sam_masks']``.

    Refuses, naming the command that makes it, a split whose cache is
    missing or incomplete, and a cache file whose masks do not have the
    image's size.

    Args:
        num_masks (int): Masks per modality. Default: 4.
        folder (str): Cache folder name beside the visible folder.
            Default: 'sam_mask_priors'.
    """

    def __init__(self, num_masks: int = 4,
                 folder: str = PRIOR_FOLDER) -> None:
        if num_masks < 1:
            raise ValueError(
                f'LoadSAMMaskPriors: num_masks={num_masks}, expected >= 1.')
        self.num_masks = num_masks
        self.folder = folder
        self._complete: Dict[str, int] = {}

    def _check_cache(self, img_path: str) -> None:
        """Raise unless the split's cache is complete with enough masks."""
        cache_dir = osp.dirname(mask_prior_path(img_path, self.folder))
        if cache_dir in self._complete:
            return
        manifest = read_manifest(cache_dir)
        if not manifest.get('complete'):
            state = 'is incomplete (an interrupted run: run it again to ' \
                'resume)' if manifest else 'does not exist'
            raise FileNotFoundError(
                f'LoadSAMMaskPriors: the SAM mask-prior cache {cache_dir} '
                f'{state}. Make it with `{prior_command(img_path)}` (SAGE '
                'trains on these priors).')
        if manifest['top_k'] < self.num_masks:
            raise ValueError(
                f'LoadSAMMaskPriors: {cache_dir} caches {manifest["top_k"]} '
                f'masks per modality but num_masks={self.num_masks}; '
                'regenerate it with a larger --top-k.')
        self._complete[cache_dir] = manifest['top_k']

    def _masks(self, path: str, shape: Tuple[int, int]
               ) -> Tuple[np.ndarray, Tuple[int, int]]:
        """(H, W, 2 k) uint8 masks and the real mask count per modality."""
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'LoadSAMMaskPriors: {path} is missing from a complete cache; '
                'was the dataset changed after the priors were made? '
                'Regenerate them with --overwrite.')
        with np.load(path) as cached:
            stacks = [cached[key] for key in MODALITY_KEYS]
        channels, counts = [], []
        for key, stack in zip(MODALITY_KEYS, stacks):
            if stack.ndim != 3 or stack.shape[1:] != tuple(shape):
                raise ValueError(
                    f'LoadSAMMaskPriors: {path} holds {key} masks of shape '
                    f'{stack.shape}; expected (k, H, W) with the image size '
                    f'{tuple(shape)}.')
            kept = stack[:self.num_masks].astype(bool)
            counts.append(len(kept))
            fill = np.ones((self.num_masks - len(kept), *shape), bool)
            channels.append(np.concatenate([kept, fill]))
        masks = np.concatenate(channels).transpose(1, 2, 0)
        return masks.astype(np.uint8) * MASK_VALUE, tuple(counts)

    def transform(self, results: dict) -> dict:
        """Append the masks to ``img`` and record the channel groups."""
        img_path = results['img_path']
        self._check_cache(img_path)
        image = results['img']
        masks, counts = self._masks(
            mask_prior_path(img_path, self.folder), image.shape[:2])
        results['img'] = np.concatenate(
            [image, masks.astype(image.dtype)], axis=2)
        results['modality_channels'] = tuple(
            results['modality_channels']) + (self.num_masks, ) * 2
        results['modality_names'] = tuple(results['modality_names']) + (
            'rgb_sam_masks', 'thermal_sam_masks')
        results['num_sam_masks'] = counts
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_masks={self.num_masks}, '
                f'folder={self.folder!r})')
