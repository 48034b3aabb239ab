"""SAMPromptHead: a frozen SAM image encoder prompted by fusion outputs.

Data flow (docs/architecture.md)::

    fused image (B, 3, H, W) in [0, 1]
      └─ SAM geometry (longest side -> image_size, pixel mean/std, pad)
         └─ frozen image encoder ──────────────── image embedding (E x E)
    fusion-mask logits (B, 1, h, w)
      ├─ points (top-k local maxima) + box (mask extent) ─ sparse prompts
      └─ mask-prompt path (SAM geometry on the 4E grid) ─┐
    fusion features (B, C, h, w)                         ├─ dense prompt
      └─ 1x1 projection (SAM geometry on the E grid) ────┘
    mask decoder with one output token per class
      └─ class mask logits on the 4E grid, cropped to the image
         = seg_logits (B, num_classes, h', w')

Frozen or unused SAM parameters (no gradient, ``requires_grad=False``): the
whole image encoder; ``prompt_encoder.no_mask_embed`` when the mask prompt
is given, ``prompt_encoder.mask_downscaling`` when it is not;
``prompt_encoder.point_embeddings.0`` (negative points are never produced);
``point_embeddings.1`` and ``not_a_point_embed`` when ``num_points=0``;
``point_embeddings.2/3`` when ``use_box=False``; the decoder's IoU head (the
IoU predictions are not used). Every other parameter receives a gradient
from the segmentation loss, so DDP runs with ``find_unused_parameters=False``.

Gradient into the fused image (``encoder_grad_to_input``): the paper freezes
SAM's image encoder and does not say whether the segmentation loss reaches
the fused image through it; the authors' code runs the encoder under
``torch.no_grad`` on fused images made beforehand, so it does not. That is
the default here: the fused image learns from the fusion-image loss only.
``encoder_grad_to_input=True`` lets the gradient flow through the frozen
encoder (weights still frozen, blocks under activation checkpointing) into
the fused image and the neck's image decoder; docs/benchmarks.md gives its
cost.
"""
from typing import List, Optional

from torch import Tensor, nn

from mmseg.registry import MODELS
from ..sam import SAMInputFrame
from .sam_head_base import HeadInputs
from .sam_parts_head_base import SAMPartsHeadBase


@MODELS.register_module()
class SAMPromptHead(SAMPartsHeadBase):
    """Segment Anything prompted by a fusion neck, one mask token per class.

    Consumes a neck's ``FusionNeckOutput(features, mask_logits,
    fused_image)`` and returns class mask logits. Takes every argument of
    :class:`~.sam_parts_head_base.SAMPartsHeadBase` (``sam_type='vit_h'``,
    ``encoder_cfg``, ``image_size=1024``, ``checkpoint``,
    ``with_fusion_neck=True``, ``num_points=10``, ``use_box=True``,
    ``point_peak_kernel=3``, ``gt_prompts_in_train=False``,
    ``gt_background_index=0``, ``encoder_attention='sdpa'``,
    ``encoder_autocast=None``, ``encoder_compile=False``,
    ``encoder_grad_to_input=False``) and:

    Args:
        in_channels (int): Channels C of the fusion features.
        num_classes (int): Number of classes (= class tokens).
        use_mask_prompt (bool): Give the fusion-mask logits to SAM's
            mask-prompt path. With ``num_points=0``, ``use_box=False`` and
            ``use_mask_prompt=False`` SAM receives no prompt from a fusion
            mask at all (ablation "concat instead of FMP"); the dense prompt
            from the fusion features stays. Default: True.
        **kwargs: The ``SAMPartsHeadBase`` / ``BaseDecodeHead`` options.
            ``channels`` is SAM's prompt width and ``dropout_ratio`` /
            ``input_transform`` are unused.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 *,
                 use_mask_prompt: bool = True,
                 **kwargs) -> None:
        self.use_mask_prompt = use_mask_prompt
        super().__init__(
            in_channels, num_classes, num_mask_tokens=num_classes, **kwargs)
        del self.conv_seg
        self.dense_prompt_proj = nn.Conv2d(
            in_channels, self.arch.prompt_embed_dim, kernel_size=1)
        nn.init.zeros_(self.dense_prompt_proj.weight)
        nn.init.zeros_(self.dense_prompt_proj.bias)
        self.freeze_frozen_modules()

    @property
    def reads_fusion_mask(self) -> bool:
        """Whether points, box or the mask prompt come from the fusion mask.
        """
        return self.use_mask_prompt or super().reads_fusion_mask

    def frozen_modules(self) -> List[nn.Module]:
        """The encoder and the SAM parameters no prompt reaches."""
        prompt_encoder = self.prompt_encoder
        frozen = super().frozen_modules() + [
            prompt_encoder.point_embeddings[0],
            self.mask_decoder.iou_prediction_head,
        ]
        frozen.append(prompt_encoder.no_mask_embed if self.use_mask_prompt
                      else prompt_encoder.mask_downscaling)
        if self.prompt_sampler.num_points == 0:
            frozen += [
                prompt_encoder.point_embeddings[1],
                prompt_encoder.not_a_point_embed
            ]
        if not self.prompt_sampler.use_box:
            frozen += list(prompt_encoder.point_embeddings[2:])
        return frozen

    def forward(self,
                inputs: HeadInputs,
                gt_foreground: Optional[Tensor] = None) -> Tensor:
        """Class mask logits.

        Args:
            inputs (FusionNeckOutput): The neck's features (B, C, h, w),
                fusion-mask logits (B, 1, h, w), fused image (B, 3, H, W) in
                [0, 1] (all covering the same field of view); a stock
                backbone's levels with ``with_fusion_neck=False``.
            gt_foreground (Tensor, optional): (B, H, W) bool ground-truth
                foreground, used only in training with
                ``gt_prompts_in_train=True``.

        Returns:
            Tensor: seg_logits (B, num_classes, h', w') covering the image
            (SAM's padding cropped), on SAM's low-res mask grid (4E cells
            over the padded frame).
        """
        features, mask_logits, fused_image = self.read_inputs(inputs)
        batch_size = fused_image.shape[0]
        frame = SAMInputFrame.for_image(*fused_image.shape[-2:],
                                        self.image_size)
        image_embeddings = self.encode_image(fused_image, frame)
        prompts = self.get_prompts(mask_logits, frame, gt_foreground)
        mask_prompt = (frame.paste(mask_logits, 4 * self.embedding_size)
                       if self.use_mask_prompt else None)
        sparse, dense = self.prompt_encoder(
            points=prompts.points, boxes=prompts.boxes, masks=mask_prompt)
        # Without any prompt SAM's encoder returns one (1, ...) set.
        sparse = sparse.expand(batch_size, -1, -1)
        dense = dense + frame.paste(
            self.dense_prompt_proj(features), self.embedding_size)
        masks = self.mask_decoder(image_embeddings,
                                  self.prompt_encoder.get_dense_pe(), sparse,
                                  dense)
        return frame.crop(masks)
