"""Segment one visible + thermal pair and write the result panel.

The panel reads: visible | thermal | fused image (FusionSAM) | prediction
overlay with a legend of the classes found. Give ``-`` as THERMAL when
VISIBLE is an MFNet-style 4-channel PNG (R, G, B, thermal as alpha).

Examples::

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

from fusionsam_mmseg.apis import RGBTSegInferencer


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('visible', help='visible (RGB) image file')
    parser.add_argument(
        'thermal',
        help="thermal (infrared) image file, or '-' when VISIBLE is a "
        '4-channel PNG (R, G, B, thermal)')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
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
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if not 0 < args.opacity <= 1:
        raise ValueError(f'--opacity {args.opacity}: expected a value in '
                         '(0, 1].')
    inferencer = RGBTSegInferencer(
        args.config, weights=args.checkpoint, device=args.device)
    inputs = args.visible if args.thermal == '-' else (args.visible,
                                                       args.thermal)
    result = inferencer(
        inputs, out_dir=args.out_dir, return_vis=True, opacity=args.opacity)
    mmcv.imwrite(mmcv.rgb2bgr(result['visualization']), args.out_file)
    classes = inferencer.model.dataset_meta['classes']
    ids, counts = np.unique(result['predictions'], return_counts=True)
    shares = ', '.join(f'{classes[i]} {100 * c / counts.sum():.1f}%'
                       for i, c in zip(ids, counts))
    print(f'wrote {args.out_file}; predicted classes: {shares}')


if __name__ == '__main__':
    main()
