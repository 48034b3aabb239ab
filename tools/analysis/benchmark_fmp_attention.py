"""Benchmark FMP's global attention against its window attention.

Builds the FMP neck of a config twice, ``attention='global'`` (token-to-token
over the whole map, the paper) and ``attention='window'`` (SwinFusion's
window attention, ``--window-size``), every other setting as the config
has it, and runs both on the same random LSTG-like tokens of an
``--shape`` image (tokens at 1 / 2**num_upsamples of it). The timed
iterations alternate between the two, so load changes on a shared machine
hit both alike. Prints seconds per iteration of each (median of
``--iters``) and ``ratio global / window``. An iteration is a forward and
backward (the neck's share of a training step), or with ``--inference`` a
forward under ``torch.no_grad``::

    python tools/analysis/benchmark_fmp_attention.py --shape 480 640 \\
        --threads 2
"""
import argparse
import statistics
import time
from typing import Callable, Dict, List

import torch
from mmengine.config import Config
from mmseg.registry import MODELS

import fusionsam_mmseg  # noqa: F401  (registers the components)
from benchmark_sam_encoder import cpu_name


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default='configs/fusionsam_vith_mfnet.py',
                        help='config whose model.neck (an FMP) is measured')
    parser.add_argument('--shape', type=int, nargs=2, default=[480, 640],
                        metavar=('H', 'W'), help='input image size')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--window-size', type=int, default=8)
    parser.add_argument('--inference', action='store_true',
                        help='forward only, under torch.no_grad')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--iters', type=int, default=3)
    parser.add_argument('--threads', type=int, default=None,
                        help='torch.set_num_threads')
    return parser.parse_args(argv)


def build_necks(args: argparse.Namespace) -> Dict[str, torch.nn.Module]:
    """The config's FMP with global and with window attention."""
    neck_cfg = Config.fromfile(args.config).model.neck
    if neck_cfg.type != 'FMP':
        raise ValueError(f'{args.config}: model.neck is {neck_cfg.type}, '
                         'not FMP.')
    torch.manual_seed(0)
    return {
        'global': MODELS.build(dict(neck_cfg, attention='global')),
        'window': MODELS.build(
            dict(neck_cfg, attention='window', kv_pool_size=None,
                 window_size=args.window_size)),
    }


def random_tokens(neck: torch.nn.Module, args: argparse.Namespace
                  ) -> List[torch.Tensor]:
    """One (B, in_channels, H / 2**k, W / 2**k) map per modality."""
    scale = 2**len(neck.outputs.image_upsample_convs)
    height, width = (side // scale for side in args.shape)
    in_channels = neck.projections[0].proj.in_channels
    generator = torch.Generator().manual_seed(0)
    return [
        torch.randn(args.batch_size, in_channels, height, width,
                    generator=generator)
        for _ in range(neck.num_modalities)
    ]


def iteration(neck: torch.nn.Module, tokens: List[torch.Tensor],
              inference: bool) -> Callable[[], float]:
    """A timed forward (+ backward of the sum of all outputs)."""
    def run() -> float:
        start = time.perf_counter()
        if inference:
            with torch.no_grad():
                neck(tokens)
        else:
            neck.zero_grad(set_to_none=True)
            sum(output.mean() for output in neck(tokens)).backward()
        return time.perf_counter() - start
    return run


def measure(args: argparse.Namespace) -> dict:
    """Seconds per iteration of both necks and their ratio."""
    if args.threads:
        torch.set_num_threads(args.threads)
    necks = build_necks(args)
    tokens = random_tokens(necks['window'], args)
    runs = {name: iteration(neck.train(), tokens, args.inference)
            for name, neck in necks.items()}
    for _ in range(args.warmup):
        for run in runs.values():
            run()
    seconds = {name: [] for name in runs}
    for index in range(args.iters):
        names = list(runs) if index % 2 == 0 else list(reversed(runs))
        for name in names:
            seconds[name].append(runs[name]())
    medians = {name: statistics.median(values)
               for name, values in seconds.items()}
    return dict(
        tokens=tuple(tokens[0].shape),
        seconds=seconds,
        median_s=medians,
        ratio=medians['global'] / medians['window'])


def main(argv=None) -> dict:
    args = parse_args(argv)
    result = measure(args)
    mode = 'forward' if args.inference else 'forward+backward'
    print(f'torch {torch.__version__} | {cpu_name()} | '
          f'{torch.get_num_threads()} threads | {mode} | tokens '
          f'{result["tokens"]} (input {tuple(args.shape)})')
    for name, seconds in result['seconds'].items():
        runs = ', '.join(f'{s:.3f}' for s in seconds)
        print(f'{name}: {result["median_s"][name]:.3f} s/iter (runs: {runs})')
    print(f'ratio global / window: {result["ratio"]:.2f}')
    return result


if __name__ == '__main__':
    main()
