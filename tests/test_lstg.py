"""LSTG backbone and its vector quantizer."""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmcv.cnn import VGG
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import fusionsam_mmseg  # noqa: F401  (registers the components)
from conftest import REPO_ROOT
from fusionsam_mmseg.models.backbones.lstg import LSTG
from fusionsam_mmseg.models.losses import VQLoss
from fusionsam_mmseg.models.layers import VectorQuantizer

TINY = dict(embed_dims=16, base_channels=8, num_codes=32)


def tiny_lstg(**kwargs) -> LSTG:
    return LSTG(**{**TINY, **kwargs})


def smooth_images(batch: int, channels: int, size: int) -> torch.Tensor:
    """Low-frequency images (upsampled noise), roughly unit variance."""
    coarse = torch.randn(batch, channels, size // 4, size // 4)
    return F.interpolate(
        coarse, size=(size, size), mode='bilinear', align_corners=False)


def test_forward_two_modalities_gives_one_token_map_each():
    lstg = tiny_lstg(modality_channels=(3, 1))
    tokens = lstg(torch.randn(2, 4, 32, 48))
    assert isinstance(tokens, tuple) and len(tokens) == 2
    assert all(t.shape == (2, 16, 8, 12) for t in tokens)


@pytest.mark.parametrize('share_encoder', [False, True])
def test_forward_three_modalities(share_encoder):
    lstg = tiny_lstg(
        modality_channels=(3, 1, 2),
        num_downsamples=1,
        share_encoder=share_encoder)
    tokens = lstg(torch.randn(1, 6, 16, 16))
    assert len(tokens) == 3
    assert all(t.shape == (1, 16, 8, 8) for t in tokens)
    assert len(lstg.encoders) == (1 if share_encoder else 3)


def test_modality_channels_not_matching_input_is_a_clear_error():
    lstg = tiny_lstg(modality_channels=(3, 1))
    with pytest.raises(ValueError, match=r'modality_channels=\(3, 1\) sums '
                       r'to 4 channels.*\(2, 3, 16, 16\)'):
        lstg(torch.randn(2, 3, 16, 16))


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match='modality_names'):
        tiny_lstg(modality_channels=(3, 1), modality_names=('rgb', ))
    with pytest.raises(ValueError, match='frozen_stages'):
        tiny_lstg(frozen_stages=5)
    with pytest.raises(ValueError, match='channel_multipliers'):
        tiny_lstg(channel_multipliers=(1, 2))


def test_loss_returns_tokens_losses_and_stats():
    lstg = tiny_lstg(
        modality_names=('rgb', 'thermal'),
        loss_adv=dict(
            type='AdversarialLoss',
            discriminator=dict(
                type='PatchDiscriminator', base_channels=8, num_layers=2)))
    inputs = torch.randn(2, 4, 32, 32)
    tokens, losses = lstg.loss(inputs)
    assert [t.shape for t in tokens] == [(2, 16, 8, 8)] * 2
    assert {'loss_vq', 'loss_recon', 'loss_adv_g', 'loss_adv_d',
            'perplexity_rgb', 'code_usage_thermal'} <= set(losses)
    assert lstg.loss_adv.discriminator.layers[0].conv.in_channels == 4
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    assert torch.isfinite(total)
    total.backward()
    assert lstg.decoders[1].layers[0].weight.grad is not None


def test_lstg_is_a_normal_backbone_in_a_stock_encoder_decoder():
    model = MODELS.build(
        dict(
            type='EncoderDecoder',
            backbone=dict(type='LSTG', with_decoder=False, **TINY),
            decode_head=dict(
                type='FCNHead',
                in_channels=[16, 16],
                in_index=[0, 1],
                input_transform='resize_concat',
                channels=8,
                num_convs=1,
                num_classes=3),
            train_cfg=dict(),
            test_cfg=dict(mode='whole')))
    samples = [
        SegDataSample(
            gt_sem_seg=PixelData(data=torch.randint(0, 3, (1, 32, 32))),
            metainfo=dict(img_shape=(32, 32), pad_shape=(32, 32)))
        for _ in range(2)
    ]
    losses = model.loss(torch.randn(2, 4, 32, 32), samples)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert model.backbone.stems[0].weight.grad is not None
    with pytest.raises(ValueError, match='need the decoders'):
        tiny_lstg(with_decoder=False, loss_adv=dict(type='AdversarialLoss'))


def test_perceptual_loss_inside_lstg_loads_its_vgg_with_init_weights(
        tmp_path):
    vgg = VGG(depth=16, num_stages=1, dilations=(1, ), out_indices=(0, ))
    checkpoint = tmp_path / 'vgg16.pth'
    torch.save(vgg.state_dict(), checkpoint)
    lstg = tiny_lstg(
        loss_perceptual=dict(
            type='PerceptualLoss',
            layer_weights=(1.0, 0.0, 0.0, 0.0, 0.0),
            init_cfg=dict(type='Pretrained', checkpoint=str(checkpoint))))
    lstg.init_weights()
    assert torch.equal(lstg.loss_perceptual.vgg.features[0].weight,
                       vgg.features[0].weight)
    _, losses = lstg.loss(torch.randn(1, 4, 16, 16))
    assert float(losses['loss_perceptual']) > 0


def test_odd_input_sizes_reconstruct_at_input_size():
    lstg = tiny_lstg()
    assert lstg.reconstruct(torch.randn(1, 4, 30, 42)).shape == (1, 4, 30,
                                                                 42)


def test_without_quantization_tokens_are_continuous_latents():
    lstg = tiny_lstg(quantize=False)
    tokens, losses = lstg.loss(torch.randn(1, 4, 16, 16))
    assert not hasattr(lstg, 'quantizers')
    assert 'loss_vq' not in losses and 'loss_recon' in losses
    assert tokens[0].shape == (1, 16, 4, 4)


def _codebook_rows(tokens: torch.Tensor, codebook: torch.Tensor
                   ) -> torch.Tensor:
    """(N,) bool: which token vectors of (B, D, h, w) are codebook rows."""
    vectors = tokens.permute(0, 2, 3, 1).reshape(-1, codebook.shape[1])
    distances = torch.cdist(vectors, codebook,
                            compute_mode='donot_use_mm_for_euclid_dist')
    return distances.min(dim=1).values < 1e-5


def test_shared_codebook_quantizes_every_modality_to_its_rows():
    torch.manual_seed(0)
    inputs = smooth_images(2, 4, 16)
    # Learned codebooks: their rows stay encoder vectors after the first
    # training batch initialises them (an EMA update would average them).
    learned = dict(quantizer_cfg=dict(use_ema=False))
    shared = tiny_lstg(share_codebook=True, modality_names=('rgb', 'ir'),
                       **learned)
    separate = tiny_lstg(**learned)
    losses = [lstg.train().loss(inputs)[1]  # initialises the codebooks
              for lstg in (shared, separate)]
    assert {'perplexity_rgb', 'perplexity_ir', 'code_usage_ir'} <= set(
        losses[0])
    assert len(shared.quantizers) == 1 and len(separate.quantizers) == 2
    # The first training batch filled the one codebook from both modalities.
    latents = [shared._encode(i, x)
               for i, x in enumerate(shared.split_modalities(inputs))]
    codebook = shared.quantizers[0].codebook
    assert all(_codebook_rows(latent, codebook).any() for latent in latents)
    shared.eval(), separate.eval()
    with torch.no_grad():
        rgb, thermal = shared(inputs)
        assert _codebook_rows(rgb, codebook).all()
        assert _codebook_rows(thermal, codebook).all()
        # Per-modality codebooks: thermal tokens are rows of their own.
        _, thermal = separate(inputs)
        assert _codebook_rows(thermal, separate.quantizers[1].codebook).all()
        assert not _codebook_rows(thermal,
                                  separate.quantizers[0].codebook).any()


def test_shared_codebook_from_the_vitb_config_is_one_vector_quantizer():
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'fusionsam_vitb_mfnet.py'))
    default = MODELS.build(cfg.model.backbone)
    cfg.merge_from_dict({'model.backbone.share_codebook': True})
    shared = MODELS.build(cfg.model.backbone)
    for backbone, expected in ((default, 2), (shared, 1)):
        assert sum(isinstance(m, VectorQuantizer)
                   for m in backbone.modules()) == expected


def test_shared_codebook_needs_quantization_and_one_latent_shape():
    with pytest.raises(ValueError, match='share_codebook=True needs'):
        tiny_lstg(share_codebook=True, quantize=False)
    quantizer = VectorQuantizer(num_codes=8, embed_dims=4)
    with pytest.raises(ValueError, match='latent maps of one shape'):
        quantizer.quantize_jointly(
            [torch.randn(1, 4, 3, 3), torch.randn(1, 4, 3, 2)])


def test_freeze_makes_a_fixed_tokenizer():
    lstg = tiny_lstg(freeze=True)
    lstg.train()
    assert not any(p.requires_grad for p in lstg.parameters())
    assert not lstg.quantizers[0].training
    assert not hasattr(lstg, 'decoders')
    tokens, losses = lstg.loss(torch.randn(1, 4, 16, 16))
    assert not any(k.startswith('loss') for k in losses)
    assert 'perplexity_m0' in losses


def test_frozen_stages_freeze_stems_and_first_stages():
    lstg = tiny_lstg(frozen_stages=1)
    lstg.train()
    encoder = lstg.encoders[0]
    assert not any(p.requires_grad for p in lstg.stems.parameters())
    assert not any(p.requires_grad for p in encoder.stages[0].parameters())
    assert all(p.requires_grad for p in encoder.stages[1].parameters())
    assert not encoder.stages[0].training and encoder.stages[1].training


def test_pretrained_stage1_weights_load_with_backbone_prefix(tmp_path):
    source = tiny_lstg()
    checkpoint = tmp_path / 'stage1.pth'
    torch.save(
        {
            'state_dict': {
                f'backbone.{k}': v
                for k, v in source.state_dict().items()
            }
        }, checkpoint)
    target = tiny_lstg(
        init_cfg=dict(
            type='Pretrained', checkpoint=str(checkpoint),
            prefix='backbone.'))
    target.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key


def test_quantizer_output_is_the_nearest_codebook_row():
    quantizer = VectorQuantizer(num_codes=8, embed_dims=4).eval()
    latents = torch.randn(2, 4, 3, 5)
    output = quantizer(latents)
    flat_out = output.quantized.permute(0, 2, 3, 1).reshape(-1, 4)
    flat_in = latents.permute(0, 2, 3, 1).reshape(-1, 4)
    nearest = torch.cdist(flat_in, quantizer.codebook).argmin(dim=1)
    assert torch.equal(output.indices.flatten(), nearest)
    assert torch.allclose(flat_out, quantizer.codebook[nearest], atol=1e-6)
    assert 1.0 <= float(output.perplexity) <= 8.0


def test_straight_through_gradient_reaches_the_encoder():
    latents = torch.randn(1, 4, 3, 3, requires_grad=True)
    VectorQuantizer(num_codes=8, embed_dims=4).eval()(latents)\
        .quantized.sum().backward()
    assert torch.equal(latents.grad, torch.ones_like(latents))

    lstg = tiny_lstg().eval()
    tokens = lstg(torch.randn(1, 4, 16, 16))
    tokens[0].pow(2).sum().backward()
    stem_grad = lstg.stems[0].weight.grad
    assert stem_grad is not None and stem_grad.abs().sum() > 0


def test_learned_codebook_gets_gradient_from_vq_loss_on_used_codes():
    quantizer = VectorQuantizer(num_codes=8, embed_dims=4, use_ema=False)
    quantizer.eval()
    latents = torch.randn(1, 4, 1, 2)
    output = quantizer(latents)
    VQLoss()(latents, output.codes).backward()
    used = output.indices.flatten().unique()
    rows_with_grad = quantizer.codebook.grad.abs().sum(1).nonzero().flatten()
    assert torch.equal(rows_with_grad, used)


def _initialized_ema_quantizer(codebook, **kwargs):
    quantizer = VectorQuantizer(
        num_codes=codebook.shape[0], embed_dims=codebook.shape[1], **kwargs)
    quantizer.codebook.copy_(codebook)
    quantizer.ema_code_sum.copy_(codebook)
    quantizer.initialized.fill_(1)
    return quantizer.train()


def test_ema_update_moves_used_codes_toward_their_vectors():
    codebook = torch.tensor([[0., 0.], [10., 10.], [-10., 10.], [10., -10.]])
    quantizer = _initialized_ema_quantizer(
        codebook, ema_decay=0.9, restart_dead_codes=False)
    target = torch.tensor([1.0, 1.0])
    latents = (target + 0.01 * torch.randn(6, 2)).t().reshape(1, 2, 2, 3)
    output = quantizer(latents)
    assert (output.indices == 0).all()
    assert torch.dist(quantizer.codebook[0], target) < torch.dist(
        codebook[0], target) - 0.05
    assert torch.allclose(quantizer.codebook[1:], codebook[1:], atol=1e-3)


def test_dead_codes_are_restarted_from_batch_vectors():
    codebook = torch.tensor([[0., 0.], [1., 1.], [-1., 1.], [100., 100.]])
    quantizer = _initialized_ema_quantizer(
        codebook, ema_decay=0.9, dead_code_threshold=0.5)
    quantizer.ema_cluster_size.copy_(torch.tensor([5.0, 5.0, 5.0, 0.3]))
    latents = torch.randn(1, 2, 4, 4) * 0.3
    quantizer(latents)
    vectors = latents.permute(0, 2, 3, 1).reshape(-1, 2)
    restarted = quantizer.codebook[3]
    assert torch.isclose(vectors, restarted).all(dim=1).any()
    assert float(quantizer.ema_cluster_size[3]) == 1.0


def test_first_training_batch_initializes_the_codebook():
    quantizer = VectorQuantizer(
        num_codes=8, embed_dims=3, use_ema=False).train()
    latents = torch.randn(2, 3, 4, 4)
    quantizer(latents)
    vectors = latents.permute(0, 2, 3, 1).reshape(-1, 3)
    codes_from_batch = [
        torch.isclose(vectors, code, atol=1e-5).all(dim=1).any()
        for code in quantizer.codebook
    ]
    assert all(codes_from_batch) and int(quantizer.initialized) == 1


def test_tiny_lstg_overfits_one_batch():
    torch.manual_seed(0)
    lstg = tiny_lstg(num_codes=64, loss_vq=dict(type='VQLoss', beta=0.25))
    inputs = smooth_images(2, 4, 16)
    optimizer = torch.optim.Adam(lstg.parameters(), lr=3e-3)
    recon_losses = []
    for _ in range(200):
        _, losses = lstg.loss(inputs)
        total = sum(v for k, v in losses.items() if k.startswith('loss'))
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        recon_losses.append(losses["loss_recon"].item())
    assert min(recon_losses[-10:]) * 5 <= recon_losses[0]


def _close_codes_quantizer(seed: int = 0) -> VectorQuantizer:
    """A trained-like codebook whose codes are close enough that bfloat16
    rounding of the distance computation changes the nearest code."""
    torch.manual_seed(seed)
    quantizer = VectorQuantizer(num_codes=256, embed_dims=64, use_ema=True)
    quantizer.codebook.copy_(3.0 + 0.01 * torch.randn(256, 64))
    quantizer.ema_code_sum.copy_(quantizer.codebook)
    quantizer.initialized.fill_(1)
    return quantizer


def test_quantizer_code_search_and_ema_stay_fp32_under_bf16_autocast():
    latents = 3.0 + 0.01 * torch.randn(2, 64, 8, 8)
    reference = _close_codes_quantizer().eval()
    fp32_codes = reference(latents).indices
    # The setup is sensitive: a bf16 distance search picks other codes.
    flat = latents.permute(0, 2, 3, 1).reshape(-1, 64)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        naive = (-2.0 * flat @ reference.codebook.t() +
                 reference.codebook.pow(2).sum(1)).argmin(1)
    assert (naive != fp32_codes.flatten()).any()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        autocast_output = reference(latents)
    assert torch.equal(autocast_output.indices, fp32_codes)
    assert autocast_output.quantized.dtype == torch.float32
    trained_fp32, trained_bf16 = (_close_codes_quantizer().train()
                                  for _ in range(2))
    trained_fp32(latents)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        trained_bf16(latents)
    assert trained_bf16.codebook.dtype == torch.float32
    assert torch.equal(trained_bf16.codebook, trained_fp32.codebook)
