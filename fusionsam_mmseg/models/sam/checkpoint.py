"""Load official Segment Anything checkpoints into the plugin's modules.

:func:`load_sam_checkpoint` reads the official SAM key layout
(``image_encoder.*``, ``prompt_encoder.*``, ``mask_decoder.*``) into the three
modules (an official SAM2 file is read in that layout through
:func:`sam2_state_as_sam_layout`); :func:`load_sam2_checkpoint` reads an
official SAM2 file (state dict under ``model``) into a whole ``SAM2Base``,
:func:`load_sam2_image_encoder` and :func:`load_sam2_without_image_encoder`
into MemorySAM's two halves (the decoder's class tokens fitted). All stop
with an error that names the file when it is missing or of another size.
"""
import os
import os.path as osp
import re
from typing import Callable, Dict, List, Tuple

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

from .architectures import OFFICIAL_CHECKPOINT_FILES, SAM_ARCHITECTURES
from .class_token_mask_decoder import (ClassTokenMaskDecoder,
                                       fit_mask_token_rows)

SAM_PARTS = ('image_encoder', 'prompt_encoder', 'mask_decoder')


def guess_sam_type(state_dict: Dict[str, Tensor]) -> str:
    """Say which SAM size an official-layout state dict looks like.

    Args:
        state_dict (dict[str, Tensor]): Keys ``image_encoder.*`` etc.

    Returns:
        str: ``"sam_type='vit_b'"`` (or vit_l / vit_h), or a description
        such as ``"custom (embed_dim=32, depth=2)"``.
    """
    if 'image_encoder.trunk.patch_embed.proj.weight' in state_dict:
        return f'SAM2, {describe_sam2_state(state_dict)}'
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
        'tools/misc/download_checkpoints.py --models sam_vit_h` (or '
        'sam_vit_l / sam_vit_b; files go to checkpoints/sam/) and set '
        '`checkpoint` in the config to the file for your sam_type, or pass '
        '`--cfg-options model.decode_head.checkpoint=None` for a run with a '
        'random SAM (smoke tests only).')


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
                        mask_decoder: nn.Module,
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
        mask_decoder (nn.Module): Receives ``mask_decoder.*``: a
            :class:`ClassTokenMaskDecoder` (tokens fitted as above) or SAM's
            stock ``MaskDecoder`` (must match exactly).
        expected_model (str): How the configured model is named in errors,
            e.g. ``"SAMPromptHead(sam_type='vit_h', image_size=1024)"``.

    Returns:
        list[str]: Mask-decoder keys (or row ranges) initialised here because
        the checkpoint has no values for them.
    """
    if not os.path.isfile(path):
        raise _missing_checkpoint_error(path)
    state_dict = as_sam_layout(
        torch.load(path, map_location='cpu', weights_only=True))
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
    new_keys, dropped_keys = [], []
    if isinstance(mask_decoder, ClassTokenMaskDecoder):
        parts['mask_decoder'], new_keys, dropped_keys = \
            mask_decoder.fit_state_dict(parts['mask_decoder'])
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


def read_sam_parts(path: str, parts: List[str]) -> Dict[str, Tensor]:
    """The ``<part>.*`` tensors of an official-layout SAM checkpoint.

    Args:
        path (str): The ``.pth`` file.
        parts (list[str]): e.g. ``['image_encoder']``.

    Returns:
        dict[str, Tensor]: Keys as in the file (``image_encoder.neck.0...``).
    """
    state_dict = as_sam_layout(
        torch.load(path, map_location='cpu', weights_only=True))
    return {key: value for key, value in state_dict.items()
            if key.split('.', 1)[0] in parts}


def read_sam2_state(path: str, prefix: str = '') -> Dict[str, Tensor]:
    """The state dict of an official SAM2 checkpoint, keys prefixed."""
    state = torch.load(path, map_location='cpu', weights_only=True)
    return {f'{prefix}{key}': value for key, value in state['model'].items()}


def read_sam2_checkpoint(path: str, owner: str) -> Dict[str, Tensor]:
    """The state dict of an official SAM2 file (``{'model': state_dict}``).

    Args:
        path (str): e.g. ``sam2_hiera_base_plus.pt``.
        owner (str): The module named in errors, e.g.
            ``"SAM2LoRABackbone(sam2_config='sam2_hiera_b+')"``.

    Returns:
        dict[str, Tensor]: Keys as in the file (``image_encoder.trunk...``).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f"{owner}: SAM2 checkpoint '{path}' does not exist; expected an "
            'official SAM2 file of the configured model (e.g. '
            'sam2_hiera_base_plus.pt for sam2_hiera_b+). Fetch and verify it '
            'with `python tools/misc/download_checkpoints.py --models '
            'sam2_hiera_b+` (files go to checkpoints/sam2/), or set the '
            'checkpoint to None for random weights (smoke tests only).')
    state = torch.load(path, map_location='cpu', weights_only=True)
    if not isinstance(state, dict) or not isinstance(state.get('model'),
                                                     dict):
        raise ValueError(
            f"{owner}: '{path}' is not an official SAM2 checkpoint (a dict "
            "with the state dict under 'model').")
    return state['model']


def describe_sam2_state(state_dict: Dict[str, Tensor]) -> str:
    """Say which Hiera a SAM2 state dict holds, e.g. ``'a Hiera trunk with
    embed_dim=112 and 24 blocks'``."""
    patch_key = 'image_encoder.trunk.patch_embed.proj.weight'
    patch_weight = state_dict.get(patch_key)
    if patch_weight is None:
        return f'no Hiera trunk (no key {patch_key})'
    block_key = re.compile(r'image_encoder\.trunk\.blocks\.(\d+)\.')
    blocks = {int(match.group(1))
              for match in map(block_key.match, state_dict) if match}
    return (f'a Hiera trunk with embed_dim={patch_weight.shape[0]} and '
            f'{len(blocks)} blocks (sam2_hiera_t/s: 96 with 12/16 blocks, '
            'b+: 112 with 24, l: 144 with 48)')


def _check_sam2_part(path: str, owner: str, own: Dict[str, Tensor],
                     loaded: Dict[str, Tensor], file_state: Dict[str, Tensor],
                     may_lack: Callable[[str], bool]) -> None:
    """Raise unless ``loaded`` has ``own``'s keys (except those ``may_lack``
    accepts) with ``own``'s shapes and no other keys."""
    for key, value in loaded.items():
        if key in own and own[key].shape != value.shape:
            raise ValueError(
                f"{owner}: SAM2 checkpoint '{path}' key '{key}' has shape "
                f'{tuple(value.shape)} but the configured model expects '
                f'{tuple(own[key].shape)}. The file holds '
                f'{describe_sam2_state(file_state)}; set sam2_config to its '
                'model or use the file of the configured one.')
    missing = sorted(key for key in set(own) - set(loaded)
                     if not may_lack(key))
    unexpected = sorted(set(loaded) - set(own))
    if missing or unexpected:
        raise ValueError(
            f"{owner}: SAM2 checkpoint '{path}' does not fit the configured "
            f'model: missing keys {missing[:5]}'
            f"{' ...' if len(missing) > 5 else ''}, unexpected keys "
            f"{unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}. The "
            f'file holds {describe_sam2_state(file_state)}.')


def load_sam2_image_encoder(path: str, image_encoder: nn.Module,
                            owner: str) -> List[str]:
    """Load the ``image_encoder.*`` part of an official SAM2 file.

    Args:
        path (str): e.g. ``sam2_hiera_base_plus.pt``.
        image_encoder (nn.Module): SAM2's ``ImageEncoder`` (Hiera trunk +
            FPN neck), possibly with LoRA layers (``lora_*`` keys, which the
            file lacks and which keep their initialisation).
        owner (str): The module named in errors and in the log.

    Returns:
        list[str]: The module's keys the file has no values for.
    """
    file_state = read_sam2_checkpoint(path, owner)
    prefix = 'image_encoder.'
    part = {key[len(prefix):]: value for key, value in file_state.items()
            if key.startswith(prefix)}
    _check_sam2_part(path, owner, image_encoder.state_dict(), part,
                     file_state, lambda key: '.lora_' in key)
    kept = image_encoder.load_state_dict(part, strict=False).missing_keys
    print_log(
        f"{owner}: loaded the image encoder of SAM2 checkpoint '{path}' "
        f'({len(part)} tensors); {len(kept)} LoRA tensors keep their '
        'initialisation (A Kaiming, B zero).', logger='current')
    return kept


def sam2_token_row_keys(decoder: nn.Module) -> Tuple[str, ...]:
    """Keys of a SAM2 ``MaskDecoder`` whose rows are its mask tokens."""
    last_layer = decoder.iou_prediction_head.num_layers - 1
    last = f'iou_prediction_head.layers.{last_layer}'
    return ('mask_tokens.weight', f'{last}.weight', f'{last}.bias')


def load_sam2_without_image_encoder(path: str, model: nn.Module,
                                    owner: str) -> List[str]:
    """Load everything but ``image_encoder.*`` of an official SAM2 file.

    The mask decoder takes what fits of the file's 4 mask tokens (token
    ``i`` <- token ``i``); its other class tokens keep their initialisation.

    Args:
        path (str): e.g. ``sam2_hiera_base_plus.pt``.
        model (nn.Module): A ``SAM2Base`` whose ``image_encoder`` is None and
            whose ``sam_mask_decoder`` may have another number of tokens.
        owner (str): The module named in errors and in the log.

    Returns:
        list[str]: Decoder keys (or row ranges) initialised here, prefixed
        ``sam_mask_decoder.``.
    """
    file_state = read_sam2_checkpoint(path, owner)
    decoder = model.sam_mask_decoder
    decoder_prefix = 'sam_mask_decoder.'
    part = {key: value for key, value in file_state.items()
            if not key.startswith(('image_encoder.', decoder_prefix))}
    decoder_state, new_keys, dropped_keys = fit_mask_token_rows(
        decoder.state_dict(), {
            key[len(decoder_prefix):]: value
            for key, value in file_state.items()
            if key.startswith(decoder_prefix)
        }, decoder.num_mask_tokens, sam2_token_row_keys(decoder))
    part.update({decoder_prefix + key: value
                 for key, value in decoder_state.items()})
    _check_sam2_part(path, owner, model.state_dict(), part, file_state,
                     lambda key: False)
    model.load_state_dict(part)
    new_keys = [decoder_prefix + key for key in new_keys]
    message = (f"{owner}: loaded SAM2 checkpoint '{path}' (all but the "
               'image encoder).')
    if new_keys:
        message += (' Class tokens the checkpoint lacks were initialised '
                    f'randomly (new keys): {new_keys}.')
    if dropped_keys:
        message += (' Unused checkpoint mask tokens (dropped): '
                    f'{[decoder_prefix + key for key in dropped_keys]}.')
    print_log(message, logger='current')
    return new_keys


# SAM2 mask-decoder parts SAM's decoder has no counterpart for (the high-
# resolution feature projections and the object-score head).
SAM2_ONLY_DECODER_PARTS = ('conv_s0.', 'conv_s1.', 'obj_score_token.',
                           'pred_obj_score_head.')
# SAM2's two-way transformer MLPs -> SAM's MLPBlock names.
SAM2_DECODER_RENAMES = (('.mlp.layers.0.', '.mlp.lin1.'),
                        ('.mlp.layers.1.', '.mlp.lin2.'))


def sam2_state_as_sam_layout(state_dict: Dict[str, Tensor]
                             ) -> Dict[str, Tensor]:
    """An official SAM2 state dict in segment_anything's key layout.

    ``image_encoder.*`` and ``no_mem_embed`` become the keys of a
    :class:`~fusionsam_mmseg.models.sam.SAM2ImageEmbedding`
    (``image_encoder.trunk.*``, ``image_encoder.neck.*``,
    ``image_encoder.no_mem_embed``); ``sam_prompt_encoder.*`` becomes
    ``prompt_encoder.*`` (same module); ``sam_mask_decoder.*`` becomes
    ``mask_decoder.*`` without :data:`SAM2_ONLY_DECODER_PARTS`, its
    transformer MLPs renamed; SAM2's memory modules are left out.

    Args:
        state_dict (dict[str, Tensor]): The ``model`` entry of a SAM2 file.

    Returns:
        dict[str, Tensor]: Keys ``image_encoder.*``, ``prompt_encoder.*``,
        ``mask_decoder.*``.
    """
    converted = {}
    for key, value in state_dict.items():
        part, _, rest = key.partition('.')
        if part == 'image_encoder':
            converted[key] = value
        elif key == 'no_mem_embed':
            converted['image_encoder.no_mem_embed'] = value
        elif part == 'sam_prompt_encoder':
            converted[f'prompt_encoder.{rest}'] = value
        elif part == 'sam_mask_decoder' and not rest.startswith(
                SAM2_ONLY_DECODER_PARTS):
            for old, new in SAM2_DECODER_RENAMES:
                rest = rest.replace(old, new)
            converted[f'mask_decoder.{rest}'] = value
    return converted


def as_sam_layout(checkpoint) -> Dict[str, Tensor]:
    """A loaded checkpoint in SAM's layout: SAM files as they are, SAM2
    files (``{'model': state_dict}``) through
    :func:`sam2_state_as_sam_layout`."""
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get('model'),
                                                   dict):
        return sam2_state_as_sam_layout(checkpoint['model'])
    return checkpoint
