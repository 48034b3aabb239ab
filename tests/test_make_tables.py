"""tools/analysis/make_tables.py: published rows verbatim, ours in place."""
import csv
import glob
import importlib.util
import json
import os.path as osp
import runpy
import sys

import pytest
import torch

from conftest import REPO_ROOT

TOOL = osp.join(REPO_ROOT, 'tools', 'analysis', 'make_tables.py')
DEMO_CONFIG = 'configs/fusionsam_tiny_demo.py'

# The papers' tables as the design notes transcribe them, pasted as text
# (independent of published.py).
MFNET_PUBLISHED = """\
EGFNet 97.7 87.6 69.8 58.8 42.8 33.8 7.3 48.3 47.1 54.8
SegMiF 98.1 87.8 71.4 63.2 47.5 31.1 0.0 48.9 50.3 56.1
EAEFNet 97.6 87.6 72.6 63.8 48.6 35.0 14.2 52.4 58.3 58.9
LASNet 97.4 84.2 67.1 56.9 41.1 39.6 18.9 48.8 40.1 54.9
SFAF-MA 97.0 88.1 73.0 61.3 45.6 29.5 5.5 45.7 53.8 55.5
ECFNet 98.0 85.7 73.5 59.7 45.7 36.7 4.0 47.4 55.1 56.2
MRFS 98.6 89.4 75.4 65.0 49.0 37.2 5.4 53.1 58.8 59.1
FusionSAM_(paper) 98.8 89.8 74.0 75.8 69.6 60.2 0.0 37.8 61.4 63.0"""
FMB_PUBLISHED = """\
EGFNet 77.4 63.0 17.1 25.2 66.6 77.2 83.5 41.5 47.3
SegMiF 78.7 65.5 42.4 35.6 71.7 80.1 85.1 35.7 58.5
EAEFNet 79.7 61.6 22.5 34.3 74.6 82.3 86.6 46.2 58.0
LASNet 73.2 58.3 33.1 32.6 68.5 80.8 83.4 41.0 55.7
SFAF-MA 73.0 55.7 14.3 13.6 54.2 73.0 78.9 38.1 42.7
ECFNet 80.0 63.1 12.8 40.6 71.9 81.4 84.4 44.6 52.5
MRFS 76.2 71.3 34.4 50.1 75.8 85.4 87.0 53.6 61.2
FusionSAM_(paper) 80.1 52.8 45.9 43.7 46.4 85.5 88.4 50.8 61.8"""
MFNET_CLASSES = ['unlabeled', 'car', 'person', 'bike', 'curve', 'car_stop',
                 'guardrail', 'color_cone', 'bump']
FMB_CLASSES = ['unlabeled', 'Road', 'Sidewalk', 'Building', 'Lamp', 'Sign',
               'Vegetation', 'Sky', 'Person', 'Car', 'Truck', 'Bus',
               'Motorcycle', 'Bicycle', 'Pole']


@pytest.fixture(scope='module')
def make_tables():
    spec = importlib.util.spec_from_file_location('make_tables', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _markdown_rows(published: str):
    """'| Method | v1 | ... |' lines of the pasted published rows."""
    rows = []
    for line in published.splitlines():
        method, *values = line.split()
        rows.append('| ' + ' | '.join([method.replace('_', ' '), *values]) +
                    ' |')
    return rows


def _write_json(path, classes, iou, miou, **extra):
    """A results json as tools/test.py writes it with PerClassIoUMetric."""
    record = dict(aAcc=90.0, mIoU=miou, mAcc=70.0, data_time=0.01, time=0.1)
    for name, value in zip(classes, iou):
        record[f'IoU.{name}'] = value
        record[f'Acc.{name}'] = 50.0
    record.update(extra)
    path.write_text(json.dumps(record))
    return str(path)


def _row(table_text: str, label: str) -> str:
    matches = [line for line in table_text.splitlines()
               if line.startswith(f'| {label} |')]
    assert len(matches) == 1, f'row {label!r} not found once in\n{table_text}'
    return matches[0]


def test_mfnet_table_published_rows_and_ours(make_tables, tmp_path):
    iou = [97.12, 80.55, 60.01, 50.0, 41.26, 30.0, float('nan'), 20.0, 9.94]
    results = _write_json(tmp_path / 'mfnet.json', MFNET_CLASSES, iou, 48.61)
    out = tmp_path / 'tables'
    assert make_tables.main(['--mfnet', results, '--out', str(out)]) == 0

    text = (out / 'mfnet.md').read_text()
    for row in _markdown_rows(MFNET_PUBLISHED):
        assert row in text
    ours = _row(text, 'FusionSAM (this run)')
    assert ours == ('| FusionSAM (this run) | 97.1 | 80.5 | 60.0 | 50.0 | '
                    '41.3 | 30.0 | — | 20.0 | 9.9 | 48.6 |')

    with open(out / 'mfnet.csv', newline='', encoding='utf-8') as file:
        rows = list(csv.DictReader(file))
    assert [r['Method'] for r in rows][-1] == 'FusionSAM (this run)'
    assert rows[0]['Method'] == 'EGFNet' and rows[0]['guardrail'] == '7.3'
    assert float(rows[-1]['car']) == 80.55 and rows[-1]['guardrail'] == '—'
    assert rows[-1]['Source'] == results

    tex = (out / 'mfnet.tex').read_text()
    assert r'car\_stop' in tex and r'\toprule' in tex
    assert 'FusionSAM (this run) & 97.1 & 80.5' in tex
    png = (out / 'mfnet_iou.png').read_bytes()
    assert png.startswith(b'\x89PNG') and len(png) > 5000
    # The paper's margin over the next best method beside ours.
    assert ('- mIoU over the next best published method, MRFS (59.1): the '
            "paper's FusionSAM +3.9, FusionSAM (this run) -10.5.") in text


def test_fmb_columns_map_to_dataset_classes(make_tables, tmp_path):
    iou = [float(10 + index) for index in range(len(FMB_CLASSES))]
    # mIoU is taken from the json (all classes), not from the 8 columns.
    results = _write_json(tmp_path / 'fmb.json', FMB_CLASSES, iou, 17.0)
    out = tmp_path / 'tables'
    assert make_tables.main(['--fmb', results, '--out', str(out)]) == 0
    text = (out / 'fmb.md').read_text()
    assert ('| Method | Car | Person | Truck | T-Lamp | T-Sign | Building | '
            'Vegetation | Pole | mIoU |') in text
    for row in _markdown_rows(FMB_PUBLISHED):
        assert row in text
    expected = [iou[FMB_CLASSES.index(name)] for name in
                ('Car', 'Person', 'Truck', 'Lamp', 'Sign', 'Building',
                 'Vegetation', 'Pole')] + [17.0]
    assert _row(text, 'FusionSAM (this run)') == (
        '| FusionSAM (this run) | ' +
        ' | '.join(f'{value:.1f}' for value in expected) + ' |')
    assert ('- mIoU over the next best published method, MRFS (61.2): the '
            "paper's FusionSAM +0.6, FusionSAM (this run) -44.2.") in text
    assert ('- Class convention: the mIoU of FusionSAM (this run) averages '
            '15 classes (`unlabeled` counted); the published rows are read '
            'as 15-class numbers (`unlabeled` counted).\n') in text
    with open(out / 'fmb.csv', newline='', encoding='utf-8') as file:
        rows = list(csv.DictReader(file))
    assert [row['Classes in mIoU'] for row in rows] == ['15'] * 9
    assert rows[-1]['Source'] == results


def test_fmb_table_states_a_14_class_run(make_tables, tmp_path):
    """count_unlabeled=False: the json has no IoU.unlabeled."""
    results = _write_json(tmp_path / 'fmb14.json', FMB_CLASSES[1:],
                          [40.0] * 14, 40.0)
    out = tmp_path / 'tables'
    assert make_tables.main(['--fmb', results, '--out', str(out),
                             '--no-plot']) == 0
    text = (out / 'fmb.md').read_text()
    assert ('averages 14 classes (`unlabeled` ignored); the published rows '
            'are read as 15-class numbers (`unlabeled` counted). The mIoU '
            'column compares two conventions.') in text
    with open(out / 'fmb.csv', newline='', encoding='utf-8') as file:
        rows = list(csv.DictReader(file))
    assert [row['Classes in mIoU'] for row in rows] == ['15'] * 8 + ['14']


def test_sam_ablation_and_day_night_cells(make_tables, tmp_path):
    def results(name, miou):
        return _write_json(tmp_path / f'{name}.json', MFNET_CLASSES,
                           [miou] * 9, miou)

    out = tmp_path / 'tables'
    status = make_tables.main([
        '--sam-mfnet', results('sam', 31.25), '--sam2-fmb',
        results('sam2', 44.5), '--ablation-concat-fmb',
        results('concat', 55.5), '--mfnet-night', results('night', 40.0),
        '--out', str(out), '--run-name', 'repro'
    ])
    assert status == 0
    sam = (out / 'sam_on_fused.md').read_text()
    assert _row(sam, 'SAM') == '| SAM | 32.7 | 31.2 | 34.6 | — |'
    assert _row(sam, 'SAM2') == '| SAM2 | 43.0 | — | 46.3 | 44.5 |'
    assert _row(sam, 'FusionSAM') == '| FusionSAM | 63.0 | — | 61.8 | — |'
    ablation = (out / 'ablation.md').read_text()
    assert _row(ablation, 'concat instead of FMP') == (
        '| concat instead of FMP | 47.3 | — | 57.6 | 55.5 |')
    assert _row(ablation, 'w/o LSTG') == '| w/o LSTG | 35.6 | — | 41.4 | — |'
    assert ('- mIoU change from full FusionSAM, FMB: w/o LSTG paper -20.4, '
            'repro —; concat instead of FMP paper -4.2, repro —.') in ablation
    day_night = (out / 'mfnet_day_night.md').read_text()
    assert _row(day_night, 'repro (night)').endswith('| 40.0 | 40.0 |')
    assert '| repro (day) |' not in day_night
    assert not (out / 'mfnet.md').exists()


def test_missing_and_unsuitable_inputs_are_reported(make_tables, tmp_path,
                                                    capsys):
    def error_of(*argv):
        assert make_tables.main([*argv, '--out', str(tmp_path)]) == 2
        return capsys.readouterr().err

    message = error_of()
    assert 'no results json given' in message and '--mfnet' in message

    missing = tmp_path / 'absent.json'
    message = error_of('--mfnet', str(missing))
    assert f'{missing} (given to --mfnet) does not exist' in message

    stock = tmp_path / 'stock.json'
    stock.write_text(json.dumps(dict(aAcc=90.0, mIoU=40.0, mAcc=50.0)))
    message = error_of('--mfnet', str(stock))
    assert "no 'IoU.unlabeled'" in message and 'PerClassIoUMetric' in message

    broken = tmp_path / 'broken.json'
    broken.write_text('{"mIoU": 1.0,')
    assert 'is not valid json' in error_of('--fmb', str(broken))
    assert not list(tmp_path.glob('*.md'))


def test_ablation_drops_beside_the_papers(make_tables, tmp_path):
    def results(name, miou):
        return _write_json(tmp_path / f'{name}.json', MFNET_CLASSES,
                           [miou] * 9, miou)

    out = tmp_path / 'tables'
    assert make_tables.main([
        '--mfnet', results('full', 50.0), '--ablation-no-lstg-mfnet',
        results('no_lstg', 41.25), '--out', str(out), '--no-plot'
    ]) == 0
    ablation = (out / 'ablation.md').read_text()
    assert ('- mIoU change from full FusionSAM, MFNet: w/o LSTG paper -27.4, '
            'this run -8.8; concat instead of FMP paper -15.7, this run —.'
            ) in ablation


def _timestamp_folder(tmp_path, record, test_set):
    """What tools/test.py writes: <ts>/<ts>.json and the run's config in
    <ts>/vis_data/config.py (here only its test set)."""
    folder = tmp_path / '20240101_000000'
    (folder / 'vis_data').mkdir(parents=True)
    (folder / '20240101_000000.json').write_text(json.dumps(record))
    (folder / 'vis_data' / 'config.py').write_text(
        f'test_dataloader = dict(dataset=dict({test_set}))\n')
    return folder


def test_validation_results_are_refused(make_tables, tmp_path, capsys):
    """A training run's scalar log, val/ keys or a test on a validation
    split: refused, naming the file; the tools/test.py folder of a test-split
    run is accepted."""
    with open(_write_json(tmp_path / 'x.json', MFNET_CLASSES, [50.0] * 9,
                          50.0)) as file:
        record = json.load(file)
    out = str(tmp_path / 'tables')

    def error_of(*argv):
        assert make_tables.main([*argv, '--out', out]) == 2
        return capsys.readouterr().err

    scalars = tmp_path / 'scalars.json'
    scalars.write_text('\n'.join(json.dumps(r) for r in (
        dict(loss=1.0, iter=1), record, dict(loss=0.5, iter=2))))
    message = error_of('--mfnet', str(scalars))
    assert f'{scalars} (given to --mfnet) is a json-lines scalar log' in \
        message and 'validation split' in message
    val_keys = tmp_path / 'val_keys.json'
    val_keys.write_text(json.dumps(
        {f'val/{key}': value for key, value in record.items()}))
    message = error_of('--mfnet', str(val_keys))
    assert f'{val_keys} (given to --mfnet) holds validation metrics' in \
        message
    folder = _timestamp_folder(tmp_path, record,
                               "type='MFNetDataset', ann_file='val.txt'")
    message = error_of('--sam-mfnet', str(folder))
    assert (f"(given to --sam-mfnet) was written by a test on a validation "
            f"split ({folder / 'vis_data' / 'config.py'}: "
            "test_dataloader.dataset.ann_file='val.txt')") in message
    assert not (tmp_path / 'tables').exists()

    (folder / 'vis_data' / 'config.py').write_text(
        "test_dataloader = dict(dataset=dict(ann_file='test.txt'))\n")
    assert make_tables.main(['--sam-fmb', str(folder), '--out', out]) == 0
    sam = (tmp_path / 'tables' / 'sam_on_fused.md').read_text()
    assert _row(sam, 'SAM') == '| SAM | 32.7 | — | 34.6 | 50.0 |'


def test_tools_test_json_feeds_the_table(mfnet_demo_root, tmp_path,
                                         monkeypatch, make_tables):
    """tools/test.py CONFIG CKPT, then make_tables.py --mfnet <its json>.

    Both tools run in this process (as ``__main__`` with their command line)
    to spare the import time of two interpreters.
    """
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    cfg = Config.fromfile(osp.join(REPO_ROOT, DEMO_CONFIG))
    init_default_scope('mmseg')
    checkpoint = tmp_path / 'random_init.pth'
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict()),
               checkpoint)
    work_dir = tmp_path / 'test_run'
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setattr(sys, 'argv', [
        'tools/test.py', DEMO_CONFIG, str(checkpoint), '--work-dir',
        str(work_dir), '--cfg-options',
        f'test_dataloader.dataset.data_root={mfnet_demo_root}',
        # a visualizer of its own: an earlier in-process run's would keep
        # writing into that run's vis_data/
        f'visualizer.name=make_tables_{tmp_path.name}'
    ])
    runpy.run_path(osp.join(REPO_ROOT, 'tools', 'test.py'),
                   run_name='__main__')
    results = glob.glob(str(work_dir / '*' / '*.json'))
    assert len(results) == 1
    # The run's config, which make_tables.py reads for its test split.
    assert osp.isfile(
        osp.join(osp.dirname(results[0]), 'vis_data', 'config.py'))
    metrics = json.loads(open(results[0]).read())
    assert {f'IoU.{name}' for name in MFNET_CLASSES} <= set(metrics)

    out = tmp_path / 'tables'
    assert make_tables.main(['--mfnet', results[0], '--out', str(out)]) == 0
    text = (out / 'mfnet.md').read_text()
    for row in _markdown_rows(MFNET_PUBLISHED):
        assert row in text
    ours = _row(text, 'FusionSAM (this run)')
    assert ours.endswith(f'| {metrics["mIoU"]:.1f} |')
    assert (out / 'mfnet_iou.png').is_file()


# The design notes' transcription and CMNeXt's model zoo (README.md of
# jamycheung/DELIVER),
# pasted as text (independent of published.py).
DELIVER_PUBLISHED = """\
CMNeXt-B2 57.20 63.58 64.44 66.30
MemorySAM_(Hiera-B+) 53.22 63.48 62.42 65.38"""
MCUBES_PUBLISHED = """\
MemorySAM_(Hiera-B+) 51.20 52.20 52.88
CMNeXt-B2 48.42 49.48 51.54"""


def test_deliver_and_mcubes_tables(make_tables, tmp_path, capsys):
    def results(name, miou):
        return _write_json(tmp_path / f'{name}.json', ['Road'], [miou], miou)

    out = tmp_path / 'tables'
    assert make_tables.main([
        '--deliver-rgb', results('rgb', 40.126), '--deliver-rgbdel',
        results('rgbdel', 51.5), '--mcubes-radn', results('radn', 12.34),
        '--out', str(out), '--run-name', 'repro', '--decimals', '2'
    ]) == 0
    deliver = (out / 'deliver.md').read_text()
    assert '| Method | RGB | RGB-D | RGB-D-E | RGB-D-E-L |' in deliver
    for row in _markdown_rows(DELIVER_PUBLISHED):
        assert row in deliver
    assert _row(deliver, 'repro (test)') == \
        '| repro (test) | 40.13 | — | — | 51.50 |'
    assert 'MemorySAM paper' in deliver
    assert 'CMNeXt-B2: val split' in deliver
    assert 'MemorySAM (Hiera-B+): val split' in deliver
    assert 'best epoch of 200 on val (RGB-D: epoch 154)' in deliver
    assert 'RGB-D: no --deliver-rgbd given.' in deliver
    mcubes = (out / 'mcubes.md').read_text()
    assert '| Method | R-A | R-A-D | R-A-D-N |' in mcubes
    for row in _markdown_rows(MCUBES_PUBLISHED):
        assert row in mcubes
    assert _row(mcubes, 'repro (test)') == \
        '| repro (test) | — | — | 12.34 |'
    with open(out / 'mcubes.csv', newline='', encoding='utf-8') as file:
        rows = list(csv.DictReader(file))
    assert rows[1]['R-A'] == '48.42' and rows[1]['R-A-D-N'] == '51.54'
    splits = [row['Split; epoch selection'] for row in rows]
    assert splits[0].startswith('list_folder/test.txt') and \
        'best epoch on it: 259 / 326 / 453 of 500' in splits[0]
    assert 'among epochs 401-500' in splits[1]
    assert splits[2].startswith('test split')
    assert rows[-1]['R-A-D-N'] == '12.34' and rows[-1]['Source'].endswith(
        'radn.json')
    assert not (out / 'mfnet.md').exists()

    with pytest.raises(SystemExit):
        make_tables.parse_args(['--help'])
    help_text = ' '.join(capsys.readouterr().out.split())
    assert ('CMNeXt-B2: list_folder/test.txt (the loader\'s "val" reads it), '
            'best epoch on it among epochs 401-500') in help_text
    assert 'MemorySAM (Hiera-B+): val split' in help_text
    assert ('EGFNet, SegMiF, EAEFNet, LASNet, SFAF-MA, ECFNet, MRFS, '
            'FusionSAM (paper): test split') in help_text


SEGMENTATION_TABLES = ('mfnet', 'fmb', 'sam_on_fused', 'ablation', 'deliver',
                       'mcubes')


def test_help_gives_every_published_row_its_split_and_selection(
        make_tables, capsys):
    """--help lists each published row of the segmentation tables with the
    split and epoch selection that published.py records for it."""
    from fusionsam_mmseg.evaluation.published import PUBLISHED_TABLES
    with pytest.raises(SystemExit):
        make_tables.parse_args(['--help'])
    entries = ' '.join(capsys.readouterr().out.split()).split(' - ')
    for name in SEGMENTATION_TABLES:
        table = PUBLISHED_TABLES[name]
        for method in table.rows:
            protocol = table.row_protocol(method)
            assert any(method in entry.split(': ')[0].split(', ')
                       and f': {protocol} (source: ' in entry
                       for entry in entries), (name, method, protocol)
