"""Load official Segment Anything checkpoints into the plugin's modules.

:func:`load_sam_checkpoint` reads the official SAM key layout
(``image_encoder.*``, ``prompt_encoder.*``, ``mask_decoder.*``) into the three
modules; :func:`load_sam2_checkpoint` reads an official SAM2 file (state dict
under ``model``). Both stop with an error that names the file when it is
missing or of another size.
"""
import os
import os.path as osp
import re
from typing import Dict, List

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

from .architectures import OFFICIAL_CHECKPOINT_FILES, SAM_ARCHITECTURES
from .class_token_mask_decoder import ClassTokenMaskDecoder

SAM_PARTS = ('image_encoder', 'prompt_encoder', 'mask_decoder')


def guess_sam_type(state_dict: Dict[str, Tensor]) -> str:
    """Say which SAM size an official-layout state dict looks like.

    Args:
        state_dict (dict[str, Tensor]): Keys ``image_encoder.*`` etc.

    Returns:
        str: ``"sam_type='vit_b'"`` (or vit_l / vit_h), or a description
        such as ``"custom (embed_dim=32, depth=2)"``.
    """
    patch_weight = state_dict.get('image_encoder.patch_embed.proj.weight')
    if patch_weight is None:
        return ('no SAM image encoder (no key '
                'image_encoder.patch_embed.proj.weight)')
    block_key = re.compile(r'image_encoder\.blocks\.(\d+)\.')
    block_ids = {
        int(match.group(1))
        for match in map(block_key.match, state_dict) if match
    }
    embed_dim, depth = patch_weight.shape[0], len(block_ids)
    for sam_type, arch in SAM_ARCHITECTURES.items():
        if (arch.embed_dim, arch.depth) == (embed_dim, depth):
            return f"sam_type='{sam_type}'"
    return f'custom (embed_dim={embed_dim}, depth={depth})'


def _missing_checkpoint_error(path: str) -> FileNotFoundError:
    files = ', '.join(OFFICIAL_CHECKPOINT_FILES.values())
    return FileNotFoundError(
        f"SAMPromptHead: SAM checkpoint '{path}' does not exist. The "
        f"official checkpoints ({files}) come from Meta's segment-anything "
        'release (https://github.com/facebookresearch/segment-anything); '
        'download and verify them with `python '
        'tools/misc/download_sam_checkpoints.py --out-dir checkpoints/sam` '
        'and set `checkpoint` in the config to the file for your sam_type.')


def _check_part(path: str, part: str, module: nn.Module,
                state_dict: Dict[str, Tensor], expected_model: str,
                guessed: str) -> None:
    """Raise unless ``state_dict`` has exactly ``module``'s keys and shapes."""
    own = module.state_dict()
    for key, value in state_dict.items():
        if key in own and own[key].shape != value.shape:
            raise ValueError(
                f"SAM checkpoint '{path}': key '{part}.{key}' has shape "
                f'{tuple(value.shape)} but {expected_model} expects '
                f'{tuple(own[key].shape)}. The file looks like: {guessed}. '
                'Set sam_type (and image_size) to match it, or use the '
                'checkpoint of the configured size.')
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    if missing or unexpected:
        raise ValueError(
            f"SAM checkpoint '{path}' does not fit {expected_model} in "
            f"'{part}': missing keys {[f'{part}.{k}' for k in missing[:5]]}"
            f"{' ...' if len(missing) > 5 else ''}, unexpected keys "
            f"{[f'{part}.{k}' for k in unexpected[:5]]}"
            f"{' ...' if len(unexpected) > 5 else ''}. The file looks like: "
            f'{guessed}.')


def load_sam_checkpoint(path: str, image_encoder: nn.Module,
                        prompt_encoder: nn.Module,
                        mask_decoder: ClassTokenMaskDecoder,
                        expected_model: str) -> List[str]:
    """Load an official-layout SAM checkpoint into the three modules.

    Loaded with ``torch.load(..., weights_only=True)``. Image and prompt
    encoder must match exactly; the mask decoder takes what fits of the
    checkpoint's mask tokens (4 in the official files) and keeps its own
    initialisation for the other class tokens.

    Args:
        path (str): The ``.pth`` file (``sam_vit_h_4b8939.pth`` ...).
        image_encoder (nn.Module): Receives ``image_encoder.*``.
        prompt_encoder (nn.Module): Receives ``prompt_encoder.*``.
        mask_decoder (ClassTokenMaskDecoder): Receives ``mask_decoder.*``.
        expected_model (str): How the configured model is named in errors,
            e.g. ``"SAMPromptHead(sam_type='vit_h', image_size=1024)"``.

    Returns:
        list[str]: Mask-decoder keys (or row ranges) initialised here because
        the checkpoint has no values for them.
    """
    if not os.path.isfile(path):
        raise _missing_checkpoint_error(path)
    state_dict = torch.load(path, map_location='cpu', weights_only=True)
    if not isinstance(state_dict, dict) or not any(
            key.startswith(f'{part}.') for key in state_dict
            for part in SAM_PARTS):
        raise ValueError(
            f"SAM checkpoint '{path}' is not in the official segment_anything "
            'layout: expected a flat state dict with keys image_encoder.*, '
            'prompt_encoder.*, mask_decoder.*.')
    guessed = guess_sam_type(state_dict)
    parts = {part: {} for part in SAM_PARTS}
    for key, value in state_dict.items():
        part, _, rest = key.partition('.')
        if part not in parts:
            raise ValueError(
                f"SAM checkpoint '{path}': unexpected key '{key}' (expected "
                'only image_encoder.*, prompt_encoder.*, mask_decoder.*).')
        parts[part][rest] = value
    decoder_state, new_keys, dropped_keys = mask_decoder.fit_state_dict(
        parts['mask_decoder'])
    parts['mask_decoder'] = decoder_state
    modules = dict(
        image_encoder=image_encoder,
        prompt_encoder=prompt_encoder,
        mask_decoder=mask_decoder)
    for part, module in modules.items():
        _check_part(path, part, module, parts[part], expected_model, guessed)
    for part, module in modules.items():
        module.load_state_dict(parts[part])
    new_keys = [f'mask_decoder.{key}' for key in new_keys]
    message = f"Loaded SAM checkpoint '{path}' ({guessed})."
    if new_keys:
        message += (' Class tokens the checkpoint lacks were initialised '
                    f'randomly (new keys): {new_keys}.')
    if dropped_keys:
        message += (' Unused checkpoint mask tokens (dropped): '
                    f"{[f'mask_decoder.{key}' for key in dropped_keys]}.")
    print_log(message, logger='current')
    return new_keys


def load_sam2_checkpoint(path: str, model: nn.Module, owner: str) -> None:
    """Load an official SAM2 checkpoint (``{'model': state_dict}``).

    Args:
        path (str): e.g. ``sam2.1_hiera_large.pt``.
        model (nn.Module): The ``SAM2Base`` of the config's ``sam2_config``.
        owner (str): The module named in errors, e.g. ``'StockSAM2Head'``.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f"{owner}: SAM2 checkpoint '{path}' does not exist; expected an "
            'official SAM2 checkpoint (e.g. sam2.1_hiera_large.pt) matching '
            '`sam2_config`.')
    state = torch.load(path, map_location='cpu', weights_only=True)
    if not isinstance(state, dict) or 'model' not in state:
        raise ValueError(
            f"{owner}: '{path}' is not an official SAM2 checkpoint (a dict "
            "with the state dict under 'model').")
    try:
        model.load_state_dict(state['model'])
    except RuntimeError as error:
        raise ValueError(f"{owner}: '{path}' does not fit the model of "
                         f'`sam2_config`: {error}') from error
    print_log(f"{owner}: loaded SAM2 checkpoint '{path}'.", logger='current')
