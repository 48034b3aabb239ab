"""PrototypeMemoryLoss: MemorySAM's Semantic Prototype Memory Module (SPMM).

A training-only loss that keeps one global prototype per class (a running
average of the class's mean feature) and pulls each batch's class means
towards them, so features of a class stay consistent across images and
modalities::

    features (B, C, h, w), labels (B, H, W) -> nearest-resized to (h, w)
    batch prototype p_k = mean of the features labelled k   (classes present)
    global prototype g_k <- momentum * g_k + (1 - momentum) * p_k  (no grad)
    loss = loss_weight * mean_k,c (p_k - g_k)^2 over the classes present

Where it differs from the official code (Chenfei-Liao/MemorySAM,
``PrototypeSegmentation`` in ``train_sam2_lora.py``): only the classes
present in the batch are updated and compared (the official update drags
the prototypes of absent classes towards zero and compares them too); the
class mean is divided by the pixel count once (the official divides twice,
then rescales the loss by 256 * 256); a class seen for the first time
starts its global prototype at its batch prototype instead of at zero;
under DDP the update uses the class sums of all ranks, so every rank keeps
the same prototypes.

``official_compat=True`` computes the official formula instead, for
reproducing the released runs::

    b_k = (mean of the features labelled k) / n_k   (n_k pixels; 0 if absent)
    g_k <- momentum * g_k + (1 - momentum) * b_k    for every class (no grad)
    loss = loss_weight * 65536 * mean_k,c (b_k - g_k)^2   (after the update)

with each rank keeping its own prototypes, as the official DDP run does.
Its gradient per pixel scales as 1 / n_k^3 (ours: 1 / n_k); docs/memorysam.md
gives the measured balance of both forms against the cross-entropy.
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from mmengine.dist import all_reduce
from mmseg.registry import MODELS
from torch import Tensor, nn

# The official loss is multiplied by 256 * 256 (train_sam2_lora.py).
OFFICIAL_LOSS_SCALE = 256.0 * 256.0


@MODELS.register_module()
class PrototypeMemoryLoss(nn.Module):
    """Momentum class prototypes and the distance of a batch to them.

    Args:
        num_classes (int): Number of classes K.
        feature_channels (int): Channels C of the features (32 for the
            stride-4 features of SAM2 Hiera-B+ after the decoder's
            ``conv_s0``).
        momentum (float): Weight of the old global prototype in the update.
            Default: 0.8 (official).
        loss_weight (float): Weight of the loss. Default: 0.01, which gives
            our form the gradient balance against the OHEM cross-entropy
            that the official form (weight 1) has at the official 1024 x
            1024 crops: median gradient-norm ratios 0.041 (ours, weight 1)
            and 0.00044 (official) measured by
            tools/analysis/prototype_gradient_ratio.py (docs/memorysam.md).
            Use 1.0 with ``official_compat=True``.
        ignore_index (int): Label value that belongs to no class.
            Default: 255.
        loss_name (str): Key of the loss in the log. Default:
            'loss_prototype'.
        official_compat (bool): Compute the official formula (see the
            module docstring) instead of ours. Default: False.

    Buffers: ``prototypes`` (K, C) and ``initialised`` (K,) bool, saved in
    checkpoints so a resumed run continues with the same memory.
    """

    def __init__(self,
                 *,
                 num_classes: int,
                 feature_channels: int,
                 momentum: float = 0.8,
                 loss_weight: float = 0.01,
                 ignore_index: int = 255,
                 loss_name: str = 'loss_prototype',
                 official_compat: bool = False) -> None:
        super().__init__()
        if not 0.0 <= momentum < 1.0:
            raise ValueError(
                f'PrototypeMemoryLoss: momentum={momentum}, expected a value '
                'in [0, 1).')
        self.num_classes = num_classes
        self.feature_channels = feature_channels
        self.momentum = momentum
        self.loss_weight = loss_weight
        self.ignore_index = ignore_index
        self._loss_name = loss_name
        self.official_compat = official_compat
        self.register_buffer('prototypes',
                             torch.zeros(num_classes, feature_channels))
        self.register_buffer('initialised',
                             torch.zeros(num_classes, dtype=torch.bool))

    @property
    def loss_name(self) -> str:
        """Key of the loss in the loss dict (mmseg's loss convention)."""
        return self._loss_name

    def class_sums(self, features: Tensor,
                   labels: Tensor) -> Tuple[Tensor, Tensor]:
        """Per-class feature sums (K, C) and pixel counts (K,).

        Args:
            features (Tensor): (B, C, h, w).
            labels (Tensor): (B, H, W) or (B, 1, H, W) class indices;
                nearest-resized to (h, w).
        """
        if features.shape[1] != self.feature_channels:
            raise ValueError(
                f'PrototypeMemoryLoss: features have {features.shape[1]} '
                f'channels, expected feature_channels='
                f'{self.feature_channels}.')
        if labels.dim() == 3:
            labels = labels[:, None]
        labels = F.interpolate(labels.float(), size=features.shape[-2:],
                               mode='nearest').long().flatten()
        valid = (labels != self.ignore_index) & (labels >= 0) & (
            labels < self.num_classes)
        one_hot = F.one_hot(
            labels[valid], self.num_classes).to(features.dtype)
        pixels = features.permute(0, 2, 3, 1).flatten(0, 2)[valid]
        return one_hot.t() @ pixels, one_hot.sum(dim=0)

    def forward(self, features: Tensor, labels: Tensor) -> Tensor:
        """Update the prototypes and return the loss.

        Args:
            features (Tensor): (B, C, h, w) float features.
            labels (Tensor): (B, H, W) or (B, 1, H, W) labels.

        Returns:
            Tensor: Scalar loss (ours: 0 when no class is present).
        """
        sums, counts = self.class_sums(features.float(), labels)
        if self.official_compat:
            return self.loss_weight * self._official_loss(sums, counts)
        present = counts > 0
        batch_prototypes = sums[present] / counts[present, None]
        self._update(sums.detach(), counts)
        target = self.prototypes[present]
        loss = (batch_prototypes - target).pow(2).mean() if bool(
            present.any()) else features.sum() * 0.0
        return self.loss_weight * loss

    def _official_loss(self, sums: Tensor, counts: Tensor) -> Tensor:
        """The official loss of class sums (K, C) and counts (K,): class
        means divided by the count again, every prototype updated (absent
        classes towards 0), then 65536 x MSE against the updated ones."""
        divisor = counts.clamp(min=1)[:, None]
        batch_prototypes = sums / divisor / divisor
        with torch.no_grad():
            self.prototypes.mul_(self.momentum).add_(
                (1 - self.momentum) * batch_prototypes)
        return OFFICIAL_LOSS_SCALE * F.mse_loss(batch_prototypes,
                                                self.prototypes)

    @torch.no_grad()
    def _update(self, sums: Tensor, counts: Tensor) -> None:
        """Momentum update with the class sums of every rank."""
        sums, counts = sums.clone(), counts.clone()
        all_reduce(sums)
        all_reduce(counts)
        present = counts > 0
        means = sums[present] / counts[present, None]
        old = self.prototypes[present]
        seen = self.initialised[present, None]
        self.prototypes[present] = torch.where(
            seen, self.momentum * old + (1 - self.momentum) * means, means)
        self.initialised |= present
