"""IoU metric whose per-class values reach the results json of tools/test.py.

mmseg's :class:`~mmseg.evaluation.IoUMetric` prints a per-class table but
returns only the dataset means (``aAcc``, ``mIoU``, ``mAcc``). mmengine writes
exactly the returned dict to ``work_dir/<timestamp>/<timestamp>.json``, so the
per-class numbers are lost for any tool that reads results. This subclass adds
them as ``<Metric>.<class name>`` keys (``IoU.car``, ``Acc.car``, ...), and,
with ``fusion_quality``, the fusion metrics of the predicted fused image: one
evaluator dict, as mmseg's ``tools/test.py --out`` needs (it writes
``output_dir`` into ``test_evaluator``, which a list cannot take).
"""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS

from .fusion_quality_metric import FusionQualityMetric


@METRICS.register_module()
class PerClassIoUMetric(IoUMetric):
    """:class:`IoUMetric` that also returns every per-class value.

    Takes the same arguments as mmseg's ``IoUMetric`` (``ignore_index=255``,
    ``iou_metrics=['mIoU']``, ``nan_to_num=None``, ``beta=1``,
    ``collect_device='cpu'``, ``output_dir=None``, ``format_only=False``,
    ``prefix=None``) and prints the same per-class table.

    Args:
        fusion_quality (dict, optional): Also score each prediction's fused
            image: the arguments of :class:`FusionQualityMetric` (e.g.
            ``dict(fusion_metrics=('EN', 'SD', 'Qabf'))``; ``dict()`` for all
            ten). Its keys (``EN``, ..., ``MS-SSIM``) join the results.
            Default: None.
        **kwargs: mmseg's ``IoUMetric`` arguments.

    Returned keys: the means of ``IoUMetric`` (``aAcc``, ``mIoU``, ``mAcc``,
    ``mDice``, ... as selected by ``iou_metrics``) plus one
    ``<Metric>.<class>`` key per class and per-class metric, e.g. ``IoU.car``
    and ``Acc.car`` for ``iou_metrics=['mIoU']``. Values are percentages
    rounded to 2 decimals, like mmseg's table; a class absent from both the
    ground truth and the predictions gives ``nan`` (or ``nan_to_num``).
    """

    def __init__(self, fusion_quality: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.fusion_quality = (
            None if fusion_quality is None else FusionQualityMetric(
                collect_device=self.collect_device, **fusion_quality))

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """IoU areas of each sample (and its fused image's quality)."""
        super().process(data_batch, data_samples)
        if self.fusion_quality is not None:
            self.fusion_quality.process(data_batch, data_samples)

    def evaluate(self, size: int) -> dict:
        """IoU metrics, then the fusion metrics when asked for."""
        metrics = super().evaluate(size)
        if self.fusion_quality is not None:
            metrics.update(self.fusion_quality.evaluate(size))
        return metrics

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Compute the mean metrics and the per-class metrics.

        Args:
            results (list): Per-image ``(area_intersect, area_union,
                area_pred_label, area_label)`` tuples from :meth:`process`,
                each a (num_classes,) tensor.

        Returns:
            dict[str, float]: The means of :class:`IoUMetric` followed by the
            ``<Metric>.<class>`` values.
        """
        if self.format_only:
            return super().compute_metrics(results)
        self._class_names()
        metrics = super().compute_metrics(results)
        metrics.update(self.per_class_metrics(results))
        return metrics

    def per_class_metrics(self, results: list) -> Dict[str, float]:
        """Per-class metric values keyed ``<Metric>.<class name>``.

        Args:
            results (list): As for :meth:`compute_metrics`.

        Returns:
            OrderedDict[str, float]: For each metric of ``iou_metrics`` (IoU
            and Acc for ``mIoU``; Dice and Acc for ``mDice``; Fscore,
            Precision and Recall for ``mFscore``), one value per class in
            ``dataset_meta['classes']`` order, in percent, 2 decimals.
        """
        class_names = self._class_names()
        totals = [sum(areas) for areas in zip(*results)]
        ret_metrics = self.total_area_to_metrics(
            *totals, self.metrics, self.nan_to_num, self.beta)
        ret_metrics.pop('aAcc', None)
        per_class = OrderedDict()
        for metric_name, values in ret_metrics.items():
            for class_name, value in zip(class_names, _as_list(values)):
                per_class[f'{metric_name}.{class_name}'] = round(
                    value * 100, 2)
        return per_class

    def _class_names(self) -> List[str]:
        """Class names of ``dataset_meta``; they must be unique keys."""
        class_names = list(self.dataset_meta['classes'])
        duplicates = {name for name in class_names
                      if class_names.count(name) > 1}
        if duplicates:
            raise ValueError(
                f'{type(self).__name__}: dataset_meta["classes"] repeats '
                f'{sorted(duplicates)}; per-class result keys must be unique.')
        return class_names


def _as_list(values: Sequence) -> List[float]:
    """Per-class values (tensor or array) as plain Python floats.

    mmengine's json writer drops values that are not plain ``float`` (e.g.
    ``np.float32``), so every value is converted here.
    """
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    return [float(value) for value in np.asarray(values, dtype=np.float64)]
