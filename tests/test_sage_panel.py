"""tools/analysis/sage_panel.py: visible | infrared | teacher | student of a
SAGE model for one image pair."""
import importlib.util
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from conftest import REPO_ROOT
from fusionsam_mmseg.datasets.demo_data import make_demo_dataset

SPEC = importlib.util.spec_from_file_location(
    'sage_panel', osp.join(REPO_ROOT, 'tools', 'analysis', 'sage_panel.py'))
sage_panel = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(sage_panel)

CONFIG = osp.join(REPO_ROOT, 'configs', 'sage', 'sage_tiny_demo.py')


def cache_priors(root, height, width, rows):
    """SAM mask priors of train/00001D: every mask covers ``rows``."""
    folder = osp.join(root, 'train', 'sam_mask_priors')
    os.makedirs(folder, exist_ok=True)
    masks = np.zeros((4, height, width), bool)
    masks[:, rows] = True
    np.savez_compressed(osp.join(folder, '00001D.npz'), visible=masks,
                        infrared=masks)
    with open(osp.join(folder, 'manifest.json'), 'w') as file:
        json.dump(dict(complete=True, top_k=4), file)


@pytest.fixture(scope='module')
def pair(tmp_path_factory):
    """(visible, infrared, checkpoint) of a random tiny SAGE."""
    folder = tmp_path_factory.mktemp('sage_panel')
    root = make_demo_dataset(str(folder / 'msrs'), 'msrs', num_train=1,
                             num_test=1, seed=4)
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(CONFIG).model)
    checkpoint = str(folder / 'sage.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    return (osp.join(root, 'train', 'vi', '00001D.png'),
            osp.join(root, 'train', 'ir', '00001D.png'), checkpoint)


def test_panel_shows_sources_teacher_and_student(pair, tmp_path, capsys):
    visible, infrared, checkpoint = pair
    height, width = cv2.imread(visible).shape[:2]
    root = osp.dirname(osp.dirname(osp.dirname(visible)))
    out = str(tmp_path / 'panel.png')
    cache_priors(root, height, width, slice(0, height // 2))
    assert sage_panel.main(
        [CONFIG, checkpoint, visible, infrared, '--out', out]) == 0
    assert f'wrote {out}' in capsys.readouterr().out
    panel = cv2.imread(out)
    assert panel.shape == (height + 24, 4 * width, 3)
    assert np.array_equal(panel[24:, :width], cv2.imread(visible))
    assert np.array_equal(panel[24:, width:2 * width, 0],
                          cv2.imread(infrared, cv2.IMREAD_GRAYSCALE))
    teacher = panel[24:, 2 * width:3 * width]
    student = panel[24:, 3 * width:]
    assert not np.array_equal(teacher, student)

    # Other SAM masks change what the teacher fuses, not the student.
    cache_priors(root, height, width, slice(height // 2, height))
    other = cv2.imread(sage_panel.sage_panel(
        CONFIG, checkpoint, visible, infrared, str(tmp_path / 'other.png')))
    assert np.array_equal(other[24:, 3 * width:], student)
    assert not np.array_equal(other[24:, 2 * width:3 * width], teacher)
