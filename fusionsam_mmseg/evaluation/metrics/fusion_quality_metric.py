"""Fusion-quality metric of the fused image a model predicts.

Definitions and conventions: docs/fusion_metrics.md.

For every test image, the fused image of the prediction
(``data_sample.fused_image``: PixelData (3, H, W) in [0, 1], attached by
``FusionSAM.predict`` and ``SAGE.predict``) is scored against the sources
read again from their files at native resolution (visible and fused turned
grey as the convention reads images, infrared as its grey channel) by
:func:`~fusionsam_mmseg.evaluation.fusion_quality.fusion_quality`; the
metric reports the mean over the test set of each value.
"""
import logging
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmseg.registry import METRICS

from ...datasets.transforms.loading import LoadMultiModalImageFromFile
from ...models.layers.image_space import to_8bit
from ..fusion_quality import (DEFAULT_CONVENTION, FUSION_METRICS,
                              check_convention, check_metric_names,
                              fusion_quality, to_grey)


def to_grey_levels(image: np.ndarray,
                   convention: str = DEFAULT_CONVENTION) -> np.ndarray:
    """(3, H, W) RGB in [0, 1] -> (H, W) uint8 grey levels.

    The image is rounded to 8 bits first as ``torchvision.utils.save_image``
    saves it (the SAGE authors' test protocol), then read as grey the way
    ``convention`` reads a PNG (:func:`to_grey`).
    """
    rgb = to_8bit(torch.from_numpy(np.asarray(image))).permute(1, 2, 0)
    return to_grey(np.ascontiguousarray(rgb.numpy()), convention)


@METRICS.register_module()
class FusionQualityMetric(BaseMetric):
    """Mean EN, SD, SF, AG, MI, SCD, VIF, Qabf, SSIM, MS-SSIM, CC, PSNR,
    Nabf of the predicted fused images.

    Args:
        fusion_metrics (Sequence[str]): Which of
            :data:`~fusionsam_mmseg.evaluation.fusion_quality.FUSION_METRICS`
            to report (not ``metrics``: mmengine reads a ``metrics`` key as
            an evaluator config). MS-SSIM needs images of at least 161
            (``'ivif_zoo'``) or 176 (``'matlab'``) pixels a side; leave it
            out for smaller ones. Default: all thirteen.
        convention (str): ``'ivif_zoo'`` (the SAGE authors' evaluator) or
            ``'matlab'`` (docs/fusion_metrics.md); it also decides how the
            fused and visible images turn grey. Default: ``'ivif_zoo'``.
        collect_device (str): ``'cpu'`` or ``'gpu'``. Default: 'cpu'.
        prefix (str, optional): Prefix of the result keys. Default: None.

    Every data sample needs ``fused_image`` and the metainfo ``img_path``
    (and ``modality_paths`` for datasets with separate infrared files, as
    :class:`~fusionsam_mmseg.datasets.transforms.LoadMultiModalImageFromFile`
    reads them); the first modality group is the visible image, the
    second (one channel) the infrared one.
    """

    def __init__(self,
                 fusion_metrics: Sequence[str] = FUSION_METRICS,
                 convention: str = DEFAULT_CONVENTION,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.fusion_metrics = check_metric_names(fusion_metrics)
        self.convention = check_convention(convention)
        self.load_sources = LoadMultiModalImageFromFile()

    def _sources(self, data_sample: dict) -> Tuple[np.ndarray, np.ndarray]:
        """Grey visible and infrared (H, W) of one sample's files."""
        loaded = self.load_sources(
            dict(img_path=data_sample['img_path'],
                 modality_paths=data_sample.get('modality_paths')))
        image = loaded['img']
        # 8-bit levels (a stack with a 16-bit infrared image is float)
        visible = np.round(image[..., :3]).astype(np.uint8)
        return to_grey(np.ascontiguousarray(visible),
                       self.convention), image[..., 3]

    def _fused(self, data_sample: dict) -> np.ndarray:
        """The prediction's fused image as (H, W) uint8 grey levels."""
        where = data_sample.get('img_path', 'a data sample')
        if 'fused_image' not in data_sample:
            raise KeyError(
                f'FusionQualityMetric: the prediction of {where} has no '
                '`fused_image`; use a model whose predict() attaches one '
                '(FusionSAM with a fusion neck, SAGE).')
        fused = data_sample['fused_image']['data'].detach().cpu().float()
        if fused.dim() != 3 or fused.shape[0] != 3:
            raise ValueError(
                f'FusionQualityMetric: fused_image of {where} has shape '
                f'{tuple(fused.shape)}; expected (3, H, W) RGB in [0, 1].')
        return to_grey_levels(fused.numpy(), self.convention)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Score the fused image of every prediction of the batch.

        Args:
            data_batch (dict): The batch (unused: the sources are read from
                their files at native resolution).
            data_samples (Sequence[dict]): Predictions with ``fused_image``
                and the metainfo.
        """
        for data_sample in data_samples:
            fused = self._fused(data_sample)
            visible, infrared = self._sources(data_sample)
            if fused.shape != visible.shape:
                raise ValueError(
                    f'FusionQualityMetric: the fused image of '
                    f"{data_sample['img_path']} is {fused.shape} (H, W) but "
                    f'its sources are {visible.shape}; fusion quality is '
                    'measured at native resolution (the prediction must be '
                    'restored to ori_shape).')
            scores = fusion_quality(fused, visible, infrared,
                                    self.fusion_metrics, self.convention)
            self.results.append((data_sample['img_path'], scores))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        """Mean of each metric over the images where it is defined.

        Args:
            results (list[tuple]): ``(img_path, scores)`` per image.

        Returns:
            dict[str, float]: One mean per metric (``EN``, ``SD``, ...).
        """
        means = {}
        for name in self.fusion_metrics:
            values = np.array([scores[name] for _, scores in results])
            undefined = [path for (path, _), value in zip(results, values)
                         if np.isnan(value)]
            if undefined:
                print_log(
                    f'FusionQualityMetric: {name} is undefined (flat '
                    f'images) for {len(undefined)} image(s), left out of its '
                    f'mean: {undefined[:5]}', logger='current',
                    level=logging.WARNING)
            means[name] = float(np.nanmean(values)) if len(undefined) < len(
                values) else float('nan')
        return means
