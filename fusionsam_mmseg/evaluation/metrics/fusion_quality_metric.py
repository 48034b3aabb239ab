"""Fusion-quality metric of the fused image a model predicts (DESIGN §4).

For every test image, the fused image of the prediction
(``data_sample.fused_image``: PixelData (3, H, W) in [0, 1], attached by
``FusionSAM.predict`` and ``SAGE.predict``) is scored against the sources
read again from their files at native resolution (visible as luminance Y,
infrared as its grey channel) by
:func:`~fusionsam_mmseg.evaluation.fusion_quality.fusion_quality`; the
metric reports the mean over the test set of each value.
"""
import logging
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmseg.registry import METRICS

from ...datasets.transforms.loading import LoadRGBTImageFromFile
from ..fusion_quality import FUSION_METRICS, check_metric_names, fusion_quality


def to_grey_levels(image: np.ndarray) -> np.ndarray:
    """(3, H, W) RGB in [0, 1] -> (H, W) uint8 luminance Y.

    The image is rounded to 8 bits first, as if saved to a PNG and read
    back as grey (OpenCV's BT.601 ``RGB2GRAY``: 0.299 R + 0.587 G +
    0.114 B), the protocol of the published fusion tables.
    """
    rgb = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    return cv2.cvtColor(np.ascontiguousarray(rgb.transpose(1, 2, 0)),
                        cv2.COLOR_RGB2GRAY)


@METRICS.register_module()
class FusionQualityMetric(BaseMetric):
    """Mean EN, SD, SF, AG, MI, SCD, VIF, Qabf, SSIM, MS-SSIM of the
    predicted fused images.

    Args:
        fusion_metrics (Sequence[str]): Which of
            :data:`~fusionsam_mmseg.evaluation.fusion_quality.FUSION_METRICS`
            to report (not ``metrics``: mmengine reads a ``metrics`` key as
            an evaluator config). MS-SSIM needs images of at least 176 x 176
            pixels; leave it out for smaller ones. Default: all ten.
        collect_device (str): ``'cpu'`` or ``'gpu'``. Default: 'cpu'.
        prefix (str, optional): Prefix of the result keys. Default: None.

    Every data sample needs ``fused_image`` and the metainfo ``img_path``
    (and ``thermal_path`` for datasets with separate infrared files, as
    :class:`~fusionsam_mmseg.datasets.transforms.LoadRGBTImageFromFile`
    reads them); the first modality group is the visible image, the
    second (one channel) the infrared one.
    """

    def __init__(self,
                 fusion_metrics: Sequence[str] = FUSION_METRICS,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.fusion_metrics = check_metric_names(fusion_metrics)
        self.load_sources = LoadRGBTImageFromFile()

    def _sources(self, data_sample: dict) -> Tuple[np.ndarray, np.ndarray]:
        """Visible Y and infrared (H, W) uint8 of one sample's files."""
        loaded = self.load_sources(
            dict(img_path=data_sample['img_path'],
                 thermal_path=data_sample.get('thermal_path')))
        image = loaded['img']
        visible = cv2.cvtColor(np.ascontiguousarray(image[..., :3]),
                               cv2.COLOR_RGB2GRAY)
        return visible, image[..., 3]

    def _fused(self, data_sample: dict) -> np.ndarray:
        """The prediction's fused image as (H, W) uint8 luminance."""
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
        return to_grey_levels(fused.numpy())

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
                                    self.fusion_metrics)
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
                    f'FusionQualityMetric: {name} is undefined (both sources '
                    f'flat) for {len(undefined)} image(s), left out of its '
                    f'mean: {undefined[:5]}', logger='current',
                    level=logging.WARNING)
            means[name] = float(np.nanmean(values)) if len(undefined) < len(
                values) else float('nan')
        return means
