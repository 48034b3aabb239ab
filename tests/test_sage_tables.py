"""make_tables.py: the fusion table beside SAGE's published Qabf."""
import importlib.util
import json
import os.path as osp

from conftest import REPO_ROOT

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

