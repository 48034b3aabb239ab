"""ContrastiveSemanticLoss: SAGE's semantic distillation through SAM.

For every SAM prior region m (a mask applied to its source image, as the
official mask stacks), the fused image F should lie closer to the
reference fusion R than to the region's source S in the feature space of a
truncated frozen SAM encoder E (the first two ViT-B blocks)::

    loss = loss_weight * sum_m d(F m, R m) / (d(F m, S m) + eps)
    d(a, b) = sum_blocks || IN(E(a)) - IN(E(b)) ||_2

with IN an instance norm without affine parameters and the norm taken over
the whole batch, as in the official code (weight 1 / 3000). Visible
regions take S = Y, infrared regions S = IR; a prior slice that is zero
over the whole batch is skipped. The encoder's weights come from an
official SAM checkpoint (``checkpoint``; None = random, tests only) and
are left out of training checkpoints (:mod:`..pretrained_file`).
"""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..layers.frozen_parts import FrozenPartsMixin
from ..pretrained_file import PretrainedFile
from ..sam import TruncatedSAMImageEncoder


@MODELS.register_module()
class ContrastiveSemanticLoss(FrozenPartsMixin, BaseModule):
    """Contrastive-semantic loss over SAM prior regions.

    Args:
        sam_type (str): SAM size of the frozen encoder. Default: 'vit_b'.
        num_blocks (int): ViT blocks of the encoder. Default: 2.
        checkpoint (str, optional): Official SAM checkpoint (keys
            ``image_encoder.*``); None keeps random weights. Default: None.
        encoder_cfg (dict, optional): Dimensions for ``sam_type='custom'``.
            Default: None.
        loss_weight (float): Weight. Default: 1 / 3000.
        eps (float): Added to the denominator. Default: 1e-7.

    ``forward(fused, reference, visible_y, infrared, visible_priors,
    infrared_priors)``: images (B, 1, H, W) in [0, 1], prior stacks
    (B, k, H, W); returns a scalar.
    """

    def __init__(self,
                 *,
                 sam_type: str = 'vit_b',
                 num_blocks: int = 2,
                 checkpoint: Optional[str] = None,
                 encoder_cfg: Optional[dict] = None,
                 loss_weight: float = 1 / 3000,
                 eps: float = 1e-7) -> None:
        super().__init__(init_cfg=None)
        self.encoder = TruncatedSAMImageEncoder(sam_type, num_blocks,
                                                encoder_cfg)
        self.freeze_frozen_modules()
        self.checkpoint = checkpoint
        self.loss_weight = loss_weight
        self.eps = eps
        self.sam_file = PretrainedFile(
            self, 'ContrastiveSemanticLoss: SAM checkpoint',
            lambda: self.checkpoint,
            lambda path: self._read_file(path))

    def _read_file(self, path: str) -> dict:
        return {f'encoder.{key}': value for key, value in
                self.encoder.read_official(path, type(self).__name__).items()}

    def init_weights(self) -> None:
        """Load the frozen encoder from ``checkpoint`` (if set)."""
        if self.checkpoint is None:
            print_log(
                'ContrastiveSemanticLoss: no SAM checkpoint, the frozen '
                'encoder keeps random weights (tests only).',
                logger='current')
            return
        tensors = self._read_file(self.checkpoint)
        self.load_state_dict(tensors, strict=False)
        self.sam_file.loaded(self.checkpoint, list(tensors))
        print_log(
            f"ContrastiveSemanticLoss: loaded the first "
            f"{len(self.encoder.blocks)} blocks of '{self.checkpoint}'.",
            logger='current')

    def frozen_modules(self) -> List[nn.Module]:
        """The truncated SAM encoder."""
        return [self.encoder]

    def _normalized_features(self, images: Tensor) -> List[Tensor]:
        """Instance-normalised encoder features of (N, 1, H, W) images."""
        return [F.instance_norm(feature)
                for feature in self.encoder(images.expand(-1, 3, -1, -1))]

    @staticmethod
    def _regions(priors: Tensor, source: Tensor
                 ) -> List[Tuple[Tensor, Tensor]]:
        """(region, source) per non-empty prior slice (B, 1, H, W)."""
        return [(priors[:, index:index + 1], source)
                for index in range(priors.shape[1])
                if torch.count_nonzero(priors[:, index])]

    def forward(self, fused: Tensor, reference: Tensor, visible_y: Tensor,
                infrared: Tensor, visible_priors: Tensor,
                infrared_priors: Tensor) -> Tensor:
        regions = self._regions(visible_priors, visible_y) + self._regions(
            infrared_priors, infrared)
        if not regions:
            return fused.sum() * 0.0
        batch = fused.shape[0]
        images = torch.cat([
            torch.cat([fused * region, reference * region, source * region])
            for region, source in regions
        ])
        features = self._normalized_features(images)
        total = 0.0
        for index in range(len(regions)):
            start = 3 * batch * index

            def distance(offset: int) -> Tensor:
                return sum(
                    torch.linalg.vector_norm(
                        level[start:start + batch] -
                        level[start + offset * batch:start +
                              (offset + 1) * batch])
                    for level in features)

            total = total + distance(1) / (distance(2) + self.eps)
        return self.loss_weight * total
