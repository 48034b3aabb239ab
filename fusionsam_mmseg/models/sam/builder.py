"""The one builder of Segment Anything (SAM and SAM2) modules.

SAM parts come from ``segment_anything.modeling`` with the official
``build_sam`` settings, SAM2 models from the installed ``sam2`` package's
``build_sam2`` and its configs. Every SAM image encoder in the plugin (heads,
tests, the encoder benchmark) is built by :func:`build_sam_image_encoder`.
"""
import importlib
from functools import partial
from typing import Optional, Union

from segment_anything.modeling import (ImageEncoderViT, PromptEncoder,
                                       TwoWayTransformer)
from torch import nn

from .architectures import SAMArchitecture
from .class_token_mask_decoder import ClassTokenMaskDecoder

ENCODER_ATTENTIONS = ('stock', 'sdpa')
ENCODER_AUTOCASTS = (None, 'bf16', 'auto')
SAM2_INSTALL_HINT = (
    'install it without its torchvision requirement: '
    '`SAM2_BUILD_CUDA=0 pip install --no-deps --no-build-isolation '
    'sam2==1.1.0` and `pip install hydra-core iopath tqdm` (both done by '
    '`make install`)')


def build_sam_image_encoder(arch: SAMArchitecture,
                            image_size: int,
                            attention: str = 'sdpa',
                            autocast: Optional[str] = None,
                            compile: Union[bool, dict] = False,
                            rel_pos_mode: str = 'mask') -> nn.Module:
    """Build SAM's ViT image encoder (official ``build_sam`` settings).

    Args:
        arch (SAMArchitecture): Dimensions.
        image_size (int): Side of SAM's square input.
        attention (str): ``'sdpa'`` (scaled-dot-product attention,
            numerically equal to the stock path) or ``'stock'``.
            Default: 'sdpa'.
        autocast (str, optional): ``'bf16'`` runs the forward under bfloat16
            autocast; ``'auto'`` does so only for inputs on a CUDA device
            (fp32 elsewhere); None keeps fp32. The output is always fp32.
            Default: None.
        compile (bool | dict): ``torch.compile`` the encoder in place (a
            dict gives ``torch.compile`` kwargs). Default: False.
        rel_pos_mode (str): How SDPA receives the relative-position terms:
            ``'mask'`` or ``'concat'`` (see ``SDPABlock``). Default: 'mask'.

    Returns:
        nn.Module: ``segment_anything``'s ``ImageEncoderViT`` for the plain
        stock fp32 path, else ``FastImageEncoderViT`` (same state_dict keys).
        Maps (B, 3, image_size, image_size) normalized images to
        (B, prompt_embed_dim, image_size/patch, image_size/patch).
    """
    if attention not in ENCODER_ATTENTIONS:
        raise ValueError(
            f"SAM image encoder: attention='{attention}' is not one of "
            f'{ENCODER_ATTENTIONS}.')
    if autocast not in ENCODER_AUTOCASTS:
        raise ValueError(
            f"SAM image encoder: autocast='{autocast}' is not one of "
            f'{ENCODER_AUTOCASTS}.')
    if image_size % arch.patch_size:
        raise ValueError(
            f'SAM image encoder: image_size={image_size} must be a multiple '
            f'of the patch size {arch.patch_size}.')
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
        rel_pos_zero_init=True,
        global_attn_indexes=arch.global_attn_indexes,
        window_size=arch.window_size,
        out_chans=arch.prompt_embed_dim)
    if attention == 'stock' and autocast is None and not compile:
        return ImageEncoderViT(**encoder_kwargs)
    from .fast_image_encoder import FastImageEncoderViT
    return FastImageEncoderViT(
        attention=attention,
        rel_pos_mode=rel_pos_mode,
        autocast_dtype=autocast,
        compile=compile,
        **encoder_kwargs)


def build_sam_prompt_encoder(arch: SAMArchitecture,
                             image_size: int) -> nn.Module:
    """Build SAM's ``PromptEncoder`` for an ``image_size`` square input."""
    embedding_size = image_size // arch.patch_size
    return PromptEncoder(
        embed_dim=arch.prompt_embed_dim,
        image_embedding_size=(embedding_size, embedding_size),
        input_image_size=(image_size, image_size),
        mask_in_chans=arch.mask_in_chans)


def build_class_token_mask_decoder(arch: SAMArchitecture,
                                   num_classes: int) -> ClassTokenMaskDecoder:
    """Build the mask decoder with one output token per class."""
    transformer = TwoWayTransformer(
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


def build_sam2_model(config: str, image_size: int) -> nn.Module:
    """Build an uninitialised SAM2 model (``SAM2Base``) on the CPU.

    Args:
        config (str): SAM2 config name inside the ``sam2`` package, e.g.
            ``'configs/sam2.1/sam2.1_hiera_l.yaml'``.
        image_size (int): Side of SAM2's square input (1024 for the
            official checkpoints).

    Returns:
        nn.Module: The model in eval mode.
    """
    try:
        build_sam = importlib.import_module('sam2.build_sam')
    except ImportError as error:
        raise ImportError(
            f'SAM2 models need the `sam2` package ({error}); '
            f'{SAM2_INSTALL_HINT}.') from error
    return build_sam.build_sam2(
        config,
        ckpt_path=None,
        device='cpu',
        mode='eval',
        apply_postprocessing=False,
        hydra_overrides_extra=[f'++model.image_size={image_size}'])
