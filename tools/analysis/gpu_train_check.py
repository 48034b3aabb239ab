"""Train a FusionSAM paper config on synthetic data and report its speed.

The GPU check of the paper configs (issue 11): on a CUDA machine with the
stack installed (``make install``), trains the ViT-H MFNet config for 20
iterations at batch 4 on synthetic 480x640 RGB-T images with random SAM
weights (no file is read), then prints images/s of training, the peak GPU
memory, and the throughput of the frozen SAM image encoder alone::

    python tools/analysis/gpu_train_check.py                  # ViT-H, bf16 encoder
    python tools/analysis/gpu_train_check.py --amp            # + mmseg's --amp
    python tools/analysis/gpu_train_check.py --config configs/fusionsam_vitb_mfnet.py

The model, optimizer wrapper and data preprocessor are the config's own; the
perceptual loss runs on random VGG16 weights (speed only). ``--device cpu``
with ``--cfg-options`` that shrink the model runs the same code on a CPU (the
test suite does that).
"""
import argparse
import json
import time
from typing import List

import torch
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
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    cfg.model.decode_head.checkpoint = None
    if cfg.model.data_preprocessor.get('size'):
        # the synthetic images are the crop: no padding to the config's size
        cfg.model.data_preprocessor.size = (args.height, args.width)
    perceptual = cfg.model.backbone.get('loss_perceptual')
    if perceptual:
        perceptual.update(init_cfg=None, allow_random_init=True)
    if args.amp:
        cfg.optim_wrapper.update(type='AmpOptimWrapper', loss_scale='dynamic')
    return cfg


def synthetic_batch(args, num_classes: int, num_channels: int) -> dict:
    """Random uint8 RGB-T images and labels in the layout of a dataloader."""
    inputs, samples = [], []
    shape = (args.height, args.width)
    for _ in range(args.batch_size):
        inputs.append(torch.randint(0, 256, (num_channels, *shape),
                                    dtype=torch.uint8))
        sample = SegDataSample(metainfo=dict(
            img_shape=shape, ori_shape=shape, pad_shape=shape,
            modality_channels=(3, num_channels - 3)))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, num_classes, (1, *shape)))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_training(model, optim_wrapper, batch, args,
                  device: torch.device) -> List[float]:
    """Seconds of each timed training iteration."""
    times = []
    for iteration in range(args.warmup + args.iters):
        synchronize(device)
        start = time.perf_counter()
        model.train_step(batch, optim_wrapper)
        synchronize(device)
        if iteration >= args.warmup:
            times.append(time.perf_counter() - start)
    return times


@torch.no_grad()
def encoder_images_per_s(head, args, device: torch.device) -> float:
    """Throughput of the frozen SAM image encoder alone (its own autocast)."""
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


def main(argv=None) -> dict:
    args = parse_args(argv)
    device = torch.device(args.device)
    cfg = load_config(args)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model = MODELS.build(cfg.model).to(device)
    model.init_weights()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    channels = sum(cfg.model.backbone.get('modality_channels', (3, 1)))
    batch = synthetic_batch(args, cfg.model.decode_head.num_classes,
                            channels)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    times = time_training(model, optim_wrapper, batch, args, device)
    results = dict(
        config=args.config,
        device=(torch.cuda.get_device_name(device)
                if device.type == 'cuda' else 'cpu'),
        amp=args.amp,
        batch_size=args.batch_size,
        image_hw=[args.height, args.width],
        iterations=len(times),
        train_images_per_s=args.batch_size * len(times) / sum(times),
        peak_memory_gib=(torch.cuda.max_memory_allocated(device) / 2**30
                         if device.type == 'cuda' else None),
        encoder_images_per_s=encoder_images_per_s(model.decode_head, args,
                                                  device))
    print(json.dumps(results, indent=2))
    if args.json:
        with open(args.json, 'w') as file:
            json.dump(results, file, indent=2)
    return results


if __name__ == '__main__':
    main()
