"""Benchmark the stock SAM image encoder against fusionsam_mmseg's fast one.

Both run in one process on the same random weights and the same inputs; the
timed iterations alternate between them so that load changes on a shared
machine hit both alike. Prints images/s of each, ``speedup: X.XX`` (ours /
stock), the peak extra memory of one forward and the max abs difference of
the embeddings. The stock encoder always runs in fp32 (the reference);
``--dtype`` and ``--compile`` apply to ours.

Needs only torch and segment_anything: the plugin's one SAM builder
(``fusionsam_mmseg.models.sam.builder``) is imported without running the
``fusionsam_mmseg`` package ``__init__`` files (which import OpenMMLab), after
``fusionsam_mmseg.import_patches`` made ``segment_anything.modeling``
importable, so the script runs on a bare GPU machine::

    python tools/analysis/benchmark_sam_encoder.py --model-type vit_h \\
        --image-size 1024 --batch-size 8 --device cuda --dtype bf16 --compile

:func:`measure_variants` times several variants of ours against one stock
encoder (part (a) of the GPU kit, ``tools/gpu/measure_part.py``).
"""
import argparse
import ctypes
import importlib
import json
import os
import platform
import statistics
import sys
import time
import types
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_ARCH = dict(embed_dim=64, depth=4, num_heads=4,
                 global_attn_indexes=(1, 3))


def import_sam_builder() -> types.ModuleType:
    """Import ``fusionsam_mmseg.models.sam.builder`` bare.

    Registers the parent packages as plain namespace modules (their
    ``__init__`` files import mmseg), applies the segment_anything import
    patch, then imports the builder and its two siblings normally.
    """
    package_dir = REPO_ROOT / 'fusionsam_mmseg'
    for name, path in [('fusionsam_mmseg', package_dir),
                       ('fusionsam_mmseg.models', package_dir / 'models'),
                       ('fusionsam_mmseg.models.sam',
                        package_dir / 'models' / 'sam')]:
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [str(path)]
            sys.modules[name] = package
    importlib.import_module(
        'fusionsam_mmseg.import_patches').import_segment_anything_modeling()
    return importlib.import_module('fusionsam_mmseg.models.sam.builder')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model-type', default='vit_b',
                        choices=['vit_b', 'vit_l', 'vit_h', 'tiny'])
    parser.add_argument('--image-size', type=int, default=1024)
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--device', default='cuda', choices=['cpu', 'cuda'])
    parser.add_argument('--dtype', default='fp32', choices=['fp32', 'bf16'],
                        help='autocast dtype of our encoder (stock: fp32)')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile our encoder')
    parser.add_argument('--rel-pos-mode', default='mask',
                        choices=['mask', 'concat'])
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--threads', type=int, default=None,
                        help='torch.set_num_threads (CPU)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', default=None, help='write results here')
    return parser.parse_args(argv)


def randomize_positional_parameters_(encoder: nn.Module,
                                     generator: torch.Generator) -> None:
    """Give the zero-initialised pos_embed / rel_pos_* non-trivial values."""
    with torch.no_grad():
        for name, parameter in encoder.named_parameters():
            if name == 'pos_embed' or 'rel_pos' in name:
                parameter.normal_(0.0, 0.1, generator=generator)


def synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_forward(encoder: nn.Module, images: torch.Tensor) -> float:
    synchronize(images.device)
    start = time.perf_counter()
    encoder(images)
    synchronize(images.device)
    return time.perf_counter() - start


def _proc_status_kib(field: str) -> int:
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise KeyError(field)


def peak_forward_mib(encoder: nn.Module,
                     images: torch.Tensor) -> Optional[float]:
    """Peak memory of one forward above what was in use before it (MiB).

    CUDA: the caching allocator's peak. CPU (Linux, glibc): the resident-set
    high-water mark after returning freed heap memory to the OS
    (``malloc_trim``) and resetting the mark (``/proc/self/clear_refs``);
    None where that is unavailable.
    """
    device = images.device
    if device.type == 'cuda':
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        encoder(images)
        synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - before) / 2**20
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
        with open('/proc/self/clear_refs', 'w') as clear_refs:
            clear_refs.write('5')
        before = _proc_status_kib('VmRSS')
        encoder(images)
        return (_proc_status_kib('VmHWM') - before) / 1024
    except (OSError, AttributeError):  # not Linux + glibc
        return None


def build_stock(args, device: torch.device
                ) -> Tuple[nn.Module, torch.Generator]:
    """The stock fp32 encoder, random weights with non-zero positional
    parameters, and the generator that drew them (for the inputs)."""
    builder = import_sam_builder()
    generator = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)
    stock = builder.build_sam_image_encoder(architecture(args),
                                            args.image_size,
                                            attention='stock')
    randomize_positional_parameters_(stock, generator)
    return stock.to(device).eval(), generator


def build_ours(stock: nn.Module, args, device: torch.device) -> nn.Module:
    """Our encoder with the stock encoder's weights, built on ``device``.

    ``args.compile`` is a bool or a dict of ``torch.compile`` kwargs.
    """
    builder = import_sam_builder()
    with device:
        ours = builder.build_sam_image_encoder(
            architecture(args),
            args.image_size,
            attention='sdpa',
            rel_pos_mode=args.rel_pos_mode,
            autocast=None if args.dtype == 'fp32' else args.dtype,
            compile=args.compile)
    ours.load_state_dict(stock.state_dict())
    return ours.eval()


def architecture(args):
    """The ``SAMArchitecture`` of ``args.model_type`` (after
    :func:`import_sam_builder`)."""
    architectures = sys.modules['fusionsam_mmseg.models.sam.architectures']
    if args.model_type == 'tiny':
        return architectures.SAMArchitecture(**TINY_ARCH)
    return architectures.SAM_ARCHITECTURES[args.model_type]


def compare(stock: nn.Module, ours: nn.Module, images: torch.Tensor,
            args) -> dict:
    """Time both encoders on ``images`` (iterations alternate) and compare
    their embeddings; ``ours_first_call_s`` includes any compilation."""
    encoders = dict(stock=stock, ours=ours)
    times = dict(stock=[], ours=[])
    with torch.inference_mode():
        reference = stock(images)
        first_call_s = time_forward(ours, images)
        difference = (ours(images).float() - reference).abs()
        memory = {name: peak_forward_mib(encoder, images)
                  for name, encoder in encoders.items()}
        for _ in range(args.warmup):
            for encoder in encoders.values():
                encoder(images)
        for iteration in range(args.iters):
            order = ('stock', 'ours') if iteration % 2 == 0 else ('ours',
                                                                   'stock')
            for name in order:
                times[name].append(time_forward(encoders[name], images))
    images_per_s = {name: args.batch_size / statistics.median(values)
                    for name, values in times.items()}
    return dict(
        config=vars(args),
        device=describe_device(images.device),
        torch=torch.__version__,
        images_per_s=images_per_s,
        seconds_per_iter=times,
        speedup=images_per_s['ours'] / images_per_s['stock'],
        ours_first_call_s=first_call_s,
        peak_forward_mib=memory,
        max_abs_diff=difference.max().item(),
        mean_abs_diff=difference.mean().item(),
        reference_max_abs=reference.abs().max().item())


def measure_variants(args, variants: Sequence[dict]) -> List[dict]:
    """One stock encoder against each variant of ours, in one process.

    Args:
        args (Namespace): :func:`parse_args` settings.
        variants (Sequence[dict]): settings of ours that replace those of
            ``args`` (``dtype``, ``compile``, ``rel_pos_mode``); ``{}``
            measures ``args`` as given.

    Returns:
        list[dict]: One :func:`compare` record per variant.
    """
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    stock, generator = build_stock(args, device)
    images = torch.randn(args.batch_size, 3, args.image_size, args.image_size,
                         generator=generator).to(device)
    records = []
    for variant in variants:
        variant_args = argparse.Namespace(**{**vars(args), **variant})
        ours = build_ours(stock, variant_args, device)
        records.append(compare(stock, ours, images, variant_args))
        del ours
        if device.type == 'cuda':
            torch.cuda.empty_cache()
    return records


def measure(args) -> dict:
    """Stock vs ours as ``args`` sets them (the command line)."""
    return measure_variants(args, [{}])[0]


def describe_device(device: torch.device) -> str:
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    return f'cpu ({cpu_name()}, {torch.get_num_threads()} threads)'


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo, else what ``platform`` reports."""
    if os.path.isfile('/proc/cpuinfo'):
        with open('/proc/cpuinfo') as cpuinfo:
            for line in cpuinfo:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    return platform.processor() or platform.machine()


def print_report(results: dict, write: Callable[[str], None] = print) -> None:
    args = results['config']
    write(f"device: {results['device']} | torch {results['torch']} | "
          f"{args['model_type']} image {args['image_size']} batch "
          f"{args['batch_size']} | ours: sdpa/{args['rel_pos_mode']} "
          f"{args['dtype']} compile={args['compile']} | stock: fp32")
    for name in ('stock', 'ours'):
        peak = results['peak_forward_mib'][name]
        peak_text = 'n/a' if peak is None else f'{peak:.0f} MiB'
        write(f"{name:5s}: {results['images_per_s'][name]:.3f} img/s "
              f"(median of {args['iters']} iters), peak forward memory "
              f"{peak_text}")
    write(f"speedup: {results['speedup']:.2f}")
    write(f"max abs diff: {results['max_abs_diff']:.3e} (mean "
          f"{results['mean_abs_diff']:.3e}; reference max abs "
          f"{results['reference_max_abs']:.3f})")


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('benchmark_sam_encoder: --device cuda but CUDA is '
                         'not available; use --device cpu')
    results = measure(args)
    print_report(results)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, 'w') as file:
            json.dump(results, file, indent=2)


if __name__ == '__main__':
    main()
