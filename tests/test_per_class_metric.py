"""PerClassIoUMetric: per-class IoU/Acc keys with confusion-matrix values."""
import json
import math

import numpy as np
import pytest
import torch

from mmengine.evaluator import Evaluator

from fusionsam_mmseg.datasets import MFNetDataset
from fusionsam_mmseg.evaluation.metrics import PerClassIoUMetric

CLASSES = ('road', 'car', 'person', 'sky')
# Pixel counts: CONFUSION[gt][pred] over the first three classes; `sky`
# appears neither in the labels nor in the predictions.
CONFUSION = np.array([[5, 1, 0], [2, 3, 1], [0, 0, 4]])
IGNORED_PIXELS = 3  # label 255, predicted `car`: must not count


def _pixels():
    """Flat (gt, pred) arrays realising CONFUSION plus the ignored pixels."""
    gt, pred = [], []
    for true_class, row in enumerate(CONFUSION):
        for pred_class, count in enumerate(row):
            gt += [true_class] * count
            pred += [pred_class] * count
    gt += [255] * IGNORED_PIXELS
    pred += [1] * IGNORED_PIXELS
    order = np.random.default_rng(0).permutation(len(gt))
    return np.array(gt)[order], np.array(pred)[order]


def _data_samples():
    """Two images of different sizes (2x5 and 3x3) holding all pixels."""
    gt, pred = _pixels()
    samples = []
    for start, shape in ((0, (2, 5)), (10, (3, 3))):
        stop = start + shape[0] * shape[1]
        samples.append(
            dict(
                pred_sem_seg=dict(data=torch.from_numpy(
                    pred[start:stop].reshape(1, *shape))),
                gt_sem_seg=dict(data=torch.from_numpy(
                    gt[start:stop].reshape(1, *shape)))))
    assert stop == CONFUSION.sum() + IGNORED_PIXELS
    return samples


def _evaluate(**kwargs) -> dict:
    metric = PerClassIoUMetric(**kwargs)
    metric.dataset_meta = dict(classes=CLASSES)
    samples = _data_samples()
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def _expected():
    """IoU and accuracy per class from the constructed counts, in %."""
    true_positive = np.diag(CONFUSION).astype(float)
    gt_total = CONFUSION.sum(axis=1)
    pred_total = CONFUSION.sum(axis=0)
    iou = true_positive / (gt_total + pred_total - true_positive) * 100
    acc = true_positive / gt_total * 100
    return iou, acc, true_positive.sum() / CONFUSION.sum() * 100


def test_every_class_key_present_and_json_ready():
    metrics = _evaluate()
    for name in CLASSES:
        assert f'IoU.{name}' in metrics and f'Acc.{name}' in metrics
    assert {'aAcc', 'mIoU', 'mAcc'} <= set(metrics)
    # mmengine's json writer keeps only plain floats.
    assert all(isinstance(value, float) for value in metrics.values())
    assert all(type(metrics[f'IoU.{name}']) is float for name in CLASSES)
    assert json.loads(json.dumps(metrics)).keys() == metrics.keys()


def test_values_match_confusion_matrix():
    metrics = _evaluate()
    iou, acc, overall = _expected()
    for index, name in enumerate(CLASSES[:3]):
        assert metrics[f'IoU.{name}'] == pytest.approx(iou[index], abs=0.006)
        assert metrics[f'Acc.{name}'] == pytest.approx(acc[index], abs=0.006)
    assert math.isnan(metrics['IoU.sky'])
    assert metrics['mIoU'] == pytest.approx(iou.mean(), abs=0.006)
    assert metrics['mAcc'] == pytest.approx(acc.mean(), abs=0.006)
    assert metrics['aAcc'] == pytest.approx(overall, abs=0.006)


def test_nan_to_num_and_other_metric_families():
    metrics = _evaluate(nan_to_num=0, iou_metrics=['mIoU', 'mDice'])
    iou, _, _ = _expected()
    assert metrics['IoU.sky'] == 0.0
    dice = 2 * iou / (100 + iou) * 100  # Dice = 2 IoU / (1 + IoU)
    assert metrics['Dice.car'] == pytest.approx(dice[1], abs=0.006)


def test_duplicate_class_names_rejected():
    metric = PerClassIoUMetric()
    metric.dataset_meta = dict(classes=('car', 'car', 'person', 'sky'))
    metric.process({}, _data_samples())
    with pytest.raises(ValueError, match='repeats'):
        metric.evaluate(2)


def test_fusion_quality_joins_the_iou_results_in_one_evaluator(
        mfnet_demo_root):
    """One evaluator dict (mmseg's tools/test.py --out needs a dict) scores
    the labels and the fused image of the same predictions."""
    import cv2
    import os.path as osp
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    from fusionsam_mmseg.evaluation import fusion_quality
    stem = open(osp.join(mfnet_demo_root, 'test.txt')).read().split()[0]
    image_path = osp.join(mfnet_demo_root, 'images', f'{stem}.png')
    bgrt = cv2.imread(image_path, cv2.IMREAD_UNCHANGED)
    rgb = bgrt[..., 2::-1]
    label = torch.from_numpy(cv2.imread(
        osp.join(mfnet_demo_root, 'labels', f'{stem}.png'),
        cv2.IMREAD_UNCHANGED).astype(np.int64))
    sample = SegDataSample(metainfo=dict(img_path=image_path,
                                         ori_shape=label.shape))
    sample.gt_sem_seg = PixelData(data=label[None])
    sample.pred_sem_seg = PixelData(data=label[None])
    sample.fused_image = PixelData(data=torch.from_numpy(
        rgb.astype(np.float32) / 255.0).permute(2, 0, 1))
    evaluator = Evaluator(dict(type='PerClassIoUMetric',
                               fusion_quality=dict(fusion_metrics=['EN',
                                                                   'MI'])))
    evaluator.dataset_meta = dict(classes=MFNetDataset.METAINFO['classes'])
    evaluator.process([sample.to_dict()], dict())
    results = evaluator.evaluate(1)
    assert results['mIoU'] == 100.0
    # the default convention ('ivif_zoo') reads images as PIL's grey
    from PIL import Image
    grey = np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).convert('L'))
    expected = fusion_quality(grey, grey, bgrt[..., 3], metrics=['EN', 'MI'])
    assert results['EN'] == pytest.approx(expected['EN'])
    assert results['MI'] == pytest.approx(expected['MI'])
