"""Segment every visible/thermal pair of two folders (matched by file stem).

Give ``-`` as THERMAL_DIR when VIS_DIR holds MFNet-style 4-channel PNGs
(R, G, B, thermal as alpha).

Writes, per stem, ``pred/<stem>.png`` (class ids), ``mask/<stem>.png``
(palette colours), ``vis/<stem>.png`` (panel) and, for models that fuse,
``fused/<stem>.png`` under ``--out-dir``.

Example::

    python demo/folder_demo.py data/msrs/vi data/msrs/ir \
        configs/fusionsam_tiny_demo.py work_dirs/tiny/iter_160.pth \
        --out-dir outputs/msrs
"""
import argparse

import torch

from fusionsam_mmseg.apis import RGBTSegInferencer


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('visible_dir', help='folder of visible images')
    parser.add_argument(
        'thermal_dir',
        help="folder of thermal images, or '-' when VIS_DIR holds 4-channel "
        'PNGs (R, G, B, thermal)')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
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
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if not 0 < args.opacity <= 1:
        raise ValueError(f'--opacity {args.opacity}: expected a value in '
                         '(0, 1].')
    inferencer = RGBTSegInferencer(
        args.config, weights=args.checkpoint, device=args.device)
    inputs = args.visible_dir if args.thermal_dir == '-' else (
        args.visible_dir, args.thermal_dir)
    result = inferencer(
        inputs,
        batch_size=args.batch_size,
        out_dir=args.out_dir,
        opacity=args.opacity,
        show_progress=True)
    print(f'wrote {len(result["names"])} results to {args.out_dir}')


if __name__ == '__main__':
    main()
