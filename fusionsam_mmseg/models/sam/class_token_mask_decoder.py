"""SAM's mask decoder with one output token per class.

``segment_anything``'s ``MaskDecoder`` already computes a mask for *every*
mask token (1 + 3 multimask tokens); FusionSAM's "full-fledged output tokens"
are that idea with ``num_classes`` tokens, each producing the mask logits of
one class. The stock ``predict_masks`` repeats the image embedding once per
prompt set (one image, many prompts); here every image of a batch has exactly
one prompt set, so the batch is processed as is.
"""
import re
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from segment_anything.modeling import MaskDecoder
from torch import Tensor, nn

_HYPERNETWORK_KEY = re.compile(r'output_hypernetworks_mlps\.(\d+)\.')


def _hypernetwork_index(key: str) -> Optional[int]:
    match = _HYPERNETWORK_KEY.match(key)
    return int(match.group(1)) if match else None


def _add_once(names: List[str], name: str) -> None:
    if name not in names:
        names.append(name)


class ClassTokenMaskDecoder(MaskDecoder):
    """Mask decoder whose mask tokens are class tokens.

    Args:
        num_classes (int): Number of class tokens = output masks.
        transformer_dim (int): Channel width of the two-way transformer.
        transformer (nn.Module): SAM's ``TwoWayTransformer``.
        activation (type): Activation of the upscaling path.
            Default: nn.GELU.
        iou_head_depth (int): Layers of the IoU head. Default: 3.
        iou_head_hidden_dim (int): Hidden width of the IoU head.
            Default: 256.

    The IoU token is kept in the token sequence (the official transformer was
    trained with it); the IoU head is kept so the official key layout loads,
    but its predictions are not used by :meth:`forward`.
    """

    def __init__(self,
                 *,
                 num_classes: int,
                 transformer_dim: int,
                 transformer: nn.Module,
                 activation: type = nn.GELU,
                 iou_head_depth: int = 3,
                 iou_head_hidden_dim: int = 256) -> None:
        if num_classes < 1:
            raise ValueError(
                f'ClassTokenMaskDecoder: num_classes={num_classes}, expected '
                '>= 1.')
        super().__init__(
            transformer_dim=transformer_dim,
            transformer=transformer,
            num_multimask_outputs=num_classes - 1,
            activation=activation,
            iou_head_depth=iou_head_depth,
            iou_head_hidden_dim=iou_head_hidden_dim)
        self.num_classes = num_classes
        self._token_row_keys = (
            'mask_tokens.weight',
            f'iou_prediction_head.layers.{iou_head_depth - 1}.weight',
            f'iou_prediction_head.layers.{iou_head_depth - 1}.bias',
        )

    def forward(self, image_embeddings: Tensor, image_pe: Tensor,
                sparse_prompt_embeddings: Tensor,
                dense_prompt_embeddings: Tensor) -> Tensor:
        """Predict one mask per class for every image.

        Args:
            image_embeddings (Tensor): (B, C, h, w) image-encoder output.
            image_pe (Tensor): (1, C, h, w) positional encoding.
            sparse_prompt_embeddings (Tensor): (B, N, C) point/box embeddings.
            dense_prompt_embeddings (Tensor): (B, C, h, w).

        Returns:
            Tensor: Class mask logits (B, num_classes, 4h, 4w).
        """
        masks, _ = self.predict_masks(image_embeddings, image_pe,
                                      sparse_prompt_embeddings,
                                      dense_prompt_embeddings)
        return masks

    def predict_masks(self, image_embeddings: Tensor, image_pe: Tensor,
                      sparse_prompt_embeddings: Tensor,
                      dense_prompt_embeddings: Tensor
                      ) -> Tuple[Tensor, Tensor]:
        """Batched ``MaskDecoder.predict_masks`` (one prompt set per image).

        Shapes as in :meth:`forward`.

        Returns:
            tuple[Tensor, Tensor]: Masks (B, num_classes, 4h, 4w) and IoU
            predictions (B, num_classes).
        """
        batch_size = image_embeddings.size(0)
        if sparse_prompt_embeddings.size(0) != batch_size:
            raise ValueError(
                'ClassTokenMaskDecoder: expected one prompt set per image, '
                f'got {sparse_prompt_embeddings.size(0)} prompt sets for '
                f'{batch_size} images.')
        output_tokens = torch.cat(
            [self.iou_token.weight, self.mask_tokens.weight], dim=0)
        tokens = torch.cat(
            [output_tokens.expand(batch_size, -1, -1),
             sparse_prompt_embeddings], dim=1)
        src = image_embeddings + dense_prompt_embeddings
        pos_src = image_pe.expand(batch_size, -1, -1, -1)
        _, channels, height, width = src.shape
        hidden_tokens, src = self.transformer(src, pos_src, tokens)
        iou_token_out = hidden_tokens[:, 0]
        mask_tokens_out = hidden_tokens[:, 1:1 + self.num_mask_tokens]

        src = src.transpose(1, 2).reshape(batch_size, channels, height, width)
        upscaled = self.output_upscaling(src)
        hyper_in = torch.stack([
            mlp(mask_tokens_out[:, index])
            for index, mlp in enumerate(self.output_hypernetworks_mlps)
        ], dim=1)
        masks = (hyper_in @ upscaled.flatten(2)).view(
            batch_size, -1, *upscaled.shape[-2:])
        iou_pred = self.iou_prediction_head(iou_token_out)
        return masks, iou_pred

    def fit_state_dict(self, state_dict: Dict[str, Tensor]
                       ) -> Tuple[Dict[str, Tensor], List[str], List[str]]:
        """Fit a decoder state dict with another number of mask tokens
        (:func:`fit_mask_token_rows` with this decoder's tokens)."""
        return fit_mask_token_rows(self.state_dict(), state_dict,
                                   self.num_mask_tokens, self._token_row_keys)


def fit_mask_token_rows(own: Dict[str, Tensor], state_dict: Dict[str, Tensor],
                        num_mask_tokens: int, token_row_keys: Sequence[str]
                        ) -> Tuple[Dict[str, Tensor], List[str], List[str]]:
    """Fit a mask-decoder state dict with another number of mask tokens.

    Works for SAM's and SAM2's decoders (same token-indexed entries).
    Token-indexed entries (``token_row_keys``: ``mask_tokens.weight``, the
    last IoU-head layer; and ``output_hypernetworks_mlps.<i>``) are copied
    for the tokens both have; tokens only the decoder has keep their values
    in ``own``; tokens only the checkpoint has are dropped. Other keys pass
    through unchanged (shape mismatches there are reported by the caller).

    Args:
        own (dict[str, Tensor]): The decoder's state dict.
        state_dict (dict[str, Tensor]): Keys without the decoder prefix, e.g.
            the official 4-token decoder.
        num_mask_tokens (int): Mask tokens of the decoder.
        token_row_keys (Sequence[str]): Keys whose rows are tokens.

    Returns:
        tuple: The fitted state dict, keys (``key[a:b]`` row ranges,
        ``output_hypernetworks_mlps.<i>.*`` per token MLP) that kept the
        decoder's values, and checkpoint keys that were dropped.
    """
    tokens_weight = state_dict.get('mask_tokens.weight')
    checkpoint_tokens = (tokens_weight.shape[0]
                         if tokens_weight is not None else 0)
    fitted, new_keys, dropped_keys = {}, [], []
    for key, value in state_dict.items():
        index = _hypernetwork_index(key)
        if index is not None and index >= num_mask_tokens:
            _add_once(dropped_keys, f'output_hypernetworks_mlps.{index}.*')
        elif (key in token_row_keys and key in own
              and value.shape[1:] == own[key].shape[1:]
              and value.shape[0] != own[key].shape[0]):
            fitted[key] = _merge_rows(key, own[key], value, new_keys,
                                      dropped_keys)
        else:
            fitted[key] = value
    for key, value in own.items():
        index = _hypernetwork_index(key)
        if key not in state_dict and index is not None and (
                checkpoint_tokens <= index):
            fitted[key] = value
            _add_once(new_keys, f'output_hypernetworks_mlps.{index}.*')
    return fitted, new_keys, dropped_keys


def _merge_rows(key: str, own: Tensor, loaded: Tensor, new_keys: List[str],
                dropped_keys: List[str]) -> Tensor:
    rows = min(own.shape[0], loaded.shape[0])
    merged = own.clone()
    merged[:rows] = loaded[:rows]
    if own.shape[0] > rows:
        new_keys.append(f'{key}[{rows}:{own.shape[0]}]')
    else:
        dropped_keys.append(f'{key}[{rows}:{loaded.shape[0]}]')
    return merged
