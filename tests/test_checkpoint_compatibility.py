"""A checkpoint written before the house moved (commit 752a621, issue 16)
still loads, strictly, and predicts the same labels on its demo test split.

``tests/data/fusionsam_752a621/`` holds what that commit's
``tools/train.py configs/fusionsam_tiny_demo.py`` wrote after 120
iterations (state dict and metadata only), the model config it dumped, the
4 test images it was evaluated on and the labels it predicted for them.
"""
import os.path as osp

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner import load_checkpoint
from mmseg.registry import DATASETS, MODELS

from conftest import REPO_ROOT

FIXTURE = osp.join(REPO_ROOT, 'tests', 'data', 'fusionsam_752a621')


def test_checkpoint_from_before_the_move_predicts_the_same_labels():
    model_cfg = Config.fromfile(osp.join(FIXTURE, 'model.py')).model
    # That FMP is what is now the named option 'mask_query'.
    model_cfg.neck.complementary_unit = 'mask_query'
    model = MODELS.build(model_cfg)
    load_checkpoint(model, osp.join(FIXTURE, 'fusionsam_tiny_demo_752a621.pth'),
                    map_location='cpu', strict=True)
    model.eval()
    test_pipeline = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', '_base_', 'datasets',
                 'mfnet.py')).test_pipeline
    dataset = DATASETS.build(
        dict(type='MFNetDataset', data_root=osp.join(FIXTURE, 'data'),
             ann_file='test.txt', pipeline=test_pipeline))
    expected = np.load(osp.join(FIXTURE, 'expected_labels.npz'))
    assert len(dataset) == len(expected.files) == 4
    with torch.no_grad():
        for index in range(len(dataset)):
            prediction = model.test_step(pseudo_collate([dataset[index]]))[0]
            labels = prediction.pred_sem_seg.data[0].numpy()
            assert np.array_equal(labels, expected[f'sample{index}'])
            assert len(np.unique(labels)) > 3  # not a trivial prediction
