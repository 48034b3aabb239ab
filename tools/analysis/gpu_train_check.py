"""Train a config on synthetic data and report its speed.

The GPU check of the paper configs (issue 11), parts (b) and (c) of the GPU
kit (``tools/gpu/run.sh``): on a CUDA machine with the stack installed,
trains a config (default: the ViT-H MFNet config, 20 iterations at batch 4 on
synthetic 480x640 images) with random weights (every ``checkpoint`` of the
backbone and decode head and every ``part_checkpoints`` file is dropped; no
file is read), then prints images/s
of training, the peak memory, the share of each timed iteration spent in the
forward of the SAM image encoder, and that encoder's throughput alone::

    python tools/analysis/gpu_train_check.py                  # ViT-H, bf16 encoder
    python tools/analysis/gpu_train_check.py --amp            # + mmseg's --amp
    python tools/analysis/gpu_train_check.py --config configs/fusionsam_vitb_mfnet.py
    python tools/analysis/gpu_train_check.py \\
        --config configs/memorysam/memorysam_hiera_bplus_deliver_rgbdel.py \\
        --iters 10 --height 1024 --width 1024

The model, optimizer wrapper and data preprocessor are the config's own; the
perceptual loss runs on random VGG16 weights (speed only). The encoder is
``decode_head.image_encoder`` where the head has one (SAM heads), else the
backbone (MemorySAM's SAM2 image encoder); its share is the time between
entering and leaving its forward (backward through it, where gradients reach
it, is not counted). ``--device cpu`` with ``--cfg-options`` that shrink the
model runs the same code on a CPU; peak memory is then the process's peak
resident set.
"""
import argparse
import json
import resource
import time
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config, DictAction
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import fusionsam_mmseg  # noqa: F401  (registers the plugin)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default='configs/fusionsam_vith_mfnet.py')
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=2,
                        help='iterations left out of the timing')
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--device', default='cuda', choices=['cuda', 'cpu'])
    parser.add_argument('--amp', action='store_true',
                        help="mixed precision as mmseg's tools/train.py --amp")
    parser.add_argument('--encoder-iters', type=int, default=10)
    parser.add_argument('--json', default=None, help='write results here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        default={})
    return parser.parse_args(argv)


def load_config(args) -> Config:
    """The config with random weights, no padding, and ``--amp``."""
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    for part in (cfg.model.backbone, cfg.model.decode_head):
        if 'checkpoint' in part:
            part.checkpoint = None
    if cfg.model.data_preprocessor.get('size'):
        # the synthetic images are the crop: no padding to the config's size
        cfg.model.data_preprocessor.size = (args.height, args.width)
    if cfg.model.get('part_checkpoints'):
        cfg.model.part_checkpoints = {}  # e.g. no stage-1 LSTG file
    perceptual = cfg.model.backbone.get('loss_perceptual')
    if perceptual:
        perceptual.update(init_cfg=None, allow_random_init=True)
    if args.amp:
        cfg.optim_wrapper.update(type='AmpOptimWrapper', loss_scale='dynamic')
    return cfg


def synthetic_batch(args, num_classes: int,
                    modality_channels: Tuple[int, ...]) -> dict:
    """Random uint8 multi-modal images and labels as a dataloader packs
    them: ``inputs`` (sum(modality_channels), H, W) each."""
    inputs, samples = [], []
    shape = (args.height, args.width)
    for _ in range(args.batch_size):
        inputs.append(torch.randint(0, 256, (sum(modality_channels), *shape),
                                    dtype=torch.uint8))
        sample = SegDataSample(metainfo=dict(
            img_shape=shape, ori_shape=shape, pad_shape=shape,
            modality_channels=modality_channels))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, num_classes, (1, *shape)))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


class ForwardTimer:
    """Seconds spent inside a module's forward calls, through hooks.

    CUDA: events recorded on entry and exit (read after a synchronize), so
    the timing adds no synchronisation; CPU: the host clock.
    """

    def __init__(self, module: nn.Module, device: torch.device):
        self.device = device
        self.spans: List[tuple] = []
        module.register_forward_pre_hook(self._enter)
        module.register_forward_hook(self._leave)

    def _mark(self):
        if self.device.type != 'cuda':
            return time.perf_counter()
        event = torch.cuda.Event(enable_timing=True)
        event.record()
        return event

    def _enter(self, module, inputs) -> None:
        self.spans.append([self._mark(), None])

    def _leave(self, module, inputs, output) -> None:
        self.spans[-1][1] = self._mark()

    def reset(self) -> None:
        self.spans = []

    def seconds(self) -> float:
        """Total of the recorded spans (call after a synchronize)."""
        if self.device.type != 'cuda':
            return sum(end - start for start, end in self.spans)
        return sum(start.elapsed_time(end)
                   for start, end in self.spans) / 1000


def encoder_of(model: nn.Module) -> Tuple[str, nn.Module]:
    """The SAM image encoder: the head's, else the backbone."""
    encoder = getattr(model.decode_head, 'image_encoder', None)
    if encoder is not None:
        return 'decode_head.image_encoder', encoder
    return 'backbone', model.backbone


def time_training(model, optim_wrapper, batch, args, device: torch.device,
                  timer: ForwardTimer) -> Tuple[List[float], List[float]]:
    """Seconds of each timed training iteration, and of its encoder
    forwards."""
    times, encoder_times = [], []
    for iteration in range(args.warmup + args.iters):
        synchronize(device)
        timer.reset()
        start = time.perf_counter()
        model.train_step(batch, optim_wrapper)
        synchronize(device)
        if iteration >= args.warmup:
            times.append(time.perf_counter() - start)
            encoder_times.append(timer.seconds())
    return times, encoder_times


@torch.no_grad()
def encoder_images_per_s(head, args,
                         device: torch.device) -> Optional[float]:
    """Throughput of the frozen SAM image encoder alone (its own autocast);
    None for heads without one."""
    if not hasattr(head, 'image_encoder'):
        return None
    encoder = head.image_encoder.eval()
    images = torch.randn(args.batch_size, 3, head.image_size, head.image_size,
                         device=device)
    encoder(images)
    synchronize(device)
    start = time.perf_counter()
    for _ in range(args.encoder_iters):
        encoder(images)
    synchronize(device)
    return args.encoder_iters * args.batch_size / (time.perf_counter() -
                                                   start)


def peak_memory(device: torch.device) -> Tuple[float, str]:
    """Peak memory (GiB) and what it counts."""
    if device.type == 'cuda':
        return (torch.cuda.max_memory_allocated(device) / 2**30,
                'torch.cuda.max_memory_allocated during the timed iterations')
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (peak_kib / 2**20,
            'process peak RSS (ru_maxrss), model build included')


def run(args: argparse.Namespace) -> dict:
    """Build, train on the synthetic batch and return the results."""
    device = torch.device(args.device)
    cfg = load_config(args)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model = MODELS.build(cfg.model).to(device)
    model.init_weights()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    modality_channels = tuple(
        cfg.model.backbone.get('modality_channels', (3, 1)))
    batch = synthetic_batch(args, cfg.model.decode_head.num_classes,
                            modality_channels)
    encoder_name, encoder = encoder_of(model)
    timer = ForwardTimer(encoder, device)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    times, encoder_times = time_training(model, optim_wrapper, batch, args,
                                         device, timer)
    peak_gib, memory_kind = peak_memory(device)
    return dict(
        config=args.config,
        device=(torch.cuda.get_device_name(device)
                if device.type == 'cuda' else 'cpu'),
        amp=args.amp,
        batch_size=args.batch_size,
        image_hw=[args.height, args.width],
        modality_channels=list(modality_channels),
        iterations=len(times),
        train_images_per_s=args.batch_size * len(times) / sum(times),
        peak_memory_gib=peak_gib,
        memory_kind=memory_kind,
        encoder=encoder_name,
        encoder_time_share=sum(encoder_times) / sum(times),
        encoder_images_per_s=encoder_images_per_s(model.decode_head, args,
                                                  device))


def main(argv=None) -> dict:
    args = parse_args(argv)
    results = run(args)
    print(json.dumps(results, indent=2))
    if args.json:
        with open(args.json, 'w') as file:
            json.dump(results, file, indent=2)
    return results


if __name__ == '__main__':
    main()
