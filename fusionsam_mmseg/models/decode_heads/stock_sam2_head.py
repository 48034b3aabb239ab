"""StockSAM2Head: the "SAM2 on fused images" baseline (optional extra).

Segment Anything 2 (Hiera image encoder + FPN, prompt encoder, mask decoder
with high-resolution features), frozen, on the fused image of a fusion neck,
prompted like :class:`SAMPromptHead` (points + box from the fusion mask, no
dense prompt), with the same per-class readout as :class:`StockSAMHead`::

    fused image ─ frozen SAM2 image encoder ─ embedding (E x E) + FPN levels
    fusion mask ─ points + box ─ frozen SAM2 prompt encoder (no mask prompt)
    frozen SAM2 mask decoder ─ 4 mask logits (4E x 4E)
    readout: [4 mask logits, embedding upsampled] ─ 3x3 ConvModule ─ 1x1 conv

The image is placed in SAM2's square input like SAM's (longest side to
``image_size``, zero padding), so both baselines see the same geometry and
prompts. Needs the ``sam2`` package (installed by ``make install``); it is imported
only when the head is built.
"""
from typing import Dict, List, Optional, Tuple

import torch
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..sam import (MaskReadout, SAMInputFrame, build_sam2_model,
                   load_sam2_checkpoint, read_sam2_state)
from .sam_head_base import HeadInputs, SAMHeadBase

SAM2_MASK_TOKENS = 4


@MODELS.register_module()
class StockSAM2Head(SAMHeadBase):
    """Frozen stock SAM2 on the fused image with a per-class readout.

    Takes the arguments of
    :class:`~fusionsam_mmseg.models.decode_heads.sam_head_base.SAMHeadBase`
    (``image_size=1024``: the side of SAM2's square input, ``checkpoint``:
    an official SAM2 file such as ``sam2.1_hiera_large.pt``,
    ``with_fusion_neck=True``, ``num_points=10``, ``use_box=True``,
    ``point_peak_kernel=3``, ``gt_prompts_in_train=False``, ...) and:

    Args:
        in_channels (int): Channels of the fusion features (only checked;
            the prompts come from the mask).
        num_classes (int): Number of classes.
        sam2_config (str): SAM2 config in the ``sam2`` package.
            Default: 'configs/sam2.1/sam2.1_hiera_l.yaml'.
        readout_channels (int): Hidden channels of the readout. Default: 64.
        readout_with_embedding (bool): Give the readout SAM2's image
            embedding besides the 4 mask logits. Default: True.
        **kwargs: The ``SAMHeadBase`` / ``BaseDecodeHead`` options
            (``loss_decode``, ``ignore_index``, ``align_corners``,
            ``norm_cfg``, ``act_cfg``, ``init_cfg``, ...).

    The whole SAM2 is frozen and kept in eval mode.
    """

    checkpoint_format = 'SAM2'

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 *,
                 sam2_config: str = 'configs/sam2.1/sam2.1_hiera_l.yaml',
                 readout_channels: int = 64,
                 readout_with_embedding: bool = True,
                 **kwargs) -> None:
        super().__init__(
            in_channels, num_classes, channels=readout_channels, **kwargs)
        self.sam2 = build_sam2_model(sam2_config, self.image_size)
        self.freeze_frozen_modules()
        self.readout = MaskReadout(
            SAM2_MASK_TOKENS,
            self.sam2.hidden_dim if readout_with_embedding else 0,
            readout_channels, self.conv_cfg, self.norm_cfg, self.act_cfg)

    def frozen_modules(self) -> List[nn.Module]:
        """The whole SAM2."""
        return [self.sam2]

    def read_checkpoint(self, path: str) -> Dict[str, Tensor]:
        """The SAM2 file's tensors, keyed ``sam2.*``."""
        return read_sam2_state(path, prefix='sam2.')

    def load_checkpoint(self) -> List[str]:
        """Load the SAM2 file into :attr:`sam2`; return its keys."""
        load_sam2_checkpoint(self.checkpoint, self.sam2, 'StockSAM2Head')
        return [f'sam2.{key}' for key in self.sam2.state_dict()]

    def encode_image(self, fused_image: Tensor, frame: SAMInputFrame
                     ) -> Tuple[Tensor, List[Tensor]]:
        """SAM2 image embedding (B, C, E, E) and its high-res FPN levels."""
        images = frame.to_sam_input(fused_image)
        backbone_out = self.sam2.forward_image(images)
        _, vision_feats, _, feat_sizes = \
            self.sam2._prepare_backbone_features(backbone_out)
        if self.sam2.directly_add_no_mem_embed:
            vision_feats[-1] = vision_feats[-1] + self.sam2.no_mem_embed
        feats = [
            feat.permute(1, 2, 0).reshape(images.shape[0], -1, *size)
            for feat, size in zip(vision_feats, feat_sizes)
        ]
        return feats[-1], feats[:-1]

    def stock_masks(self,
                    fused_image: Tensor,
                    mask_logits: Optional[Tensor],
                    frame: SAMInputFrame,
                    gt_foreground: Optional[Tensor] = None
                    ) -> Tuple[Tensor, Tensor]:
        """SAM2's 4 mask logits (B, 4, 4E, 4E) and the image embedding."""
        prompts = self.get_prompts(mask_logits, frame, gt_foreground)
        with torch.no_grad():
            embedding, high_res = self.encode_image(fused_image, frame)
            sparse, dense = self.sam2.sam_prompt_encoder(
                points=prompts.points, boxes=prompts.boxes, masks=None)
            masks, _, _, _ = self.sam2.sam_mask_decoder.predict_masks(
                image_embeddings=embedding,
                image_pe=self.sam2.sam_prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense,
                repeat_image=False,
                high_res_features=high_res)
        return masks, embedding

    def forward(self,
                inputs: HeadInputs,
                gt_foreground: Optional[Tensor] = None) -> Tensor:
        """seg_logits (B, num_classes, h', w') from the stock SAM2 masks,
        covering the image on SAM2's low-res mask grid; the arguments are
        :meth:`StockSAMHead.forward`'s."""
        _, mask_logits, fused_image = self.read_inputs(inputs)
        frame = SAMInputFrame.for_image(*fused_image.shape[-2:],
                                        self.image_size)
        masks, embedding = self.stock_masks(fused_image, mask_logits, frame,
                                            gt_foreground)
        return self.cls_seg(self.readout(masks, embedding, frame))
