"""Dimensions of Segment Anything models.

The official sizes (``vit_b`` / ``vit_l`` / ``vit_h``) use the dimensions of
``segment_anything/build_sam.py``; ``custom`` sizes (tiny test models) take
the same fields from a dict. Standard library only, so the encoder benchmark
can import it on a machine without OpenMMLab.
"""
import dataclasses
from typing import Optional, Tuple

OFFICIAL_CHECKPOINT_FILES = {
    'vit_h': 'sam_vit_h_4b8939.pth',
    'vit_l': 'sam_vit_l_0b3195.pth',
    'vit_b': 'sam_vit_b_01ec64.pth',
}


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
