"""Segment one multi-modal sample and write the result panel.

The panel reads: one tile per modality (visible, thermal / depth / event
/ ...) | fused image (FusionSAM) | prediction overlay, with a legend of the
classes found. Give each modality the model reads with ``--modality
NAME=PATH`` (names: the config dataset's ``modality_names``; a modality
stored in several files takes ``NAME=PATH1,PATH2``). Visible + thermal
models also take the two files as VISIBLE THERMAL before CONFIG, with ``-``
as THERMAL when VISIBLE is an MFNet-style 4-channel PNG (R, G, B, thermal
as alpha).

Examples::

    python demo/image_demo.py configs/memorysam/memorysam_tiny_demo.py \
        work_dirs/memorysam_tiny/iter_400.pth \
        --modality rgb=f/000001_rgb_front.png \
        --modality depth=f/000001_depth_front.png \
        --modality event=f/000001_event_front.png \
        --modality lidar=f/000001_lidar_front.png --out-file panel.png
    python demo/image_demo.py vi/00003N.png ir/00003N.png \
        configs/fusionsam_tiny_demo.py work_dirs/tiny/iter_160.pth \
        --out-file outputs/00003N_panel.png
    python demo/image_demo.py data/demo_mfnet/images/00033D.png - \
        configs/fusionsam_tiny_demo.py work_dirs/tiny/iter_160.pth \
        --out-file outputs/00033D_panel.png
"""
import argparse

import mmcv
import numpy as np
import torch

from fusionsam_mmseg.apis import (MultiModalSegInferencer,
                                   parse_modality_options)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        'args',
        nargs='+',
        metavar='ARG',
        help='CONFIG CHECKPOINT (with --modality options), or VISIBLE '
        "THERMAL CONFIG CHECKPOINT for visible + thermal models (THERMAL '-' "
        'when VISIBLE is a 4-channel PNG)')
    parser.add_argument(
        '--modality',
        action='append',
        default=[],
        metavar='NAME=PATH',
        help='one modality of the sample (repeat for each modality the '
        'model reads; NAME=PATH1,PATH2 for a modality stored in several '
        'files)')
    parser.add_argument(
        '--out-file', required=True, help='where to write the panel PNG')
    parser.add_argument(
        '--out-dir',
        default='',
        help='also write pred/, mask/, fused/ and vis/ files here')
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        help='device, e.g. cpu or cuda (default: cuda when available)')
    parser.add_argument(
        '--opacity',
        type=float,
        default=0.6,
        help='opacity of the class colours, in (0, 1]')
    args = parser.parse_args()
    if len(args.args) == 2 and args.modality:
        args.config, args.checkpoint = args.args
        args.inputs = parse_modality_options(args.modality, '--modality')
    elif len(args.args) == 4 and not args.modality:
        visible, thermal, args.config, args.checkpoint = args.args
        args.inputs = visible if thermal == '-' else (visible, thermal)
    else:
        parser.error(f'got {len(args.args)} positional argument(s) and '
                     f'{len(args.modality)} --modality option(s); expected '
                     'CONFIG CHECKPOINT --modality NAME=PATH ... or VISIBLE '
                     'THERMAL CONFIG CHECKPOINT.')
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
        out_dir=args.out_dir,
        return_vis=True,
        opacity=args.opacity)
    mmcv.imwrite(mmcv.rgb2bgr(result['visualization']), args.out_file)
    classes = inferencer.model.dataset_meta['classes']
    ids, counts = np.unique(result['predictions'], return_counts=True)
    shares = ', '.join(f'{classes[i]} {100 * c / counts.sum():.1f}%'
                       for i, c in zip(ids, counts))
    print(f'wrote {args.out_file}; predicted classes: {shares}')


if __name__ == '__main__':
    main()
