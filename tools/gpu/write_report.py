"""Merge the GPU kit's steps and parts into gpu_kit.json and gpu_kit.md.

Called last by ``tools/gpu/run.sh`` (standard library only, so it runs
whatever failed before it). Reads, in the run's work folder, ``steps.tsv``
(one ``NAME<TAB>EXIT<TAB>SECONDS<TAB>BUDGET_S`` line per step; EXIT is
``skipped`` for a step not run, ``reused`` for a setup step an earlier run
did), ``<part>.json`` (written by
``measure_part.py``) and ``<step>.log``::

    python tools/gpu/write_report.py --work WORK --out OUT --mode device \\
        --deadline-s 540 --wall-s 512.3

A step is ``ok`` (exit 0, and for a part its JSON complete), ``timeout``
(exit 124 / 137: stopped at its budget, a part keeps what it wrote),
``skipped``, ``reused`` or ``failed`` (the end of its log under ``error``).
"""
import argparse
import json
import time
from pathlib import Path
from typing import Dict, List, Optional

SETUP_STEPS = {
    'install': 'offline install of the kit (pip --no-index --find-links '
               'KIT/wheels --no-deps)',
    'mmcv_build': 'mmcv 2.1.0 compiled with CPU ops (MMCV_WITH_OPS=1, '
                  'FORCE_CUDA=0, CUDA hidden from its setup.py)',
}
PARTS = {
    'encoder': '(a) frozen SAM image encoder: stock fp32 vs ours',
    'fusionsam_train': '(b) FusionSAM ViT-H paper config, training',
    'memorysam_train': '(c) MemorySAM Hiera-B+ DELIVER RGB-D-E-L, training',
    'fusionsam_inference': '(d) FusionSAM ViT-H paper config, inference',
}
TIMEOUT_EXITS = ('124', '137')
ERROR_LINES = 25


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work', type=Path, required=True)
    parser.add_argument('--out', type=Path, required=True)
    parser.add_argument('--mode', choices=['device', 'cpu-smoke'],
                        required=True)
    parser.add_argument('--deadline-s', type=float, required=True)
    parser.add_argument('--wall-s', type=float, required=True)
    return parser.parse_args(argv)


def read_steps(work: Path) -> Dict[str, dict]:
    steps = {}
    path = work / 'steps.tsv'
    lines = path.read_text().splitlines() if path.is_file() else []
    for line in lines:
        name, exit_code, seconds, budget = line.split('\t')
        steps[name] = dict(exit=exit_code, seconds=float(seconds),
                           budget_s=float(budget))
    return steps


def log_tail(work: Path, name: str) -> Optional[str]:
    path = work / f'{name}.log'
    if not path.is_file():
        return None
    return '\n'.join(path.read_text(errors='replace').splitlines()
                     [-ERROR_LINES:])


def status_of(step: Optional[dict], complete: bool) -> str:
    if step is None:
        return 'skipped'
    if step['exit'] in ('skipped', 'reused'):
        return step['exit']
    if step['exit'] in TIMEOUT_EXITS:
        return 'timeout'
    return 'ok' if step['exit'] == '0' and complete else 'failed'


def step_record(work: Path, name: str, step: Optional[dict],
                complete: bool = True) -> dict:
    status = status_of(step, complete)
    record = dict(status=status,
                  seconds=step['seconds'] if step else None,
                  budget_s=step['budget_s'] if step else None)
    if status in ('failed', 'timeout'):
        record['error'] = log_tail(work, name)
    return record


def part_record(work: Path, name: str, step: Optional[dict]) -> dict:
    path = work / f'{name}.json'
    written = json.loads(path.read_text()) if path.is_file() else {}
    record = step_record(work, name, step, written.get('complete', False))
    record.update(description=PARTS[name],
                  machine={key: written[key] for key in
                           ('device', 'torch', 'python') if key in written},
                  result=written.get('result'))
    return record


def build_report(args: argparse.Namespace) -> dict:
    steps = read_steps(args.work)
    return dict(
        mode=args.mode,
        date_utc=time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime()),
        deadline_s=args.deadline_s,
        wall_s=args.wall_s,
        setup={name: dict(step_record(args.work, name, steps.get(name)),
                          description=description)
               for name, description in SETUP_STEPS.items()},
        parts={name: part_record(args.work, name, steps.get(name))
               for name in PARTS})


def number(value) -> str:
    if value is None:
        return 'n/a'
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    if isinstance(value, float):
        return f'{value:.3g}' if abs(value) < 1e-2 else f'{value:.2f}'
    return str(value)


def encoder_rows(result: dict) -> List[str]:
    rows = ['| model | stock img/s | ours img/s | ratio | variant | max abs '
            'diff |', '|---|---|---|---|---|---|']
    for model, summary in result.get('models', {}).items():
        rows.append(
            f"| {model} | {number(summary['stock_images_per_s'])} | "
            f"{number(summary['ours_images_per_s'])} | "
            f"**{number(summary['ratio'])}** | {summary['best_variant']} | "
            f"{number(summary['max_abs_diff'])} |")
    target = result.get('target', {})
    rows.append(f"\nTarget: ratio >= {number(target.get('min_ratio'))} for "
                f"{target.get('model')}: measured "
                f"{number(target.get('ratio'))}, met: "
                f"{number(target.get('met'))}.")
    return rows


def field_rows(result: dict) -> List[str]:
    rows = ['| field | value |', '|---|---|']
    for key, value in result.items():
        if isinstance(value, dict):
            value = ', '.join(f'{inner}: {number(item)}'
                              for inner, item in value.items())
        rows.append(f'| {key} | {number(value)} |')
    return rows


def markdown(report: dict) -> str:
    lines = [f"# GPU kit report ({report['mode']}, {report['date_utc']} "
             'UTC)', '',
             f"Wall time {number(report['wall_s'])} s (deadline "
             f"{number(report['deadline_s'])} s).", '',
             '| step | status | seconds | budget s |', '|---|---|---|---|']
    for name, record in {**report['setup'], **report['parts']}.items():
        lines.append(f"| {name} | {record['status']} | "
                     f"{number(record['seconds'])} | "
                     f"{number(record['budget_s'])} |")
    for name, record in report['parts'].items():
        machine = ', '.join(f'{key} {value}'
                            for key, value in record['machine'].items())
        lines += ['', f"## {record['description']}", '',
                  f"Status: {record['status']}; {machine or 'no result'}.",
                  '']
        result = record['result']
        if result:
            lines += (encoder_rows(result) if name == 'encoder' else
                      field_rows(result))
        if record.get('error'):
            lines += ['', '```', record['error'], '```']
    return '\n'.join(lines) + '\n'


def main(argv=None) -> dict:
    args = parse_args(argv)
    report = build_report(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / 'gpu_kit.json').write_text(json.dumps(report, indent=2))
    (args.out / 'gpu_kit.md').write_text(markdown(report))
    return report


if __name__ == '__main__':
    main()
