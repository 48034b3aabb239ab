"""Official Segment Anything (SAM) checkpoints into the plugin's modules.

SAM's files (``sam_vit_h_4b8939.pth`` ...) are flat state dicts with keys
``image_encoder.*``, ``prompt_encoder.*`` and ``mask_decoder.*``.
:func:`read_sam_checkpoint` is the one reader of them (an official SAM2 file
is read in that layout through
:func:`~.sam2_checkpoint.sam2_state_as_sam_layout`);
:func:`load_sam_checkpoint` loads one into the three modules.
"""
import re
from typing import Dict, List

from mmengine.logging import print_log
from torch import Tensor, nn

from .architectures import OFFICIAL_CHECKPOINT_FILES, SAM_ARCHITECTURES
from .class_token_mask_decoder import ClassTokenMaskDecoder
from .official_checkpoint import OfficialCheckpoint, fitted_tokens_note
from .sam2_checkpoint import (describe_sam2_state, is_sam2_checkpoint,
                              sam2_state_as_sam_layout)

SAM_PARTS = ('image_encoder', 'prompt_encoder', 'mask_decoder')
SAM_FILE = (
    f"one of Meta's official SAM files "
    f"({', '.join(OFFICIAL_CHECKPOINT_FILES.values())}) from the "
    'segment-anything release '
    '(https://github.com/facebookresearch/segment-anything): download and '
    'verify it with `python tools/misc/download_checkpoints.py --models '
    'sam_vit_h` (or sam_vit_l / sam_vit_b; files go to checkpoints/sam/) and '
    'set `checkpoint` in the config to the file for your sam_type, or set it '
    'to None for a run with a random SAM (smoke tests only; for a SAM head: '
    '`--cfg-options model.decode_head.checkpoint=None`)')


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


def read_sam_checkpoint(path: str, owner: str) -> Dict[str, Tensor]:
    """The state dict of an official SAM file (or of a SAM2 file, in SAM's
    layout).

    Args:
        path (str): The ``.pth`` file (``sam_vit_h_4b8939.pth`` ...).
        owner (str): The module or tool named in errors.

    Returns:
        dict[str, Tensor]: Keys ``image_encoder.*``, ``prompt_encoder.*``,
        ``mask_decoder.*`` only.
    """
    file = OfficialCheckpoint(path, owner, 'SAM')
    checkpoint = file.load(SAM_FILE)
    state_dict = (sam2_state_as_sam_layout(checkpoint['model'])
                  if is_sam2_checkpoint(checkpoint) else checkpoint)
    keys = list(state_dict) if isinstance(state_dict, dict) else []
    others = [key for key in keys if key.partition('.')[0] not in SAM_PARTS]
    if not keys or others:
        raise ValueError(
            f'{file} is not in the official segment_anything layout: '
            'expected a flat state dict with keys image_encoder.*, '
            'prompt_encoder.*, mask_decoder.* only (or an official SAM2 '
            f"file), found {f'keys {others[:5]}' if others else 'none'}.")
    return state_dict


def read_sam_parts(path: str, parts: List[str]) -> Dict[str, Tensor]:
    """The ``<part>.*`` tensors of an official SAM file (what a
    :class:`~fusionsam_mmseg.models.pretrained_file.PretrainedFile`
    re-reads).

    Args:
        path (str): The ``.pth`` file.
        parts (list[str]): e.g. ``['image_encoder']``.

    Returns:
        dict[str, Tensor]: Keys as in the file (``image_encoder.neck.0...``).
    """
    return {key: value for key, value in
            read_sam_checkpoint(path, 'PretrainedFile').items()
            if key.partition('.')[0] in parts}


def load_sam_checkpoint(path: str, image_encoder: nn.Module,
                        prompt_encoder: nn.Module,
                        mask_decoder: nn.Module,
                        expected_model: str) -> List[str]:
    """Load an official SAM file into the three modules.

    Image and prompt encoder must match exactly; the mask decoder takes what
    fits of the checkpoint's mask tokens (4 in the official files) and keeps
    its own initialisation for the other class tokens.

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
    state_dict = read_sam_checkpoint(path, expected_model)
    modules = dict(image_encoder=image_encoder,
                   prompt_encoder=prompt_encoder, mask_decoder=mask_decoder)
    parts = {part: {} for part in SAM_PARTS}
    for key, value in state_dict.items():
        part, _, rest = key.partition('.')
        parts[part][rest] = value
    new_keys, dropped_keys = [], []
    if isinstance(mask_decoder, ClassTokenMaskDecoder):
        parts['mask_decoder'], new_keys, dropped_keys = \
            mask_decoder.fit_state_dict(parts['mask_decoder'])
    guessed = guess_sam_type(state_dict)
    OfficialCheckpoint(path, expected_model, 'SAM').check_fits(
        {f'{part}.{key}': value for part, module in modules.items()
         for key, value in module.state_dict().items()},
        {f'{part}.{key}': value for part, part_state in parts.items()
         for key, value in part_state.items()},
        guessed, 'sam_type (and image_size)')
    for part, module in modules.items():
        module.load_state_dict(parts[part])
    new_keys = [f'mask_decoder.{key}' for key in new_keys]
    print_log(
        f"Loaded SAM checkpoint '{path}' ({guessed})." + fitted_tokens_note(
            new_keys, [f'mask_decoder.{key}' for key in dropped_keys]),
        logger='current')
    return new_keys
