"""Check a folder of your own multi-modal data and write its split files.

The config's ``MultiModalFolderDataset`` (train_dataloader.dataset) says
where each modality and the labels are, their channels, the classes and the
palette. This tool, before any training:

1. checks that every sample has a file in every modality folder and a label
   (all unmatched files are listed), that every file decodes with the
   channels the config gives, that all files of a sample have one size, and
   that every label value is a class id (or 255, ignored) or every label
   colour a palette colour; every problem names its file;
2. with ``--color-labels DIR``, maps the colour labels in DIR through the
   palette and writes class-id PNGs where the config reads labels
   (``data_prefix.seg_map_path``);
3. splits the samples into train / val / test from ``--seed`` (the same
   seed and files give the same split) and writes the stems to the
   ``ann_file`` of the config's train, val and test data loaders;
4. prints a class histogram (pixels and images per class and split).

Example::

    python tools/dataset_converters/prepare_own_dataset.py \
        configs/own_data/fusionsam_tiny_own_rgbt.py --color-labels labels
"""
import argparse
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Tuple

import cv2
import numpy as np
from mmengine.config import Config, DictAction
from mmseg.registry import DATASETS
from mmseg.utils import register_all_modules

import fusionsam_mmseg  # noqa: F401  (registers the plugin)
from fusionsam_mmseg.datasets.label_colours import ids_from_colours
from fusionsam_mmseg.datasets.transforms.loading import (
    LoadMultiModalImageFromFile, decode_image)

SPLITS = ('train', 'val', 'test')
IGNORE_INDEX = 255
_MAX_LISTED = 20


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config whose train_dataloader.dataset '
                        'is a MultiModalFolderDataset')
    parser.add_argument(
        '--color-labels',
        metavar='DIR',
        help='folder (relative to data_root) of colour label PNGs to map '
        "through the palette into the config's id-label folder")
    parser.add_argument('--seed', type=int, default=0, help='split seed')
    parser.add_argument(
        '--val-fraction', type=float, default=0.2,
        help='share of the samples in val (default 0.2)')
    parser.add_argument(
        '--test-fraction', type=float, default=0.2,
        help='share of the samples in test (default 0.2; 0 writes no test '
        'list)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. '
        'train_dataloader.dataset.data_root=DIR (as tools/train.py)')
    return parser.parse_args()


def build_dataset(cfg: Config):
    """The train dataset, built without listing files (``lazy_init``)."""
    dataset_cfg = cfg.train_dataloader.dataset
    if dataset_cfg.get('type') != 'MultiModalFolderDataset':
        raise ValueError(
            f'{cfg.filename}: train_dataloader.dataset.type is '
            f'{dataset_cfg.get("type")!r}; expected a '
            'MultiModalFolderDataset describing your folders.')
    return DATASETS.build(
        dict(dataset_cfg, lazy_init=True, pipeline=[], ann_file=''))


def _listed(items: List[str]) -> str:
    shown = '\n  '.join(items[:_MAX_LISTED])
    if len(items) > _MAX_LISTED:
        shown += f'\n  ... ({len(items) - _MAX_LISTED} more)'
    return shown


def _files_by_stem(folder: str, suffix: str) -> Dict[str, str]:
    if not osp.isdir(folder):
        raise FileNotFoundError(f'folder {folder} does not exist; expected '
                                'the folder your config names.')
    return {
        name[:-len(suffix)]: osp.join(folder, name)
        for name in sorted(os.listdir(folder)) if name.endswith(suffix)
    }


def pair_files(folders: Dict[str, Tuple[str, str]]) -> List[str]:
    """Stems that have a file in every folder.

    Args:
        folders (dict): what -> (folder, suffix), e.g. ``'rgb'``,
            ``'labels'``.

    Raises:
        ValueError: Some stems lack a file; every missing file is listed.
    """
    files = {what: _files_by_stem(*spec) for what, spec in folders.items()}
    stems = sorted(set().union(*files.values()))
    if not stems:
        raise ValueError(f'no files found in {dict(folders)}; expected one '
                         'file per sample in each folder.')
    missing = [
        f'{osp.join(folder, stem + suffix)} ({what}) is missing'
        for stem in stems for what, (folder, suffix) in folders.items()
        if stem not in files[what]
    ]
    if missing:
        raise ValueError(
            f'{len(missing)} file(s) missing: every sample needs one file '
            f'per folder with the same stem:\n  {_listed(missing)}')
    return stems


def read_label(path: str, palette: list, from_colours: bool,
               num_classes: int) -> np.ndarray:
    """(H, W) uint8 class ids of one label file; errors name the file."""
    label = decode_image(path, None, 'label map')
    if from_colours:
        return ids_from_colours(label, palette, path)
    if label.dtype != np.uint8 or label.shape[2] != 1:
        raise ValueError(
            f'label map {path} has {label.shape[2]} channel(s) of '
            f'{label.dtype}; expected a single-channel 8-bit PNG of class ids '
            '(colour labels: --color-labels, or label_format=\'color\').')
    label = label[..., 0]
    bad = np.unique(label[(label >= num_classes) & (label != IGNORE_INDEX)])
    if bad.size:
        raise ValueError(
            f'label map {path} contains value(s) {bad.tolist()}; expected '
            f'class ids 0..{num_classes - 1} or {IGNORE_INDEX} (ignore).')
    return label


def check_samples(dataset, stems: List[str], label_dir: str,
                  from_colours: bool) -> Dict[str, np.ndarray]:
    """Load every sample as training will; return its class ids.

    Raises:
        ValueError: Listing every file that cannot be read as configured.
    """
    loader = LoadMultiModalImageFromFile()
    folders = [(osp.join(dataset.data_root, m['folder']), m['suffix'])
               for m in dataset.modalities]
    palette = dataset.metainfo['palette']
    num_classes = len(dataset.metainfo['classes'])
    labels, problems = {}, []
    for stem in stems:
        paths = [osp.join(folder, stem + suffix) for folder, suffix in folders]
        label_path = osp.join(label_dir, stem + dataset.seg_map_suffix)
        try:
            image = loader(
                dict(
                    img_path=paths[0],
                    modality_paths=tuple(paths[1:]),
                    modality_names=dataset.modality_names,
                    modality_channels=dataset.modality_channels))['img']
            label = read_label(label_path, palette, from_colours,
                               num_classes)
            if label.shape != image.shape[:2]:
                raise ValueError(
                    f'label map {label_path} is {label.shape} (H, W) but '
                    f'{paths[0]} is {image.shape[:2]}; expected the same '
                    'size.')
            labels[stem] = label
        except ValueError as error:
            problems.append(str(error))
    if problems:
        raise ValueError(f'{len(problems)} of {len(stems)} sample(s) cannot '
                         f'be used:\n  {_listed(problems)}')
    return labels


def split_stems(stems: List[str], seed: int, val_fraction: float,
                test_fraction: float) -> Dict[str, List[str]]:
    """Deterministic train / val / test lists (sorted) from ``seed``."""
    if not (0 <= val_fraction and 0 <= test_fraction
            and val_fraction + test_fraction < 1):
        raise ValueError(
            f'--val-fraction {val_fraction} and --test-fraction '
            f'{test_fraction}: expected shares >= 0 that leave samples for '
            'training (sum < 1).')
    order = np.random.default_rng(seed).permutation(len(stems))
    counts = [
        max(1, round(fraction * len(stems))) if fraction > 0 else 0
        for fraction in (val_fraction, test_fraction)
    ]
    if sum(counts) >= len(stems):
        raise ValueError(
            f'{len(stems)} sample(s) are too few for val {counts[0]} and '
            f'test {counts[1]} with at least one left to train on.')
    shuffled = [stems[i] for i in order]
    splits = OrderedDict(
        val=shuffled[:counts[0]],
        test=shuffled[counts[0]:sum(counts)],
        train=shuffled[sum(counts):])
    return {split: sorted(splits[split]) for split in SPLITS
            if splits[split]}


def split_files(cfg: Config, data_root: str) -> Dict[str, str]:
    """split -> the ``ann_file`` its config data loader reads."""
    files = {}
    for split in SPLITS:
        loader = cfg.get(f'{split}_dataloader')
        ann_file = loader and loader.dataset.get('ann_file')
        if not ann_file:
            raise ValueError(
                f'{cfg.filename}: {split}_dataloader.dataset has no ann_file; '
                'expected the split file this tool writes, e.g. '
                f"ann_file='splits/{split}.txt'.")
        files[split] = osp.join(data_root, ann_file)
    if len(set(files.values())) != len(files):
        raise ValueError(f'{cfg.filename}: the train, val and test loaders '
                         f'read {files}; expected three different files.')
    return files


def write_id_labels(labels: Dict[str, np.ndarray], label_dir: str,
                    suffix: str) -> None:
    os.makedirs(label_dir, exist_ok=True)
    for stem, label in labels.items():
        path = osp.join(label_dir, stem + suffix)
        if not cv2.imwrite(path, label):
            raise OSError(f'could not write {path}')


def histogram(labels: Dict[str, np.ndarray], splits: Dict[str, List[str]],
              classes: List[str]) -> str:
    """Markdown table: pixel share and image count of each class per split."""
    header = '| class | ' + ' | '.join(
        f'{split} % px | {split} images' for split in splits) + ' |'
    rows = [header, '|---' * (1 + 2 * len(splits)) + '|']
    counts = {
        split: np.stack([
            np.bincount(labels[stem].ravel(), minlength=256)[:len(classes)]
            for stem in stems
        ])
        for split, stems in splits.items()
    }
    for index, name in enumerate(classes):
        cells = []
        for split in splits:
            pixels = counts[split][:, index]
            share = 100 * pixels.sum() / max(1, counts[split].sum())
            cells += [f'{share:.2f}', str(int((pixels > 0).sum()))]
        rows.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(rows)


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    dataset = build_dataset(cfg)
    label_dir = dataset.data_prefix['seg_map_path']
    from_colours = dataset.label_format == 'color'
    source_dir = label_dir
    if args.color_labels:
        if from_colours:
            raise ValueError(
                f'--color-labels {args.color_labels}: {args.config} already '
                "reads colour labels (label_format='color'); expected a "
                "config with label_format='id' whose label folder receives "
                'the converted labels.')
        source_dir, from_colours = osp.join(dataset.data_root,
                                            args.color_labels), True
    folders = OrderedDict(
        (m['name'], (osp.join(dataset.data_root, m['folder']), m['suffix']))
        for m in dataset.modalities)
    folders['labels'] = (source_dir, dataset.seg_map_suffix)
    stems = pair_files(folders)
    labels = check_samples(dataset, stems, source_dir, from_colours)
    files = split_files(cfg, dataset.data_root)
    if args.color_labels:
        write_id_labels(labels, label_dir, dataset.seg_map_suffix)
        print(f'wrote {len(labels)} class-id label(s) to {label_dir}')
    splits = split_stems(stems, args.seed, args.val_fraction,
                         args.test_fraction)
    for split, members in splits.items():
        os.makedirs(osp.dirname(files[split]) or '.', exist_ok=True)
        with open(files[split], 'w') as split_file:
            split_file.write('\n'.join(members) + '\n')
        print(f'wrote {files[split]}: {len(members)} sample(s)')
    classes = list(dataset.metainfo['classes'])
    print(f'\nchecked {len(stems)} sample(s) of {dataset.data_root}; class '
          'histogram (share of labelled pixels, images showing the class):\n')
    print(histogram(labels, splits, classes))
    unseen = [name for index, name in enumerate(classes) if not any(
        (labels[stem] == index).any() for stem in splits['train'])]
    if unseen:
        print(f'\nwarning: no train pixels of {", ".join(unseen)}; the model '
              'cannot learn these classes.')


if __name__ == '__main__':
    main()
