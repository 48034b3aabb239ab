"""Write a small deterministic multi-modal demo dataset in a public layout.

Formats: mfnet, fmb, msrs, pst900 (RGB-thermal), deliver (RGB, depth, event,
LiDAR) and mcubes (RGB, AoLP, DoLP, NIR); see
fusionsam_mmseg/datasets/demo_data.py for what each writes.

Example::

    python tools/dataset_converters/make_demo_rgbt.py --out data/demo_mfnet
    python tools/dataset_converters/make_demo_rgbt.py --out data/demo_fmb \
        --format fmb --num-train 32 --num-test 8
    python tools/dataset_converters/make_demo_rgbt.py \
        --out data/demo_deliver --format deliver --height 64 --width 64
"""
import argparse
import time

from fusionsam_mmseg.datasets.demo_data import DEMO_WRITERS, make_demo_dataset


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', required=True, help='dataset root to write')
    parser.add_argument(
        '--format', default='mfnet', choices=sorted(DEMO_WRITERS))
    parser.add_argument('--num-train', type=int, default=24)
    parser.add_argument(
        '--num-test', type=int, default=8,
        help='test images (and validation images where the layout has a '
        'validation split)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--height', type=int, default=120)
    parser.add_argument(
        '--width', type=int, default=160,
        help='image width (mcubes files add the 192-column band without '
        'NIR on the left)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    start = time.time()
    make_demo_dataset(args.out, args.format, args.num_train, args.num_test,
                      args.seed, args.height, args.width)
    print(f'wrote {args.format} demo dataset to {args.out} '
          f'({args.num_train} train / {args.num_test} test, '
          f'{args.height}x{args.width}) in {time.time() - start:.1f}s')


if __name__ == '__main__':
    main()
