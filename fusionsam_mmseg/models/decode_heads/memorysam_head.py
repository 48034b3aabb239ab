"""MemorySAMHead: SAM2's memory carried across modalities, one token per class.

MemorySAM (Liao et al. 2025; code: Chenfei-Liao/MemorySAM) treats the N
modalities of a scene as N frames of a video. This head is the SAM2 half
after the image encoder (:class:`SAM2LoRABackbone`), built by the installed
``sam2`` package; the frames are processed in the backbone's modality
order (docs/memorysam.md)::

    backbone levels (B, N * C, h_l, w_l), strides 4, 8, 16
      frame m = channels [m * C, (m + 1) * C) of every level
    for m = 0 .. N - 1:
      stride-16 features of frame m
        m = 0: + SAM2's no-memory embedding (the first conditioning frame)
        m > 0: SAM2 memory attention over the memories of frames 0 .. m - 1
      stride-4 / stride-8 features ─ decoder conv_s0 / conv_s1
      SAM2 mask decoder, no prompt (SAM2's "not a point" padding), one
      multimask token per class ─ class logits L_m (B, K, 4E, 4E)
      memory of frame m < N - 1: SAM2 memory encoder (stride-16 features,
      the class mask whose token has the highest predicted IoU) + object
      pointer (obj_ptr_proj of that token); every frame is stored as a
      conditioning frame, so frame m attends to all frames before it
    seg_logits = mean_m L_m           (E = image_size / 16)
    training: + PrototypeMemoryLoss on mean_m conv_s0(stride-4 features)

Trained (as the official code): the mask decoder (transformer, IoU and
object-score tokens, class tokens, upscaling, ``conv_s0`` / ``conv_s1``,
hypernetwork MLPs). Frozen and kept in eval mode: memory attention, memory
encoder, prompt encoder, ``obj_ptr_proj``, the decoder's IoU and
object-score heads, the rest of ``SAM2Base`` (memory embeddings), and the
MLP of SAM2's single-mask token 0, whose mask is never read.

Where it differs from the official code: any number N of modalities (the
official forward hard-codes 2); the class logits are not replaced by -1024
when the frozen object-score head predicts "no object" (SAM2's gate for
tracking; a class map has no absent object, and the frozen head would cut
the gradient of whole frames); SAM2Base's own embeddings stay frozen and
the frozen memory attention runs without dropout; the checkpoint's 4 mask
tokens initialise the first 4 of the 1 + K tokens instead of being
discarded. ``object_score_gate``, ``trainable_embeddings`` and
``memory_attention_dropout`` switch the official behaviour back on
(configs/memorysam/memorysam_hiera_bplus_deliver_rgbd_official.py).
"""
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from mmseg.utils import SampleList
from torch import Tensor, nn

from ..layers.frozen_parts import FrozenPartsMixin
from ..pretrained_file import PretrainedFile
from ..sam import (build_sam2_class_token_decoder, build_sam2_model,
                   load_sam2_without_image_encoder, read_sam2_state)


@MODELS.register_module()
class MemorySAMHead(FrozenPartsMixin, BaseDecodeHead):
    """SAM2 memory attention + memory encoder + class-token mask decoder.

    Args:
        in_channels (Sequence[int]): Channels of each backbone level read,
            N * C each (N modalities, C the SAM2 width, 256 for the official
            configs), e.g. ``[4 * 256] * 3``.
        num_classes (int): Number of classes K (= class tokens).
        sam2_config (str): SAM2 model name or config path in the ``sam2``
            package; the same as the backbone's. Default: 'sam2_hiera_b+'.
        sam2_overrides (Sequence[str]): Hydra overrides of that config, the
            same as the backbone's. Default: ().
        image_size (int): Side of SAM2's square input, the backbone's.
            Default: 1024.
        checkpoint (str, optional): Official SAM2 file; everything but its
            ``image_encoder.*`` is loaded in :meth:`init_weights` (the
            decoder's tokens fitted). None keeps random weights (tests).
            Default: None.
        loss_prototype (dict, optional): Config of the training-only
            :class:`PrototypeMemoryLoss` on the stride-4 features;
            ``num_classes``, ``feature_channels`` and ``ignore_index`` are
            filled in. None disables it.
            Default: ``dict(type='PrototypeMemoryLoss')``.
        in_index (Sequence[int]): Backbone levels read, high resolution
            first (as many as SAM2 uses: 3 for the official configs).
            Default: (0, 1, 2).
        object_score_gate (bool): Replace a frame's class logits by -1024
            (SAM2's ``NO_OBJ_SCORE``) where the frozen object-score head
            predicts no object, before the memory encoding and the mean,
            as SAM2's ``_forward_sam_heads`` and the official code do.
            Default: False.
        trainable_embeddings (Sequence[str]): ``SAM2Base`` parameters to
            train besides the mask decoder (the official code trains
            ``no_mem_embed``, ``maskmem_tpos_enc`` and ``no_obj_ptr`` by
            omission); checkpoints then keep them. Default: ().
        memory_attention_dropout (bool): Let the frozen memory attention
            follow the train / eval mode, so its dropout (0.1 in the SAM2
            configs) is active in training, as in the official code.
            Default: False (always eval mode).
        **kwargs: ``BaseDecodeHead`` options (``loss_decode``, ``sampler``,
            ``ignore_index``, ``align_corners``, ``init_cfg``); ``channels``
            is SAM2's width and ``dropout_ratio`` / ``input_transform`` are
            fixed.
    """

    def __init__(self,
                 *,
                 in_channels: Sequence[int],
                 num_classes: int,
                 sam2_config: str = 'sam2_hiera_b+',
                 sam2_overrides: Sequence[str] = (),
                 image_size: int = 1024,
                 checkpoint: Optional[str] = None,
                 loss_prototype: Optional[dict] = dict(
                     type='PrototypeMemoryLoss'),
                 in_index: Sequence[int] = (0, 1, 2),
                 object_score_gate: bool = False,
                 trainable_embeddings: Sequence[str] = (),
                 memory_attention_dropout: bool = False,
                 **kwargs) -> None:
        sam2 = build_sam2_model(sam2_config, image_size, sam2_overrides)
        kwargs.setdefault('init_cfg', None)
        super().__init__(
            list(in_channels),
            sam2.hidden_dim,
            num_classes=num_classes,
            in_index=list(in_index),
            input_transform='multiple_select',
            dropout_ratio=0.0,
            **kwargs)
        del self.conv_seg
        self.sam2_config = sam2_config
        self.image_size = image_size
        self.checkpoint = checkpoint
        self.num_frames = self._check_levels_config(sam2)
        # Parameter-free sine encoding of the neck (the backbone holds the
        # image encoder itself).
        self.position_encoding = sam2.image_encoder.neck.position_encoding
        sam2.image_encoder = None
        sam2.sam_mask_decoder = build_sam2_class_token_decoder(
            sam2.sam_mask_decoder, num_classes)
        self.sam2 = sam2
        self.object_score_gate = object_score_gate
        self.trainable_embeddings = self._check_embeddings(
            trainable_embeddings)
        self.memory_attention_dropout = memory_attention_dropout
        self.loss_prototype = (None if loss_prototype is None else
                               self._build_loss_prototype(loss_prototype))
        # Once the file is loaded, checkpoints leave out its frozen copies.
        self.sam2_file = PretrainedFile(
            self, 'MemorySAMHead: SAM2 checkpoint', lambda: self.checkpoint,
            lambda path: read_sam2_state(path, prefix='sam2.'))
        self.freeze_frozen_modules()
        # Frozen too, not kept in eval: SAM2Base's own embeddings (but the
        # trainable_embeddings) and the memory attention, whose mode follows
        # the head's with memory_attention_dropout.
        for name, param in self.sam2.named_parameters(recurse=False):
            param.requires_grad_(name in self.trainable_embeddings)
        self.sam2.memory_attention.requires_grad_(False)

    def _build_loss_prototype(self, cfg: dict) -> torch.nn.Module:
        """The prototype loss on the decoder's ``conv_s0`` features."""
        cfg = dict(cfg)
        cfg.setdefault('num_classes', self.num_classes)
        cfg.setdefault('feature_channels',
                       self.sam2.sam_mask_decoder.conv_s0.out_channels)
        cfg.setdefault('ignore_index', self.ignore_index)
        return MODELS.build(cfg)

    def _check_embeddings(self, names: Sequence[str]) -> Tuple[str, ...]:
        """``trainable_embeddings``, each a parameter of ``SAM2Base``."""
        available = sorted(name for name, _ in
                           self.sam2.named_parameters(recurse=False))
        unknown = [name for name in names if name not in available]
        if unknown:
            raise ValueError(
                f'MemorySAMHead: trainable_embeddings={list(names)}: '
                f'{unknown} are not parameters of SAM2Base '
                f"'{self.sam2_config}'; expected some of {available}.")
        return tuple(names)

    def _check_levels_config(self, sam2) -> int:
        """Number of frames N implied by ``in_channels``."""
        width = sam2.hidden_dim
        if not sam2.use_high_res_features_in_sam or len(
                self.in_channels) != sam2.num_feature_levels:
            raise ValueError(
                f'MemorySAMHead: in_index={self.in_index} must select the '
                f'{sam2.num_feature_levels} FPN levels SAM2 '
                f"'{self.sam2_config}' reads (high-resolution features "
                'first); a SAM2 config without high-resolution decoder '
                'features is not supported.')
        frames = {channels // width for channels in self.in_channels}
        if len(frames) != 1 or any(channels % width
                                   for channels in self.in_channels):
            raise ValueError(
                f'MemorySAMHead: in_channels={self.in_channels} must be N x '
                f'{width} (N modalities x the SAM2 width) for every level.')
        return frames.pop()

    def file_copied_keys(self) -> List[str]:
        """Keys (``sam2.*``) that stay verbatim copies of the SAM2 file: all
        but the mask decoder (trained, tokens fitted), plus its frozen
        object-score head."""
        decoder = 'sam_mask_decoder.'
        return [f'sam2.{key}' for key in self.sam2.state_dict()
                if key not in self.trainable_embeddings and (
                    not key.startswith(decoder)
                    or key.startswith(decoder + 'pred_obj_score_head.'))]

    def frozen_modules(self) -> List[nn.Module]:
        """SAM2's modules but the mask decoder (and, with
        ``memory_attention_dropout``, the memory attention), and the
        decoder's IoU head, object-score head and the MLP of SAM2's
        single-mask token 0 (its mask is never read)."""
        sam2, decoder = self.sam2, self.sam2.sam_mask_decoder
        following = [decoder]
        if self.memory_attention_dropout:
            following.append(sam2.memory_attention)
        frozen = [child for child in sam2.children()
                  if not any(child is module for module in following)]
        frozen += [decoder.iou_prediction_head,
                   decoder.output_hypernetworks_mlps[0]]
        if decoder.pred_obj_scores:
            frozen.append(decoder.pred_obj_score_head)
        return frozen

    def init_weights(self) -> None:
        """Apply ``init_cfg``, load the SAM2 checkpoint (all but the image
        encoder) if one is set, and log what trains."""
        super().init_weights()
        if self.checkpoint is not None:
            load_sam2_without_image_encoder(
                self.checkpoint, self.sam2,
                f"MemorySAMHead(sam2_config='{self.sam2_config}', "
                f'num_classes={self.num_classes})')
            self.sam2_file.loaded(self.checkpoint,
                                  self.file_copied_keys())
        counts: Dict[str, List[int]] = defaultdict(lambda: [0, 0])
        for name, param in self.sam2.named_parameters():
            parts = name.split('.')
            group = '.'.join(parts[:2] if parts[0] == 'sam_mask_decoder'
                             else parts[:1])
            counts[group][0 if param.requires_grad else 1] += param.numel()

        def listing(column: int) -> str:
            return ', '.join(f'{group} ({numbers[column]})'
                             for group, numbers in counts.items()
                             if numbers[column])

        print_log(
            f'MemorySAMHead ({self.num_frames} frames, {self.num_classes} '
            f'class tokens): trained: {listing(0)}; frozen: {listing(1)}.',
            logger='current')

    def split_frames(self, inputs: Sequence[Tensor]) -> List[List[Tensor]]:
        """Per frame, its (B, C, h_l, w_l) features of every level read."""
        levels = self._transform_inputs(inputs)
        for index, (level, channels) in enumerate(
                zip(levels, self.in_channels)):
            if level.dim() != 4 or level.shape[1] != channels:
                raise ValueError(
                    f'MemorySAMHead: backbone level {self.in_index[index]} '
                    f'has shape {tuple(level.shape)}, expected (B, '
                    f'{channels}, h, w) from in_channels={self.in_channels} '
                    f'({self.num_frames} modalities x {self.channels}). Set '
                    'model.decode_head.in_channels to the number of the '
                    "backbone's modalities x the SAM2 width.")
        embedding_size = self.sam2.sam_image_embedding_size
        if levels[-1].shape[-2:] != (embedding_size, embedding_size):
            raise ValueError(
                f'MemorySAMHead: the lowest-resolution level is '
                f'{tuple(levels[-1].shape[-2:])}, expected ({embedding_size}'
                f', {embedding_size}) for image_size={self.image_size}; set '
                'the same image_size in the backbone and the head.')
        per_level = [level.unflatten(1, (self.num_frames, -1)).unbind(1)
                     for level in levels]
        return [list(frame) for frame in zip(*per_level)]

    def forward_frames(self, inputs: Sequence[Tensor]
                       ) -> Tuple[List[Tensor], List[Tensor]]:
        """Run the frame loop.

        Args:
            inputs (Sequence[Tensor]): Backbone levels (B, N * C, h_l, w_l).

        Returns:
            tuple[list[Tensor], list[Tensor]]: Per frame, in modality order,
            the class logits (B, K, 4E, 4E) and the decoder's stride-4
            features ``conv_s0`` (B, C / 8, 4E, 4E).
        """
        memory = dict(cond_frame_outputs={}, non_cond_frame_outputs={})
        frame_logits, frame_features = [], []
        for index, levels in enumerate(self.split_frames(inputs)):
            logits, features = self.decode_frame(
                index, levels, memory, remember=index < self.num_frames - 1)
            frame_logits.append(logits)
            frame_features.append(features)
        return frame_logits, frame_features

    def decode_frame(self, index: int, levels: List[Tensor], memory: dict,
                     remember: bool = True) -> Tuple[Tensor, Tensor]:
        """Decode frame ``index`` and add its memory to ``memory``.

        Args:
            index (int): Frame (modality) position.
            levels (list[Tensor]): Its features, high resolution first.
            memory (dict): SAM2's ``output_dict`` of the frames before it.
            remember (bool): Encode this frame's memory into ``memory``
                (no later frame reads the last frame's). Default: True.

        Returns:
            tuple[Tensor, Tensor]: Class logits (B, K, 4E, 4E) and the
            stride-4 decoder features (B, C / 8, 4E, 4E).
        """
        sam2, decoder = self.sam2, self.sam2.sam_mask_decoder
        top = levels[-1]
        top_feats = [top.flatten(2).permute(2, 0, 1)]
        top_pos = [
            self.position_encoding(top).to(top.dtype).flatten(2).permute(
                2, 0, 1)
        ]
        top_size = [tuple(top.shape[-2:])]
        conditioned = sam2._prepare_memory_conditioned_features(
            frame_idx=index,
            is_init_cond_frame=index == 0,
            current_vision_feats=top_feats,
            current_vision_pos_embeds=top_pos,
            feat_sizes=top_size,
            output_dict=memory,
            num_frames=self.num_frames)
        high_res = [decoder.conv_s0(levels[0]), decoder.conv_s1(levels[1])]
        sparse, dense = sam2.sam_prompt_encoder(
            points=self._no_prompt(top), boxes=None, masks=None)
        class_logits, ious, tokens, object_scores = decoder(
            image_embeddings=conditioned,
            image_pe=sam2.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=True,
            repeat_image=False,
            high_res_features=high_res)
        if self.object_score_gate:
            class_logits = self._gate_by_object_score(class_logits,
                                                      object_scores)
        if remember:
            memory['cond_frame_outputs'][index] = self._frame_memory(
                top_feats, top_size, class_logits.float(), ious, tokens,
                object_scores)
        return class_logits.float(), high_res[0]

    @staticmethod
    def _gate_by_object_score(class_logits: Tensor,
                              object_scores: Tensor) -> Tensor:
        """(B, K, h, w) logits, all -1024 (SAM2's ``NO_OBJ_SCORE``) for the
        images whose (B, 1) object score is not positive."""
        from sam2.modeling.sam2_base import NO_OBJ_SCORE
        return torch.where(object_scores[:, :, None, None] > 0, class_logits,
                           NO_OBJ_SCORE)

    @staticmethod
    def _no_prompt(features: Tensor) -> Tuple[Tensor, Tensor]:
        """SAM2's empty prompt: one (0, 0) point labelled -1 per image."""
        batch_size = features.shape[0]
        return (features.new_zeros(batch_size, 1, 2),
                -torch.ones(batch_size, 1, dtype=torch.int32,
                            device=features.device))

    def _frame_memory(self, top_feats: List[Tensor],
                      top_size: List[Tuple[int, int]], class_logits: Tensor,
                      ious: Tensor, tokens: Tensor,
                      object_scores: Tensor) -> dict:
        """SAM2's memory of a frame: the memory encoding of the class mask
        with the highest predicted IoU (at image_size, as SAM2 encodes its
        high-resolution masks) and the object pointer of its token."""
        sam2 = self.sam2
        rows = torch.arange(class_logits.shape[0], device=class_logits.device)
        best = ious.argmax(dim=1)
        mask = F.interpolate(
            class_logits[rows, best][:, None],
            size=(self.image_size, self.image_size),
            mode='bilinear',
            align_corners=False)
        features, pos_enc = sam2._encode_new_memory(
            current_vision_feats=top_feats,
            feat_sizes=top_size,
            pred_masks_high_res=mask,
            object_score_logits=object_scores,
            is_mask_from_pts=False)
        token = tokens[rows, best] if tokens.shape[1] > 1 else tokens[:, 0]
        return dict(
            maskmem_features=features,
            maskmem_pos_enc=pos_enc,
            obj_ptr=self._object_pointer(token, object_scores))

    def _object_pointer(self, token: Tensor, object_scores: Tensor) -> Tensor:
        """(B, C) object pointer of a decoder token, mixed with SAM2's
        no-object pointer as ``SAM2Base._forward_sam_heads`` does."""
        sam2 = self.sam2
        pointer = sam2.obj_ptr_proj(token)
        if not sam2.pred_obj_scores:
            return pointer
        appearing = (object_scores.sigmoid() if sam2.soft_no_obj_ptr else
                     (object_scores > 0).float())
        if sam2.fixed_no_obj_ptr:
            pointer = appearing * pointer
        return pointer + (1 - appearing) * sam2.no_obj_ptr

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Mean over frames of the class logits (B, K, 4E, 4E)."""
        frame_logits, _ = self.forward_frames(inputs)
        return torch.stack(frame_logits).mean(dim=0)

    def loss(self, inputs: Sequence[Tensor], batch_data_samples: SampleList,
             train_cfg: dict) -> dict:
        """Segmentation losses of the mean logits (``loss_decode``, with
        the configured pixel sampler) and the prototype loss."""
        frame_logits, frame_features = self.forward_frames(inputs)
        losses = self.loss_by_feat(
            torch.stack(frame_logits).mean(dim=0), batch_data_samples)
        if self.loss_prototype is not None:
            losses[self.loss_prototype.loss_name] = self.loss_prototype(
                torch.stack(frame_features).mean(dim=0),
                self._stack_batch_gt(batch_data_samples))
        return losses
