"""make_tables.py: the fusion table beside SAGE's published Qabf, and the
visible | infrared | teacher | student panel of a SAGE model."""
import importlib.util
import json
import os
import os.path as osp

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from conftest import REPO_ROOT
from fusionsam_mmseg.datasets.demo_data import make_demo_dataset

SPEC = importlib.util.spec_from_file_location(
    'make_tables', osp.join(REPO_ROOT, 'tools', 'analysis', 'make_tables.py'))
make_tables = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(make_tables)

MEASURED = dict(EN=6.61, SD=41.2, SF=10.9, AG=3.51, MI=3.04, SCD=1.52,
                VIF=0.87, Qabf=0.5812, SSIM=1.21, time=0.1)


def write_json(path, record):
    with open(path, 'w') as file:
        json.dump(record, file)
    return str(path)


def test_fusion_table_puts_the_run_beside_sages_qabf(tmp_path):
    results = write_json(tmp_path / 'sage.json', MEASURED)
    out = str(tmp_path / 'tables')
    assert make_tables.main(['--fusion-msrs', results, '--out', out]) == 0
    markdown = open(osp.join(out, 'fusion_msrs.md')).read()
    rows = [line for line in markdown.splitlines()
            if line.startswith('| ') and '---' not in line]
    assert rows[0] == ('| Method | EN | SD | SF | AG | MI | SCD | VIF | '
                       'Qabf |')
    assert rows[1] == ('| SAGE (paper) | — | — | — | — | — | — | — | '
                       '0.6242 |')
    assert rows[2] == ('| this run | 6.6100 | 41.2000 | 10.9000 | 3.5100 | '
                       '3.0400 | 1.5200 | 0.8700 | 0.5812 |')
    csv_rows = open(osp.join(out, 'fusion_msrs.csv')).read().splitlines()
    assert csv_rows[2].startswith('this run,6.61,41.2,')


def test_fusion_table_needs_fusion_metrics(tmp_path, capsys):
    results = write_json(tmp_path / 'iou.json', dict(mIoU=50.0))
    status = make_tables.main(['--fusion-msrs', results, '--out',
                               str(tmp_path / 'tables')])
    error = capsys.readouterr().err
    assert status == 2
    assert 'has no Qabf' in error and 'FusionQualityMetric' in error


def test_sage_panel_shows_sources_teacher_and_student(tmp_path):
    root = make_demo_dataset(str(tmp_path / 'msrs'), 'msrs', num_train=1,
                             num_test=1, seed=4)
    visible = osp.join(root, 'train', 'vi', '00001D.png')
    infrared = osp.join(root, 'train', 'ir', '00001D.png')
    height, width = cv2.imread(visible).shape[:2]
    folder = osp.join(root, 'train', 'sam_mask_priors')
    os.makedirs(folder)
    masks = np.zeros((4, height, width), bool)
    masks[:, :height // 2] = True
    np.savez_compressed(osp.join(folder, '00001D.npz'), visible=masks,
                        infrared=masks)
    write_json(osp.join(folder, 'manifest.json'),
               dict(complete=True, top_k=4))
    config = osp.join(REPO_ROOT, 'configs', 'sage', 'sage_tiny_demo.py')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(config).model)
    checkpoint = str(tmp_path / 'sage.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    out = make_tables.sage_panel(config, checkpoint, visible, infrared,
                                 str(tmp_path / 'panel.png'))
    panel = cv2.imread(out)
    assert panel.shape == (height + 24, 4 * width, 3)
    visible_tile = panel[24:, :width]
    assert np.array_equal(visible_tile, cv2.imread(visible))
    infrared_tile = panel[24:, width:2 * width, 0]
    assert np.array_equal(infrared_tile,
                          cv2.imread(infrared, cv2.IMREAD_GRAYSCALE))
    teacher, student = panel[24:, 2 * width:3 * width], panel[24:, 3 *
                                                              width:]
    assert not np.array_equal(teacher, student)
