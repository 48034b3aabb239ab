"""Official SAM2 checkpoints (``{'model': state_dict}``) into the plugin.

:func:`read_sam2_checkpoint` is the one reader of these files;
:func:`load_sam2_checkpoint` loads one into a whole ``SAM2Base``,
:func:`load_sam2_image_encoder` and :func:`load_sam2_without_image_encoder`
into MemorySAM's two halves (the decoder's class tokens fitted), and
:func:`sam2_state_as_sam_layout` gives SAM's key layout for the SAM reader.
"""
import re
from typing import Callable, Dict, List, Tuple

from mmengine.logging import print_log
from torch import Tensor, nn

from .class_token_mask_decoder import fit_mask_token_rows
from .official_checkpoint import OfficialCheckpoint, fitted_tokens_note

SAM2_FILE = (
    'an official SAM2 file of the configured model (e.g. '
    'sam2_hiera_base_plus.pt for sam2_hiera_b+, sam2.1_hiera_large.pt for '
    'sam2.1_hiera_l). Fetch and verify it with `python '
    'tools/misc/download_checkpoints.py --models sam2_hiera_b+` (or the '
    'model of your sam2_config; files go to checkpoints/sam2/), or set the '
    'checkpoint to None for random weights (smoke tests only)')
# SAM2 mask-decoder parts SAM's decoder has no counterpart for (the high-
# resolution feature projections and the object-score head).
SAM2_ONLY_DECODER_PARTS = ('conv_s0.', 'conv_s1.', 'obj_score_token.',
                           'pred_obj_score_head.')
# SAM2's two-way transformer MLPs -> SAM's MLPBlock names.
SAM2_DECODER_RENAMES = (('.mlp.layers.0.', '.mlp.lin1.'),
                        ('.mlp.layers.1.', '.mlp.lin2.'))


def is_sam2_checkpoint(checkpoint: object) -> bool:
    """Whether a loaded file has the state dict under ``'model'``."""
    return isinstance(checkpoint, dict) and isinstance(
        checkpoint.get('model'), dict)


def read_sam2_checkpoint(path: str, owner: str) -> Dict[str, Tensor]:
    """The state dict of an official SAM2 file.

    Args:
        path (str): e.g. ``sam2_hiera_base_plus.pt``.
        owner (str): The module named in errors, e.g.
            ``"SAM2LoRABackbone(sam2_config='sam2_hiera_b+')"``.

    Returns:
        dict[str, Tensor]: Keys as in the file (``image_encoder.trunk...``).
    """
    file = OfficialCheckpoint(path, owner, 'SAM2')
    checkpoint = file.load(SAM2_FILE)
    if not is_sam2_checkpoint(checkpoint):
        raise ValueError(f'{file} is not an official SAM2 file (a dict with '
                         "the state dict under 'model').")
    return checkpoint['model']


def read_sam2_state(path: str, prefix: str = '') -> Dict[str, Tensor]:
    """The state dict of an official SAM2 file, keys prefixed (what a
    :class:`~fusionsam_mmseg.models.pretrained_file.PretrainedFile`
    re-reads)."""
    return {f'{prefix}{key}': value for key, value in
            read_sam2_checkpoint(path, 'PretrainedFile').items()}


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


def _load_checked(path: str, owner: str, module: nn.Module,
                  state: Dict[str, Tensor], file_state: Dict[str, Tensor],
                  may_lack: Callable[[str], bool] = lambda key: False
                  ) -> List[str]:
    """Load ``state`` (taken from ``file_state``) into ``module`` once it
    fits; return the module's keys it lacks (those ``may_lack`` accepts)."""
    OfficialCheckpoint(path, owner, 'SAM2').check_fits(
        module.state_dict(), state, describe_sam2_state(file_state),
        'sam2_config', may_lack)
    return module.load_state_dict(state, strict=False).missing_keys


def load_sam2_checkpoint(path: str, model: nn.Module, owner: str) -> None:
    """Load an official SAM2 file into a whole ``SAM2Base``.

    Args:
        path (str): e.g. ``sam2.1_hiera_large.pt``.
        model (nn.Module): The ``SAM2Base`` of the config's ``sam2_config``.
        owner (str): The module named in errors, e.g. ``'StockSAM2Head'``.
    """
    file_state = read_sam2_checkpoint(path, owner)
    _load_checked(path, owner, model, file_state, file_state)
    print_log(f"{owner}: loaded SAM2 checkpoint '{path}'.", logger='current')


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
    kept = _load_checked(path, owner, image_encoder, part, file_state,
                         lambda key: '.lora_' in key)
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
    _load_checked(path, owner, model, part, file_state)
    new_keys = [decoder_prefix + key for key in new_keys]
    print_log(
        f"{owner}: loaded SAM2 checkpoint '{path}' (all but the image "
        'encoder).' + fitted_tokens_note(
            new_keys, [decoder_prefix + key for key in dropped_keys]),
        logger='current')
    return new_keys


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
