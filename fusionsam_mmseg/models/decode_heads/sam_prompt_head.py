"""SAMPromptHead: a frozen SAM image encoder prompted by fusion outputs.

Data flow (DESIGN §3)::

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
whole image encoder; ``prompt_encoder.no_mask_embed`` (a mask prompt is
always given); ``prompt_encoder.point_embeddings.0`` (negative points are
never produced); ``point_embeddings.1`` and ``not_a_point_embed`` when
``num_points=0``; ``point_embeddings.2/3`` when ``use_box=False``; the
decoder's IoU head (the IoU predictions are not used). Every other parameter
receives a gradient from the segmentation loss (some may be exactly zero,
e.g. ``not_a_point_embed`` when no point is padding), so DDP runs with
``find_unused_parameters=False``.
"""
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from mmseg.utils import SampleList
from ..utils.embedding_cache import SAMEmbeddingCache, keys_from_metainfo
from ..utils.prompt_sampler import MaskPromptSampler, Prompts, SAMInputFrame
from ..utils.sam_builder import (build_class_token_mask_decoder,
                                 build_sam_image_encoder,
                                 build_sam_prompt_encoder, load_sam_checkpoint,
                                 resolve_sam_architecture)

SAM_PIXEL_MEAN = (123.675, 116.28, 103.53)
SAM_PIXEL_STD = (58.395, 57.12, 57.375)


def check_prompt_sources(head: nn.Module, mask_logits: Tensor,
                         fused_image: Tensor) -> None:
    """Raise unless the neck gave (B, 1, h, w) mask logits and a
    (B, 3, H, W) fused image at the head's ``mask_index`` / ``image_index``.
    """
    name = type(head).__name__
    if mask_logits.dim() != 4 or mask_logits.shape[1] != 1:
        raise ValueError(
            f'{name}: inputs[mask_index={head.mask_index}] must be '
            'fusion-mask logits (B, 1, h, w), got '
            f'{tuple(mask_logits.shape)}.')
    if fused_image.dim() != 4 or fused_image.shape[1] != 3:
        raise ValueError(
            f'{name}: inputs[image_index={head.image_index}] must be a fused '
            f'image (B, 3, H, W) in [0, 1], got {tuple(fused_image.shape)}.')


@MODELS.register_module()
class SAMPromptHead(BaseDecodeHead):
    """Segment Anything prompted by a fusion neck, one mask token per class.

    Consumes a neck tuple ``(fusion_features, fusion_mask_logits,
    fused_image)`` (positions set by ``in_index`` / ``mask_index`` /
    ``image_index``) and returns class mask logits.

    Args:
        in_channels (int): Channels C of the fusion features.
        num_classes (int): Number of classes (= class tokens).
        sam_type (str): ``'vit_b'``, ``'vit_l'``, ``'vit_h'`` (official
            dimensions) or ``'custom'`` (dimensions from ``encoder_cfg``).
            Default: 'vit_h'.
        encoder_cfg (dict, optional): Dimensions for ``sam_type='custom'``:
            ``embed_dim``, ``depth``, ``num_heads``, ``global_attn_indexes``
            (required) and optionally ``window_size`` (14), ``patch_size``
            (16), ``mlp_ratio`` (4.0), ``prompt_embed_dim`` (256),
            ``mask_in_chans`` (16), ``decoder_depth`` (2),
            ``decoder_mlp_dim`` (2048), ``decoder_num_heads`` (8),
            ``iou_head_hidden_dim`` (256). See
            :class:`~fusionsam_mmseg.models.utils.sam_builder.SAMArchitecture`.
            Default: None.
        image_size (int): Side of SAM's square input (1024 for the official
            checkpoints; small for tiny test models). Default: 1024.
        checkpoint (str, optional): Official-layout SAM checkpoint
            (``sam_vit_h_4b8939.pth`` ...) loaded in :meth:`init_weights`;
            building needs no weights. Default: None.
        in_index (int): Position of the fusion features in the inputs.
            Default: 0.
        mask_index (int, optional): Position of the fusion-mask logits
            (B, 1, h, w); None derives them from the features with a 1x1
            conv (e.g. behind a stock backbone). Default: 1.
        image_index (int, optional): Position of the fused image
            (B, 3, H, W) in [0, 1]; None derives it from the features with a
            fixed (frozen) 1x1 conv averaging three channel groups + sigmoid,
            because the frozen encoder passes no gradient to its input.
            Default: 2.
        num_points (int): Point prompts per image from the fusion mask.
            Default: 10.
        use_box (bool): Add the fusion mask's box as a prompt. Default: True.
        point_peak_kernel (int): Odd window in which a point must be the
            local maximum of the mask logits. Default: 3.
        gt_prompts_in_train (bool): In training only, take the sparse prompts
            (random foreground points + box) from the ground truth's
            foreground (label not ``gt_background_index`` and not
            ``ignore_index``) instead of the fusion mask. Never used at test
            time. Default: False.
        gt_background_index (int, optional): The label that is not
            foreground for ``gt_prompts_in_train`` (MFNet/FMB ``unlabeled``
            = 0); None when no class is background (FMB's 14-class
            convention, where ``unlabeled`` is ignored). Default: 0.
        encoder_attention (str): ``'sdpa'`` (``FastImageEncoderViT``:
            scaled-dot-product attention, numerically equal to the stock
            path, same weights) or ``'stock'`` (segment_anything's
            ``ImageEncoderViT``). Default: 'sdpa'.
        encoder_autocast (str, optional): ``'bf16'`` runs the frozen encoder
            under bfloat16 autocast; None keeps fp32. Default: None.
        encoder_compile (bool): ``torch.compile`` the frozen encoder in place
            (state_dict keys unchanged). Default: False.
        embedding_cache (dict, optional): Cache the frozen encoder's
            embeddings on disk: ``SAMEmbeddingCache`` arguments
            (``cache_dir``, ``max_bytes``, optional ``when_full``,
            ``storage_dtype``, ``slots_per_shard``, ``log_interval``) plus an
            optional ``fingerprint_extra`` (str) naming what produced the
            fused images (e.g. the frozen neck's checkpoint). Keys come from
            each sample's metainfo, so the cache is valid ONLY when the fused
            image is a fixed function of the sample: frozen modules in front
            of the head and no unrecorded random transform. Training with a
            fused image that requires grad raises an error. Opened at the
            first forward (after the weights are loaded). Default: None.
        **kwargs: ``BaseDecodeHead`` options (``loss_decode``,
            ``ignore_index``, ``align_corners``, ``sampler``, ``init_cfg``,
            ...). ``channels`` is the SAM prompt width and
            ``dropout_ratio``/``input_transform`` are unused.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 *,
                 sam_type: str = 'vit_h',
                 encoder_cfg: Optional[dict] = None,
                 image_size: int = 1024,
                 checkpoint: Optional[str] = None,
                 in_index: int = 0,
                 mask_index: Optional[int] = 1,
                 image_index: Optional[int] = 2,
                 num_points: int = 10,
                 use_box: bool = True,
                 point_peak_kernel: int = 3,
                 gt_prompts_in_train: bool = False,
                 gt_background_index: Optional[int] = 0,
                 encoder_attention: str = 'sdpa',
                 encoder_autocast: Optional[str] = None,
                 encoder_compile: bool = False,
                 embedding_cache: Optional[dict] = None,
                 **kwargs) -> None:
        arch = resolve_sam_architecture(sam_type, encoder_cfg)
        kwargs.setdefault('init_cfg', None)
        if image_size % arch.patch_size:
            raise ValueError(
                f'SAMPromptHead: image_size={image_size} must be a multiple '
                f'of the patch size {arch.patch_size}.')
        super().__init__(
            in_channels,
            arch.prompt_embed_dim,
            num_classes=num_classes,
            in_index=in_index,
            dropout_ratio=0.0,
            **kwargs)
        del self.conv_seg
        self.sam_type = sam_type
        self.image_size = image_size
        self.embedding_size = image_size // arch.patch_size
        self.checkpoint = checkpoint
        self.mask_index = mask_index
        self.image_index = image_index
        self.gt_prompts_in_train = gt_prompts_in_train
        self.gt_background_index = gt_background_index
        self.prompt_sampler = MaskPromptSampler(num_points, use_box,
                                                point_peak_kernel)

        self.image_encoder = build_sam_image_encoder(
            arch, image_size, encoder_attention, encoder_autocast,
            encoder_compile)
        self.prompt_encoder = build_sam_prompt_encoder(arch, image_size)
        self.mask_decoder = build_class_token_mask_decoder(
            arch, self.out_channels)
        self.register_buffer(
            'pixel_mean', torch.tensor(SAM_PIXEL_MEAN).view(-1, 1, 1), False)
        self.register_buffer(
            'pixel_std', torch.tensor(SAM_PIXEL_STD).view(-1, 1, 1), False)
        self.dense_prompt_proj = nn.Conv2d(in_channels, arch.prompt_embed_dim,
                                           kernel_size=1)
        nn.init.zeros_(self.dense_prompt_proj.weight)
        nn.init.zeros_(self.dense_prompt_proj.bias)
        self.mask_from_features = (
            nn.Conv2d(in_channels, 1, kernel_size=1)
            if mask_index is None else None)
        self.image_from_features = (
            self._channel_group_mean(in_channels)
            if image_index is None else None)
        self._freeze_unused(num_points, use_box)
        self.embedding_cache_cfg = (
            dict(embedding_cache) if embedding_cache is not None else None)
        self._embedding_cache: Optional[SAMEmbeddingCache] = None

    @staticmethod
    def _channel_group_mean(in_channels: int) -> nn.Conv2d:
        """Frozen 1x1 conv: output channel k = mean of channel group k/3."""
        conv = nn.Conv2d(in_channels, 3, kernel_size=1, bias=False)
        weight = torch.zeros(3, in_channels)
        for row, group in enumerate(
                torch.arange(in_channels).tensor_split(3)):
            weight[row, group] = 1.0 / max(len(group), 1)
        conv.weight.data.copy_(weight[..., None, None])
        conv.requires_grad_(False)
        return conv

    def _freeze_unused(self, num_points: int, use_box: bool) -> None:
        """Freeze the encoder and the SAM parameters no prompt reaches."""
        prompt_encoder = self.prompt_encoder
        frozen: List[nn.Module] = [
            self.image_encoder,
            prompt_encoder.no_mask_embed,
            prompt_encoder.point_embeddings[0],
            self.mask_decoder.iou_prediction_head,
        ]
        if num_points == 0:
            frozen += [
                prompt_encoder.point_embeddings[1],
                prompt_encoder.not_a_point_embed
            ]
        if not use_box:
            frozen += list(prompt_encoder.point_embeddings[2:])
        for module in frozen:
            module.requires_grad_(False)
        self.image_encoder.eval()

    @property
    def embedding_cache(self) -> Optional[SAMEmbeddingCache]:
        """The embedding cache (opened on first use), or None."""
        if self.embedding_cache_cfg is None:
            return None
        if self._embedding_cache is None:
            cfg = dict(self.embedding_cache_cfg)
            extra = dict(
                source='SAMPromptHead fused image',
                image_index=self.image_index,
                fingerprint_extra=cfg.pop('fingerprint_extra', ''),
                pixel_mean=SAM_PIXEL_MEAN,
                pixel_std=SAM_PIXEL_STD)
            self._embedding_cache = SAMEmbeddingCache.for_encoder(
                self.image_encoder,
                image_size=self.image_size,
                extra=extra,
                **cfg)
        return self._embedding_cache

    def train(self, mode: bool = True) -> 'SAMPromptHead':
        """Set train/eval mode; the frozen image encoder stays in eval."""
        super().train(mode)
        self.image_encoder.eval()
        return self

    def init_weights(self) -> None:
        """Apply ``init_cfg``, then load the SAM checkpoint if one is set."""
        super().init_weights()
        if self.checkpoint is not None:
            load_sam_checkpoint(
                self.checkpoint, self.image_encoder, self.prompt_encoder,
                self.mask_decoder,
                f"SAMPromptHead(sam_type='{self.sam_type}', "
                f'image_size={self.image_size}, '
                f'num_classes={self.num_classes})')

    def _select_inputs(self, inputs: Sequence[Tensor]
                       ) -> Tuple[Tensor, Tensor, Tensor]:
        """Fusion features, fusion-mask logits and fused image."""
        features = self._transform_inputs(inputs)
        if self.mask_index is None:
            mask_logits = self.mask_from_features(features)
        else:
            mask_logits = inputs[self.mask_index]
        if self.image_index is None:
            fused_image = self.image_from_features(features).sigmoid()
        else:
            fused_image = inputs[self.image_index]
        check_prompt_sources(self, mask_logits, fused_image)
        return features, mask_logits, fused_image

    def preprocess_image(self, fused_image: Tensor,
                         frame: SAMInputFrame) -> Tensor:
        """SAM's geometry on a [0, 1] image: (B, 3, H, W) -> (B, 3, S, S).

        Longest side resized to ``image_size``, SAM pixel mean/std, zero
        padding bottom/right (after normalization, as SAM does).
        """
        resized = frame.fit(fused_image.float(), self.image_size) * 255.0
        normalized = (resized - self.pixel_mean) / self.pixel_std
        return frame.pad(normalized, self.image_size)

    def encode_image(self,
                     fused_image: Tensor,
                     frame: SAMInputFrame,
                     batch_img_metas: Optional[List[dict]] = None) -> Tensor:
        """Frozen image embedding (B, prompt_dim, E, E), no gradient.

        With an embedding cache and ``batch_img_metas``, cached embeddings
        are returned (all images of the batch must be cached) and computed
        ones are stored.
        """
        cache = (self.embedding_cache
                 if batch_img_metas is not None else None)
        if cache is not None:
            if self.training and fused_image.requires_grad:
                raise RuntimeError(
                    'SAMPromptHead: embedding_cache is set but the fused '
                    'image requires grad (the module producing it is being '
                    'trained), so cached embeddings would be stale. Freeze '
                    'that module or remove embedding_cache from the config.')
            keys = keys_from_metainfo(batch_img_metas)
            cached = cache.get(keys, device=fused_image.device)
            if cached is not None:
                return cached
        with torch.no_grad():
            embeddings = self.image_encoder(
                self.preprocess_image(fused_image, frame)).float()
        if cache is not None:
            cache.put(keys, embeddings)
        return embeddings

    def get_prompts(self,
                    mask_logits: Tensor,
                    frame: SAMInputFrame,
                    gt_foreground: Optional[Tensor] = None) -> Prompts:
        """Sparse prompts: from the fusion mask, or (training with
        ``gt_prompts_in_train`` only) from the (B, H, W) GT foreground."""
        if (gt_foreground is not None and self.training
                and self.gt_prompts_in_train):
            return self.prompt_sampler.from_foreground(gt_foreground, frame)
        return self.prompt_sampler.from_logits(mask_logits, frame)

    def forward(self,
                inputs: Sequence[Tensor],
                gt_foreground: Optional[Tensor] = None,
                batch_img_metas: Optional[List[dict]] = None) -> Tensor:
        """Class mask logits.

        Args:
            inputs (Sequence[Tensor]): Neck outputs: features (B, C, h, w),
                fusion-mask logits (B, 1, h, w), fused image (B, 3, H, W) in
                [0, 1] (all covering the same field of view).
            gt_foreground (Tensor, optional): (B, H, W) bool ground-truth
                foreground, used only in training with
                ``gt_prompts_in_train=True``.
            batch_img_metas (list[dict], optional): Image metainfo; only
                used for the embedding-cache keys.

        Returns:
            Tensor: seg_logits (B, num_classes, h', w') covering the image
            (SAM's padding cropped), on SAM's low-res mask grid (4E cells
            over the padded frame).
        """
        features, mask_logits, fused_image = self._select_inputs(inputs)
        frame = SAMInputFrame.for_image(*fused_image.shape[-2:],
                                        self.image_size)
        image_embeddings = self.encode_image(fused_image, frame,
                                             batch_img_metas)
        prompts = self.get_prompts(mask_logits, frame, gt_foreground)
        sparse, dense = self.prompt_encoder(
            points=prompts.points,
            boxes=prompts.boxes,
            masks=frame.paste(mask_logits, 4 * self.embedding_size))
        dense = dense + frame.paste(
            self.dense_prompt_proj(features), self.embedding_size)
        masks = self.mask_decoder(image_embeddings,
                                  self.prompt_encoder.get_dense_pe(), sparse,
                                  dense)
        return frame.crop(masks)

    def _gt_foreground(self, batch_data_samples: SampleList) -> Tensor:
        labels = torch.stack(
            [sample.gt_sem_seg.data[0] for sample in batch_data_samples])
        foreground = labels != self.ignore_index
        if self.gt_background_index is not None:
            foreground &= labels != self.gt_background_index
        return foreground

    def loss(self, inputs: Sequence[Tensor], batch_data_samples: SampleList,
             train_cfg: dict) -> dict:
        """Segmentation losses (``BaseDecodeHead.loss`` with GT prompts when
        ``gt_prompts_in_train``)."""
        gt_foreground = (
            self._gt_foreground(batch_data_samples)
            if self.gt_prompts_in_train else None)
        seg_logits = self.forward(
            inputs, gt_foreground,
            **self._cache_inputs(
                [sample.metainfo for sample in batch_data_samples]))
        return self.loss_by_feat(seg_logits, batch_data_samples)

    def predict(self, inputs: Sequence[Tensor], batch_img_metas: List[dict],
                test_cfg: dict) -> Tensor:
        """``BaseDecodeHead.predict``; prompts come from the fusion mask
        only (never from the ground truth)."""
        seg_logits = self.forward(inputs,
                                  **self._cache_inputs(batch_img_metas))
        return self.predict_by_feat(seg_logits, batch_img_metas)

    def _cache_inputs(self, batch_img_metas: List[dict]) -> dict:
        """``forward`` keyword for the cache keys, only when a cache is set
        (so subclasses overriding ``forward(inputs, gt_foreground)`` work
        without one)."""
        if self.embedding_cache_cfg is None:
            return {}
        return dict(batch_img_metas=batch_img_metas)
