"""Your own data: MultiModalFolderDataset, prepare_own_dataset.py, and every
command of docs/own_data.md.

The folder is the ``multimodal_folder`` demo format: rgb/ (.jpg),
thermal/, labels/ (colour PNGs in OWN_PALETTE), as a user brings it.
"""
import glob
import os
import os.path as osp
import re
import shlex
import shutil

import cv2
import numpy as np
import pytest
from mmseg.registry import DATASETS

from conftest import REPO_ROOT
from fusionsam_mmseg.datasets.demo_data import (OWN_CLASSES, OWN_PALETTE,
                                                make_demo_dataset)
from fusionsam_mmseg.datasets.label_colours import ids_from_colours
from in_process import config_with_data, run_script

TINY_CONFIG = 'configs/own_data/fusionsam_tiny_own_rgbt.py'
PREPARE = 'tools/dataset_converters/prepare_own_dataset.py'
DOC = osp.join(REPO_ROOT, 'docs', 'own_data.md')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _root_options(root: str) -> list:
    return ['--cfg-options'] + [
        f'{loader}.dataset.data_root={root}' for loader in LOADERS]


def _prepare(root: str, *args: str) -> None:
    run_script(PREPARE, [TINY_CONFIG, *args, *_root_options(root)])


def _colour_pairs(folder, count: int = 10) -> str:
    """A fresh folder of ``count`` colour-label RGB-T pairs."""
    return make_demo_dataset(
        str(folder), 'multimodal_folder', num_train=count - 2, num_test=2,
        seed=3, height=36, width=48)


@pytest.fixture(scope='module')
def prepared_root(tmp_path_factory) -> str:
    root = _colour_pairs(tmp_path_factory.mktemp('own_prepared'))
    _prepare(root, '--color-labels', 'labels')
    return root


def _dataset(root: str, split: str = 'train', **changes):
    cfg = config_with_data(TINY_CONFIG, root)
    dataset_cfg = cfg[f'{split}_dataloader'].dataset
    dataset_cfg.update(changes)
    return DATASETS.build(dataset_cfg)


def _split(root: str, split: str) -> list:
    with open(osp.join(root, 'splits', f'{split}.txt')) as file:
        return file.read().split()


def test_colours_map_to_palette_positions(tmp_path):
    ids = np.array([[0, 1, 5], [4, 4, 2]], np.uint8)
    palette = np.asarray(OWN_PALETTE, np.uint8)
    np.testing.assert_array_equal(
        ids_from_colours(palette[ids], OWN_PALETTE, 'x.png'), ids)
    colours = palette[ids]
    colours[1, 2] = (1, 2, 3)
    with pytest.raises(ValueError, match=r'x.png has 1 colour\(s\) that are '
                       r'not in the palette: \[1, 2, 3\] \(1 px\)'):
        ids_from_colours(colours, OWN_PALETTE, 'x.png')


def test_dataset_reads_id_and_colour_labels_alike(prepared_root):
    by_ids = _dataset(prepared_root, 'val')
    by_colours = _dataset(
        prepared_root, 'val', label_format='color',
        data_prefix=dict(seg_map_path='labels'))
    assert by_ids.metainfo['classes'] == OWN_CLASSES
    assert by_ids.metainfo['modality_names'] == ('rgb', 'thermal')
    assert by_ids.metainfo['modality_channels'] == (3, 1)
    assert len(by_ids) == len(_split(prepared_root, 'val'))
    sample_ids, sample_colours = by_ids[0], by_colours[0]
    assert tuple(sample_ids['inputs'].shape[:1]) == (4, )
    gt_ids = sample_ids['data_samples'].gt_sem_seg.data
    gt_colours = sample_colours['data_samples'].gt_sem_seg.data
    assert int(gt_ids.max()) > 0
    assert (gt_ids == gt_colours).all()
    stem = _split(prepared_root, 'val')[0]
    colour_png = cv2.imread(osp.join(prepared_root, 'labels', f'{stem}.png'))
    palette_index = {tuple(c): i for i, c in enumerate(OWN_PALETTE)}
    expected = np.vectorize(lambda r, g, b: palette_index[(r, g, b)])(
        colour_png[..., 2], colour_png[..., 1], colour_png[..., 0])
    written = cv2.imread(osp.join(prepared_root, 'label_ids', f'{stem}.png'),
                         cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(written, expected)


def test_missing_file_names_the_file_and_split_line(prepared_root, tmp_path):
    root = str(tmp_path / 'copy')
    shutil.copytree(prepared_root, root)
    stem = _split(root, 'val')[1]
    missing = osp.join(root, 'thermal', f'{stem}.png')
    os.remove(missing)
    with pytest.raises(FileNotFoundError) as error:
        _dataset(root, 'val')
    assert missing in str(error.value)
    assert 'splits/val.txt line 2' in str(error.value)


@pytest.mark.parametrize('modalities, message', [
    ([dict(name='rgb', folder='rgb', channels=3)], None),
    ([dict(name='thermal', folder='thermal', channels=1)], 'visible one'),
    ([dict(name='rgb', folder='rgb', channels=3),
      dict(name='thermal', channels=1)], r"lacks \['folder'\]"),
    ([dict(name='rgb', folder='rgb', channels=3, suffix='.jpg'),
      dict(name='rgb', folder='thermal', channels=1)], 'distinct names'),
])
def test_modality_settings_are_checked(prepared_root, modalities, message):
    if message is None:  # an RGB-only dataset of the same folder
        modalities[0]['suffix'] = '.jpg'
        sample = _dataset(prepared_root, modalities=modalities)[0]
        assert sample['inputs'].shape[0] == 3
        return
    with pytest.raises(ValueError, match=message):
        _dataset(prepared_root, modalities=modalities)


def test_palette_must_name_every_class_once(prepared_root):
    with pytest.raises(ValueError, match='one colour per class'):
        _dataset(prepared_root, metainfo=dict(
            classes=OWN_CLASSES, palette=OWN_PALETTE[:-1]))
    with pytest.raises(ValueError, match='repeats a colour'):
        _dataset(prepared_root, metainfo=dict(
            classes=OWN_CLASSES, palette=OWN_PALETTE[:-1] + [[0, 0, 0]]))


def test_split_is_deterministic_disjoint_and_complete(prepared_root,
                                                      tmp_path, capsys):
    stems = sorted(
        name[:-4] for name in os.listdir(osp.join(prepared_root, 'rgb')))
    splits = {split: _split(prepared_root, split)
              for split in ('train', 'val', 'test')}
    assert sorted(sum(splits.values(), [])) == stems
    assert [len(splits[s]) for s in ('train', 'val', 'test')] == [6, 2, 2]
    root = str(tmp_path / 'again')
    shutil.copytree(prepared_root, root)
    _prepare(root)
    assert {s: _split(root, s) for s in splits} == splits
    out = capsys.readouterr().out
    assert re.search(r'\| person \| [\d.]+ \| \d+ \|', out), out
    _prepare(root, '--seed', '1')
    assert {s: _split(root, s) for s in splits} != splits


def _break(root: str, what: str) -> str:
    """Damage one file of the folder; return the path the error names."""
    stem = sorted(os.listdir(osp.join(root, 'rgb')))[3][:-4]
    if what == 'missing':
        path = osp.join(root, 'thermal', f'{stem}.png')
        os.remove(path)
    elif what == 'size':
        path = osp.join(root, 'thermal', f'{stem}.png')
        cv2.imwrite(path, np.zeros((10, 10), np.uint8))
    else:
        path = osp.join(root, 'labels', f'{stem}.png')
        label = cv2.imread(path)
        label[0, 0] = (7, 7, 7)
        cv2.imwrite(path, label)
    return path


@pytest.mark.parametrize('what, message', [
    ('missing', r'1 file\(s\) missing'),
    ('size', 'same size'),
    ('colour', 'not in the palette'),
])
def test_converter_errors_name_the_file(tmp_path, what, message):
    root = _colour_pairs(tmp_path / 'pairs')
    path = _break(root, what)
    with pytest.raises(ValueError, match=message) as error:
        _prepare(root, '--color-labels', 'labels')
    assert path in str(error.value)
    assert not osp.exists(osp.join(root, 'splits'))


def test_id_label_outside_the_classes_names_the_file(prepared_root,
                                                     tmp_path):
    root = str(tmp_path / 'copy')
    shutil.copytree(prepared_root, root)
    path = sorted(glob.glob(osp.join(root, 'label_ids', '*.png')))[0]
    label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    label[0, 0] = len(OWN_CLASSES)
    cv2.imwrite(path, label)
    with pytest.raises(ValueError, match=r'contains value\(s\) \[6\]') as \
            error:
        _prepare(root)
    assert path in str(error.value)


# ---- docs/own_data.md, command by command ---------------------------------
def doc_blocks(language: str) -> list:
    """The code blocks of docs/own_data.md fenced as ``language``."""
    text = open(DOC).read()
    return re.findall(rf'```{language}\n(.*?)```', text, re.S)


CONFIG_TOOLS = ('tools/train.py', 'tools/test.py',
                'tools/analysis/modality_robustness.py')


def shrink_options() -> dict:
    """Config or script file name -> the options the doc says the test
    appends (a config's: ``--cfg-options``, those of ``all`` first)."""
    block, = doc_blocks('text')
    options = dict(line.split(': ', 1) for line in block.strip().splitlines())
    return {name: (['--cfg-options', *options['all'].split()]
                   if name.endswith('_own_rgbt.py') else []) + value.split()
            for name, value in options.items() if name != 'all'}


def appended_options(script: str, args: list) -> list:
    """What the test appends to one command of the doc."""
    options = shrink_options()
    if script in CONFIG_TOOLS:
        return options[osp.basename(args[0])]
    return options.get(osp.basename(script), [])


CAT = re.compile(r'\$\(cat ([^)]+)\)')


def doc_commands() -> list:
    """The command lines of the doc's bash blocks, in order."""
    return [
        line for block in doc_blocks('bash')
        for line in block.replace('\\\n', ' ').strip().splitlines()
    ]


def command_words(line: str, run: bool = False) -> list:
    """The words of a command line; with ``run``, ``$(cat FILE)`` and ``*``
    patterns are expanded as bash would (in the current folder), else
    ``$(cat FILE)`` stands for FILE."""
    line = CAT.sub(lambda m: open(m.group(1)).read().strip()
                   if run else m.group(1), line)
    words = shlex.split(line)
    if not run:
        return words
    return [path for word in words
            for path in (sorted(glob.glob(word)) or [word]
                         if '*' in word else [word])]


def test_doc_commands_are_python_scripts_of_the_repository():
    commands = [command_words(line) for line in doc_commands()]
    assert len(commands) >= 10
    for command in commands:
        assert command[0] == 'python' and osp.isfile(
            osp.join(REPO_ROOT, command[1])), command
    configs = {osp.basename(c[2]) for c in commands if c[1] in CONFIG_TOOLS}
    scripts = {osp.basename(c[1]) for c in commands}
    assert configs | {'make_demo_rgbt.py'} == set(shrink_options())
    assert 'make_demo_rgbt.py' in scripts


@pytest.mark.slow
def test_every_command_of_own_data_md(tmp_path, monkeypatch, capsys):
    for folder in ('configs', 'tools', 'demo'):
        os.symlink(osp.join(REPO_ROOT, folder), tmp_path / folder)
    monkeypatch.chdir(tmp_path)
    ran = []
    for line in doc_commands():
        script, *args = command_words(line, run=True)[1:]
        if script == 'tools/misc/download_checkpoints.py':
            continue
        run_script(script, args + appended_options(script, args))
        ran.append(script)
    assert len(ran) == len(doc_commands()) - 2
    out = capsys.readouterr().out
    assert 'wrote 10 class-id label(s) to data/own_rgbt/label_ids' in out
    excerpt = re.search(r'```\n(\| class \|.*?)```', open(DOC).read(), re.S)
    for row in excerpt.group(1).splitlines():  # the doc's histogram rows
        assert row == '...' or row in out.splitlines(), row
    results = glob.glob('work_dirs/*/2*/2*.json')
    assert len(results) == 3  # one test table per model
    assert len(glob.glob('work_dirs/own_tiny/predictions/vis/*.png')) == 10
    with open('work_dirs/own_tiny/robustness/robustness.csv') as file:
        runs = [line.split(',')[:2] for line in file.readlines()[1:]]
    assert runs == [['none', 'none']] + [[modality, mode]
                                         for modality in ('rgb', 'thermal')
                                         for mode in ('zero', 'mean', 'noise')]
