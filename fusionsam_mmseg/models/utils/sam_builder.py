"""Build Segment Anything's modules and load its official checkpoints.

The official sizes (``vit_b`` / ``vit_l`` / ``vit_h``) use the dimensions of
``segment_anything/build_sam.py``; ``custom`` sizes (tiny test models) take
the same fields from a dict. :func:`load_sam_checkpoint` reads the official
key layout (``image_encoder.*``, ``prompt_encoder.*``, ``mask_decoder.*``)
into the three modules and stops with an error that names the file when it is
missing or of another size.
"""
import dataclasses
import os
import re
from functools import partial
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

from .class_token_mask_decoder import ClassTokenMaskDecoder
from .sam_loader import import_sam_modeling

SAM_PARTS = ('image_encoder', 'prompt_encoder', 'mask_decoder')
OFFICIAL_CHECKPOINT_FILES = {
    'vit_h': 'sam_vit_h_4b8939.pth',
    'vit_l': 'sam_vit_l_0b3195.pth',
    'vit_b': 'sam_vit_b_01ec64.pth',
}
ENCODER_ATTENTIONS = ('stock', 'sdpa')
ENCODER_AUTOCASTS = (None, 'bf16')


@dataclasses.dataclass(frozen=True)
class SAMArchitecture:
    """Dimensions of one SAM model.

    Args:
        embed_dim (int): ViT width of the image encoder.
        depth (int): Number of ViT blocks.
        num_heads (int): Attention heads per ViT block.
        global_attn_indexes (tuple[int]): Blocks with global attention; the
            others use windowed attention.
        window_size (int): Side of the attention windows. Default: 14.
        patch_size (int): Patch side; the image embedding is
            ``image_size // patch_size`` cells wide. Default: 16.
        mlp_ratio (float): ViT MLP hidden width / embed_dim. Default: 4.0.
        prompt_embed_dim (int): Width of the image embedding, the prompt
            embeddings and the mask decoder. Default: 256.
        mask_in_chans (int): Hidden channels of the mask-prompt encoder
            (divisible by 4). Default: 16.
        decoder_depth (int): Two-way transformer blocks. Default: 2.
        decoder_mlp_dim (int): Two-way transformer MLP width. Default: 2048.
        decoder_num_heads (int): Two-way transformer heads. Default: 8.
        iou_head_hidden_dim (int): Hidden width of the IoU head. Default: 256.
    """

    embed_dim: int
    depth: int
    num_heads: int
    global_attn_indexes: Tuple[int, ...]
    window_size: int = 14
    patch_size: int = 16
    mlp_ratio: float = 4.0
    prompt_embed_dim: int = 256
    mask_in_chans: int = 16
    decoder_depth: int = 2
    decoder_mlp_dim: int = 2048
    decoder_num_heads: int = 8
    iou_head_hidden_dim: int = 256


SAM_ARCHITECTURES = {
    'vit_b': SAMArchitecture(
        embed_dim=768, depth=12, num_heads=12,
        global_attn_indexes=(2, 5, 8, 11)),
    'vit_l': SAMArchitecture(
        embed_dim=1024, depth=24, num_heads=16,
        global_attn_indexes=(5, 11, 17, 23)),
    'vit_h': SAMArchitecture(
        embed_dim=1280, depth=32, num_heads=16,
        global_attn_indexes=(7, 15, 23, 31)),
}


def resolve_sam_architecture(sam_type: str,
                             encoder_cfg: Optional[dict] = None
                             ) -> SAMArchitecture:
    """Return the dimensions for ``sam_type``.

    Args:
        sam_type (str): ``'vit_b'``, ``'vit_l'``, ``'vit_h'`` or ``'custom'``.
        encoder_cfg (dict, optional): The :class:`SAMArchitecture` fields for
            ``'custom'`` (must be None for the official sizes).

    Returns:
        SAMArchitecture: The dimensions.
    """
    if sam_type in SAM_ARCHITECTURES:
        if encoder_cfg:
            raise ValueError(
                f'SAMPromptHead: encoder_cfg={encoder_cfg} is only used with '
                f"sam_type='custom'; sam_type='{sam_type}' has the official "
                'fixed dimensions.')
        return SAM_ARCHITECTURES[sam_type]
    if sam_type != 'custom':
        raise ValueError(
            f"SAMPromptHead: sam_type='{sam_type}' is not one of "
            f"{sorted(SAM_ARCHITECTURES) + ['custom']}.")
    fields = {field.name for field in dataclasses.fields(SAMArchitecture)}
    cfg = dict(encoder_cfg or {})
    unknown = sorted(set(cfg) - fields)
    missing = sorted(
        field.name for field in dataclasses.fields(SAMArchitecture)
        if field.default is dataclasses.MISSING and field.name not in cfg)
    if unknown or missing:
        raise ValueError(
            "SAMPromptHead(sam_type='custom'): encoder_cfg has unknown keys "
            f'{unknown} / lacks required keys {missing}; expected keys '
            f'{sorted(fields)}.')
    cfg['global_attn_indexes'] = tuple(cfg['global_attn_indexes'])
    arch = SAMArchitecture(**cfg)
    _check_custom_architecture(arch)
    return arch


def _check_custom_architecture(arch: SAMArchitecture) -> None:
    """Raise on dimensions SAM's modules cannot be built with."""
    problems = []
    if arch.embed_dim % arch.num_heads:
        problems.append(f'embed_dim={arch.embed_dim} is not divisible by '
                        f'num_heads={arch.num_heads}')
    if any(not 0 <= index < arch.depth for index in arch.global_attn_indexes):
        problems.append(f'global_attn_indexes={arch.global_attn_indexes} '
                        f'must lie in [0, depth={arch.depth})')
    if arch.prompt_embed_dim % 8 or (
            arch.prompt_embed_dim % arch.decoder_num_heads):
        problems.append(f'prompt_embed_dim={arch.prompt_embed_dim} must be '
                        'divisible by 8 and by decoder_num_heads='
                        f'{arch.decoder_num_heads}')
    if arch.mask_in_chans % 4:
        problems.append(f'mask_in_chans={arch.mask_in_chans} is not '
                        'divisible by 4')
    if problems:
        raise ValueError("SAMPromptHead(sam_type='custom'): encoder_cfg: " +
                         '; '.join(problems) + '.')


def build_sam_image_encoder(arch: SAMArchitecture,
                            image_size: int,
                            attention: str = 'stock',
                            autocast: Optional[str] = None,
                            compile: bool = False) -> nn.Module:
    """Build SAM's ViT image encoder (official ``build_sam`` settings).

    Args:
        arch (SAMArchitecture): Dimensions.
        image_size (int): Side of SAM's square input.
        attention (str): ``'stock'`` or ``'sdpa'`` (scaled-dot-product
            attention, numerically equal). Default: 'stock'.
        autocast (str, optional): ``'bf16'`` runs the forward under bfloat16
            autocast (output cast back to fp32). Default: None.
        compile (bool): ``torch.compile`` the encoder in place.
            Default: False.

    Returns:
        nn.Module: ``segment_anything``'s ``ImageEncoderViT`` for the plain
        stock fp32 path, else ``FastImageEncoderViT`` (same state_dict keys).
        Maps (B, 3, image_size, image_size) normalized images to
        (B, prompt_embed_dim, image_size/patch, image_size/patch).
    """
    if attention not in ENCODER_ATTENTIONS:
        raise ValueError(
            f"SAMPromptHead: encoder_attention='{attention}' is not one of "
            f'{ENCODER_ATTENTIONS}.')
    if autocast not in ENCODER_AUTOCASTS:
        raise ValueError(
            f"SAMPromptHead: encoder_autocast='{autocast}' is not one of "
            f'{ENCODER_AUTOCASTS}.')
    encoder_kwargs = dict(
        depth=arch.depth,
        embed_dim=arch.embed_dim,
        img_size=image_size,
        mlp_ratio=arch.mlp_ratio,
        norm_layer=partial(nn.LayerNorm, eps=1e-6),
        num_heads=arch.num_heads,
        patch_size=arch.patch_size,
        qkv_bias=True,
        use_rel_pos=True,
        global_attn_indexes=arch.global_attn_indexes,
        window_size=arch.window_size,
        out_chans=arch.prompt_embed_dim)
    if attention == 'stock' and autocast is None and not compile:
        return import_sam_modeling().ImageEncoderViT(**encoder_kwargs)
    from .fast_image_encoder import FastImageEncoderViT
    return FastImageEncoderViT(
        attention=attention,
        autocast_dtype=autocast,
        compile=compile,
        **encoder_kwargs)


def build_sam_prompt_encoder(arch: SAMArchitecture,
                             image_size: int) -> nn.Module:
    """Build SAM's ``PromptEncoder`` for an ``image_size`` square input."""
    embedding_size = image_size // arch.patch_size
    return import_sam_modeling().PromptEncoder(
        embed_dim=arch.prompt_embed_dim,
        image_embedding_size=(embedding_size, embedding_size),
        input_image_size=(image_size, image_size),
        mask_in_chans=arch.mask_in_chans)


def build_class_token_mask_decoder(arch: SAMArchitecture,
                                   num_classes: int) -> ClassTokenMaskDecoder:
    """Build the mask decoder with one output token per class."""
    transformer = import_sam_modeling().TwoWayTransformer(
        depth=arch.decoder_depth,
        embedding_dim=arch.prompt_embed_dim,
        mlp_dim=arch.decoder_mlp_dim,
        num_heads=arch.decoder_num_heads)
    return ClassTokenMaskDecoder(
        num_classes=num_classes,
        transformer_dim=arch.prompt_embed_dim,
        transformer=transformer,
        iou_head_depth=3,
        iou_head_hidden_dim=arch.iou_head_hidden_dim)


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
