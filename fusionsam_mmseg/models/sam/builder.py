"""The one builder of Segment Anything (SAM and SAM2) modules.

SAM parts come from ``segment_anything.modeling`` with the official
``build_sam`` settings, SAM2 models from the installed ``sam2`` package's
``build_sam2`` and its configs. Every SAM image encoder in the plugin (heads,
tests, the encoder benchmark) is built by :func:`build_sam_image_encoder`.
"""
import importlib
from functools import partial
from typing import Optional, Sequence, Tuple, Union

from segment_anything.modeling import (ImageEncoderViT, MaskDecoder,
                                       PromptEncoder, TwoWayTransformer)
from torch import nn

from .architectures import SAMArchitecture
from .class_token_mask_decoder import ClassTokenMaskDecoder

ENCODER_ATTENTIONS = ('stock', 'sdpa')
ENCODER_AUTOCASTS = (None, 'bf16', 'auto')
# SAM2 model names -> configs of the installed sam2 package.
SAM2_CONFIGS = {
    f'{release}_hiera_{size}': f'configs/{release}/{release}_hiera_{size}.yaml'
    for release in ('sam2', 'sam2.1') for size in ('t', 's', 'b+', 'l')
}
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
                            rel_pos_mode: str = 'mask',
                            activation_checkpointing: bool = False
                            ) -> nn.Module:
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
        activation_checkpointing (bool): Recompute each block's activations
            in the backward pass instead of keeping them, where a gradient
            is recorded (see ``FastImageEncoderViT``). Default: False.

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
    if (attention == 'stock' and autocast is None and not compile
            and not activation_checkpointing):
        return ImageEncoderViT(**encoder_kwargs)
    from .fast_image_encoder import FastImageEncoderViT
    return FastImageEncoderViT(
        attention=attention,
        rel_pos_mode=rel_pos_mode,
        autocast_dtype=autocast,
        compile=compile,
        activation_checkpointing=activation_checkpointing,
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


def build_sam_mask_decoder(arch: SAMArchitecture) -> MaskDecoder:
    """Build SAM's stock ``MaskDecoder`` (1 single-mask + 3 multimask
    tokens, the official ``build_sam`` settings), e.g. for automatic
    masks."""
    transformer = TwoWayTransformer(
        depth=arch.decoder_depth,
        embedding_dim=arch.prompt_embed_dim,
        mlp_dim=arch.decoder_mlp_dim,
        num_heads=arch.decoder_num_heads)
    return MaskDecoder(
        num_multimask_outputs=3,
        transformer=transformer,
        transformer_dim=arch.prompt_embed_dim,
        iou_head_depth=3,
        iou_head_hidden_dim=arch.iou_head_hidden_dim)


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


def resolve_sam2_config(config: str) -> str:
    """The ``sam2`` package config of a SAM2 model name.

    Args:
        config (str): A name of :data:`SAM2_CONFIGS` (``'sam2_hiera_b+'``,
            ``'sam2.1_hiera_l'`` ...) or a config path inside the package
            (``'configs/sam2/sam2_hiera_b+.yaml'``).

    Returns:
        str: The config path.
    """
    if config in SAM2_CONFIGS:
        return SAM2_CONFIGS[config]
    if config.endswith('.yaml'):
        return config
    raise ValueError(
        f"SAM2 model '{config}' is not one of {sorted(SAM2_CONFIGS)} nor a "
        "config path of the sam2 package (e.g. 'configs/sam2/"
        "sam2_hiera_b+.yaml').")


def build_sam2_model(config: str, image_size: int,
                     overrides: Sequence[str] = ()) -> nn.Module:
    """Build an uninitialised SAM2 model (``SAM2Base``) on the CPU.

    Args:
        config (str): SAM2 model name or config path inside the ``sam2``
            package (see :func:`resolve_sam2_config`), e.g.
            ``'sam2_hiera_b+'`` or ``'configs/sam2.1/sam2.1_hiera_l.yaml'``.
        image_size (int): Side of SAM2's square input (1024 for the
            official checkpoints).
        overrides (Sequence[str]): Further Hydra overrides of the config,
            e.g. ``'++model.image_encoder.trunk.embed_dim=8'`` for tiny test
            models. Default: ().

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
        resolve_sam2_config(config),
        ckpt_path=None,
        device='cpu',
        mode='eval',
        apply_postprocessing=False,
        hydra_overrides_extra=[f'++model.image_size={image_size}',
                               *overrides])


def build_sam2_class_token_decoder(decoder: nn.Module,
                                   num_classes: int) -> nn.Module:
    """SAM2's ``MaskDecoder`` like ``decoder`` with one token per class.

    The new decoder has ``num_classes`` multimask tokens (1..num_classes;
    ``multimask_output=True`` returns their masks in class order) besides
    SAM2's single-mask token 0, and shares ``decoder``'s two-way transformer;
    every other setting is read from ``decoder``. Its other modules are
    freshly initialised (an official checkpoint is fitted onto it by
    :func:`~.sam2_checkpoint.load_sam2_without_image_encoder`).

    Args:
        decoder (nn.Module): The ``sam_mask_decoder`` of a ``SAM2Base``.
        num_classes (int): Number of classes.

    Returns:
        nn.Module: ``sam2.modeling.sam.mask_decoder.MaskDecoder``.
    """
    from sam2.modeling.sam.mask_decoder import MaskDecoder
    from sam2.modeling.sam2_utils import MLP
    if num_classes < 1:
        raise ValueError(
            f'SAM2 class-token decoder: num_classes={num_classes}, expected '
            '>= 1.')
    iou_head = decoder.iou_prediction_head
    return MaskDecoder(
        transformer_dim=decoder.transformer_dim,
        transformer=decoder.transformer,
        num_multimask_outputs=num_classes,
        activation=type(decoder.output_upscaling[2]),
        iou_head_depth=iou_head.num_layers,
        iou_head_hidden_dim=iou_head.layers[0].out_features,
        use_high_res_features=decoder.use_high_res_features,
        iou_prediction_use_sigmoid=iou_head.sigmoid_output,
        dynamic_multimask_via_stability=(
            decoder.dynamic_multimask_via_stability),
        dynamic_multimask_stability_delta=(
            decoder.dynamic_multimask_stability_delta),
        dynamic_multimask_stability_thresh=(
            decoder.dynamic_multimask_stability_thresh),
        pred_obj_scores=decoder.pred_obj_scores,
        pred_obj_scores_mlp=isinstance(
            getattr(decoder, 'pred_obj_score_head', None), MLP),
        use_multimask_token_for_obj_ptr=(
            decoder.use_multimask_token_for_obj_ptr))


def build_sam2_image_embedding(config: str, image_size: int,
                               overrides: Sequence[str] = ()
                               ) -> Tuple[nn.Module, SAMArchitecture]:
    """SAM2's image encoder in the place of SAM's, and SAM2's dimensions.

    Args:
        config (str): SAM2 model name or config path (see
            :func:`resolve_sam2_config`), e.g. ``'sam2_hiera_l'``.
        image_size (int): Side of SAM2's square input.
        overrides (Sequence[str]): Further Hydra overrides (tiny test
            models). Default: ().

    Returns:
        tuple: ``SAM2ImageEmbedding`` ((B, 3, S, S) -> (B, C, S/16, S/16))
        and the :class:`SAMArchitecture` of SAM2's prompt encoder and mask
        decoder (which are SAM's modules with these dimensions; the ViT
        fields describe the Hiera's first stage).
    """
    from .sam2_image_embedding import SAM2ImageEmbedding
    model = build_sam2_model(config, image_size, overrides)
    trunk = model.image_encoder.trunk
    transformer = model.sam_mask_decoder.transformer
    arch = SAMArchitecture(
        embed_dim=trunk.blocks[0].dim,
        depth=len(trunk.blocks),
        num_heads=trunk.blocks[0].attn.num_heads,
        global_attn_indexes=tuple(trunk.global_att_blocks),
        patch_size=model.backbone_stride,
        prompt_embed_dim=model.hidden_dim,
        mask_in_chans=model.sam_prompt_encoder.mask_downscaling[3]
        .out_channels,
        decoder_depth=len(transformer.layers),
        decoder_mlp_dim=transformer.layers[0].mlp.layers[0].out_features,
        decoder_num_heads=transformer.layers[0].self_attn.num_heads,
        iou_head_hidden_dim=model.sam_mask_decoder.iou_prediction_head
        .layers[0].out_features)
    return SAM2ImageEmbedding(model.image_encoder, model.no_mem_embed), arch
