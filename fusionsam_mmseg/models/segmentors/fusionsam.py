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
- ``part_checkpoints`` loads parts (a stage-1 LSTG into the backbone, a
  trained FusionSAM's LSTG + FMP into backbone and neck) strictly from
  checkpoint files in ``init_weights``; ``freeze_fusion`` keeps backbone
  and neck frozen (the SAM-on-fused-images baselines).
"""
import os.path as osp
from itertools import accumulate
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.runner import CheckpointLoader
from mmengine.structures import PixelData
from torch import Tensor, nn

from mmseg.models.segmentors import EncoderDecoder
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import (ConfigType, OptConfigType, OptMultiConfig,
                         OptSampleList, SampleList, add_prefix)
from ..layers.frozen_parts import FrozenPartsMixin
from ..layers.image_space import input_normalization, to_unit_range
from ..necks import FusionNeckOutput

FUSION_MASK_LOSS = dict(
    type='CrossEntropyLoss',
    use_sigmoid=False,
    avg_non_ignore=True,
    loss_weight=0.4,
    loss_name='loss_fusion_mask')


@MODELS.register_module()
class FusionSAM(FrozenPartsMixin, EncoderDecoder):
    """Encoder-decoder with LSTG, fusion-mask and fused-image losses.

    The neck (FMP, ConcatFusion) returns a :class:`FusionNeckOutput`
    ``(features, mask_logits, fused_image)``; the decode head
    (SAMPromptHead) reads all three fields, the fusion losses the last two.

    Args:
        backbone, decode_head, neck, auxiliary_head, train_cfg, test_cfg,
        data_preprocessor, pretrained, init_cfg: As in ``EncoderDecoder``.
        loss_fusion_mask (dict | list[dict], optional): Loss(es) of the
            fusion-mask logits x against the object mask of
            :meth:`fusion_mask_target` (``fusion_mask_classes``); set it to
            None behind a neck that makes no fusion mask (ConcatFusion
            with ``with_mask_logits=False``). They
            see two-class logits ``[0, x]`` (B, 2, H, W) and labels (B, H, W)
            in {0, 1, ignore_index}, so softmax ``CrossEntropyLoss`` is
            exactly BCE on x and mmseg's ``DiceLoss`` works as is; both need
            ``use_sigmoid=False``. None disables it. Defaults to
            ``CrossEntropyLoss`` (BCE, mean over labelled pixels), weight
            0.4.
        loss_fusion_image (dict, optional): Loss of the fused image against
            the de-normalized sources, called as ``loss(fused, visible,
            others)`` with one tensor per non-visible modality
            (``FusionLoss``). None disables it. Defaults to
            ``dict(type='FusionLoss')``.
        fusion_mask_classes (Sequence[int], optional): Label ids that count
            as objects for the fusion mask (its training target, hence where
            the point and box prompts go): MFNet every class but
            ``unlabeled``, FMB its thing classes (the dataset configs name
            them). None: every label but ``background_index``.
            Defaults to None.
        background_index (int, optional): Used only without
            ``fusion_mask_classes``: the label that is not an object (MFNet
            ``unlabeled``); None makes every labelled pixel an object.
            Defaults to 0.
        zeroed_modalities (Sequence[int]): Modality groups (indices into the
            backbone's ``modality_channels``) set to black (raw value 0)
            before the backbone, in training and testing. Defaults to ().
        part_checkpoints (dict[str, str | None], optional): Part name
            (``'backbone'``, ``'neck'``, ...) -> checkpoint file whose
            ``<part>.*`` tensors load into that part, strictly (every tensor
            of the part, none left over), after the other weights in
            :meth:`init_weights`; None loads nothing. The paper configs give
            ``backbone=lstg_checkpoint`` (stage 1, docs/lstg.md), the
            baselines backbone and neck from ``fusionsam_checkpoint``.
            Defaults to None.
        freeze_fusion (bool): Freeze backbone and neck: no gradient, kept in
            eval mode (no BN statistics or codebook updates), run without
            autograd; their losses (the backbone's own, fusion mask, fused
            image) are not computed, so only the heads train. Defaults to
            False.
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
                 fusion_mask_classes: Optional[Sequence[int]] = None,
                 background_index: Optional[int] = 0,
                 zeroed_modalities: Sequence[int] = (),
                 part_checkpoints: Optional[Dict[str, Optional[str]]] = None,
                 freeze_fusion: bool = False) -> None:
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
        self.fusion_mask_classes = None if fusion_mask_classes is None \
            else tuple(fusion_mask_classes)
        self.background_index = background_index
        self.zeroed_modalities = tuple(zeroed_modalities)
        self.part_checkpoints = dict(part_checkpoints or {})
        self.freeze_fusion = freeze_fusion
        # encode_decode appends the fused image's 3 channels to the logits;
        # mmseg's slide inference allocates out_channels.
        self.out_channels = self.decode_head.out_channels + 3
        self._check_fusion_mask_losses()
        self._check_fusion_mask_classes()
        self._check_zeroed_modalities()
        self._check_part_checkpoints()
        self.freeze_frozen_modules()

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

    def _check_fusion_mask_classes(self) -> None:
        classes = self.fusion_mask_classes
        if classes is None:
            return
        num_classes = self.decode_head.num_classes
        bad = [c for c in classes if not 0 <= c < num_classes]
        if not classes or bad:
            raise ValueError(
                f'FusionSAM: model.fusion_mask_classes={classes} must be '
                f'label ids in [0, {num_classes}) (the decode head has '
                f'num_classes={num_classes}), at least one; {bad} are not.')

    def _check_part_checkpoints(self) -> None:
        for part in self.part_checkpoints:
            if not isinstance(getattr(self, part, None), nn.Module):
                raise ValueError(
                    f'FusionSAM: model.part_checkpoints names {part!r}, which '
                    'is no part of the model; expected backbone, neck, '
                    'decode_head or auxiliary_head.')

    def frozen_modules(self) -> List[nn.Module]:
        """With ``freeze_fusion``, backbone and (if any) neck: what makes
        the fused image."""
        if not self.freeze_fusion:
            return []
        return [self.backbone] + ([self.neck] if self.with_neck else [])

    def init_weights(self) -> None:
        """Initialise every part, then load ``part_checkpoints``."""
        super().init_weights()
        for part, path in self.part_checkpoints.items():
            if path is not None:
                self._load_part(part, path)

    def _load_part(self, part: str, path: str) -> None:
        """Load the ``<part>.*`` tensors of ``path`` into ``self.<part>``,
        strictly; raise naming the file on any mismatch."""
        setting = f"model.part_checkpoints.{part}='{path}'"
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'FusionSAM: {setting} does not exist. Expected a checkpoint '
                f'holding {part}.* tensors: the stage-1 LSTG of a paper '
                "config's lstg_checkpoint (docs/lstg.md: the two-stage "
                "recipe), the trained FusionSAM of a baseline's "
                'fusionsam_checkpoint (docs/tables.md). Without it: '
                f'--cfg-options model.part_checkpoints.{part}=None (one '
                'stage; random LSTG + FMP in a baseline).')
        checkpoint = CheckpointLoader.load_checkpoint(path, map_location='cpu')
        state = checkpoint.get('state_dict', checkpoint)
        prefix = f'{part}.'
        part_state = {key[len(prefix):]: value for key, value in state.items()
                      if key.startswith(prefix)}
        module = getattr(self, part)
        if not part_state:
            raise ValueError(
                f'FusionSAM: {setting} holds no {prefix}* tensors; expected a '
                f'checkpoint of a model whose {part} is a '
                f'{type(module).__name__}.')
        try:
            result = module.load_state_dict(part_state, strict=False)
        except RuntimeError as error:
            raise ValueError(f'FusionSAM: {setting} does not fit model.{part} '
                             f'({type(module).__name__}): {error}') from error
        if result.missing_keys or result.unexpected_keys:
            raise ValueError(
                f'FusionSAM: {setting} does not fit model.{part} '
                f'({type(module).__name__}): missing '
                f'{result.missing_keys[:5]}, unexpected '
                f'{result.unexpected_keys[:5]} (of {len(result.missing_keys)}'
                f' / {len(result.unexpected_keys)}). Build model.{part} as in '
                'the config that wrote the file.')

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

    def fusion_mask_target(self, labels: Tensor) -> Tensor:
        """Object mask the fusion mask learns, from (B, H, W) labels.

        Returns:
            Tensor: (B, H, W) long: 1 where the label is one of
            ``fusion_mask_classes`` (without them: not ``background_index``),
            0 elsewhere, the head's ``ignore_index`` where the label is.
        """
        ignore_index = self.decode_head.ignore_index
        if self.fusion_mask_classes is not None:
            target = torch.isin(
                labels, labels.new_tensor(self.fusion_mask_classes)).long()
        elif self.background_index is None:
            target = torch.ones_like(labels)
        else:
            target = (labels != self.background_index).long()
        target[labels == ignore_index] = ignore_index
        return target

    def _fusion_mask_losses(self, mask_logits: Tensor,
                            data_samples: SampleList) -> dict:
        """Fusion-mask logits (B, 1, h, w) vs :meth:`fusion_mask_target`."""
        labels = torch.stack(
            [sample.gt_sem_seg.data for sample in data_samples]).squeeze(1)
        ignore_index = self.decode_head.ignore_index
        target = self.fusion_mask_target(labels)
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
        loss = self.loss_fusion_image
        return {loss.loss_name: loss(fused_image, visible, others)}

    def _fusion_losses(self, feats: FusionNeckOutput, inputs: Tensor,
                       data_samples: SampleList) -> dict:
        losses = dict()
        if self.loss_fusion_mask is not None:
            if feats.mask_logits is None:
                raise ValueError(
                    f'FusionSAM: the neck ({type(self.neck).__name__}) makes '
                    'no fusion-mask logits, so model.loss_fusion_mask has '
                    'nothing to judge; set model.loss_fusion_mask=None (as '
                    'configs/_base_/ablations/concat_instead_of_fmp.py).')
            losses.update(
                self._fusion_mask_losses(feats.mask_logits, data_samples))
        if self.loss_fusion_image is not None:
            losses.update(self._fusion_image_loss(feats.fused_image, inputs))
        return losses

    def fuse(self, tokens: Sequence[Tensor]) -> FusionNeckOutput:
        """The fusion neck's output on the backbone's token maps."""
        feats = self.neck(tokens) if self.with_neck else tokens
        if not isinstance(feats, FusionNeckOutput):
            raise TypeError(
                'FusionSAM: model.neck must be a fusion neck returning a '
                'FusionNeckOutput (FMP, ConcatFusion); got '
                f'{type(feats).__name__} from '
                f'{type(self.neck).__name__ if self.with_neck else "no neck"}'
                '. A stock backbone + head runs under EncoderDecoder.')
        return feats

    def extract_feat(self, inputs: Tensor) -> FusionNeckOutput:
        """Backbone + fusion neck."""
        return self.fuse(self.backbone(inputs))

    def _head_losses(self, feats: FusionNeckOutput,
                     data_samples: SampleList) -> dict:
        losses = self._decode_head_forward_train(feats, data_samples)
        if self.with_auxiliary_head:
            losses.update(
                self._auxiliary_head_forward_train(feats, data_samples))
        return losses

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Backbone (LSTG) + decode/auxiliary head + fusion losses; with
        ``freeze_fusion`` the heads' losses only."""
        inputs = self._prepare_inputs(inputs, data_samples)
        if self.freeze_fusion:
            with torch.no_grad():
                feats = self.extract_feat(inputs)
            return self._head_losses(feats, data_samples)
        losses = dict()
        if hasattr(self.backbone, 'loss'):
            tokens, backbone_losses = self.backbone.loss(inputs)
            losses.update(add_prefix(backbone_losses, 'backbone'))
        else:
            tokens = self.backbone(inputs)
        feats = self.fuse(tokens)
        losses.update(self._head_losses(feats, data_samples))
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
        """Class logits and the fused image from one backbone + neck pass.

        Returns:
            Tensor: (B, num_classes [+ 3], H, W) at ``img_shape``: the decode
            head's logits, then the fused image's 3 channels (so mmseg's
            'whole' and 'slide' inference stitch both alike).
        """
        feats = self.extract_feat(inputs)
        seg_logits = self.decode_head.predict(feats, batch_img_metas,
                                              self.test_cfg)
        fused_image = resize(
            feats.fused_image,
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
        return self._attach_fused_images(outputs[:, num_classes:],
                                         data_samples)

    def _forward(self,
                 inputs: Tensor,
                 data_samples: OptSampleList = None) -> Tensor:
        """Decode head logits, after the input checks and modality zeroing."""
        return super()._forward(
            self._prepare_inputs(inputs, data_samples), data_samples)
