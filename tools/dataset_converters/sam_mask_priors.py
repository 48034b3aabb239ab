"""Cache SAM's automatic masks of every visible / infrared pair (SAGE priors).

For each sample of a split, SAM's automatic mask generator runs on the
visible image and on the infrared image (grey repeated to 3 channels);
the masks are sorted by area, largest first, and the top ``--top-k`` of
each modality are written to ``<data_root>/<split>/sam_mask_priors/
<stem>.npz`` (arrays ``visible`` and ``infrared``, (k, H, W) bool) with a
``manifest.json`` recording the SAM file (path, sha256), the settings and
the mask count of every sample. Defaults are those of SAGE's official
priors (ViT-B, 128 points per side, IoU 0.86, stability 0.92, one crop
layer, regions under 100 pixels removed, top 20).

Resumable: a rerun with the same settings skips the samples already
written (each file is written whole or not at all); other settings stop
with an error unless ``--overwrite``. ``--checkpoint none`` builds a random
SAM (tests only).

Example::

    python tools/dataset_converters/sam_mask_priors.py --data-root data/MSRS \\
        --split train --sam-type vit_b \\
        --checkpoint checkpoints/sam/sam_vit_b_01ec64.pth
"""
import argparse
import dataclasses
import json
import os
import os.path as osp
from typing import List, Tuple

import numpy as np
import torch
from mmengine.utils import ProgressBar

import fusionsam_mmseg  # noqa: F401  (registers the datasets)
from fusionsam_mmseg.datasets.transforms import LoadMultiModalImageFromFile
from fusionsam_mmseg.datasets.transforms.mask_priors import (
    MANIFEST, MODALITY_KEYS, mask_prior_path, read_manifest)
from fusionsam_mmseg.models.pretrained_file import file_sha256
from fusionsam_mmseg.models.sam import (SAM_ARCHITECTURES,
                                        AutomaticMaskGenerator,
                                        AutomaticMaskSettings,
                                        build_sam_image_encoder,
                                        build_sam_mask_decoder,
                                        build_sam_prompt_encoder,
                                        load_sam_checkpoint)
from mmseg.registry import DATASETS
from mmseg.utils import register_all_modules

FORMAT_VERSION = 1


def parse_args() -> argparse.Namespace:
    defaults = AutomaticMaskSettings()
    parser = argparse.ArgumentParser(
        description='Cache the top-k automatic SAM masks of each visible / '
        'infrared pair of a split (SAGE mask priors).')
    parser.add_argument('--data-root', required=True, help='dataset root')
    parser.add_argument('--split', required=True, choices=('train', 'test'))
    parser.add_argument('--dataset', default='MSRSDataset',
                        help='dataset class listing the pairs (a folder '
                        'layout with separate visible / infrared files: '
                        'MSRSDataset, FMBDataset, PST900Dataset)')
    parser.add_argument('--sam-type', default='vit_b',
                        choices=sorted(SAM_ARCHITECTURES))
    parser.add_argument('--checkpoint', required=True,
                        help="official SAM checkpoint, or 'none' for random "
                        'weights (tests only)')
    parser.add_argument('--image-size', type=int, default=1024,
                        help="side of SAM's square input (1024 for the "
                        'official checkpoints)')
    parser.add_argument('--points-per-side', type=int,
                        default=defaults.points_per_side)
    parser.add_argument('--points-per-batch', type=int,
                        default=defaults.points_per_batch)
    parser.add_argument('--pred-iou-thresh', type=float,
                        default=defaults.pred_iou_thresh)
    parser.add_argument('--stability-score-thresh', type=float,
                        default=defaults.stability_score_thresh)
    parser.add_argument('--crop-n-layers', type=int,
                        default=defaults.crop_n_layers)
    parser.add_argument('--min-mask-region-area', type=int,
                        default=defaults.min_mask_region_area)
    parser.add_argument('--top-k', type=int, default=20,
                        help='masks cached per modality (largest first)')
    parser.add_argument('--device',
                        default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--overwrite', action='store_true',
                        help='regenerate every sample (other settings than '
                        'the existing cache)')
    return parser.parse_args()


def mask_settings(args: argparse.Namespace) -> AutomaticMaskSettings:
    return dataclasses.replace(
        AutomaticMaskSettings(),
        points_per_side=args.points_per_side,
        points_per_batch=args.points_per_batch,
        pred_iou_thresh=args.pred_iou_thresh,
        stability_score_thresh=args.stability_score_thresh,
        crop_n_layers=args.crop_n_layers,
        min_mask_region_area=args.min_mask_region_area)


def build_generator(args: argparse.Namespace) -> AutomaticMaskGenerator:
    """SAM from the plugin's builders, official weights unless 'none'."""
    arch = SAM_ARCHITECTURES[args.sam_type]
    image_encoder = build_sam_image_encoder(arch, args.image_size)
    prompt_encoder = build_sam_prompt_encoder(arch, args.image_size)
    mask_decoder = build_sam_mask_decoder(arch)
    if args.checkpoint.lower() != 'none':
        load_sam_checkpoint(
            args.checkpoint, image_encoder, prompt_encoder, mask_decoder,
            f"sam_mask_priors.py (--sam-type {args.sam_type}, --image-size "
            f'{args.image_size})')
    for module in (image_encoder, prompt_encoder, mask_decoder):
        module.to(args.device)
    return AutomaticMaskGenerator(image_encoder, prompt_encoder,
                                  mask_decoder, args.image_size,
                                  mask_settings(args))


def generation_record(args: argparse.Namespace) -> dict:
    """What the cache depends on; a rerun must match it to resume."""
    random_weights = args.checkpoint.lower() == 'none'
    return dict(
        format_version=FORMAT_VERSION,
        sam_type=args.sam_type,
        image_size=args.image_size,
        checkpoint=None if random_weights else osp.abspath(args.checkpoint),
        checkpoint_sha256=None if random_weights else file_sha256(
            args.checkpoint),
        settings=dataclasses.asdict(mask_settings(args)),
        top_k=args.top_k)


def list_pairs(args: argparse.Namespace) -> List[Tuple[str, str]]:
    """(visible, infrared) paths of the split, as the dataset lists them."""
    dataset = DATASETS.build(
        dict(type=args.dataset, data_root=args.data_root, split=args.split,
             pipeline=[]))
    pairs = []
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        if len(info.get('modality_paths') or ()) != 1:
            raise ValueError(
                f'sam_mask_priors.py: {args.dataset} lists {info["img_path"]} '
                'without a separate infrared file; expected a layout with '
                'visible and infrared folders.')
        pairs.append((info['img_path'], info['modality_paths'][0]))
    return pairs


def top_masks(generator: AutomaticMaskGenerator, image: np.ndarray,
              top_k: int, shape: Tuple[int, int]) -> np.ndarray:
    """(k, H, W) bool: the ``top_k`` largest masks of an RGB image."""
    records = sorted(generator.generate(image), key=lambda r: r['area'],
                     reverse=True)[:top_k]
    if not records:
        return np.zeros((0, *shape), bool)
    return np.stack([record['segmentation'] for record in records])


def to_uint8(image: np.ndarray) -> np.ndarray:
    """The loader's 0..255 values as uint8 (16-bit files are float)."""
    if image.dtype == np.uint8:
        return image
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def write_priors(path: str, masks: dict) -> None:
    """Write the npz whole or not at all (resume-safe)."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    partial = path[:-len('.npz')] + '.partial.npz'
    np.savez_compressed(partial, **masks)
    os.replace(partial, path)


def cached_counts(path: str) -> dict:
    with np.load(path) as cached:
        return {key: int(cached[key].shape[0]) for key in MODALITY_KEYS}


def write_manifest(folder: str, record: dict, counts: dict,
                   complete: bool) -> None:
    os.makedirs(folder, exist_ok=True)
    manifest = dict(record, complete=complete, num_samples=len(counts),
                    masks=counts)
    partial = osp.join(folder, MANIFEST + '.partial')
    with open(partial, 'w', encoding='utf-8') as file:
        json.dump(manifest, file, indent=1)
    os.replace(partial, osp.join(folder, MANIFEST))


def check_resumable(folder: str, record: dict, overwrite: bool) -> None:
    existing = read_manifest(folder)
    differing = sorted(key for key in record
                       if existing and existing.get(key) != record[key])
    if differing and not overwrite:
        raise ValueError(
            f'sam_mask_priors.py: {folder} was made with other settings '
            f'({", ".join(f"{key}: {existing.get(key)}" for key in differing)}'
            '); rerun with those settings to resume, or pass --overwrite to '
            'regenerate it.')


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=True)
    pairs = list_pairs(args)
    folder = osp.dirname(mask_prior_path(pairs[0][0]))
    record = generation_record(args)
    check_resumable(folder, record, args.overwrite)
    generator = build_generator(args)
    loader = LoadMultiModalImageFromFile()
    counts = {}
    write_manifest(folder, record, counts, complete=False)
    progress = ProgressBar(len(pairs))
    for visible_path, infrared_path in pairs:
        path = mask_prior_path(visible_path)
        stem = osp.splitext(osp.basename(visible_path))[0]
        if osp.isfile(path) and not args.overwrite:
            counts[stem] = cached_counts(path)
        else:
            loaded = loader(
                dict(img_path=visible_path, modality_paths=[infrared_path]))
            image = to_uint8(loaded['img'])
            shape = image.shape[:2]
            sources = dict(visible=image[..., :3],
                           infrared=np.repeat(image[..., 3:4], 3, axis=2))
            masks = {key: top_masks(generator, np.ascontiguousarray(source),
                                    args.top_k, shape)
                     for key, source in sources.items()}
            write_priors(path, masks)
            counts[stem] = {key: len(value) for key, value in masks.items()}
            write_manifest(folder, record, counts, complete=False)
        progress.update()
    write_manifest(folder, record, counts, complete=True)
    print(f'\nwrote the SAM mask priors of {len(pairs)} samples to {folder}')


if __name__ == '__main__':
    main()
