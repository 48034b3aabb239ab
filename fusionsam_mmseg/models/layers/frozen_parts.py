"""Frozen parts of a module: no gradient, and in eval mode whatever the mode.

A module that keeps pretrained or fixed parts (a SAM image encoder, a VGG16,
a stage-1 LSTG, SAM2's memory modules) mixes in :class:`FrozenPartsMixin`,
names those parts in :meth:`~FrozenPartsMixin.frozen_modules` and calls
:meth:`~FrozenPartsMixin.freeze_frozen_modules` once they are built. From
then on ``model.train()`` leaves them in eval mode (no BatchNorm statistics,
dropout or codebook updates), as mmseg's ``norm_eval`` does for norms.
"""
from typing import List

from torch import nn


class FrozenPartsMixin(nn.Module):
    """Mix in before the module's base class (``class LSTG(FrozenPartsMixin,
    BaseModule)``) and override :meth:`frozen_modules`."""

    def frozen_modules(self) -> List[nn.Module]:
        """The modules without gradient, kept in eval mode. Default: none."""
        return []

    def freeze_frozen_modules(self) -> None:
        """Turn off the gradient of :meth:`frozen_modules` and put them in
        eval mode (call once they are built)."""
        for module in self.frozen_modules():
            module.requires_grad_(False)
            module.eval()

    def train(self, mode: bool = True) -> 'FrozenPartsMixin':
        """Set train / eval mode; :meth:`frozen_modules` stay in eval."""
        super().train(mode)
        for module in self.frozen_modules():
            module.eval()
        return self
