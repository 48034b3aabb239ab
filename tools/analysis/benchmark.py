"""Inference throughput and peak memory of an RGB-T segmentor.

Runs the model's full test path (``model.test_step``: data preprocessor,
inference, post-processing) on random images with as many channels as the
config's ``data_preprocessor.mean`` lists (4 for RGB-T), after a warm-up,
timing every batch with device synchronisation. Works on CPU and CUDA.

Example::

    python tools/analysis/benchmark.py configs/fusionsam_vith_mfnet.py \
        ckpt.pth --batch-size 4 --shape 480 640 --amp bf16 --compile \
        --out work_dirs/benchmark/vith_bf16.json

Speed claims compare two runs of this tool on one machine (e.g. with and
without ``--amp bf16``); the json records what was run.
"""
import argparse
import json
import os
import os.path as osp
import platform
import resource
import statistics
import time
from contextlib import nullcontext
from typing import List, Optional, Sequence

import torch
from mmengine.config import Config, DictAction
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

AMP_DTYPES = {'none': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}
COMPILED_PARTS = ('backbone', 'neck', 'decode_head')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Measure inference images/s and peak memory of a '
        'segmentor on random RGB-T inputs.')
    parser.add_argument('config', help='model config file')
    parser.add_argument(
        'checkpoint', nargs='?', help='checkpoint (random init if omitted)')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument(
        '--shape', type=int, nargs=2, default=[480, 640],
        metavar=('H', 'W'), help='input height and width (default: 480 640, '
        'the MFNet test resolution)')
    parser.add_argument(
        '--warmup', type=int, default=3, help='untimed batches (default: 3)')
    parser.add_argument(
        '--iters', type=int, default=10, help='timed batches (default: 10)')
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu',
        help='cpu, cuda or cuda:N (default: cuda when available)')
    parser.add_argument(
        '--amp', choices=list(AMP_DTYPES), default='none',
        help='autocast dtype (default: none = fp32)')
    parser.add_argument(
        '--compile', action='store_true',
        help='torch.compile the forward of backbone, neck and decode head')
    parser.add_argument(
        '--compile-backend', default='inductor',
        help='torch.compile backend (default: inductor)')
    parser.add_argument(
        '--out', help='json to write (default: work_dirs/benchmark/'
        '<config>_<device>_b<batch>_<H>x<W>_<amp>[_compile].json)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, as in tools/test.py')
    args = parser.parse_args(argv)
    if args.batch_size < 1 or args.iters < 1 or args.warmup < 0:
        parser.error('--batch-size and --iters must be >= 1, --warmup >= 0')
    if min(args.shape) < 1:
        parser.error(f'--shape must be positive, got {args.shape}')
    return args


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Load a config (importing its ``custom_imports``) and set its scope."""
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    return cfg


def input_channels(cfg: Config) -> int:
    """Number of input channels: the length of the data preprocessor mean.

    Raises:
        ValueError: When ``model.data_preprocessor.mean`` is not set.
    """
    mean = cfg.model.get('data_preprocessor', {}).get('mean')
    if not mean:
        raise ValueError(
            f'{cfg.filename}: model.data_preprocessor.mean is not set; it '
            'gives the number of input channels (4 values for RGB-T).')
    return len(mean)


def build_segmentor(cfg: Config,
                    checkpoint: Optional[str] = None) -> torch.nn.Module:
    """Build ``cfg.model`` in eval mode, SyncBN reverted, weights loaded."""
    model = MODELS.build(cfg.model)
    if checkpoint:
        load_checkpoint(model, checkpoint, map_location='cpu')
    return revert_sync_batchnorm(model).eval()


def modality_channels(model: torch.nn.Module, channels: int) -> tuple:
    """Channels per modality: the backbone's, else RGB + the rest."""
    split = getattr(model.backbone, 'modality_channels', None)
    if split is not None:
        return tuple(split)
    return (3, channels - 3) if channels > 3 else (channels, )


def random_batch(model: torch.nn.Module, channels: int,
                 shape: Sequence[int], batch_size: int) -> dict:
    """A test batch as the data loader packs it: uint8 images + metainfo.

    Args:
        model (nn.Module): The segmentor (for the modality split).
        channels (int): Image channels.
        shape (Sequence[int]): (H, W).
        batch_size (int): Images in the batch.

    Returns:
        dict: ``inputs`` (list of (C, H, W) uint8 tensors) and
        ``data_samples`` (list of :class:`SegDataSample`).
    """
    height, width = shape
    generator = torch.Generator().manual_seed(0)
    metainfo = dict(
        ori_shape=(height, width),
        img_shape=(height, width),
        pad_shape=(height, width),
        scale_factor=(1.0, 1.0),
        flip=False,
        flip_direction=None,
        modality_channels=modality_channels(model, channels))
    inputs = [
        torch.randint(0, 256, (channels, height, width), dtype=torch.uint8,
                      generator=generator) for _ in range(batch_size)
    ]
    samples = [SegDataSample(metainfo=metainfo) for _ in range(batch_size)]
    return dict(inputs=inputs, data_samples=samples)


def compile_parts(model: torch.nn.Module, backend: str) -> List[str]:
    """``torch.compile`` the forward of the backbone, neck and decode head.

    The forward methods are replaced (not the modules), so state-dict keys
    and attribute access stay as they are and ``decode_head.predict``, which
    calls ``self.forward``, runs the compiled code.
    """
    compiled = []
    for name in COMPILED_PARTS:
        part = getattr(model, name, None)
        if part is not None:
            part.forward = torch.compile(part.forward, backend=backend)
            compiled.append(name)
    return compiled


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels on CUDA; nothing to wait for on CPU."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_batches(model: torch.nn.Module, batch: dict, device: torch.device,
                 amp_dtype: Optional[torch.dtype], warmup: int,
                 iters: int) -> List[float]:
    """Run ``warmup`` untimed then ``iters`` timed test steps.

    Returns:
        list[float]: Seconds per timed batch.
    """
    autocast = (torch.autocast(device.type, dtype=amp_dtype)
                if amp_dtype is not None else nullcontext())
    seconds = []
    with torch.no_grad(), autocast:
        for _ in range(warmup):
            model.test_step(batch)
        synchronize(device)
        if device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats(device)
        for _ in range(iters):
            start = time.perf_counter()
            model.test_step(batch)
            synchronize(device)
            seconds.append(time.perf_counter() - start)
    return seconds


def peak_memory(device: torch.device) -> dict:
    """Peak memory of the timed batches (CUDA) or the process (CPU), MiB."""
    mib = 1024.0**2
    if device.type == 'cuda':
        return dict(
            peak_memory_mib=torch.cuda.max_memory_allocated(device) / mib,
            peak_reserved_mib=torch.cuda.max_memory_reserved(device) / mib,
            memory_kind='torch.cuda.max_memory_allocated during timed '
            'batches')
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return dict(
        peak_memory_mib=peak_kib / 1024.0,
        memory_kind='process peak RSS (ru_maxrss), includes model build')


def device_name(device: torch.device) -> str:
    """GPU name, or the CPU architecture and thread count."""
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    return f'{platform.processor() or platform.machine()} CPU, ' \
           f'{torch.get_num_threads()} threads'


def default_out(args: argparse.Namespace, device: torch.device) -> str:
    """Default json path under work_dirs/benchmark."""
    stem = osp.splitext(osp.basename(args.config))[0]
    height, width = args.shape
    name = (f'{stem}_{device.type}_b{args.batch_size}_{height}x{width}_'
            f'{args.amp}{"_compile" if args.compile else ""}.json')
    return osp.join('work_dirs', 'benchmark', name)


def benchmark(args: argparse.Namespace) -> dict:
    """Build the model, time it and return the json record."""
    cfg = load_config(args.config, args.cfg_options)
    device = torch.device(args.device)
    channels = input_channels(cfg)
    model = build_segmentor(cfg, args.checkpoint).to(device)
    batch = random_batch(model, channels, args.shape, args.batch_size)
    compiled = compile_parts(model, args.compile_backend) \
        if args.compile else []
    seconds = time_batches(model, batch, device, AMP_DTYPES[args.amp],
                           args.warmup, args.iters)
    return dict(
        config=args.config,
        checkpoint=args.checkpoint,
        device=str(device),
        device_name=device_name(device),
        torch=torch.__version__,
        batch_size=args.batch_size,
        input_shape=[channels, *args.shape],
        amp=args.amp,
        compiled=compiled,
        warmup=args.warmup,
        iters=args.iters,
        images_per_s=args.batch_size * len(seconds) / sum(seconds),
        seconds_per_batch=dict(
            mean=statistics.fmean(seconds),
            median=statistics.median(seconds),
            min=min(seconds),
            max=max(seconds)),
        num_params=sum(p.numel() for p in model.parameters()),
        **peak_memory(device))


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Entry point: benchmark, print a summary and write the json."""
    args = parse_args(argv)
    record = benchmark(args)
    out = args.out or default_out(args, torch.device(args.device))
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out, 'w', encoding='utf-8') as file:
        json.dump(record, file, indent=2)
    print(f'{record["images_per_s"]:.3f} images/s '
          f'(batch {record["batch_size"]}, input {record["input_shape"]}, '
          f'{record["device_name"]}, amp {record["amp"]}, compiled '
          f'{record["compiled"] or "nothing"}); peak memory '
          f'{record["peak_memory_mib"]:.1f} MiB ({record["memory_kind"]})')
    print(f'wrote {out}')
    return record


if __name__ == '__main__':
    main()
