"""VQ-GAN loss family: VQ, reconstruction, perceptual, adversarial."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmseg.registry import METRICS, MODELS

import fusionsam_mmseg  # noqa: F401  (registers the components)
from fusionsam_mmseg.models.losses.adversarial_loss import (
    GAN_TYPES, discriminator_loss_from_logits, generator_loss_from_logits)


def test_registry_lists_the_lstg_family():
    for name in ('LSTG', 'VQLoss', 'ReconstructionLoss', 'PerceptualLoss',
                 'AdversarialLoss', 'PatchDiscriminator', 'LSTGAutoencoder'):
        assert MODELS.get(name) is not None, name
    assert METRICS.get('ReconstructionMetric') is not None


def test_vq_loss_is_codebook_plus_beta_commitment():
    latents = torch.randn(2, 4, 3, 3, requires_grad=True)
    codes = torch.randn(2, 4, 3, 3, requires_grad=True)
    loss = MODELS.build(dict(type='VQLoss', beta=0.25, loss_weight=2.0))
    value = loss(latents, codes)
    mse = F.mse_loss(latents, codes)
    assert torch.isclose(value, 2.0 * 1.25 * mse)
    value.backward()
    # commitment (beta) term drives the latents, codebook term the codes
    assert torch.allclose(latents.grad, -0.25 * codes.grad)
    assert loss.loss_name == 'loss_vq'


@pytest.mark.parametrize('criterion,reference', [('l1', F.l1_loss),
                                                 ('mse', F.mse_loss)])
def test_reconstruction_loss(criterion, reference):
    pred, target = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    loss = MODELS.build(
        dict(type='ReconstructionLoss', criterion=criterion,
             loss_weight=0.5))
    assert torch.isclose(loss(pred, target), 0.5 * reference(pred, target))
    with pytest.raises(ValueError, match='same shape'):
        loss(pred, target[:, :1])


def test_reconstruction_loss_rejects_unknown_criterion():
    with pytest.raises(ValueError, match="criterion must be one of.*'l3'"):
        MODELS.build(dict(type='ReconstructionLoss', criterion='l3'))


def test_perceptual_loss_refuses_random_vgg_weights():
    with pytest.raises(ValueError, match='PerceptualLoss needs VGG16'):
        MODELS.build(dict(type='PerceptualLoss'))


def _vgg_checkpoint(tmp_path):
    source = MODELS.build(
        dict(type='PerceptualLoss', allow_random_init=True,
             layer_weights=(1.0, 1.0, 0.0, 0.0, 0.0)))
    path = tmp_path / 'vgg16.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in
                               source.vgg.state_dict().items()}}, path)
    return source, path


def test_perceptual_loss_loads_vgg_from_init_cfg(tmp_path):
    source, path = _vgg_checkpoint(tmp_path)
    loss = MODELS.build(
        dict(type='PerceptualLoss', layer_weights=(1.0, 1.0, 0.0, 0.0, 0.0),
             init_cfg=dict(type='Pretrained', checkpoint=str(path),
                           prefix='backbone.')))
    pred = torch.rand(1, 3, 32, 32, requires_grad=True)
    with pytest.raises(RuntimeError, match='not been loaded'):
        loss(pred, pred)
    loss.init_weights()
    for key, value in source.vgg.state_dict().items():
        assert torch.equal(loss.vgg.state_dict()[key], value), key
    target = torch.rand(1, 3, 32, 32)
    value = loss(pred, target)
    value.backward()
    assert value > 0 and float(loss(target, target)) == 0.0
    assert pred.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.vgg.parameters())
    assert float(loss(target[:, :1], target[:, :1])) == 0.0


def test_perceptual_loss_checkpoint_without_vgg_keys_is_an_error(tmp_path):
    _, path = _vgg_checkpoint(tmp_path)
    loss = MODELS.build(
        dict(type='PerceptualLoss',
             init_cfg=dict(type='Pretrained', checkpoint=str(path))))
    with pytest.raises(KeyError, match="lacks VGG16 weights.*prefix ''"):
        loss.init_weights()


@pytest.mark.parametrize('with_spectral_norm', [False, True])
def test_patch_discriminator_shapes(with_spectral_norm):
    disc = MODELS.build(
        dict(type='PatchDiscriminator', in_channels=4, base_channels=8,
             num_layers=3, with_spectral_norm=with_spectral_norm))
    assert disc(torch.randn(2, 4, 48, 64)).shape == (2, 1, 4, 6)
    has_bn = any(isinstance(m, nn.BatchNorm2d) for m in disc.modules())
    assert has_bn != with_spectral_norm
    names = [n for n, _ in disc.named_parameters()]
    assert any(n.endswith('weight_orig') for n in names) == with_spectral_norm


@pytest.mark.parametrize('gan_type', GAN_TYPES)
def test_generator_loss_falls_when_the_discriminator_is_fooled(gan_type):
    fooled = generator_loss_from_logits(torch.full((4, ), 3.0), gan_type)
    caught = generator_loss_from_logits(torch.full((4, ), -3.0), gan_type)
    assert fooled < caught
    good = discriminator_loss_from_logits(
        torch.full((4, ), 3.0), torch.full((4, ), -3.0), gan_type)
    bad = discriminator_loss_from_logits(
        torch.full((4, ), -3.0), torch.full((4, ), 3.0), gan_type)
    assert good < bad


def _adversarial_loss(gan_type='hinge', **disc_kwargs):
    return MODELS.build(
        dict(type='AdversarialLoss', gan_type=gan_type, loss_weight=1.0,
             discriminator=dict(type='PatchDiscriminator', in_channels=4,
                                base_channels=8, num_layers=2,
                                **disc_kwargs)))


@pytest.mark.parametrize('gan_type', GAN_TYPES)
def test_module_generator_loss_follows_the_discriminator_verdict(gan_type):
    adv = _adversarial_loss(gan_type).eval()
    last_conv = adv.discriminator.layers[-1].conv
    fake = torch.randn(2, 4, 32, 32)
    values = {}
    for verdict, bias in (('real', 2.0), ('fake', -2.0)):
        with torch.no_grad():
            last_conv.weight.zero_()
            last_conv.bias.fill_(bias)
        values[verdict] = float(adv.generator_loss(fake))
    assert values['real'] < values['fake']


@pytest.mark.parametrize('with_spectral_norm', [False, True])
def test_gradients_of_the_two_players_are_separated(with_spectral_norm):
    adv = _adversarial_loss(with_spectral_norm=with_spectral_norm)
    generator = nn.Conv2d(4, 4, 3, padding=1)
    real = torch.randn(2, 4, 32, 32)
    fake = generator(torch.randn(2, 4, 32, 32))
    losses = adv(real, fake, cur_iter=0)
    disc_params = list(adv.discriminator.parameters())

    losses['loss_adv_d'].backward(retain_graph=True)
    assert all(p.grad is None for p in generator.parameters())
    assert all(p.grad is not None for p in disc_params)

    for param in disc_params:
        param.grad = None
    losses['loss_adv_g'].backward()
    assert all(p.grad is None for p in disc_params)
    assert generator.weight.grad.abs().sum() > 0


def test_adversarial_terms_are_zero_before_start_iter():
    adv = MODELS.build(
        dict(type='AdversarialLoss', start_iter=10,
             discriminator=dict(type='PatchDiscriminator', in_channels=4,
                                base_channels=8, num_layers=2)))
    real, fake = torch.randn(1, 4, 32, 32), torch.randn(1, 4, 32, 32)
    message_hub = MessageHub.get_instance('test_adversarial_start_iter')
    message_hub.update_info('iter', 9)
    before = adv(real, fake)
    assert float(before['loss_adv_g']) == 0.0
    assert float(before['loss_adv_d']) == 0.0
    before['loss_adv_d'].backward()  # stays connected for DDP
    assert all(p.grad is not None for p in adv.discriminator.parameters())
    message_hub.update_info('iter', 10)
    after = adv(real, fake)
    assert float(after['loss_adv_d']) > 0.0


def test_unknown_gan_type_is_rejected():
    with pytest.raises(ValueError, match="gan_type must be one of.*'wgan'"):
        _adversarial_loss('wgan')
