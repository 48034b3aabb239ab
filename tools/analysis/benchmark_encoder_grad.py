"""Cost of ``encoder_grad_to_input`` in one FusionSAM training step.

Builds the config's model twice, with ``model.decode_head.
encoder_grad_to_input`` False (the SAM encoder under ``no_grad``) and True
(the segmentation gradient flows through the frozen encoder into the fused
image, the encoder's blocks under activation checkpointing), on the same
random weights (no SAM, VGG16 or stage-1 file is read), and runs full
training steps (``model.train_step``: data preprocessor, losses, backward,
optimizer step of the config's optimizer wrapper) on one random RGB-T
batch with random labels. The timed steps alternate between the two
models, so load changes on a shared machine hit both alike. Prints seconds per step of each (median
of ``--iters``), ``ratio on / off`` and the peak memory of a step above
what was in use before it (resident-set high-water mark, Linux; the most
over the timed steps) with the option off, on, and, in one more step, on
without activation checkpointing::

    python tools/analysis/benchmark_encoder_grad.py \\
        configs/fusionsam_vitb_mfnet.py --shape 480 640 --threads 2
"""
import argparse
import ctypes
import statistics
import time
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmengine.config import DictAction
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import build_optim_wrapper
from mmengine.structures import PixelData
from mmseg.registry import MODELS

import fusionsam_mmseg  # noqa: F401  (registers the components)
from benchmark import input_channels, load_config, random_batch
from benchmark_sam_encoder import _proc_status_kib, cpu_name


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?',
                        default='configs/fusionsam_vitb_mfnet.py')
    parser.add_argument('--shape', type=int, nargs=2, default=[480, 640],
                        metavar=('H', 'W'), help='input image size')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--iters', type=int, default=2)
    parser.add_argument('--threads', type=int, default=None,
                        help='torch.set_num_threads')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    return parser.parse_args(argv)


def build_models(args: argparse.Namespace
                 ) -> Tuple[Dict[str, torch.nn.Module], object]:
    """The config's model with the option off and on (equal weights) and
    the config."""
    cfg = load_config(args.config, args.cfg_options)
    cfg.model.decode_head.checkpoint = None
    if cfg.model.backbone.get('loss_perceptual'):
        cfg.model.backbone.loss_perceptual.allow_random_init = True
    models = {}
    for name, grad in (('off', False), ('on', True)):
        cfg.model.decode_head.encoder_grad_to_input = grad
        torch.manual_seed(0)
        models[name] = revert_sync_batchnorm(MODELS.build(cfg.model)).train()
    models['on'].load_state_dict(models['off'].state_dict())
    return models, cfg


def training_batch(model: torch.nn.Module, cfg, args) -> dict:
    """A random RGB-T batch (uint8, as the loader packs it) with labels."""
    batch = random_batch(model, input_channels(cfg), args.shape,
                         args.batch_size)
    generator = torch.Generator().manual_seed(1)
    for sample in batch['data_samples']:
        sample.gt_sem_seg = PixelData(data=torch.randint(
            0, model.decode_head.num_classes, (1, *args.shape),
            generator=generator))
    return batch


def timed_step(model: torch.nn.Module, batch: dict,
               optim_wrapper) -> Tuple[float, float]:
    """Seconds of one training step and its resident-set high-water mark
    above the resident set before it (MiB; freed heap memory is returned
    to the OS first)."""
    ctypes.CDLL('libc.so.6').malloc_trim(0)
    with open('/proc/self/clear_refs', 'w') as clear_refs:
        clear_refs.write('5')
    before = _proc_status_kib('VmRSS')
    start = time.perf_counter()
    model.train_step(batch, optim_wrapper)
    seconds = time.perf_counter() - start
    return seconds, (_proc_status_kib('VmHWM') - before) / 1024


def measure(args: argparse.Namespace) -> dict:
    if args.threads:
        torch.set_num_threads(args.threads)
    models, cfg = build_models(args)
    batch = training_batch(models['off'], cfg, args)
    wrappers = {name: build_optim_wrapper(model, cfg.optim_wrapper)
                for name, model in models.items()}
    for _ in range(args.warmup):
        for name, model in models.items():
            model.train_step(batch, wrappers[name])
    seconds = {name: [] for name in models}
    peak = {name: 0.0 for name in models}
    for index in range(args.iters):
        for name in (('off', 'on') if index % 2 == 0 else ('on', 'off')):
            step_s, step_mib = timed_step(models[name], batch, wrappers[name])
            seconds[name].append(step_s)
            peak[name] = max(peak[name], step_mib)
    encoder = models['on'].decode_head.image_encoder
    encoder.activation_checkpointing = False
    peak['on, no checkpointing'] = timed_step(models['on'], batch,
                                              wrappers['on'])[1]
    medians = {name: statistics.median(s) for name, s in seconds.items()}
    return dict(seconds=seconds, median_s=medians,
                ratio=medians['on'] / medians['off'], peak_step_mib=peak)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    result = measure(args)
    print(f'torch {torch.__version__} | {cpu_name()} | '
          f'{torch.get_num_threads()} threads | {args.config} | batch '
          f'{args.batch_size} x {tuple(args.shape)} | training step')
    for name, seconds in result['seconds'].items():
        runs = ', '.join(f'{s:.2f}' for s in seconds)
        print(f'encoder_grad_to_input {name}: {result["median_s"][name]:.2f} '
              f's/step (runs: {runs})')
    for name, mib in result['peak_step_mib'].items():
        print(f'peak memory of a step, {name}: +{mib:.0f} MiB')
    print(f'ratio on / off: {result["ratio"]:.2f}')
    return result


if __name__ == '__main__':
    main()
