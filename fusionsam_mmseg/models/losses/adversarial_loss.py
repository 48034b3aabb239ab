"""Adversarial (GAN) loss with its own PatchGAN discriminator.

Both players are trained by ONE backward pass under one optimizer, so the
stock mmengine runner (``OptimWrapper``, stock ``tools/train.py``) trains a
GAN without a custom train step:

* discriminator term: the discriminator scores the real images and
  ``fake.detach()``, so its gradient reaches only the discriminator;
* generator term: the discriminator is evaluated through
  :func:`torch.func.functional_call` with *detached* copies of its
  parameters, so its gradient reaches only the generator (through ``fake``).

Summing both terms and stepping one optimizer over all parameters is then a
simultaneous gradient step of the two players. This keeps one optimizer,
one ``optim_wrapper`` entry and one checkpoint layout; the discriminator's
learning rate can still differ through ``paramwise_cfg.custom_keys``
(its parameters are named ``...discriminator...``). An
``OptimWrapperDict`` with alternating steps would need a custom
``train_step`` in every segmentor that uses LSTG, which is why it was not
chosen.

Both terms are 0 before ``start_iter`` (read from mmengine's
``MessageHub`` ``iter`` info when not passed); the zero discriminator term
stays connected to the discriminator's parameters, so DDP without
``find_unused_parameters`` sees all of them used.
"""
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

GAN_TYPES = ('hinge', 'vanilla', 'lsgan')


def generator_loss_from_logits(fake_logits: Tensor, gan_type: str) -> Tensor:
    """Generator loss given the discriminator's logits on fakes.

    Args:
        fake_logits (Tensor): discriminator output for generated images.
        gan_type (str): 'hinge', 'vanilla' or 'lsgan'.

    Returns:
        Tensor: scalar; lower when the discriminator scores fakes as real.
    """
    if gan_type == 'hinge':
        return -fake_logits.mean()
    if gan_type == 'vanilla':
        return F.softplus(-fake_logits).mean()
    return (fake_logits - 1.0).pow(2).mean()


def discriminator_loss_from_logits(real_logits: Tensor, fake_logits: Tensor,
                                   gan_type: str) -> Tensor:
    """Discriminator loss given its logits on real and generated images.

    Args:
        real_logits (Tensor): discriminator output for real images.
        fake_logits (Tensor): discriminator output for generated images.
        gan_type (str): 'hinge', 'vanilla' or 'lsgan'.

    Returns:
        Tensor: scalar; lower when reals score high and fakes low.
    """
    if gan_type == 'hinge':
        real_term = F.relu(1.0 - real_logits).mean()
        fake_term = F.relu(1.0 + fake_logits).mean()
    elif gan_type == 'vanilla':
        real_term = F.softplus(-real_logits).mean()
        fake_term = F.softplus(fake_logits).mean()
    else:
        real_term = (real_logits - 1.0).pow(2).mean()
        fake_term = fake_logits.pow(2).mean()
    return 0.5 * (real_term + fake_term)


@MODELS.register_module()
class AdversarialLoss(BaseModule):
    """GAN loss (hinge / vanilla / least-squares) with a discriminator.

    Args:
        discriminator (dict): Config of the discriminator.
            Default: ``dict(type='PatchDiscriminator')``.
        gan_type (str): 'hinge', 'vanilla' or 'lsgan'. Default: 'hinge'.
        loss_weight (float): Weight of the generator term. Default: 0.1.
        disc_loss_weight (float): Weight of the discriminator term.
            Default: 1.0.
        start_iter (int): First training iteration with a non-zero
            adversarial loss. Default: 0.
        loss_name (str): Prefix of the two keys this loss returns,
            ``{loss_name}_g`` and ``{loss_name}_d``. Default: 'loss_adv'.
        init_cfg (dict, optional): Initialization config. Default: None.
    """

    def __init__(self,
                 *,
                 discriminator: dict = dict(type='PatchDiscriminator'),
                 gan_type: str = 'hinge',
                 loss_weight: float = 0.1,
                 disc_loss_weight: float = 1.0,
                 start_iter: int = 0,
                 loss_name: str = 'loss_adv',
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if gan_type not in GAN_TYPES:
            raise ValueError(f'AdversarialLoss: gan_type must be one of '
                             f'{GAN_TYPES}, got {gan_type!r}.')
        self.discriminator = MODELS.build(discriminator)
        self.gan_type = gan_type
        self.loss_weight = loss_weight
        self.disc_loss_weight = disc_loss_weight
        self.start_iter = start_iter
        self._loss_name = loss_name

    def forward(self,
                real: Tensor,
                fake: Tensor,
                cur_iter: Optional[int] = None) -> Dict[str, Tensor]:
        """Generator and discriminator terms for one batch.

        Args:
            real (Tensor): (B, C, H, W) real images.
            fake (Tensor): (B, C, H, W) generated images (with their graph).
            cur_iter (int, optional): Current iteration; read from the
                MessageHub ``iter`` info when None (0 when absent).

        Returns:
            dict[str, Tensor]: ``{loss_name}_g`` (gradient only to the
            generator) and ``{loss_name}_d`` (gradient only to the
            discriminator).
        """
        if real.shape != fake.shape:
            raise ValueError('AdversarialLoss: real and fake must have the '
                             f'same shape, got {tuple(real.shape)} and '
                             f'{tuple(fake.shape)}.')
        if cur_iter is None:
            cur_iter = MessageHub.get_current_instance().get_info('iter', 0)
        if cur_iter < self.start_iter:
            generator_loss = fake.new_zeros(())
            discriminator_loss = self._zero_discriminator_loss()
        else:
            generator_loss = self.generator_loss(fake)
            discriminator_loss = self.discriminator_loss(real, fake)
        return {
            f'{self._loss_name}_g': generator_loss,
            f'{self._loss_name}_d': discriminator_loss
        }

    def generator_loss(self, fake: Tensor) -> Tensor:
        """Weighted generator term; the discriminator gets no gradient."""
        detached_params = {
            name: param.detach()
            for name, param in self.discriminator.named_parameters()
        }
        fake_logits = torch.func.functional_call(self.discriminator,
                                                 detached_params, (fake, ))
        return self.loss_weight * generator_loss_from_logits(
            fake_logits, self.gan_type)

    def discriminator_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        """Weighted discriminator term; the generator gets no gradient."""
        real_logits = self.discriminator(real.detach())
        fake_logits = self.discriminator(fake.detach())
        return self.disc_loss_weight * discriminator_loss_from_logits(
            real_logits, fake_logits, self.gan_type)

    def _zero_discriminator_loss(self) -> Tensor:
        return sum(param.sum() for param in
                   self.discriminator.parameters()) * 0.0

    @property
    def loss_name(self) -> str:
        """Prefix of the two loss keys."""
        return self._loss_name
