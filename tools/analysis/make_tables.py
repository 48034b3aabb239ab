"""Write the FusionSAM paper's tables from the results json of tools/test.py.

Each table holds the published rows (fusionsam_mmseg/evaluation/published.py)
beside "this run", as Markdown, CSV and LaTeX; the per-class tables also get a
bar chart (this run vs the best published row). A cell without a measurement
reads "—": the tool never fills in a number. Besides the FusionSAM tables
(MFNet, FMB, SAM on fused images, ablation), the multi-modal benchmarks
DELIVER (``--deliver-rgb`` ... ``--deliver-rgbdel``) and MCubeS
(``--mcubes-ra`` ... ``--mcubes-radn``) get an mIoU-by-modalities table, one
results json per modality combination. ``--fusion-msrs`` (the results json of
a ``FusionQualityMetric`` test, e.g. SAGE's student on MSRS) gives the fusion
table EN ... Qabf beside SAGE's published figures. The tool reads results
only; it builds and runs no model (``tools/analysis/sage_panel.py`` draws a
SAGE model's fused images).

Example::

    python tools/test.py configs/fusionsam_vith_mfnet.py ckpt.pth \
        --work-dir work_dirs/mfnet_test
    python tools/analysis/make_tables.py \
        --mfnet work_dirs/mfnet_test/20240101_120000/20240101_120000.json \
        --out work_dirs/tables

A results file is the json tools/test.py writes (``<work_dir>/<timestamp>/
<timestamp>.json``; the timestamp folder itself is accepted too). Every
table compares test-split numbers, so results of a validation split are
refused, naming the file: a json-lines scalar log (``vis_data/scalars.json``
of a training run, whose metrics are validation's), ``val/`` metric keys,
or a test run whose config (``<timestamp>/vis_data/config.py``) read a
validation split. Per-class tables need the ``IoU.<class>`` keys written by
``PerClassIoUMetric`` (the evaluator of configs/_base_/datasets/*.py).
"""
import argparse
import csv
import json
import math
import os
import os.path as osp
import sys
import textwrap
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from fusionsam_mmseg.evaluation.published import (ABLATION, DELIVER_MIOU,
                                                  FMB_PER_CLASS, MCUBES_MIOU,
                                                  MFNET_PER_CLASS,
                                                  SAGE_MSRS_FUSION,
                                                  PUBLISHED_TABLES,
                                                  SAM_ON_FUSED,
                                                  PublishedTable)

MISSING = '—'

# Results-json options: argparse dest -> what the file holds.
RESULT_INPUTS = {
    'mfnet': 'FusionSAM on the MFNet test split',
    'fmb': 'FusionSAM on the FMB test split',
    'mfnet_day': 'FusionSAM on MFNet test_day',
    'mfnet_night': 'FusionSAM on MFNet test_night',
    'sam_mfnet': 'stock SAM on fused MFNet images',
    'sam_fmb': 'stock SAM on fused FMB images',
    'sam2_mfnet': 'SAM2 on fused MFNet images',
    'sam2_fmb': 'SAM2 on fused FMB images',
    'ablation_no_lstg_mfnet': 'ablation without LSTG, MFNet',
    'ablation_no_lstg_fmb': 'ablation without LSTG, FMB',
    'ablation_concat_mfnet': 'ablation with concat fusion, MFNet',
    'ablation_concat_fmb': 'ablation with concat fusion, FMB',
    'deliver_rgb': 'a model on the DELIVER test split, RGB only',
    'deliver_rgbd': 'a model on the DELIVER test split, RGB-D',
    'deliver_rgbde': 'a model on the DELIVER test split, RGB-D-E',
    'deliver_rgbdel': 'a model on the DELIVER test split, RGB-D-E-L',
    'mcubes_ra': 'a model on the MCubeS test split, RGB-AoLP',
    'mcubes_rad': 'a model on the MCubeS test split, RGB-AoLP-DoLP',
    'mcubes_radn': 'a model on the MCubeS test split, RGB-AoLP-DoLP-NIR',
    'fusion_msrs': 'fusion metrics (FusionQualityMetric) of fused images on '
    'the MSRS test split, e.g. the SAGE student',
}
# The key a results json must hold for its option (default: mIoU).
REQUIRED_KEYS = {'fusion_msrs': 'Qabf'}

# Rows of the mIoU tables: published row -> (MFNet input, FMB input).
SAM_ROW_INPUTS = {
    'SAM': ('sam_mfnet', 'sam_fmb'),
    'SAM2': ('sam2_mfnet', 'sam2_fmb'),
    'FusionSAM': ('mfnet', 'fmb'),
}
ABLATION_ROW_INPUTS = {
    'w/o LSTG': ('ablation_no_lstg_mfnet', 'ablation_no_lstg_fmb'),
    'concat instead of FMP': ('ablation_concat_mfnet', 'ablation_concat_fmb'),
    'full FusionSAM': ('mfnet', 'fmb'),
}
DAY_NIGHT_INPUTS = {'all': 'mfnet', 'day': 'mfnet_day',
                    'night': 'mfnet_night'}
# Classes in the mIoU of the published FMB rows: 15, `unlabeled` counted
# (FMBDataset's default, the convention configs/fusionsam_vith_fmb.py
# reproduces); a run with count_unlabeled=False averages 14.
FMB_PUBLISHED_CLASSES = 15
# Multi-modal benchmark tables: one input per modality column, in order.
MODALITY_TABLE_INPUTS = (
    (DELIVER_MIOU, ('deliver_rgb', 'deliver_rgbd', 'deliver_rgbde',
                    'deliver_rgbdel')),
    (MCUBES_MIOU, ('mcubes_ra', 'mcubes_rad', 'mcubes_radn')),
)


class ResultsError(ValueError):
    """A results json is missing or does not hold what a table needs."""


@dataclass
class Results:
    """Metrics of one results json.

    Args:
        option (str): Command-line option the file was given to.
        path (str): The json file.
        metrics (dict[str, float | None]): Metric key -> value in percent;
            ``None`` where the json holds NaN (nothing to measure).
    """

    option: str
    path: str
    metrics: Dict[str, Optional[float]]

    def get(self, key: str) -> Optional[float]:
        """Value of ``key`` (``mIoU``, ``IoU.car``); raises if absent.

        Class names match case-insensitively, so ``IoU.car`` finds
        ``IoU.Car`` in a dataset that spells its classes that way.
        """
        if key in self.metrics:
            return self.metrics[key]
        folded = {name.casefold(): name for name in self.metrics}
        if key.casefold() in folded:
            return self.metrics[folded[key.casefold()]]
        iou_keys = sorted(k for k in self.metrics if k.startswith('IoU.'))
        hint = (f'its IoU keys are {iou_keys}' if iou_keys else
                'it has no per-class keys: evaluate with '
                "test_evaluator=dict(type='PerClassIoUMetric')")
        raise ResultsError(
            f'{self.path} (given to {self.option}) has no {key!r}; {hint}.')


@dataclass
class Cell:
    """One table cell: a value in percent or nothing measured."""

    value: Optional[float]
    decimals: int

    def text(self) -> str:
        """Value rounded for Markdown / LaTeX, or "—"."""
        if self.value is None:
            return MISSING
        return f'{self.value:.{self.decimals}f}'

    def raw(self) -> str:
        """Value as measured (no extra rounding) for CSV, or "—"."""
        return MISSING if self.value is None else repr(self.value)


@dataclass
class Row:
    """A table row: label, cells and the results files measured in it.

    ``measured_from`` is empty for a published row; ``published`` says
    whether any cell holds a published number.
    """

    label: str
    cells: List[Cell]
    measured_from: List[str] = field(default_factory=list)
    published: bool = False

    @property
    def source(self) -> str:
        """Where the row's numbers come from, for the CSV."""
        return '; '.join(self.measured_from) or 'published'


@dataclass
class Table:
    """A table to write: ``name`` is the file stem.

    ``inputs`` maps each command-line flag measured in the table to its file;
    ``csv_columns`` maps the header of each column only the CSV has to one
    value per row.
    """

    name: str
    title: str
    columns: List[str]
    rows: List[Row] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    inputs: Dict[str, str] = field(default_factory=dict)
    has_published_rows: bool = True
    published_source: str = 'the FusionSAM paper (docs/tables.md)'
    csv_columns: Dict[str, List[str]] = field(default_factory=dict)

    def add_measured_row(self, label: str, results: Results,
                         keys: Sequence[str], decimals: int) -> None:
        """Append a row holding the values of ``keys`` in ``results``."""
        cells = [Cell(results.get(key), decimals) for key in keys]
        self.rows.append(Row(label, cells, [results.path]))
        self.inputs[results.option] = results.path


def option_flag(dest: str) -> str:
    """``mfnet_day`` -> ``--mfnet-day``."""
    return '--' + dest.replace('_', '-')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Write the paper tables (Markdown, CSV, LaTeX, bar '
        'chart) from results jsons of tools/test.py.',
        epilog=published_protocols_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    inputs = parser.add_argument_group(
        'results jsons (give at least one)')
    for dest, help_text in RESULT_INPUTS.items():
        inputs.add_argument(
            option_flag(dest), dest=dest, metavar='JSON', help=help_text)
    parser.add_argument(
        '--out', required=True, help='output folder (created if needed)')
    parser.add_argument(
        '--run-name', default='this run',
        help='label of the measured rows (default: "this run")')
    parser.add_argument(
        '--decimals', type=int, default=1,
        help='decimals of measured values in Markdown/LaTeX (default: 1; '
        'CSV keeps the values of the json)')
    parser.add_argument(
        '--no-plot', action='store_true', help='skip the bar charts')
    return parser.parse_args(argv)


def resolve_results_path(path: str) -> str:
    """Accept the timestamp folder of tools/test.py for its json."""
    if osp.isdir(path):
        stem = osp.basename(osp.normpath(path))
        return osp.join(path, f'{stem}.json')
    return path


TEST_SPLIT_ADVICE = ('the tables compare test-split results: test the '
                     'checkpoint on the test split with tools/test.py and '
                     'give the <timestamp>.json it writes')


def read_metric_record(path: str, option: str) -> dict:
    """The metrics dict of the results json ``path`` given to ``option``;
    refuses a json-lines scalar log (validation metrics)."""
    with open(path, encoding='utf-8') as file:
        text = file.read()
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise _unreadable(text, path, option, error) from error
    if not isinstance(record, dict):
        raise ResultsError(f'{path}: expected a json object of metrics, '
                           f'got {type(record).__name__}.')
    return record


def _unreadable(text: str, path: str, option: str,
                error: json.JSONDecodeError) -> ResultsError:
    """Why a file that is not one json object cannot be used."""
    try:
        lines = [json.loads(line) for line in text.splitlines()
                 if line.strip()]
    except json.JSONDecodeError:
        return ResultsError(
            f'{path}:{error.lineno} is not valid json ({error}); expected '
            'the results json of tools/test.py.')
    return ResultsError(
        f'{path} (given to {option}) is a json-lines scalar log of '
        f'{len(lines)} records (vis_data/scalars.json of a training run): '
        f'its metrics come from the validation split; {TEST_SPLIT_ADVICE}.')


def check_test_split(record: dict, path: str, option: str) -> None:
    """Raise if the results of ``path`` come from a validation split: a
    ``val/`` metric key, or a config dumped beside it (tools/test.py's
    ``<timestamp>/vis_data/config.py``) whose test set is a validation
    split."""
    val_keys = sorted(key for key in record if key.startswith('val/'))
    if val_keys:
        raise ResultsError(
            f'{path} (given to {option}) holds validation metrics '
            f'({val_keys[:3]}); {TEST_SPLIT_ADVICE}.')
    config = osp.join(osp.dirname(path), 'vis_data', 'config.py')
    if not osp.isfile(config):
        return
    from mmengine.config import Config
    dataset = Config.fromfile(
        config, import_custom_modules=False).get('test_dataloader',
                                                 {}).get('dataset', {})
    for key in ('ann_file', 'split'):
        value = dataset.get(key)
        if value and osp.basename(str(value)).lower().startswith('val'):
            raise ResultsError(
                f'{path} (given to {option}) was written by a test on a '
                f'validation split ({config}: test_dataloader.dataset.{key}='
                f'{value!r}); {TEST_SPLIT_ADVICE}.')


def _strip_prefixes(record: dict) -> dict:
    """Drop ``test/`` style prefixes from metric keys."""
    return {key.rsplit('/', 1)[-1]: value for key, value in record.items()}


def _as_percent(value) -> Optional[float]:
    """A json value as float, ``None`` for NaN / null."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def load_results(option: str, path: str, required: str = 'mIoU') -> Results:
    """Load a results json given to ``option``.

    Args:
        option (str): The command-line flag, for error messages.
        path (str): File (or tools/test.py timestamp folder).
        required (str): A key the file must hold. Defaults to ``'mIoU'``.

    Returns:
        Results: Numeric metrics of the file.
    """
    path = resolve_results_path(path)
    if not osp.isfile(path):
        raise ResultsError(
            f'{path} (given to {option}) does not exist; expected the json '
            'that tools/test.py writes to <work_dir>/<timestamp>/'
            '<timestamp>.json.')
    record = read_metric_record(path, option)
    check_test_split(record, path, option)
    record = _strip_prefixes(record)
    if required not in record:
        evaluator = 'FusionQualityMetric' if required in \
            SAGE_MSRS_FUSION.metric_keys else 'an IoU'
        raise ResultsError(
            f'{path} (given to {option}) has no {required}; expected the '
            f'results json of tools/test.py with {evaluator} evaluator.')
    metrics = {key: _as_percent(value) for key, value in record.items()
               if isinstance(value, (int, float)) or value is None}
    return Results(option=option, path=path, metrics=metrics)


def load_all_results(args: argparse.Namespace) -> Dict[str, Results]:
    """Load every results json given on the command line."""
    given = {dest: getattr(args, dest) for dest in RESULT_INPUTS
             if getattr(args, dest)}
    if not given:
        flags = ', '.join(option_flag(dest) for dest in RESULT_INPUTS)
        raise ResultsError(
            f'no results json given; pass at least one of {flags} '
            '(each the json that tools/test.py writes).')
    return {dest: load_results(option_flag(dest), path,
                               REQUIRED_KEYS.get(dest, 'mIoU'))
            for dest, path in given.items()}


def published_rows(published: PublishedTable) -> List[Row]:
    """The published rows of a table, with its decimals as printed."""
    return [
        Row(method, [Cell(v, published.decimals) for v in values],
            published=True)
        for method, values in published.rows.items()
    ]


def per_class_table(published: PublishedTable, results: Results,
                    args: argparse.Namespace) -> Table:
    """Published per-class rows + the row of this run."""
    table = Table(published.name, published.title,
                  ['Method', *published.columns],
                  published_rows(published))
    label = f'FusionSAM ({args.run_name})'
    table.add_measured_row(label, results, published.metric_keys,
                           args.decimals)
    table.notes.append(next_best_note(published, results, label))
    if published is FMB_PER_CLASS:
        state_fmb_class_convention(table, results, label)
    return table


def _signed(value: Optional[float]) -> str:
    """A difference with its sign, one decimal, or "—"."""
    return MISSING if value is None else f'{value:+.1f}'


def _difference(value: Optional[float],
                reference: Optional[float]) -> Optional[float]:
    return None if value is None or reference is None else value - reference


def next_best_note(published: PublishedTable, results: Results,
                   label: str) -> str:
    """The paper's mIoU margin over the next best published method (MFNet
    +3.9, FMB +0.6) and this run's margin over the same method."""
    index = published.columns.index('mIoU')
    paper = {m: v[index] for m, v in published.rows.items()
             if m.startswith('FusionSAM')}
    others = {m: v[index] for m, v in published.rows.items()
              if m not in paper and v[index] is not None}
    best = max(others, key=others.get)
    paper_margin = _difference(next(iter(paper.values())), others[best])
    ours = _difference(results.get('mIoU'), others[best])
    return (f'mIoU over the next best published method, {best} '
            f'({others[best]:.1f}): the paper\'s FusionSAM '
            f'{_signed(paper_margin)}, {label} {_signed(ours)}.')


def state_fmb_class_convention(table: Table, results: Results,
                               label: str) -> None:
    """Say how many classes each mIoU averages (Markdown note and a CSV
    column): 15 with `unlabeled`, 14 without (count_unlabeled=False)."""
    count = sum(key.startswith('IoU.') for key in results.metrics)
    unlabeled = 'counted' if any(key.casefold() == 'iou.unlabeled'
                                 for key in results.metrics) else 'ignored'
    table.csv_columns['Classes in mIoU'] = [
        str(FMB_PUBLISHED_CLASSES if row.published else count)
        for row in table.rows
    ]
    note = (f'Class convention: the mIoU of {label} averages {count} classes '
            f'(`unlabeled` {unlabeled}); the published rows are read as '
            f'{FMB_PUBLISHED_CLASSES}-class numbers (`unlabeled` counted).')
    if count != FMB_PUBLISHED_CLASSES:
        note += ' The mIoU column compares two conventions.'
    table.notes.append(note)


def ablation_drop_notes(published: PublishedTable,
                        row_inputs: Dict[str, tuple],
                        all_results: Dict[str, Results],
                        run_name: str) -> List[str]:
    """Per dataset, each ablation's mIoU minus the full model's: the paper's
    drop and this run's (when both of its results are given)."""
    full = next(m for m, dests in row_inputs.items()
                if dests == SAM_ROW_INPUTS['FusionSAM'])
    notes = []
    for column, dataset in enumerate(published.columns):
        full_ours = all_results.get(row_inputs[full][column])
        drops = []
        for method, dests in row_inputs.items():
            if method == full:
                continue
            ablated = all_results.get(dests[column])
            ours = _difference(
                ablated.get('mIoU') if ablated else None,
                full_ours.get('mIoU') if full_ours else None)
            paper = _difference(published.rows[method][column],
                                published.rows[full][column])
            drops.append(f'{method} paper {_signed(paper)}, {run_name} '
                         f'{_signed(ours)}')
        notes.append(f'mIoU change from {full}, {dataset}: ' +
                     '; '.join(drops) + '.')
    return notes


def day_night_table(all_results: Dict[str, Results],
                    args: argparse.Namespace) -> Table:
    """MFNet per-class IoU of this run on the test, day and night splits."""
    table = Table(
        'mfnet_day_night', 'MFNet test set by lighting, per-class IoU (%)',
        ['Split', *MFNET_PER_CLASS.columns],
        notes=['The paper publishes no day/night rows; all rows are '
               'measured.'],
        has_published_rows=False)
    for split, dest in DAY_NIGHT_INPUTS.items():
        if dest in all_results:
            table.add_measured_row(f'{args.run_name} ({split})',
                                   all_results[dest],
                                   MFNET_PER_CLASS.metric_keys, args.decimals)
        else:
            table.notes.append(f'{split}: no {option_flag(dest)} given.')
    return table


def miou_table(published: PublishedTable, row_inputs: Dict[str, tuple],
               all_results: Dict[str, Results],
               args: argparse.Namespace) -> Table:
    """Published mIoU on MFNet / FMB beside this run's, row by row."""
    columns = ['Method']
    for dataset in published.columns:
        columns += [f'{dataset} (paper)', f'{dataset} ({args.run_name})']
    table = Table(published.name, published.title, columns)
    for method, values in published.rows.items():
        row = Row(method, [], published=True)
        for value, dest in zip(values, row_inputs[method]):
            results = all_results.get(dest)
            row.cells += [Cell(value, published.decimals),
                          Cell(results.get('mIoU') if results else None,
                               args.decimals)]
            if results is None:
                table.notes.append(
                    f'{method}: no {option_flag(dest)} given.')
                continue
            row.measured_from.append(results.path)
            table.inputs[results.option] = results.path
        table.rows.append(row)
    return table


def modality_table(published: PublishedTable, dests: Sequence[str],
                   all_results: Dict[str, Results],
                   args: argparse.Namespace) -> Table:
    """Published mIoU by input modalities + this run's row (DELIVER,
    MCubeS); a column without a results json reads "—"."""
    table = Table(published.name, published.title,
                  ['Method', *published.columns], published_rows(published),
                  published_source=published.source)
    row = Row(f'{args.run_name} (test)', [])
    for column, dest in zip(published.columns, dests):
        results = all_results.get(dest)
        row.cells.append(
            Cell(results.get('mIoU') if results else None, args.decimals))
        if results is None:
            table.notes.append(f'{column}: no {option_flag(dest)} given.')
            continue
        row.measured_from.append(results.path)
        table.inputs[results.option] = results.path
    table.rows.append(row)
    return table


MEASURED_SPLIT = ('test split (the results json of tools/test.py; '
                  'validation results are refused)')


def protocol_groups(published: PublishedTable) -> List[str]:
    """One line per group of published rows sharing split, epoch selection
    and source: "rows: split, selection (source: ...)"."""
    groups: Dict[tuple, List[str]] = {}
    for method in published.rows:
        key = (published.row_protocol(method), published.row_source(method))
        groups.setdefault(key, []).append(method)
    return [f'{", ".join(methods)}: {protocol} (source: {source})'
            for (protocol, source), methods in groups.items()]


def published_protocols_help() -> str:
    """The ``--help`` epilog: split and epoch selection of every published
    row, table by table."""
    lines = ['published rows (split the source scored them on; how the '
             'epoch was selected; source):']
    for table in PUBLISHED_TABLES.values():
        lines.append(f'  {table.name}:')
        lines += [textwrap.fill(line, 79, initial_indent='    - ',
                                subsequent_indent='      ',
                                break_on_hyphens=False)
                  for line in protocol_groups(table)]
    lines.append(textwrap.fill(
        f'measured rows ("this run"): {MEASURED_SPLIT}.', 79))
    return '\n'.join(lines)


def label_protocols(table: Table,
                    published: Optional[PublishedTable]) -> None:
    """Say for every row which split it was scored on and how its epoch
    was selected: Markdown notes and a CSV column."""
    if published is not None:
        table.notes += [f'Split and epoch selection, {line}.'
                        for line in protocol_groups(published)]
    table.notes.append(f'Measured rows: {MEASURED_SPLIT}.')
    table.csv_columns['Split; epoch selection'] = [
        '; '.join(([published.row_protocol(row.label)] if row.published
                   and published else []) +
                  ([MEASURED_SPLIT] if row.measured_from else []))
        for row in table.rows
    ]


def build_tables(all_results: Dict[str, Results],
                 args: argparse.Namespace) -> List[Table]:
    """Every table that has at least one measured cell, each row labelled
    with its split and epoch selection."""
    tables = []
    if 'mfnet' in all_results:
        tables.append(
            per_class_table(MFNET_PER_CLASS, all_results['mfnet'], args))
    if 'fmb' in all_results:
        tables.append(per_class_table(FMB_PER_CLASS, all_results['fmb'], args))
    if {'mfnet_day', 'mfnet_night'} & set(all_results):
        tables.append(day_night_table(all_results, args))
    for published, row_inputs in ((SAM_ON_FUSED, SAM_ROW_INPUTS),
                                  (ABLATION, ABLATION_ROW_INPUTS)):
        needed = {dest for dests in row_inputs.values() for dest in dests}
        if needed & set(all_results):
            table = miou_table(published, row_inputs, all_results, args)
            if published is ABLATION:
                table.notes += ablation_drop_notes(
                    published, row_inputs, all_results, args.run_name)
            tables.append(table)
    for published, dests in MODALITY_TABLE_INPUTS:
        if set(dests) & set(all_results):
            tables.append(
                modality_table(published, dests, all_results, args))
    if 'fusion_msrs' in all_results:
        tables.append(
            fusion_table(SAGE_MSRS_FUSION, all_results['fusion_msrs'], args))
    for table in tables:
        label_protocols(table, PUBLISHED_TABLES.get(table.name))
    return tables


def fusion_table(published: PublishedTable, results: Results,
                 args: argparse.Namespace) -> Table:
    """Published fusion metrics (EN ... Qabf) + this run's, with the
    published decimals for both (the metrics are not percentages)."""
    table = Table(published.name, published.title,
                  ['Method', *published.columns], published_rows(published),
                  published_source=published.source)
    table.add_measured_row(args.run_name, results, published.metric_keys,
                           published.decimals)
    return table


def to_markdown(table: Table) -> str:
    """The table as GitHub Markdown, notes below it."""
    lines = [f'### {table.title}', '',
             '| ' + ' | '.join(table.columns) + ' |',
             '|' + '|'.join([' --- '] + [' ---: '] *
                            (len(table.columns) - 1)) + '|']
    for row in table.rows:
        texts = [cell.text() for cell in row.cells]
        lines.append('| ' + ' | '.join([row.label, *texts]) + ' |')
    notes = ([f'Published rows: {table.published_source}.']
             if table.has_published_rows else [])
    notes += [f'Measured: `{flag} {path}`'
              for flag, path in table.inputs.items()]
    lines.append('')
    lines += [f'- {note}' for note in notes + table.notes]
    return '\n'.join(lines) + '\n'


def write_csv(table: Table, path: str) -> None:
    """The table as CSV with measured values as in the json."""
    with open(path, 'w', newline='', encoding='utf-8') as file:
        writer = csv.writer(file)
        writer.writerow([*table.columns, *table.csv_columns, 'Source'])
        for index, row in enumerate(table.rows):
            extra = [values[index] for values in table.csv_columns.values()]
            writer.writerow([row.label, *(c.raw() for c in row.cells),
                             *extra, row.source])


def _latex_escape(text: str) -> str:
    """Escape LaTeX special characters in a cell."""
    for char, escaped in (('\\', r'\textbackslash{}'), ('&', r'\&'),
                          ('%', r'\%'), ('_', r'\_'), ('#', r'\#'),
                          ('$', r'\$'), (MISSING, '---')):
        text = text.replace(char, escaped)
    return text


def to_latex(table: Table) -> str:
    """The table as a booktabs LaTeX table, measured rows after a rule."""
    spec = 'l' + 'r' * (len(table.columns) - 1)
    lines = ['% Written by tools/analysis/make_tables.py; needs booktabs.',
             r'\begin{table}[t]', r'\centering',
             rf'\caption{{{_latex_escape(table.title)}}}',
             rf'\begin{{tabular}}{{{spec}}}', r'\toprule',
             ' & '.join(map(_latex_escape, table.columns)) + r' \\',
             r'\midrule']
    for previous, row in zip([None, *table.rows], table.rows):
        if previous and previous.published and not row.published:
            lines.append(r'\midrule')
        cells = [row.label, *(cell.text() for cell in row.cells)]
        lines.append(' & '.join(map(_latex_escape, cells)) + r' \\')
    lines += [r'\bottomrule', r'\end{tabular}', r'\end{table}']
    return '\n'.join(lines) + '\n'


def plot_per_class(published: PublishedTable, table: Table,
                   path: str) -> None:
    """Bar chart of per-class IoU: this run vs the best published row."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np

    best = published.best_row()
    ours = table.rows[-1]
    ours_values = [np.nan if c.value is None else c.value for c in ours.cells]
    positions = np.arange(len(published.columns))
    width = 0.4
    figure, axes = plt.subplots(
        figsize=(max(6.0, 0.9 * len(positions)), 4.0))
    axes.bar(positions - width / 2, published.rows[best], width, label=best)
    axes.bar(positions + width / 2, ours_values, width, label=ours.label)
    axes.set_xticks(positions)
    axes.set_xticklabels(published.columns, rotation=30, ha='right')
    axes.set_ylabel('IoU (%)')
    axes.set_ylim(0, 100)
    axes.set_title(f'{published.title}\n{ours.label} vs the best published '
                   'row (by mIoU)', fontsize=10)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def write_tables(tables: List[Table], args: argparse.Namespace) -> List[str]:
    """Write every table in every format; returns the written paths."""
    os.makedirs(args.out, exist_ok=True)
    written = []
    per_class = {MFNET_PER_CLASS.name: MFNET_PER_CLASS,
                 FMB_PER_CLASS.name: FMB_PER_CLASS}
    for table in tables:
        stem = osp.join(args.out, table.name)
        with open(f'{stem}.md', 'w', encoding='utf-8') as file:
            file.write(to_markdown(table))
        with open(f'{stem}.tex', 'w', encoding='utf-8') as file:
            file.write(to_latex(table))
        write_csv(table, f'{stem}.csv')
        written += [f'{stem}.md', f'{stem}.csv', f'{stem}.tex']
        if table.name in per_class and not args.no_plot:
            plot_per_class(per_class[table.name], table, f'{stem}_iou.png')
            written.append(f'{stem}_iou.png')
    summary = osp.join(args.out, 'tables.md')
    with open(summary, 'w', encoding='utf-8') as file:
        file.write('\n'.join(to_markdown(table) for table in tables))
    return written + [summary]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    try:
        all_results = load_all_results(args)
        tables = build_tables(all_results, args)
    except ResultsError as error:
        print(f'make_tables.py: error: {error}', file=sys.stderr)
        return 2
    written = write_tables(tables, args)
    for path in written:
        print(f'wrote {path}')
    for table in tables:
        for note in table.notes:
            print(f'note ({table.name}): {note}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
