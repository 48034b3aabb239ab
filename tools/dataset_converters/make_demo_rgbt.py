"""Write a small deterministic RGB-T demo dataset (MFNet or FMB layout).

Example::

    python tools/dataset_converters/make_demo_rgbt.py --out data/demo_mfnet
    python tools/dataset_converters/make_demo_rgbt.py --out data/demo_fmb \
        --format fmb --num-train 32 --num-test 8
"""
import argparse
import time

from fusionsam_mmseg.datasets.demo_data import make_demo_dataset


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', required=True, help='dataset root to write')
    parser.add_argument('--format', default='mfnet', choices=['mfnet', 'fmb'])
    parser.add_argument('--num-train', type=int, default=24)
    parser.add_argument('--num-test', type=int, default=8)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--height', type=int, default=120)
    parser.add_argument('--width', type=int, default=160)
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
