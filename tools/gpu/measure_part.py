"""Measure one part of the GPU kit's speed report (run by tools/gpu/run.sh).

Each part runs in its own process and writes its result to ``--json``:

- ``encoder``: (a) the frozen SAM image encoder, ViT-H, ViT-B and ViT-L at
  1024x1024, batch 8: stock ``segment_anything`` in fp32 against ours (SDPA
  with bf16 autocast, eager and compiled), images/s, ratio and max abs
  difference of the embeddings; target: ratio >= 8 for ViT-H. Needs only
  torch and segment_anything (it runs while mmcv compiles).
- ``fusionsam_train``: (b) ``configs/fusionsam_vith_mfnet.py`` as shipped, 20
  training iterations at batch 4 on synthetic 480x640 RGB-T images with
  random weights: images/s, peak memory, the encoder's share of the time;
  targets: >= 40 images/s, <= 40 GB.
- ``memorysam_train``: (c) MemorySAM Hiera-B+ on DELIVER RGB-D-E-L at
  1024x1024, 10 iterations at batch 4: images/s, peak memory.
- ``fusionsam_inference``: (d) ``configs/fusionsam_vith_mfnet.py`` inference
  (the whole test step) at 480x640, batch 4: images/s, peak memory.

The code is that of ``tools/analysis/benchmark_sam_encoder.py``,
``gpu_train_check.py`` and ``benchmark.py``. ``--smoke`` runs the same code
on the CPU at tiny sizes (a 4-block SAM encoder, a tiny SAM2)::

    python tools/gpu/measure_part.py encoder --json encoder.json
    python tools/gpu/measure_part.py memorysam_train --json m.json --smoke

The part ``encoder`` rewrites its JSON after each model, so a part stopped at
its time budget keeps the models it finished (``"complete": false``).
"""
import argparse
import importlib.util
import json
import platform
import time
from pathlib import Path
from types import ModuleType
from typing import Callable, Dict, List

import torch

REPO_ROOT = Path(__file__).resolve().parents[2]
FUSIONSAM_CONFIG = 'configs/fusionsam_vith_mfnet.py'
MEMORYSAM_CONFIG = 'configs/memorysam/memorysam_hiera_bplus_deliver_rgbdel.py'
MEMORYSAM_TINY_CONFIG = 'configs/memorysam/memorysam_tiny_demo.py'
ENCODER_TARGET = dict(model='vit_h', min_ratio=8.0)
# peak memory target in decimal GB (40 GB = 37.25 GiB)
FUSIONSAM_TRAIN_TARGET = dict(min_images_per_s=40.0, max_peak_memory_gb=40.0)
# ours against the stock fp32 encoder: SDPA always, then these settings
ENCODER_VARIANTS = {
    'bf16': dict(dtype='bf16', compile=False),
    'bf16_compile': dict(dtype='bf16', compile=True),
}
# --smoke: the compiled variant traces with TorchDynamo but runs eagerly
# (no C++ / Triton code generation on the CPU)
SMOKE_ENCODER_VARIANTS = {
    'bf16': dict(dtype='bf16', compile=False),
    'bf16_compile': dict(dtype='bf16', compile=dict(backend='eager')),
}
# --smoke: a one-block SAM with 8x8 patches on 64x64 inputs
TINY_SAM_OPTIONS = {
    'model.decode_head.sam_type': 'custom',
    'model.decode_head.image_size': 64,
    'model.decode_head.encoder_cfg': dict(
        embed_dim=32, depth=1, num_heads=2, global_attn_indexes=(0, ),
        window_size=4, patch_size=8, prompt_embed_dim=32, mask_in_chans=8,
        decoder_depth=1, decoder_mlp_dim=64, decoder_num_heads=2,
        iou_head_hidden_dim=16),
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('part', choices=list(PARTS))
    parser.add_argument('--json', required=True, help='write the result here')
    parser.add_argument('--smoke', action='store_true',
                        help='tiny sizes on the CPU (the test suite)')
    return parser.parse_args(argv)


def load_analysis_tool(name: str) -> ModuleType:
    """Import ``tools/analysis/<name>.py`` (a script, not a package)."""
    path = REPO_ROOT / 'tools' / 'analysis' / f'{name}.py'
    spec = importlib.util.spec_from_file_location(f'analysis_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def device_of(smoke: bool) -> str:
    return 'cpu' if smoke else 'cuda'


def measure_encoder(smoke: bool, save: Callable[[dict], None]) -> dict:
    """(a) Stock fp32 SAM encoder against each variant of ours."""
    bench = load_analysis_tool('benchmark_sam_encoder')
    models = ['tiny'] if smoke else ['vit_h', 'vit_b', 'vit_l']
    variants = SMOKE_ENCODER_VARIANTS if smoke else ENCODER_VARIANTS
    sizes = (dict(image_size=64, batch_size=2, warmup=1, iters=2) if smoke
             else dict(image_size=1024, batch_size=8, warmup=1, iters=5))
    result = dict(
        sizes,
        stock='segment_anything ImageEncoderViT, fp32',
        ours={name: f"SDPA, {settings['dtype']}, compile="
                    f"{settings['compile']}"
              for name, settings in variants.items()},
        tf32_matmul=torch.backends.cuda.matmul.allow_tf32,
        models={},
        target=dict(ENCODER_TARGET, ratio=None, met=None))
    for model in models:
        args = bench.parse_args(['--model-type', model, '--device',
                                 device_of(smoke)])
        vars(args).update(sizes)
        records = bench.measure_variants(args, list(variants.values()))
        result['models'][model] = encoder_summary(dict(zip(variants,
                                                            records)))
        if model == ENCODER_TARGET['model']:
            ratio = result['models'][model]['ratio']
            result['target'].update(
                ratio=ratio, met=ratio >= ENCODER_TARGET['min_ratio'])
        save(result)
    return result


def encoder_summary(records: Dict[str, dict]) -> dict:
    """The fastest variant of ours against the stock encoder, and each."""
    variants = {
        name: dict(images_per_s=record['images_per_s']['ours'],
                   ratio=record['speedup'],
                   max_abs_diff=record['max_abs_diff'],
                   first_call_s=record['ours_first_call_s'])
        for name, record in records.items()}
    best = max(variants, key=lambda name: variants[name]['ratio'])
    return dict(
        stock_images_per_s=records[best]['images_per_s']['stock'],
        ours_images_per_s=variants[best]['images_per_s'],
        ratio=variants[best]['ratio'],
        best_variant=best,
        max_abs_diff=variants[best]['max_abs_diff'],
        reference_max_abs=records[best]['reference_max_abs'],
        variants=variants)


def train_check(config: str, sizes: List[str], smoke: bool,
                cfg_options: dict) -> dict:
    """``tools/analysis/gpu_train_check.py`` on ``config``."""
    check = load_analysis_tool('gpu_train_check')
    args = check.parse_args(['--config', config, '--device',
                             device_of(smoke), *sizes])
    args.cfg_options.update(cfg_options)
    return check.run(args)


def measure_fusionsam_train(smoke: bool, save) -> dict:
    """(b) The ViT-H paper config's training speed and memory."""
    sizes = (['--iters', '2', '--warmup', '1', '--batch-size', '2',
              '--height', '64', '--width', '96', '--encoder-iters', '1']
             if smoke else
             ['--iters', '20', '--warmup', '2', '--batch-size', '4',
              '--height', '480', '--width', '640', '--encoder-iters', '5'])
    result = train_check(FUSIONSAM_CONFIG, sizes, smoke,
                         TINY_SAM_OPTIONS if smoke else {})
    met = (None if smoke else
           result['train_images_per_s'] >=
           FUSIONSAM_TRAIN_TARGET['min_images_per_s'] and
           result['peak_memory_gib'] * 2**30 <=
           FUSIONSAM_TRAIN_TARGET['max_peak_memory_gb'] * 1e9)
    return dict(result, target=dict(FUSIONSAM_TRAIN_TARGET, met=met))


def tiny_sam2_options() -> dict:
    """cfg options giving the DELIVER config the tiny SAM2 of
    ``configs/memorysam/memorysam_tiny_demo.py``."""
    # imported here: the part `encoder` runs before OpenMMLab is installed
    from mmengine.config import Config
    tiny = Config.fromfile(str(REPO_ROOT / MEMORYSAM_TINY_CONFIG))
    options = {'model.decode_head.in_channels': tiny.model.decode_head
               .in_channels,
               'model.decode_head.sampler.min_kept': 256}
    for part in ('backbone', 'decode_head'):
        options[f'model.{part}.sam2_overrides'] = list(tiny.sam2_overrides)
        options[f'model.{part}.image_size'] = tiny.sam2_image_size
    return options


def measure_memorysam_train(smoke: bool, save) -> dict:
    """(c) MemorySAM Hiera-B+, 4 modalities at 1024x1024."""
    sizes = (['--iters', '2', '--warmup', '1', '--batch-size', '2',
              '--height', '64', '--width', '64'] if smoke else
             ['--iters', '10', '--warmup', '2', '--batch-size', '4',
              '--height', '1024', '--width', '1024'])
    return train_check(MEMORYSAM_CONFIG, sizes, smoke,
                       tiny_sam2_options() if smoke else {})


def measure_fusionsam_inference(smoke: bool, save) -> dict:
    """(d) The ViT-H paper config's whole test step at 480x640."""
    bench = load_analysis_tool('benchmark')
    sizes = (['--batch-size', '2', '--shape', '64', '96', '--warmup', '1',
              '--iters', '2'] if smoke else
             ['--batch-size', '4', '--shape', '480', '640', '--warmup', '2',
              '--iters', '10'])
    args = bench.parse_args([FUSIONSAM_CONFIG, '--device', device_of(smoke),
                             *sizes])
    args.cfg_options = {'model.decode_head.checkpoint': None,
                        'model.backbone.loss_perceptual': None,
                        **(TINY_SAM_OPTIONS if smoke else {})}
    record = bench.benchmark(args)
    return dict(
        config=FUSIONSAM_CONFIG,
        batch_size=record['batch_size'],
        image_hw=record['input_shape'][1:],
        iterations=record['iters'],
        images_per_s=record['images_per_s'],
        peak_memory_gib=record['peak_memory_mib'] / 1024,
        memory_kind=record['memory_kind'],
        seconds_per_batch=record['seconds_per_batch'])


PARTS = dict(
    encoder=measure_encoder,
    fusionsam_train=measure_fusionsam_train,
    memorysam_train=measure_memorysam_train,
    fusionsam_inference=measure_fusionsam_inference)


def describe_machine(smoke: bool) -> dict:
    device = (torch.cuda.get_device_name(0) if torch.cuda.is_available()
              and not smoke else f'cpu ({platform.machine()}, '
              f'{torch.get_num_threads()} threads)')
    return dict(device=device, torch=torch.__version__,
                python=platform.python_version())


def main(argv=None) -> dict:
    args = parse_args(argv)
    if not args.smoke and not torch.cuda.is_available():
        raise SystemExit(f'measure_part {args.part}: CUDA is not available '
                         '(use --smoke for the CPU run)')
    start = time.perf_counter()
    header = dict(part=args.part, smoke=args.smoke,
                  **describe_machine(args.smoke))

    def save(result: dict, complete: bool = False) -> None:
        record = dict(header, complete=complete,
                      seconds=time.perf_counter() - start, result=result)
        Path(args.json).write_text(json.dumps(record, indent=2))

    result = PARTS[args.part](args.smoke, save)
    save(result, complete=True)
    print(json.dumps(result, indent=2))
    return result


if __name__ == '__main__':
    main()
