"""StockSAMHead: the "SAM on fused images" baseline of the paper's table.

The stock Segment Anything model, frozen, run on the fused image with the
same sparse prompts as :class:`SAMPromptHead` (points + box from the fusion
mask) but without the FMP dense prompt, and with SAM's own mask decoder
(its 4 mask tokens: 1 single-mask + 3 multimask outputs, the official
checkpoint's decoder unchanged). SAM predicts class-agnostic masks, so a
small trainable per-class readout maps them to class logits::

    fused image ─ frozen image encoder ─ image embedding (E x E)
    fusion mask ─ points + box ─ frozen prompt encoder (no mask prompt)
    frozen stock mask decoder ─ 4 mask logits (4E x 4E)
    readout: [4 mask logits, image embedding upsampled] ─ 3x3 ConvModule
             ─ 1x1 conv ─ seg_logits (B, num_classes, h', w')

Only the readout (and, behind a stock backbone, the 1x1 convs that derive the
fusion mask from the features) receives gradients.
"""
from typing import List, Optional

import torch
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..sam import MaskReadout, SAMInputFrame
from .sam_head_base import HeadInputs
from .sam_parts_head_base import SAMPartsHeadBase

# segment_anything's MaskDecoder: 1 single-mask token + 3 multimask tokens.
STOCK_MASK_TOKENS = 4


@MODELS.register_module()
class StockSAMHead(SAMPartsHeadBase):
    """Frozen stock SAM on the fused image with a per-class readout.

    Takes every argument of
    :class:`~.sam_parts_head_base.SAMPartsHeadBase` (``in_channels``,
    ``num_classes``, ``sam_type='vit_h'``, ``encoder_cfg=None``,
    ``image_size=1024``, ``checkpoint=None``, ``with_fusion_neck=True``,
    ``num_points=10``, ``use_box=True``, ``encoder_attention='sdpa'``,
    ...), loads the official checkpoint the same way (here the decoder keeps
    its 4 tokens, no key is new) and adds:

    Args:
        readout_channels (int): Hidden channels of the readout.
            Default: 64.
        readout_with_embedding (bool): Also give the readout SAM's image
            embedding (bilinearly upsampled to the mask grid) besides the 4
            mask logits; without it the readout sees only the class-agnostic
            masks. Default: True.
        norm_cfg (dict, optional): Norm of the readout's ConvModule.
            Default: None.
        act_cfg (dict): Activation of the readout's ConvModule.
            Default: dict(type='ReLU').

    The whole SAM (image encoder, prompt encoder, mask decoder) is frozen and
    kept in eval mode.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 *,
                 readout_channels: int = 64,
                 readout_with_embedding: bool = True,
                 **kwargs) -> None:
        super().__init__(
            in_channels,
            num_classes,
            num_mask_tokens=STOCK_MASK_TOKENS,
            channels=readout_channels,
            **kwargs)
        self.readout = MaskReadout(
            STOCK_MASK_TOKENS,
            self.arch.prompt_embed_dim if readout_with_embedding else 0,
            readout_channels, self.conv_cfg, self.norm_cfg, self.act_cfg)
        self.freeze_frozen_modules()

    def frozen_modules(self) -> List[nn.Module]:
        """The whole SAM."""
        return [self.image_encoder, self.prompt_encoder, self.mask_decoder]

    def file_copied_modules(self) -> List[str]:
        """The whole SAM: its 4-token decoder is the checkpoint's."""
        return ['image_encoder', 'prompt_encoder', 'mask_decoder']

    def stock_masks(self, image_embeddings: Tensor, frame: SAMInputFrame,
                    mask_logits: Tensor,
                    gt_foreground: Optional[Tensor] = None) -> Tensor:
        """SAM's 4 mask logits for the sparse prompts, no gradient.

        Args:
            image_embeddings (Tensor): (B, C, E, E) frozen image embedding.
            frame (SAMInputFrame): Where the image lies in SAM's frame.
            mask_logits (Tensor): (B, 1, h, w) fusion-mask logits (prompt
                source).
            gt_foreground (Tensor, optional): (B, H, W) GT foreground, used
                only in training with ``gt_prompts_in_train``.

        Returns:
            Tensor: (B, 4, 4E, 4E) mask logits over SAM's padded frame.
        """
        prompts = self.get_prompts(mask_logits, frame, gt_foreground)
        with torch.no_grad():
            sparse, dense = self.prompt_encoder(
                points=prompts.points, boxes=prompts.boxes, masks=None)
            sparse = sparse.expand(image_embeddings.shape[0], -1, -1)
            return self.mask_decoder(image_embeddings,
                                     self.prompt_encoder.get_dense_pe(),
                                     sparse, dense)

    def forward(self,
                inputs: HeadInputs,
                gt_foreground: Optional[Tensor] = None) -> Tensor:
        """Class logits from the stock SAM masks.

        Args:
            inputs (FusionNeckOutput): As for :class:`SAMPromptHead` (the
                features feed only the fusion mask, and only with
                ``with_fusion_neck=False``).
            gt_foreground (Tensor, optional): See :meth:`stock_masks`.

        Returns:
            Tensor: seg_logits (B, num_classes, h', w') covering the image on
            SAM's low-res mask grid.
        """
        _, mask_logits, fused_image = self.read_inputs(inputs)
        frame = SAMInputFrame.for_image(*fused_image.shape[-2:],
                                        self.image_size)
        image_embeddings = self.encode_image(fused_image, frame)
        masks = self.stock_masks(image_embeddings, frame, mask_logits,
                                 gt_foreground)
        return self.cls_seg(self.readout(masks, image_embeddings, frame))
