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
table EN ... Qabf beside SAGE's published figures, and ``--sage-panel CONFIG
CHECKPOINT VISIBLE INFRARED`` draws visible | infrared | teacher | student
for one image of a SAGE model (its SAM mask priors must be cached).

Example::

    python tools/test.py configs/fusionsam_vith_mfnet.py ckpt.pth \
        --work-dir work_dirs/mfnet_test
    python tools/analysis/make_tables.py \
        --mfnet work_dirs/mfnet_test/20240101_120000/20240101_120000.json \
        --out work_dirs/tables

A results file is the json tools/test.py writes (``<work_dir>/<timestamp>/
<timestamp>.json``; the timestamp folder itself is accepted too) or a
json-lines scalar log (``vis_data/scalars.json``; its last record with
``mIoU`` is used). Per-class tables need the ``IoU.<class>`` keys written by
``PerClassIoUMetric`` (the evaluator of configs/_base_/datasets/*.py).
"""
import argparse
import csv
import json
import math
import os
import os.path as osp
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from fusionsam_mmseg.evaluation.published import (ABLATION, DELIVER_MIOU,
                                                  FMB_PER_CLASS, MCUBES_MIOU,
                                                  MFNET_PER_CLASS,
                                                  SAGE_MSRS_FUSION,
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

    ``inputs`` maps each command-line flag measured in the table to its file.
    """

    name: str
    title: str
    columns: List[str]
    rows: List[Row] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    inputs: Dict[str, str] = field(default_factory=dict)
    has_published_rows: bool = True
    published_source: str = 'the FusionSAM paper (docs/tables.md)'

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
        'chart) from results jsons of tools/test.py.')
    inputs = parser.add_argument_group(
        'results jsons (give at least one)')
    for dest, help_text in RESULT_INPUTS.items():
        inputs.add_argument(
            option_flag(dest), dest=dest, metavar='JSON', help=help_text)
    parser.add_argument(
        '--sage-panel', nargs=4,
        metavar=('CONFIG', 'CHECKPOINT', 'VISIBLE', 'INFRARED'),
        help='draw visible | infrared | teacher | student of a SAGE model '
        'for one image pair (its SAM mask priors cached by '
        'tools/dataset_converters/sam_mask_priors.py)')
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


def read_metric_record(path: str, key: str = 'mIoU') -> dict:
    """The metrics dict of a json file or the last one of a json-lines log
    holding ``key``."""
    with open(path, encoding='utf-8') as file:
        text = file.read()
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        record = _last_record_with_miou(text, path, key)
    if not isinstance(record, dict):
        raise ResultsError(f'{path}: expected a json object of metrics, '
                           f'got {type(record).__name__}.')
    return record


def _last_record_with_miou(text: str, path: str,
                           key: str = 'mIoU') -> dict:
    """Last json-lines record whose keys include ``key`` (mIoU)."""
    records = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise ResultsError(
                f'{path}:{line_number} is not valid json ({error}); expected '
                'the results json of tools/test.py.') from error
    with_miou = [r for r in records
                 if isinstance(r, dict) and _strip_prefixes(r).get(key)
                 is not None]
    if not with_miou:
        raise ResultsError(f'{path}: no json record with an {key} key.')
    return with_miou[-1]


def _strip_prefixes(record: dict) -> dict:
    """Drop ``test/`` / ``val/`` style prefixes from metric keys."""
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
    record = _strip_prefixes(read_metric_record(path, required))
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
    if not given and not args.sage_panel:
        flags = ', '.join(option_flag(dest) for dest in RESULT_INPUTS)
        raise ResultsError(
            f'no results json given; pass at least one of {flags} '
            '(each the json that tools/test.py writes), or --sage-panel.')
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
    table.add_measured_row(f'FusionSAM ({args.run_name})', results,
                           published.metric_keys, args.decimals)
    return table


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
    row = Row(args.run_name, [])
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


def build_tables(all_results: Dict[str, Results],
                 args: argparse.Namespace) -> List[Table]:
    """Every table that has at least one measured cell."""
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
            tables.append(
                miou_table(published, row_inputs, all_results, args))
    for published, dests in MODALITY_TABLE_INPUTS:
        if set(dests) & set(all_results):
            tables.append(
                modality_table(published, dests, all_results, args))
    if 'fusion_msrs' in all_results:
        tables.append(
            fusion_table(SAGE_MSRS_FUSION, all_results['fusion_msrs'], args))
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


def _panel_tile(image, label: str):
    """(H, W, 3) uint8 RGB with its label written on a dark band."""
    import cv2
    import numpy as np
    band = np.zeros((24, image.shape[1], 3), np.uint8)
    cv2.putText(band, label, (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([band, image], axis=0)


def sage_panel(config: str, checkpoint: str, visible: str, infrared: str,
               out_file: str) -> str:
    """Draw visible | infrared | teacher | student for one image pair.

    Args:
        config (str): A SAGE config (its train pipeline's
            ``LoadSAMMaskPriors`` gives the number of masks).
        checkpoint (str): A SAGE training checkpoint (teacher included).
        visible (str): The visible PNG; its priors must be cached.
        infrared (str): The infrared PNG.
        out_file (str): PNG to write.

    Returns:
        str: ``out_file``.
    """
    import cv2
    import numpy as np
    import torch
    from mmengine.config import Config
    from mmengine.runner import load_checkpoint
    from mmseg.registry import MODELS, TRANSFORMS
    from mmseg.utils import register_all_modules

    import fusionsam_mmseg  # noqa: F401
    from fusionsam_mmseg.models.fusion.sage import colorize
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(config)
    model = MODELS.build(cfg.model)
    load_checkpoint(model, checkpoint, map_location='cpu')
    model.eval()
    results = TRANSFORMS.build(dict(type='LoadRGBTImageFromFile'))(
        dict(img_path=visible, thermal_path=infrared))
    results = TRANSFORMS.build(
        dict(type='LoadSAMMaskPriors', num_masks=model.num_masks))(results)
    inputs = torch.from_numpy(
        np.ascontiguousarray(results['img'].transpose(2, 0, 1)))[None]
    with torch.no_grad():
        sources = model.sources(inputs.float(), with_priors=True)
        fusions = [model.teach(sources)[0], model.fuse(sources)[0]]
    tiles = [results['img'][..., :3].astype(np.uint8),
             np.repeat(results['img'][..., 3:4], 3, 2).astype(np.uint8)]
    for fused in fusions:
        rgb = colorize(fused.clamp(0, 1), sources.visible_rgb)[0]
        tiles.append((rgb.permute(1, 2, 0).numpy() * 255).round().astype(
            np.uint8))
    labels = ('visible', 'infrared', 'teacher', 'student')
    panel = np.concatenate(
        [_panel_tile(tile, label) for tile, label in zip(tiles, labels)],
        axis=1)
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    cv2.imwrite(out_file, cv2.cvtColor(panel, cv2.COLOR_RGB2BGR))
    return out_file


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
        writer.writerow([*table.columns, 'Source'])
        for row in table.rows:
            writer.writerow([row.label, *(c.raw() for c in row.cells),
                             row.source])


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
    written = write_tables(tables, args) if tables else []
    if args.sage_panel:
        written.append(sage_panel(*args.sage_panel,
                                  osp.join(args.out, 'sage_panel.png')))
    for path in written:
        print(f'wrote {path}')
    for table in tables:
        for note in table.notes:
            print(f'note ({table.name}): {note}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
