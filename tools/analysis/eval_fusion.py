"""Score folders of fused images against their visible + infrared sources.

Every fused folder must hold exactly one image per source pair (stems
matched, any image extension); a missing or extra image stops the run and
names it, as does a visible / infrared stem without its partner. The
images are read at native size and turned grey as the convention reads
them (``fusion_quality.to_grey``). Prints a Markdown table with one row per
fused folder (the mean over its images) and optionally writes the
per-image values as CSV.

Example (the SAGE authors' outputs, scored as their evaluator scores)::

    python tools/analysis/eval_fusion.py \\
        --visible ../shared/data/sage_official/Vis \\
        --infrared ../shared/data/sage_official/Ir \\
        --fused ../shared/data/sage_official/result work_dirs/fused \\
        --convention ivif_zoo --out work_dirs/fusion_metrics.csv
"""
import argparse
import csv
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from rich.progress import track

from fusionsam_mmseg.apis.fusion_inferencer import pair_images
from fusionsam_mmseg.apis.rgbt_inputs import images_by_stem
from fusionsam_mmseg.datasets.transforms.loading import (decode_image,
                                                         match_channels)
from fusionsam_mmseg.evaluation.fusion_quality import (CONVENTIONS,
                                                       DEFAULT_CONVENTION,
                                                       FUSION_METRICS,
                                                       fusion_quality,
                                                       to_grey)

Scores = Dict[str, float]


def read_grey(path: str, what: str, convention: str) -> np.ndarray:
    """(H, W) uint8 grey levels of an 8-bit grey or RGB(A) image file."""
    image = decode_image(path, None, what)
    if image.dtype != np.uint8:
        raise ValueError(f'{what} file {path} is {image.dtype}; expected an '
                         '8-bit image.')
    if image.shape[2] == 1:
        return image[..., 0]
    return to_grey(match_channels(image, 3, path, what), convention)


def fused_images(folder: str, stems: Sequence[str]) -> Dict[str, str]:
    """stem -> path of the fused folder's images, one per source stem."""
    found = images_by_stem(folder)
    missing = sorted(set(stems) - set(found))
    extra = sorted(set(found) - set(stems))
    if missing or extra:
        raise ValueError(
            f'fused folder {folder} does not match the source pairs: ' +
            '; '.join(f'{what}: {", ".join(names[:10])}' for what, names in (
                ('no fused image for', missing),
                ('fused images without sources', extra)) if names) + '.')
    return found


def folder_labels(folders: Sequence[str]) -> List[str]:
    """Folder names as row labels; the paths when two names collide."""
    names = [osp.basename(osp.normpath(folder)) for folder in folders]
    return names if len(set(names)) == len(names) else list(folders)


def score_folders(visible: str, infrared: str, folders: Sequence[str],
                  convention: str, metrics: Sequence[str]
                  ) -> Dict[str, List[Tuple[str, Scores]]]:
    """label -> [(stem, scores)] for every fused folder."""
    pairs = pair_images(visible, infrared)
    stems = [stem for stem, _, _ in pairs]
    jobs = [(label, fused_images(folder, stems))
            for label, folder in zip(folder_labels(folders), folders)]
    sources = {}
    results = {label: [] for label, _ in jobs}
    work = [(label, fused, pair) for label, fused in jobs for pair in pairs]
    for label, fused, (stem, visible_path, infrared_path) in track(
            work, description='scoring'):
        if stem not in sources:
            sources[stem] = (read_grey(visible_path, 'visible', convention),
                             read_grey(infrared_path, 'infrared',
                                       convention))
        image = read_grey(fused[stem], 'fused', convention)
        if image.shape != sources[stem][0].shape or \
                sources[stem][0].shape != sources[stem][1].shape:
            raise ValueError(
                f'{fused[stem]} ({image.shape}), {visible_path} '
                f'({sources[stem][0].shape}) and {infrared_path} '
                f'({sources[stem][1].shape}) differ in size (H, W); '
                'expected fused images at the sources\' native size.')
        results[label].append(
            (stem, fusion_quality(image, *sources[stem], metrics,
                                  convention)))
    return results


def markdown_table(results: Dict[str, List[Tuple[str, Scores]]],
                   metrics: Sequence[str]) -> str:
    """One row per folder: the mean of each metric over its images."""
    lines = ['| Fused | ' + ' | '.join(metrics) + ' | images |',
             '|---' * (len(metrics) + 2) + '|']
    for label, rows in results.items():
        means = [np.mean([scores[name] for _, scores in rows])
                 for name in metrics]
        lines.append(f'| {label} | ' + ' | '.join(
            f'{value:.4f}' for value in means) + f' | {len(rows)} |')
    return '\n'.join(lines)


def write_csv(path: str, results: Dict[str, List[Tuple[str, Scores]]],
              metrics: Sequence[str]) -> None:
    """Per-image values: fused folder, stem, then one column per metric."""
    with open(path, 'w', newline='') as file:
        writer = csv.writer(file)
        writer.writerow(['fused', 'image', *metrics])
        for label, rows in results.items():
            for stem, scores in rows:
                writer.writerow([label, stem] +
                                [repr(scores[name]) for name in metrics])


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--visible', required=True, help='visible folder')
    parser.add_argument('--infrared', required=True, help='infrared folder')
    parser.add_argument('--fused', required=True, nargs='+',
                        help='one or more folders of fused images')
    parser.add_argument('--convention', default=DEFAULT_CONVENTION,
                        choices=CONVENTIONS,
                        help='ivif_zoo: the SAGE authors\' evaluator '
                        '(default); matlab: the MATLAB definitions')
    parser.add_argument('--metrics', nargs='+', default=list(FUSION_METRICS),
                        choices=FUSION_METRICS, help='default: all')
    parser.add_argument('--out', help='per-image CSV to write')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    results = score_folders(args.visible, args.infrared, args.fused,
                            args.convention, args.metrics)
    print(f'convention: {args.convention}')
    print(markdown_table(results, args.metrics))
    if args.out:
        write_csv(args.out, results, args.metrics)
        print(f'per-image values: {args.out}')


if __name__ == '__main__':
    main()
