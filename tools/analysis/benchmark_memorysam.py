"""Benchmark MemorySAM's cost per modality frame against stock SAM2 paths.

For each number of modalities N (``--frames``, default 2 and 4), in one
process on the same random weights and inputs, the timed iterations of four
paths alternate (so load changes on a shared machine hit all alike):

- ``stock encoder``: SAM2's image encoder (Hiera + FPN, no LoRA) on the N
  frames, the stock path;
- ``LoRA encoder``: :class:`SAM2LoRABackbone` on the stacked input (split,
  3-channel frames, LoRA trunk);
- ``head, no memory``: every frame decoded as SAM2 decodes a single image
  (first conditioning frame: no-memory embedding, no memory attention, no
  memory encoding), the stock path for the head;
- ``head, memory``: :class:`MemorySAMHead`'s frame loop (frame i attends to
  the memories of frames < i).

Printed: milliseconds per frame of each (median of ``--iters``) and the
ratios LoRA / stock encoder, memory / no-memory head and the memory's
share (memory encoder of frames 0..N-2 + memory attention of frames 1..N-1)
of the whole forward. Forward only, no gradient::

    python tools/analysis/benchmark_memorysam.py --image-size 512 --threads 2
"""
import argparse
import statistics
import time
from typing import Callable, Dict, List

import torch
from mmengine.config import Config
from mmseg.registry import MODELS

import fusionsam_mmseg  # noqa: F401  (registers the components)
from fusionsam_mmseg.models.sam import build_sam2_model

TINY_CONFIG = 'configs/memorysam/memorysam_tiny_demo.py'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sam2-config', default='sam2_hiera_b+')
    parser.add_argument('--tiny', action='store_true',
                        help=f'the tiny SAM2 of {TINY_CONFIG} (smoke runs)')
    parser.add_argument('--image-size', type=int, default=512)
    parser.add_argument('--frames', type=int, nargs='+', default=[2, 4])
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--num-classes', type=int, default=25)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--iters', type=int, default=3)
    parser.add_argument('--threads', type=int, default=None,
                        help='torch.set_num_threads')
    return parser.parse_args(argv)


def build_paths(args: argparse.Namespace, frames: int,
                overrides: List[str]) -> Dict[str, Callable[[], object]]:
    """The four timed paths (see the module docstring) for N = frames."""
    torch.manual_seed(0)
    sam2 = dict(sam2_config=args.sam2_config, sam2_overrides=overrides,
                image_size=args.image_size, checkpoint=None)
    backbone = MODELS.build(dict(type='SAM2LoRABackbone',
                                 modality_channels=(3, ) * frames, **sam2))
    head = MODELS.build(dict(
        type='MemorySAMHead',
        in_channels=[frames * backbone.embed_dims] * 3,
        num_classes=args.num_classes, **sam2))
    stock_encoder = build_sam2_model(args.sam2_config, args.image_size,
                                     overrides).image_encoder
    for module in (backbone, head, stock_encoder):
        module.eval()
    size = args.image_size
    inputs = torch.randn(args.batch_size, 3 * frames, size, size)
    frames_batch = backbone.to_frames(inputs)
    levels = backbone(inputs)

    def head_without_memory():
        for frame_levels in head.split_frames(levels):
            head.decode_frame(0, frame_levels,
                              dict(cond_frame_outputs={},
                                   non_cond_frame_outputs={}),
                              remember=False)

    return {
        'stock encoder': lambda: stock_encoder(frames_batch),
        'LoRA encoder': lambda: backbone(inputs),
        'head, no memory': head_without_memory,
        'head, memory': lambda: head(levels),
    }


def time_paths(paths: Dict[str, Callable[[], object]], warmup: int,
               iters: int) -> Dict[str, float]:
    """Median seconds of each path, iterations interleaved."""
    seconds = {name: [] for name in paths}
    with torch.no_grad():
        for step in range(warmup + iters):
            for name, path in paths.items():
                start = time.perf_counter()
                path()
                if step >= warmup:
                    seconds[name].append(time.perf_counter() - start)
    return {name: statistics.median(values)
            for name, values in seconds.items()}


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = list(Config.fromfile(TINY_CONFIG).sam2_overrides) \
        if args.tiny else []
    model = f'{args.sam2_config}{" (tiny overrides)" if args.tiny else ""}'
    print(f'SAM2 {model}, {args.image_size}x{args.image_size}, batch '
          f'{args.batch_size}, {torch.get_num_threads()} threads, forward '
          f'only; median of {args.iters}')
    for frames in args.frames:
        median = time_paths(build_paths(args, frames, overrides),
                            args.warmup, args.iters)
        per_frame = {name: 1000 * value / (frames * args.batch_size)
                     for name, value in median.items()}
        print(f'\nN = {frames} modalities (ms per frame):')
        for name, value in per_frame.items():
            print(f'  {name:16s} {value:10.1f}')
        memory = median['head, memory'] - median['head, no memory']
        print(f'  LoRA / stock encoder:        '
              f"{median['LoRA encoder'] / median['stock encoder']:.3f}")
        print(f'  memory / no-memory head:     '
              f"{median['head, memory'] / median['head, no memory']:.3f}")
        forward = median['LoRA encoder'] + median['head, memory']
        print(f'  memory share of the forward: '
              f'{memory / forward:.3f}')


if __name__ == '__main__':
    main()
