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
from typing import List, Optional, Sequence, Tuple

import torch
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from torch import Tensor

from ..pretrained_file import PretrainedFile
from ..sam import (MaskPromptSampler, MaskReadout, SAMInputFrame,
                   build_sam2_model, load_sam2_checkpoint, read_sam2_state)
from .sam_head_base import check_prompt_sources

SAM2_MASK_TOKENS = 4


@MODELS.register_module()
class StockSAM2Head(BaseDecodeHead):
    """Frozen stock SAM2 on the fused image with a per-class readout.

    Args:
        in_channels (int): Channels of the fusion features (selected by
            ``in_index``; only checked, the prompts come from the mask).
        num_classes (int): Number of classes.
        sam2_config (str): SAM2 config in the ``sam2`` package.
            Default: 'configs/sam2.1/sam2.1_hiera_l.yaml'.
        checkpoint (str, optional): Official SAM2 checkpoint
            (``sam2.1_hiera_large.pt`` ..., a dict with key ``model``),
            loaded in :meth:`init_weights`. Default: None.
        image_size (int): Side of SAM2's square input. Default: 1024.
        in_index (int): Position of the fusion features. Default: 0.
        mask_index (int): Position of the fusion-mask logits (B, 1, h, w).
            Default: 1.
        image_index (int): Position of the fused image (B, 3, H, W) in
            [0, 1]. Default: 2.
        num_points (int): Point prompts per image. Default: 10.
        use_box (bool): Add the fusion mask's box prompt. Default: True.
        point_peak_kernel (int): Odd window for point maxima. Default: 3.
        readout_channels (int): Hidden channels of the readout. Default: 64.
        readout_with_embedding (bool): Give the readout SAM2's image
            embedding besides the 4 mask logits. Default: True.
        **kwargs: ``BaseDecodeHead`` options (``loss_decode``,
            ``ignore_index``, ``align_corners``, ``norm_cfg``, ``act_cfg``,
            ``init_cfg``, ...).
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 *,
                 sam2_config: str = 'configs/sam2.1/sam2.1_hiera_l.yaml',
                 checkpoint: Optional[str] = None,
                 image_size: int = 1024,
                 in_index: int = 0,
                 mask_index: int = 1,
                 image_index: int = 2,
                 num_points: int = 10,
                 use_box: bool = True,
                 point_peak_kernel: int = 3,
                 readout_channels: int = 64,
                 readout_with_embedding: bool = True,
                 **kwargs) -> None:
        kwargs.setdefault('init_cfg', None)
        super().__init__(
            in_channels,
            readout_channels,
            num_classes=num_classes,
            in_index=in_index,
            dropout_ratio=0.0,
            **kwargs)
        self.checkpoint = checkpoint
        self.image_size = image_size
        self.mask_index = mask_index
        self.image_index = image_index
        self.prompt_sampler = MaskPromptSampler(num_points, use_box,
                                                point_peak_kernel)
        self.sam2 = build_sam2_model(sam2_config, image_size)
        self.sam2.requires_grad_(False)
        self.sam2_file = PretrainedFile(
            self, 'StockSAM2Head: SAM2 checkpoint', lambda: self.checkpoint,
            lambda path: read_sam2_state(path, prefix='sam2.'))
        self.readout = MaskReadout(
            SAM2_MASK_TOKENS,
            self.sam2.hidden_dim if readout_with_embedding else 0,
            readout_channels, self.conv_cfg, self.norm_cfg, self.act_cfg)

    def train(self, mode: bool = True) -> 'StockSAM2Head':
        """Set train/eval mode; the frozen SAM2 stays in eval mode."""
        super().train(mode)
        self.sam2.eval()
        return self

    def init_weights(self) -> None:
        """Apply ``init_cfg``, then load the SAM2 checkpoint if one is set."""
        super().init_weights()
        if self.checkpoint is not None:
            load_sam2_checkpoint(self.checkpoint, self.sam2, 'StockSAM2Head')
            self.sam2_file.loaded(
                self.checkpoint,
                [f'sam2.{key}' for key in self.sam2.state_dict()])

    def _select_inputs(self, inputs: Sequence[Tensor]
                       ) -> Tuple[Tensor, Tensor]:
        """Fusion-mask logits (B, 1, h, w) and fused image (B, 3, H, W)."""
        mask_logits = inputs[self.mask_index]
        fused_image = inputs[self.image_index]
        check_prompt_sources(self, mask_logits, fused_image)
        return mask_logits, fused_image

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

    def stock_masks(self, fused_image: Tensor, mask_logits: Tensor,
                    frame: SAMInputFrame) -> Tuple[Tensor, Tensor]:
        """SAM2's 4 mask logits (B, 4, 4E, 4E) and the image embedding."""
        prompts = self.prompt_sampler.from_logits(mask_logits, frame)
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

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Class logits from the stock SAM2 masks.

        Args:
            inputs (Sequence[Tensor]): Neck outputs: fusion features,
                fusion-mask logits (B, 1, h, w), fused image (B, 3, H, W).

        Returns:
            Tensor: seg_logits (B, num_classes, h', w') covering the image on
            SAM2's low-res mask grid.
        """
        mask_logits, fused_image = self._select_inputs(inputs)
        frame = SAMInputFrame.for_image(*fused_image.shape[-2:],
                                        self.image_size)
        masks, embedding = self.stock_masks(fused_image, mask_logits, frame)
        return self.cls_seg(self.readout(masks, embedding, frame))
