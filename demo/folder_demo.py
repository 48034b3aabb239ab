"""Segment every sample of one folder per modality (files matched by stem).

Give each modality the model reads with ``--modality-dir NAME=DIR`` (names:
the config dataset's ``modality_names``; a modality stored in several files
takes ``NAME=DIR1,DIR2``). Files pair by stem, ignoring a ``_NAME`` part
(DELIVER's ``<id>_rgb_front.png`` pairs with ``<id>_depth_front.png``).
Visible + thermal models also take the two folders as VIS_DIR THERMAL_DIR
before CONFIG, with ``-`` as THERMAL_DIR when VIS_DIR holds MFNet-style
4-channel PNGs (R, G, B, thermal as alpha).

Writes, per sample, ``pred/<stem>.png`` (class ids), ``mask/<stem>.png``
(palette colours), ``vis/<stem>.png`` (panel: one tile per modality, fused
image, prediction) and, for models that fuse, ``fused/<stem>.png`` under
``--out-dir``; ``<stem>`` is the first modality's file stem.

Examples::

    python demo/folder_demo.py configs/memorysam/memorysam_tiny_demo.py \
        work_dirs/memorysam_tiny/iter_400.pth \
        --modality-dir rgb=data/demo_deliver/img/cloud/test/MAP_1_point0 \
        --modality-dir depth=data/demo_deliver/hha/cloud/test/MAP_1_point0 \
        --modality-dir event=data/demo_deliver/event/cloud/test/MAP_1_point0 \
        --modality-dir lidar=data/demo_deliver/lidar/cloud/test/MAP_1_point0 \
        --out-dir outputs/deliver
    python demo/folder_demo.py data/msrs/vi data/msrs/ir \
        configs/fusionsam_tiny_demo.py work_dirs/tiny/iter_160.pth \
        --out-dir outputs/msrs
"""
import argparse

import torch

from fusionsam_mmseg.apis import (MultiModalSegInferencer,
                                   parse_modality_options)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        'args',
        nargs='+',
        metavar='ARG',
        help='CONFIG CHECKPOINT (with --modality-dir options), or VIS_DIR '
        "THERMAL_DIR CONFIG CHECKPOINT for visible + thermal models "
        "(THERMAL_DIR '-' when VIS_DIR holds 4-channel PNGs)")
    parser.add_argument(
        '--modality-dir',
        action='append',
        default=[],
        metavar='NAME=DIR',
        help='the folder of one modality (repeat for each modality the '
        'model reads; NAME=DIR1,DIR2 for a modality stored in several '
        'files)')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        help='device, e.g. cpu or cuda (default: cuda when available)')
    parser.add_argument(
        '--batch-size', type=int, default=1, help='images per forward pass')
    parser.add_argument(
        '--opacity',
        type=float,
        default=0.6,
        help='opacity of the class colours, in (0, 1]')
    args = parser.parse_args()
    if len(args.args) == 2 and args.modality_dir:
        args.config, args.checkpoint = args.args
        args.inputs = parse_modality_options(args.modality_dir,
                                             '--modality-dir')
    elif len(args.args) == 4 and not args.modality_dir:
        visible_dir, thermal_dir, args.config, args.checkpoint = args.args
        args.inputs = visible_dir if thermal_dir == '-' else (visible_dir,
                                                              thermal_dir)
    else:
        parser.error(f'got {len(args.args)} positional argument(s) and '
                     f'{len(args.modality_dir)} --modality-dir option(s); '
                     'expected CONFIG CHECKPOINT --modality-dir NAME=DIR ... '
                     'or VIS_DIR THERMAL_DIR CONFIG CHECKPOINT.')
    return args


def main() -> None:
    args = parse_args()
    if not 0 < args.opacity <= 1:
        raise ValueError(f'--opacity {args.opacity}: expected a value in '
                         '(0, 1].')
    inferencer = MultiModalSegInferencer(
        args.config, weights=args.checkpoint, device=args.device)
    result = inferencer(
        args.inputs,
        batch_size=args.batch_size,
        out_dir=args.out_dir,
        opacity=args.opacity,
        show_progress=True)
    print(f'wrote {len(result["names"])} results to {args.out_dir}')


if __name__ == '__main__':
    main()
