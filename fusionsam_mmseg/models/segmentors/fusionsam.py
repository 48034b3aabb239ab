"""FusionSAM segmentor: mmseg's EncoderDecoder plus the fusion losses.

Differences from :class:`mmseg.models.segmentors.EncoderDecoder`:

- ``loss()`` takes the backbone's own losses when it has a ``loss(inputs)``
  method (LSTG: VQ, reconstruction, perceptual, adversarial), and adds the
  fusion-mask auxiliary loss and the fused-image loss on the neck's outputs.
- ``predict()`` is mmseg's path (logits resized to the original image size)
  and also attaches ``data_sample.fused_image`` (PixelData (3, H_ori, W_ori),
  [0, 1]) from the same backbone + neck pass (``encode_decode`` returns
  both, so 'whole' and 'slide' inference handle them alike).
- Inputs are checked against the backbone's ``modality_channels``, and
  ``zeroed_modalities`` blacks out whole modality groups (single-modality
  baselines, applied identically in training and testing).
"""
from itertools import accumulate
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmengine.structures import PixelData
from torch import Tensor, nn

from mmseg.models.segmentors import EncoderDecoder
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import (ConfigType, OptConfigType, OptMultiConfig,
                         OptSampleList, SampleList, add_prefix)
from .input_normalization import input_normalization, to_unit_range

FUSION_MASK_LOSS = dict(
    type='CrossEntropyLoss',
    use_sigmoid=False,
    avg_non_ignore=True,
    loss_weight=0.4,
    loss_name='loss_fusion_mask')


@MODELS.register_module()
class FusionSAM(EncoderDecoder):
    """Encoder-decoder with LSTG, fusion-mask and fused-image losses.

    The neck (FMP) returns ``(fusion_features, fusion_mask_logits,
    fused_image)``; the decode head (SAMPromptHead) reads all three.

    Args:
        backbone, decode_head, neck, auxiliary_head, train_cfg, test_cfg,
        data_preprocessor, pretrained, init_cfg: As in ``EncoderDecoder``.
        loss_fusion_mask (dict | list[dict], optional): Loss(es) of the
            fusion-mask logits x against "any labelled object" (label not
            ``background_index`` and not the head's ``ignore_index``). They
            see two-class logits ``[0, x]`` (B, 2, H, W) and labels (B, H, W)
            in {0, 1, ignore_index}, so softmax ``CrossEntropyLoss`` is
            exactly BCE on x and mmseg's ``DiceLoss`` works as is; both need
            ``use_sigmoid=False``. None disables it. Defaults to
            ``CrossEntropyLoss`` (BCE, mean over labelled pixels), weight
            0.4.
        loss_fusion_image (dict, optional): Loss of the fused image against
            the de-normalized sources, called as ``loss(fused, visible,
            thermal)`` (``FusionLoss``). None disables it. Defaults to
            ``dict(type='FusionLoss')``.
        fusion_mask_index (int, optional): Index of the fusion-mask logits
            in the neck's outputs. Defaults to 1.
        fused_image_index (int, optional): Index of the fused image in the
            neck's outputs; None also stops ``predict`` from attaching
            ``fused_image``. Defaults to 2.
        background_index (int, optional): Label that is not an object
            (MFNet/FMB ``unlabeled``); None when no class is background (e.g.
            FMB's 14-class convention, where ``unlabeled`` is ignored).
            Defaults to 0.
        zeroed_modalities (Sequence[int]): Modality groups (indices into the
            backbone's ``modality_channels``) set to black (raw value 0)
            before the backbone, in training and testing. Defaults to ().
    """

    def __init__(self,
                 backbone: ConfigType,
                 decode_head: ConfigType,
                 neck: OptConfigType = None,
                 auxiliary_head: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 pretrained: Optional[str] = None,
                 init_cfg: OptMultiConfig = None,
                 *,
                 loss_fusion_mask: Union[ConfigType, List[ConfigType],
                                         None] = FUSION_MASK_LOSS,
                 loss_fusion_image: OptConfigType = dict(type='FusionLoss'),
                 fusion_mask_index: Optional[int] = 1,
                 fused_image_index: Optional[int] = 2,
                 background_index: Optional[int] = 0,
                 zeroed_modalities: Sequence[int] = ()) -> None:
        super().__init__(
            backbone=backbone,
            decode_head=decode_head,
            neck=neck,
            auxiliary_head=auxiliary_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            pretrained=pretrained,
            init_cfg=init_cfg)
        if isinstance(loss_fusion_mask, dict):
            loss_fusion_mask = [loss_fusion_mask]
        self.loss_fusion_mask = None if loss_fusion_mask is None else \
            nn.ModuleList(MODELS.build(cfg) for cfg in loss_fusion_mask)
        self.loss_fusion_image = None if loss_fusion_image is None else \
            MODELS.build(loss_fusion_image)
        self.fusion_mask_index = fusion_mask_index
        self.fused_image_index = fused_image_index
        self.background_index = background_index
        self.zeroed_modalities = tuple(zeroed_modalities)
        if fused_image_index is not None:
            # encode_decode appends the fused image's 3 channels to the
            # logits; mmseg's slide inference allocates out_channels.
            self.out_channels = self.decode_head.out_channels + 3
        self._check_fusion_mask_losses()
        self._check_zeroed_modalities()

    @property
    def modality_channels(self) -> Optional[Tuple[int, ...]]:
        """Channels per modality group, from the backbone (None if unknown)."""
        channels = getattr(self.backbone, 'modality_channels', None)
        return None if channels is None else tuple(channels)

    def _check_fusion_mask_losses(self) -> None:
        for loss in self.loss_fusion_mask or []:
            if getattr(loss, 'use_sigmoid', False):
                raise ValueError(
                    f'FusionSAM: model.loss_fusion_mask {type(loss).__name__}'
                    ' has use_sigmoid=True; the fusion-mask losses see '
                    'two-class logits [0, x] (softmax = sigmoid(x)), set '
                    'use_sigmoid=False.')

    def _check_zeroed_modalities(self) -> None:
        if not self.zeroed_modalities:
            return
        groups = self.modality_channels
        if groups is None:
            raise ValueError(
                'FusionSAM: model.zeroed_modalities needs a backbone with a '
                '`modality_channels` attribute (e.g. LSTG); '
                f'{type(self.backbone).__name__} has none.')
        bad = [i for i in self.zeroed_modalities if not 0 <= i < len(groups)]
        if bad:
            raise ValueError(
                f'FusionSAM: model.zeroed_modalities={self.zeroed_modalities}'
                f' has indices {bad} outside the {len(groups)} modality '
                f'groups of modality_channels={groups}.')

    def _modality_slices(self, num_channels: int) -> List[slice]:
        """Channel slice of each modality group (visible first)."""
        groups = self.modality_channels or (3, num_channels - 3)
        bounds = list(accumulate(groups, initial=0))
        return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]

    def _check_inputs(self, inputs: Tensor,
                      data_samples: OptSampleList) -> None:
        """Raise if inputs or metainfo disagree with the backbone."""
        expected = self.modality_channels
        if expected is None:
            return
        if inputs.shape[1] != sum(expected):
            raise ValueError(
                f'FusionSAM: inputs have {inputs.shape[1]} channels but the '
                f'backbone expects modality_channels={expected} '
                f'({sum(expected)} channels); check the dataset pipeline and '
                'the data_preprocessor mean/std.')
        for sample in data_samples or []:
            found = sample.metainfo.get('modality_channels')
            if found is not None and tuple(found) != expected:
                raise ValueError(
                    f'FusionSAM: {sample.metainfo.get("img_path", "a sample")}'
                    f' has modality_channels={tuple(found)} but the backbone '
                    f'was built with modality_channels={expected}; set '
                    'model.backbone.modality_channels to match the dataset.')

    def _prepare_inputs(self, inputs: Tensor,
                        data_samples: OptSampleList) -> Tensor:
        """Check inputs; black out ``zeroed_modalities`` (raw value 0)."""
        self._check_inputs(inputs, data_samples)
        if not self.zeroed_modalities:
            return inputs
        mean, std = input_normalization(self.data_preprocessor, inputs)
        black = (-mean / std).expand(1, inputs.shape[1], 1, 1)
        inputs = inputs.clone()
        slices = self._modality_slices(inputs.shape[1])
        for index in self.zeroed_modalities:
            channels = slices[index]
            inputs[:, channels] = black[:, channels]
        return inputs

    def _fusion_mask_losses(self, mask_logits: Tensor,
                            data_samples: SampleList) -> dict:
        """Fusion-mask logits (B, 1, h, w) vs "any labelled object"."""
        labels = torch.stack(
            [sample.gt_sem_seg.data for sample in data_samples]).squeeze(1)
        ignore_index = self.decode_head.ignore_index
        target = torch.ones_like(labels) if self.background_index is None \
            else (labels != self.background_index).long()
        target[labels == ignore_index] = ignore_index
        logits = resize(
            mask_logits,
            size=labels.shape[-2:],
            mode='bilinear',
            align_corners=self.align_corners)
        two_class_logits = torch.cat([torch.zeros_like(logits), logits], 1)
        losses = dict()
        for loss in self.loss_fusion_mask:
            value = loss(two_class_logits, target, ignore_index=ignore_index)
            losses[loss.loss_name] = losses.get(loss.loss_name, 0) + value
        return losses

    def _fusion_image_loss(self, fused_image: Tensor, inputs: Tensor) -> dict:
        """Fused image (B, 3, H', W') vs the de-normalized sources."""
        sources = to_unit_range(inputs, self.data_preprocessor)
        if fused_image.shape[-2:] != sources.shape[-2:]:
            fused_image = resize(
                fused_image,
                size=sources.shape[-2:],
                mode='bilinear',
                align_corners=self.align_corners)
        visible, *others = [
            sources[:, s] for s in self._modality_slices(sources.shape[1])
        ]
        thermal = torch.cat(others, dim=1)
        loss = self.loss_fusion_image
        return {loss.loss_name: loss(fused_image, visible, thermal)}

    def _fusion_losses(self, feats: Sequence[Tensor], inputs: Tensor,
                       data_samples: SampleList) -> dict:
        losses = dict()
        if self.loss_fusion_mask is not None and \
                self.fusion_mask_index is not None:
            losses.update(
                self._fusion_mask_losses(feats[self.fusion_mask_index],
                                         data_samples))
        if self.loss_fusion_image is not None and \
                self.fused_image_index is not None:
            losses.update(
                self._fusion_image_loss(feats[self.fused_image_index],
                                        inputs))
        return losses

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Backbone (LSTG) + decode/auxiliary head + fusion losses."""
        inputs = self._prepare_inputs(inputs, data_samples)
        losses = dict()
        if hasattr(self.backbone, 'loss'):
            tokens, backbone_losses = self.backbone.loss(inputs)
            losses.update(add_prefix(backbone_losses, 'backbone'))
        else:
            tokens = self.backbone(inputs)
        feats = self.neck(tokens) if self.with_neck else tokens
        losses.update(self._decode_head_forward_train(feats, data_samples))
        if self.with_auxiliary_head:
            losses.update(
                self._auxiliary_head_forward_train(feats, data_samples))
        losses.update(self._fusion_losses(feats, inputs, data_samples))
        return losses

    def _restore_geometry(self, image: Tensor, img_meta: dict) -> Tensor:
        """Undo padding and flip of (1, C, H, W); resize to ``ori_shape``."""
        height, width = image.shape[-2:]
        left, right, top, bottom = img_meta.get(
            'img_padding_size', img_meta.get('padding_size', [0] * 4))
        image = image[..., top:height - bottom, left:width - right]
        ori_shape = img_meta.get('ori_shape', image.shape[-2:])
        if img_meta.get('flip', False):
            direction = img_meta.get('flip_direction', 'horizontal')
            if direction not in ('horizontal', 'vertical'):
                raise ValueError(
                    f'FusionSAM: unsupported flip_direction {direction!r} in '
                    f'the metainfo of {img_meta.get("img_path")}; expected '
                    "'horizontal' or 'vertical'.")
            image = image.flip(-1 if direction == 'horizontal' else -2)
        return resize(
            image,
            size=ori_shape,
            mode='bilinear',
            align_corners=self.align_corners,
            warning=False)

    def _attach_fused_images(self, fused_images: Tensor,
                             data_samples: SampleList) -> SampleList:
        for image, sample in zip(fused_images, data_samples):
            restored = self._restore_geometry(image[None], sample.metainfo)
            sample.fused_image = PixelData(data=restored[0].clamp(0.0, 1.0))
        return data_samples

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        """Class logits and, when the neck makes one, the fused image from
        one backbone + neck pass.

        Returns:
            Tensor: (B, num_classes [+ 3], H, W) at ``img_shape``: the decode
            head's logits, then the fused image's 3 channels (so mmseg's
            'whole' and 'slide' inference stitch both alike).
        """
        feats = self.extract_feat(inputs)
        seg_logits = self.decode_head.predict(feats, batch_img_metas,
                                              self.test_cfg)
        if self.fused_image_index is None:
            return seg_logits
        fused_image = resize(
            feats[self.fused_image_index],
            size=seg_logits.shape[-2:],
            mode='bilinear',
            align_corners=self.align_corners)
        return torch.cat([seg_logits, fused_image], dim=1)

    def predict(self,
                inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """mmseg's prediction plus ``fused_image`` on every data sample
        (PixelData (3, H_ori, W_ori) in [0, 1]); every module runs once."""
        inputs = self._prepare_inputs(inputs, data_samples)
        batch_img_metas = [sample.metainfo for sample in data_samples] \
            if data_samples is not None else [
                dict(ori_shape=inputs.shape[2:], img_shape=inputs.shape[2:],
                     pad_shape=inputs.shape[2:], padding_size=[0, 0, 0, 0])
            ] * inputs.shape[0]
        outputs = self.inference(inputs, batch_img_metas)
        num_classes = self.decode_head.out_channels
        data_samples = self.postprocess_result(outputs[:, :num_classes],
                                               data_samples)
        if self.fused_image_index is None:
            return data_samples
        return self._attach_fused_images(outputs[:, num_classes:],
                                         data_samples)

    def _forward(self,
                 inputs: Tensor,
                 data_samples: OptSampleList = None) -> Tensor:
        """Decode head logits, after the input checks and modality zeroing."""
        return super()._forward(
            self._prepare_inputs(inputs, data_samples), data_samples)
