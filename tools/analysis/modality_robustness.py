"""Test a model with every modality, then with each modality dropped.

Runs the config's test split once with all modalities (``dropped=none``),
then once per modality and mode with that modality replaced at test time by
:class:`DropModality` (``zero``: black; ``mean``: each channel's mean,
no structure; ``noise``: Gaussian noise of the channel's mean and spread).
Nothing else changes: same checkpoint, pipeline and metric.

Writes to ``--out-dir``:

- ``robustness.csv``: columns ``dropped,mode,mIoU,IoU.<class>...``, one row
  per run (``dropped=none, mode=none`` for the run with every modality);
- ``robustness.md``: the same table with the mIoU change of each run, then
  the per-class IoU change against the full run;
- ``robustness.png``: mIoU per run as a bar chart;
- ``work/``: mmengine's logs of the runs.

Works with any segmentor whose test pipeline loads the data with
``LoadMultiModalImageFromFile`` (FusionSAM, MemorySAM, the stock FCN baseline).

Example::

    python tools/analysis/modality_robustness.py \
        configs/fusionsam_tiny_demo.py work_dirs/demo/iter_300.pth \
        --out-dir work_dirs/demo/robustness
"""
import argparse
import csv
import math
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

from matplotlib.figure import Figure
from mmengine.config import Config, DictAction
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmseg.utils import register_all_modules
from rich.progress import Progress

import fusionsam_mmseg  # noqa: F401  (registers the plugin)
from fusionsam_mmseg.datasets.transforms import (DropModality,
                                                 LoadMultiModalImageFromFile)
from fusionsam_mmseg.datasets.transforms.drop_modality import DROP_MODES

NONE = 'none'
IOU_METRICS = ('IoUMetric', 'PerClassIoUMetric')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='test config')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out-dir', required=True, help='where the tables and chart go')
    parser.add_argument(
        '--modes',
        nargs='+',
        default=list(DROP_MODES),
        choices=DROP_MODES,
        help='how a dropped modality is replaced (default: all)')
    parser.add_argument(
        '--modalities',
        nargs='+',
        help="modalities to drop, by name (default: every modality of the "
        "test dataset's modality_names)")
    parser.add_argument(
        '--seed', type=int, default=0, help="seed of the 'noise' mode")
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, as tools/test.py')
    return parser.parse_args(argv)


def iou_evaluator(evaluator) -> dict:
    """The config's IoU evaluator as a per-class one, without extras."""
    evaluators = evaluator if isinstance(evaluator, list) else [evaluator]
    found = [e for e in evaluators if e.get('type') in IOU_METRICS]
    if not found:
        raise ValueError(
            f'test_evaluator {evaluator} has no IoUMetric / '
            'PerClassIoUMetric; expected one to score the runs.')
    chosen = dict(found[0], type='PerClassIoUMetric')
    chosen.pop('fusion_quality', None)
    return chosen


class _ProgressHook(Hook):
    """Advances a rich progress bar by the images of each test batch."""

    def __init__(self, progress: Progress, task) -> None:
        self.progress = progress
        self.task = task

    def after_test_iter(self,
                        runner,
                        batch_idx: int,
                        data_batch=None,
                        outputs=None) -> None:
        self.progress.advance(self.task, len(outputs))


def _set_drop(pipeline, drop: Optional[DropModality]) -> None:
    """Put ``drop`` right after the image loader (or take it out)."""
    transforms = [t for t in pipeline.transforms
                  if not isinstance(t, DropModality)]
    loaders = [i for i, t in enumerate(transforms)
               if isinstance(t, LoadMultiModalImageFromFile)]
    if not loaders:
        raise ValueError('the test pipeline has no '
                         'LoadMultiModalImageFromFile step; expected a '
                         'multi-modal config.')
    if drop is not None:
        transforms.insert(loaders[0] + 1, drop)
    pipeline.transforms = transforms


def run_all(runner: Runner, modalities: Sequence[str], modes: Sequence[str],
            seed: int) -> List[dict]:
    """One test run per (dropped modality, mode), the full run first.

    As ``Runner.test()``, with the test loop run once per setting between
    one ``before_run`` (which loads the checkpoint) and one ``after_run``.

    Returns:
        list[dict]: ``dropped``, ``mode`` and the metrics of each run.
    """
    loop = runner.test_loop
    dataset = loop.dataloader.dataset
    runs = [(NONE, NONE)] + [(m, mode) for m in modalities for mode in modes]
    rows = []
    with Progress() as progress:
        task = progress.add_task(
            f'{len(runs)} test runs', total=len(runs) * len(dataset))
        runner.register_hook(_ProgressHook(progress, task), 'VERY_LOW')
        runner.call_hook('before_run')
        runner.load_or_resume()
        for dropped, mode in runs:
            drop = None if dropped == NONE else DropModality(
                dropped, mode, seed)
            _set_drop(dataset.pipeline, drop)
            progress.update(
                task,
                description='all modalities' if drop is None else
                f'{dropped} dropped ({mode})')
            rows.append(dict(dropped=dropped, mode=mode, **loop.run()))
        runner.call_hook('after_run')
    _set_drop(dataset.pipeline, None)
    return rows


def _cell(value: float) -> str:
    return 'n/a' if value is None or math.isnan(value) else f'{value:.2f}'


def _delta(value: float, full: float) -> str:
    if any(v is None or math.isnan(v) for v in (value, full)):
        return 'n/a'
    return f'{value - full:+.2f}'


def write_csv(rows: List[dict], classes: Sequence[str], path: str) -> None:
    columns = ['dropped', 'mode', 'mIoU'] + [f'IoU.{c}' for c in classes]
    with open(path, 'w', newline='') as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row['dropped'], row['mode']] +
                            [row.get(key, float('nan'))
                             for key in columns[2:]])


def markdown(rows: List[dict], classes: Sequence[str], title: str) -> str:
    """The IoU table and the per-class change table."""
    full = rows[0]
    keys = ['mIoU'] + [f'IoU.{c}' for c in classes]
    lines = [
        f'# Missing-modality robustness: {title}', '',
        'IoU (%) on the test split with every modality (dropped = none), '
        'then with one modality replaced at test time.', '',
        '| dropped | mode | mIoU | ΔmIoU | ' + ' | '.join(classes) + ' |',
        '|---' * (4 + len(classes)) + '|'
    ]
    for row in rows:
        lines.append(f'| {row["dropped"]} | {row["mode"]} | '
                     f'{_cell(row.get("mIoU"))} | '
                     f'{_delta(row.get("mIoU"), full.get("mIoU"))} | ' +
                     ' | '.join(_cell(row.get(key)) for key in keys[1:]) +
                     ' |')
    lines += [
        '', 'Change of each class IoU against the run with every modality '
        '(points; negative: the class needs the dropped modality).', '',
        '| dropped | mode | ' + ' | '.join(classes) + ' |',
        '|---' * (2 + len(classes)) + '|'
    ]
    for row in rows[1:]:
        lines.append(f'| {row["dropped"]} | {row["mode"]} | ' + ' | '.join(
            _delta(row.get(key), full.get(key)) for key in keys[1:]) + ' |')
    return '\n'.join(lines) + '\n'


def bar_chart(rows: List[dict], modes: Sequence[str], title: str,
              path: str) -> None:
    """mIoU per dropped modality, one bar per mode, the full run as a line."""
    dropped = list(dict.fromkeys(r['dropped'] for r in rows[1:]))
    mious = {(r['dropped'], r['mode']): r.get('mIoU') for r in rows[1:]}
    width = 0.8 / max(1, len(modes))
    figure = Figure(figsize=(3.5 + 1.5 * len(dropped), 4))
    axes = figure.subplots()
    for index, mode in enumerate(modes):
        axes.bar([i + (index - (len(modes) - 1) / 2) * width
                  for i in range(len(dropped))],
                 [mious.get((d, mode)) or 0.0 for d in dropped],
                 width,
                 label=f'{mode}')
    axes.axhline(
        rows[0].get('mIoU') or 0.0,
        color='black',
        linestyle='--',
        label='all modalities')
    axes.set_xticks(range(len(dropped)))
    axes.set_xticklabels([f'{d} dropped' for d in dropped])
    axes.set_ylabel('mIoU (%)')
    axes.set_title(title)
    axes.legend(fontsize='small', loc='upper left', bbox_to_anchor=(1, 1))
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def build_runner(args: argparse.Namespace) -> Runner:
    """A test runner of the config that loads the checkpoint once."""
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = osp.join(args.out_dir, 'work')
    cfg.load_from = args.checkpoint
    cfg.log_level = 'WARNING'
    cfg.test_evaluator = iou_evaluator(cfg.test_evaluator)
    # Loader workers copy the dataset, pipeline included, when they start:
    # persistent ones would keep the first run's pipeline for every run.
    cfg.test_dataloader.persistent_workers = False
    return Runner.from_cfg(cfg)


def main(argv: Optional[Sequence[str]] = None) -> List[dict]:
    """Run the tool; return the rows of the table."""
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint} does not '
                                'exist; expected a file of tools/train.py.')
    register_all_modules(init_default_scope=True)
    os.makedirs(args.out_dir, exist_ok=True)
    runner = build_runner(args)
    metainfo = runner.test_loop.dataloader.dataset.metainfo
    names = tuple(metainfo.get('modality_names', ()))
    modalities = args.modalities or names
    unknown = [m for m in modalities if m not in names]
    if unknown or len(names) < 2:
        raise ValueError(
            f'--modalities {list(modalities)}: the test dataset of '
            f'{args.config} has the modalities {list(names)}; expected '
            'names among them (and at least two modalities).')
    rows = run_all(runner, modalities, args.modes, args.seed)
    classes = list(metainfo['classes'])
    title = osp.splitext(osp.basename(args.config))[0]
    write_csv(rows, classes, osp.join(args.out_dir, 'robustness.csv'))
    table = markdown(rows, classes, title)
    with open(osp.join(args.out_dir, 'robustness.md'), 'w') as file:
        file.write(table)
    bar_chart(rows, args.modes, title,
              osp.join(args.out_dir, 'robustness.png'))
    print(table)
    print(f'wrote robustness.csv, robustness.md and robustness.png to '
          f'{args.out_dir}')
    return rows


if __name__ == '__main__':
    main()
