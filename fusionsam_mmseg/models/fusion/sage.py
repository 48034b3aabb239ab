"""SAGE: SAM-guided fusion distilled into a SAM-free student (CVPR 2025).

Bi-level training under the stock runner: ``optim_wrapper`` is an
``OptimWrapperDict`` with ``teacher`` and ``student`` wrappers (built by
:class:`~fusionsam_mmseg.engine.optimizers.MultiOptimWrapperConstructor`)
and :meth:`SAGE.train_step` alternates, like mmagic's GANs alternate
generator and discriminator. Even iterations update the student with the
teacher frozen; odd ones update the teacher on its fusion loss plus the
student objective seen from its side, as the official code::

    student step: L_s = fidelity_s(S; Y, IR, ref=T) + semantic(S; ref=T)
                        + 0.3 cos(feat_S, feat_T)            (T frozen)
    teacher step: L_t = fidelity_t(T; Y, IR)
                        + 0.1 [fidelity_s + semantic](T; ref=S)
                        + 0.01 cos(feat_T, feat_S)           (S frozen)

Two wrappers, not one with alternating parameter groups, because each
network has its own Adam (and lr schedule) whose moments must only move
on its own steps, and gradients of one step must never reach the other
network's parameters; the iteration parity comes from mmengine's message
hub, so ``--resume`` continues the alternation where it stopped.

Inputs (from ``LoadMultiModalImageFromFile`` + ``LoadSAMMaskPriors``): R, G, B,
infrared, then k visible and k infrared SAM masks, raw 0..255 (the data
preprocessor does not normalise; see ``to_unit_range``). Testing needs only
the first four channels: :meth:`predict` runs the student alone and
attaches ``fused_image`` (PixelData (3, H, W) in [0, 1]: the fused Y with
the visible chroma, :func:`colorize`) at the original size.
"""
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapperDict
from mmengine.structures import PixelData
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import Tensor

from ..layers.image_space import colorize, rgb_to_ycrcb, to_unit_range

SOURCE_CHANNELS = 4  # R, G, B, infrared


class SAGESources:
    """The inputs split into what the networks read, all in [0, 1].

    Attributes:
        visible_rgb (Tensor): (B, 3, H, W).
        visible_y (Tensor): (B, 1, H, W) luminance Y as OpenCV computes it
            (:func:`rgb_to_ycrcb`), what the official code trains on.
        infrared (Tensor): (B, 1, H, W).
        visible_priors (Tensor | None): (B, k, H, W) masks x Y.
        infrared_priors (Tensor | None): (B, k, H, W) masks x IR.
    """

    def __init__(self, inputs: Tensor, num_masks: int) -> None:
        self.visible_rgb = inputs[:, :3]
        self.visible_y = rgb_to_ycrcb(self.visible_rgb)[:, :1]
        self.infrared = inputs[:, 3:SOURCE_CHANNELS]
        self.visible_priors = self.infrared_priors = None
        if inputs.shape[1] > SOURCE_CHANNELS:
            masks = inputs[:, SOURCE_CHANNELS:]
            self.visible_priors = masks[:, :num_masks] * self.visible_y
            self.infrared_priors = masks[:, num_masks:] * self.infrared


@MODELS.register_module()
class SAGE(BaseModel):
    """Teacher (SPA on Y, IR and SAM priors) + SAM-free student.

    Args:
        student (dict): :class:`SAGEStudent` config.
        teacher (dict, optional): :class:`SAGETeacher` config; None builds
            the student alone (deployment: ``predict`` only).
        num_masks (int): SAM masks per modality (``LoadSAMMaskPriors``).
            Default: 4.
        sam_checkpoint (str, optional): Official SAM checkpoint whose first
            blocks are the frozen encoder of the semantic loss; None keeps
            it random (tests only). Default: None.
        loss_teacher (dict): The teacher's own fusion loss. Default:
            ``FusionFidelityLoss`` with the official weights.
        loss_student (dict): The student objective's pixel + gradient
            terms (reference = the other network). Default: official
            weights ``3 * (3, 2, 4)`` and ``3 * (9, 3)``.
        loss_semantic (dict, optional): Contrastive-semantic loss
            (``ContrastiveSemanticLoss``; ``checkpoint`` is set from
            ``sam_checkpoint``); None drops it. Default: official.
        loss_feature (dict): Feature distillation over the five levels.
            Default: ``FeatureCosineLoss`` (weight 1).
        student_feature_weight (float): Feature term in the student step.
            Default: 0.3.
        teacher_student_weight (float): Weight of the student objective in
            the teacher step. Default: 0.1.
        teacher_feature_weight (float): Feature term in the teacher step.
            Default: 0.01.
        data_preprocessor (dict, optional): Default:
            ``SegDataPreProcessor`` without normalisation.
        init_cfg (dict, optional): Initialisation config. Default: None.
    """

    def __init__(self,
                 *,
                 student: dict,
                 teacher: Optional[dict] = None,
                 num_masks: int = 4,
                 sam_checkpoint: Optional[str] = None,
                 loss_teacher: dict = dict(type='FusionFidelityLoss'),
                 loss_student: dict = dict(
                     type='FusionFidelityLoss',
                     mse_weights=(9.0, 6.0, 12.0),
                     gradient_weights=(27.0, 9.0)),
                 loss_semantic: Optional[dict] = dict(
                     type='ContrastiveSemanticLoss'),
                 loss_feature: dict = dict(type='FeatureCosineLoss'),
                 student_feature_weight: float = 0.3,
                 teacher_student_weight: float = 0.1,
                 teacher_feature_weight: float = 0.01,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor
            or dict(type='SegDataPreProcessor'),
            init_cfg=init_cfg)
        self.student = MODELS.build(student)
        self.num_masks = num_masks
        self.sam_checkpoint = sam_checkpoint
        self.teacher = None
        if teacher is not None:
            self.teacher = MODELS.build(dict(teacher, num_masks=num_masks))
            self.loss_teacher = MODELS.build(loss_teacher)
            self.loss_student = MODELS.build(loss_student)
            self.loss_semantic = None if loss_semantic is None else \
                MODELS.build(dict(loss_semantic, checkpoint=sam_checkpoint))
            self.loss_feature = MODELS.build(loss_feature)
        self.student_feature_weight = student_feature_weight
        self.teacher_student_weight = teacher_student_weight
        self.teacher_feature_weight = teacher_feature_weight

    # ------------------------------------------------------------ inputs
    def sources(self, inputs: Tensor, with_priors: bool) -> SAGESources:
        """Split preprocessed inputs; ``with_priors`` demands the masks."""
        expected = SOURCE_CHANNELS + (2 * self.num_masks if with_priors
                                      else 0)
        if inputs.shape[1] < expected or (
                with_priors and inputs.shape[1] != expected):
            raise ValueError(
                f'SAGE: inputs have {inputs.shape[1]} channels; expected '
                f'{expected}: R, G, B, infrared'
                + (f' and 2 x num_masks={self.num_masks} SAM masks '
                   f'(LoadSAMMaskPriors(num_masks={self.num_masks}) in the '
                   'train pipeline)' if with_priors else '') + '.')
        return SAGESources(
            to_unit_range(inputs, self.data_preprocessor), self.num_masks)

    def teach(self, sources: SAGESources) -> Tuple[Tensor, Tuple[Tensor]]:
        """The teacher's fused Y and features."""
        return self.teacher(sources.visible_y, sources.infrared,
                            sources.visible_priors, sources.infrared_priors)

    def fuse(self, sources: SAGESources) -> Tuple[Tensor, Tuple[Tensor]]:
        """The student's fused Y (Tanh, [-1, 1]) and features."""
        return self.student(sources.visible_y, sources.infrared)

    # ------------------------------------------------------------ losses
    def student_objective(self, fused: Tensor, reference: Tensor,
                          sources: SAGESources) -> Dict[str, Tensor]:
        """Pixel, gradient and semantic terms of ``fused`` vs
        ``reference`` (the other network's fusion, no gradient)."""
        losses = self.loss_student(fused, sources.visible_y,
                                   sources.infrared, reference)
        if self.loss_semantic is not None:
            losses['semantic'] = self.loss_semantic(
                fused, reference, sources.visible_y, sources.infrared,
                sources.visible_priors, sources.infrared_priors)
        return losses

    def student_losses(self, sources: SAGESources) -> Dict[str, Tensor]:
        """Losses of the student step (teacher frozen)."""
        with torch.no_grad():
            teacher_fused, teacher_features = self.teach(sources)
        fused, features = self.fuse(sources)
        losses = self.student_objective(fused, teacher_fused, sources)
        losses['feature'] = self.student_feature_weight * self.loss_feature(
            features, teacher_features)
        return {f'loss_student_{name}': value
                for name, value in losses.items()}

    def teacher_losses(self, sources: SAGESources) -> Dict[str, Tensor]:
        """Losses of the teacher step (student frozen)."""
        fused, features = self.teach(sources)
        losses = {f'loss_teacher_{name}': value for name, value in
                  self.loss_teacher(fused, sources.visible_y,
                                    sources.infrared).items()}
        with torch.no_grad():
            student_fused, student_features = self.fuse(sources)
        seen = self.student_objective(fused, student_fused, sources)
        for name, value in seen.items():
            losses[f'loss_teacher_student_{name}'] = \
                self.teacher_student_weight * value
        losses['loss_teacher_feature'] = self.teacher_feature_weight * \
            self.loss_feature(features, student_features)
        return losses

    # ------------------------------------------------------------ steps
    def train_step(self, data: dict,
                   optim_wrapper: OptimWrapperDict) -> Dict[str, Tensor]:
        """One student (even iteration) or teacher (odd) update."""
        if self.teacher is None:
            raise RuntimeError(
                'SAGE: built without a teacher (deployment); training needs '
                'model.teacher.')
        data = self.data_preprocessor(data, True)
        sources = self.sources(data['inputs'], with_priors=True)
        iteration = MessageHub.get_current_instance().get_info('iter', 0)
        name = 'student' if iteration % 2 == 0 else 'teacher'
        network = getattr(self, name)
        wrapper = optim_wrapper[name]
        with wrapper.optim_context(network):
            losses = self.student_losses(sources) if name == 'student' \
                else self.teacher_losses(sources)
        parsed, log_vars = self.parse_losses(losses)
        wrapper.update_params(parsed)
        return log_vars

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[List[SegDataSample]] = None,
                mode: str = 'tensor'):
        """``'predict'``: samples with ``fused_image``; ``'tensor'``: the
        student's fused Y clamped to [0, 1]; ``'loss'``: the losses of the
        step the current iteration would take (no update)."""
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            fused, _ = self.fuse(self.sources(inputs, with_priors=False))
            return fused.clamp(0.0, 1.0)
        if mode == 'loss':
            sources = self.sources(inputs, with_priors=True)
            iteration = MessageHub.get_current_instance().get_info('iter', 0)
            return self.student_losses(sources) if iteration % 2 == 0 \
                else self.teacher_losses(sources)
        raise ValueError(f"SAGE: mode='{mode}' is not one of 'loss', "
                         "'predict', 'tensor'.")

    def predict(self, inputs: Tensor,
                data_samples: Optional[List[SegDataSample]] = None
                ) -> List[SegDataSample]:
        """Attach the student's fused image (original size) to each sample.

        Args:
            inputs (Tensor): (B, >= 4, H, W) preprocessed inputs.
            data_samples (list[SegDataSample], optional): Their metainfo
                (``ori_shape``, padding) places the image; None keeps the
                input size.

        Returns:
            list[SegDataSample]: With ``fused_image`` (3, H_ori, W_ori).
        """
        sources = self.sources(inputs, with_priors=False)
        fused, _ = self.fuse(sources)
        images = colorize(fused, sources.visible_rgb)
        if data_samples is None:
            data_samples = [SegDataSample() for _ in range(len(images))]
        for image, sample in zip(images, data_samples):
            sample.fused_image = PixelData(
                data=self._original_size(image, sample.metainfo))
        return data_samples

    @staticmethod
    def _original_size(image: Tensor, metainfo: dict) -> Tensor:
        """(3, H, W) without padding, resized to ``ori_shape``."""
        left, right, top, bottom = metainfo.get(
            'img_padding_size', metainfo.get('padding_size', [0] * 4))
        height, width = image.shape[-2:]
        image = image[:, top:height - bottom, left:width - right]
        ori_shape = tuple(metainfo.get('ori_shape', image.shape[-2:]))
        if tuple(image.shape[-2:]) != ori_shape:
            image = resize(image[None], size=ori_shape, mode='bilinear',
                           align_corners=False)[0]
        return image.clamp(0.0, 1.0)
