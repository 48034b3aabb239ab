"""Fuse visible + infrared images with a SAGE student (the authors' protocol).

Writes ``<stem>.png`` (the fused RGB image at native size) into
``--out-dir`` for one pair of files or for two folders whose images pair by
file stem, whatever their extensions; unpaired stems and pairs of different
sizes are errors that name the files. The student runs on OpenCV's YCrCb
luminance and the grey infrared image, its fused Y takes the visible
chroma back to RGB, and the result is rounded as the SAGE authors'
``test.py`` saves it (``fusionsam_mmseg.apis.FusionInferencer``).

Example (the released student on the authors' M3FD pairs)::

    python tools/model_converters/sage_official_to_mmseg.py \\
        ../shared/data/sage_official/checkpoints.pt \\
        checkpoints/sage/sage_student_official.pth
    python demo/fusion_demo.py configs/sage/sage_student_official.py \\
        checkpoints/sage/sage_student_official.pth \\
        --visible ../shared/data/sage_official/Vis \\
        --infrared ../shared/data/sage_official/Ir --out-dir work_dirs/fused
"""
import argparse
from typing import List, Optional

from fusionsam_mmseg.apis import FusionInferencer


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='SAGE config (its student is used)')
    parser.add_argument('checkpoint', help='SAGE or student checkpoint')
    parser.add_argument('--visible', required=True,
                        help='visible image or folder')
    parser.add_argument('--infrared', required=True,
                        help='infrared image or folder')
    parser.add_argument('--out-dir', required=True,
                        help='folder for the <stem>.png fused images')
    parser.add_argument('--device', default=None,
                        help='cpu, cuda or cuda:N (default: cuda if any)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    inferencer = FusionInferencer(args.config, args.checkpoint, args.device)
    written = inferencer(args.visible, args.infrared, out_dir=args.out_dir)
    print(f'wrote {len(written)} fused image(s) to {args.out_dir}')


if __name__ == '__main__':
    main()
