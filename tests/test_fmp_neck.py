"""FMP / ConcatFusion necks, the cross-attention block and FusionLoss."""
import math

import pytest
import torch

import fusionsam_mmseg  # noqa: F401  (registers the components)
from fusionsam_mmseg.models.losses.fusion_loss import FusionLoss
from fusionsam_mmseg.models.necks import FMP
from fusionsam_mmseg.models.layers.cross_attention import (CrossAttention,
                                                          CrossAttentionBlock)
from mmseg.registry import MODELS

TINY = dict(in_channels=16, embed_dims=16, out_channels=24, image_channels=8)
TINY_BY_TYPE = dict(FMP=dict(TINY, num_heads=2), ConcatFusion=TINY)


def _neck(neck_type, **overrides):
    return MODELS.build(
        dict(type=neck_type, **TINY_BY_TYPE[neck_type], **overrides))


def _tokens(num_modalities, height, width, channels=16, batch=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return tuple(
        torch.randn(batch, channels, height, width, generator=generator)
        for _ in range(num_modalities))


@pytest.mark.parametrize('neck_type', ['FMP', 'ConcatFusion'])
@pytest.mark.parametrize(
    'token_hw',
    [(30, 40), (38, 50), (7, 9)],
    ids=['mfnet-like', 'fmb-like', 'odd'])
def test_neck_output_shapes(neck_type, token_hw):
    neck = _neck(neck_type)
    height, width = token_hw
    features, mask_logits, fused = neck(_tokens(2, height, width))
    assert features.shape == (2, 24, height, width)
    assert mask_logits.shape == (2, 1, height, width)
    assert fused.shape == (2, 3, 4 * height, 4 * width)
    assert fused.min() >= 0 and fused.max() <= 1


def test_fmp_three_modalities_and_upsampling_setting():
    neck = _neck('FMP', num_modalities=3, num_upsamples=3)
    features, mask_logits, fused = neck(_tokens(3, 6, 8))
    assert features.shape == (2, 24, 6, 8)
    assert fused.shape == (2, 3, 48, 64)


@pytest.mark.parametrize('neck_type', ['FMP', 'ConcatFusion'])
def test_neck_rejects_wrong_number_of_token_maps(neck_type):
    neck = _neck(neck_type)
    with pytest.raises(ValueError, match='expects 2 token maps'):
        neck(_tokens(3, 6, 8))


def test_fmp_requires_two_modalities():
    with pytest.raises(ValueError, match='num_modalities'):
        FMP(num_modalities=1, **TINY_BY_TYPE['FMP'])


def test_cross_attention_matches_reference_softmax_attention():
    torch.manual_seed(0)
    attention = CrossAttention(embed_dims=8, num_heads=2).eval()
    query, key_value = torch.randn(2, 5, 8), torch.randn(2, 7, 8)
    q = attention.q_proj(query).view(2, 5, 2, 4).transpose(1, 2)
    k, v = attention.kv_proj(key_value).chunk(2, -1)
    k = k.view(2, 7, 2, 4).transpose(1, 2)
    v = v.view(2, 7, 2, 4).transpose(1, 2)
    weights = (q @ k.transpose(-1, -2) / math.sqrt(4)).softmax(-1)
    expected = attention.out_proj((weights @ v).transpose(1, 2).flatten(2))
    torch.testing.assert_close(attention(query, key_value), expected)


def test_cross_attention_block_reads_the_other_modality():
    torch.manual_seed(0)
    block = CrossAttentionBlock(embed_dims=8, num_heads=2).eval()
    query_map = torch.randn(1, 8, 4, 5)
    out_a = block(query_map, [torch.randn(1, 8, 4, 5)])
    out_b = block(query_map, [torch.randn(1, 8, 4, 5)])
    assert out_a.shape == query_map.shape
    assert not torch.allclose(out_a, out_b)


def test_kv_pooling_only_acts_on_large_maps():
    torch.manual_seed(0)
    block = CrossAttentionBlock(embed_dims=8, num_heads=2).eval()
    query_map, kv_map = torch.randn(1, 8, 6, 8), torch.randn(1, 8, 6, 8)
    full = block(query_map, [kv_map])
    block.kv_pool_size = 16  # 48 tokens < 256: nothing to pool
    torch.testing.assert_close(block(query_map, [kv_map]), full)
    block.kv_pool_size = 2  # pooled to 2x2 = 4 key/value tokens
    pooled = block(query_map, [kv_map])
    assert pooled.shape == full.shape
    assert not torch.allclose(pooled, full)
    with pytest.raises(ValueError, match='kv_pool_size'):
        CrossAttentionBlock(embed_dims=8, num_heads=2, kv_pool_size=0)


def test_fmp_fuses_both_directions():
    torch.manual_seed(0)
    neck = _neck('FMP').eval()
    rgb, thermal = _tokens(2, 5, 6)
    projected = [p(t) for p, t in zip(neck.projections, (rgb, thermal))]
    enhanced = neck.cross_domain_fusion(projected)
    other_thermal = neck.projections[1](torch.randn_like(thermal))
    changed = neck.cross_domain_fusion([projected[0], other_thermal])
    assert not torch.allclose(enhanced[0], changed[0]), \
        'the RGB branch must read the thermal tokens'
    with torch.no_grad():
        features = neck((rgb, thermal))[0]
        features_swapped = neck((rgb, torch.randn_like(thermal)))[0]
    assert not torch.allclose(features, features_swapped)


@pytest.mark.parametrize('neck_type', ['FMP', 'ConcatFusion'])
def test_every_neck_parameter_gets_a_gradient(neck_type):
    neck = _neck(neck_type)
    features, mask_logits, fused = neck(_tokens(2, 6, 8))
    (features.mean() + mask_logits.mean() + fused.mean()).backward()
    missing = [n for n, p in neck.named_parameters() if p.grad is None]
    assert not missing


def test_stock_fcn_head_reads_fmp_features_with_in_index_0():
    neck = _neck('FMP')
    head = MODELS.build(
        dict(
            type='FCNHead',
            in_channels=24,
            in_index=0,
            channels=8,
            num_convs=1,
            concat_input=False,
            num_classes=9))
    logits = head(neck(_tokens(2, 6, 8)))
    assert logits.shape == (2, 9, 6, 8)


def _grey(intensity):
    return intensity.expand(-1, 3, -1, -1)


def test_fusion_loss_is_zero_for_the_ideal_fusion():
    thermal = 0.1 + 0.9 * torch.rand(2, 1, 16, 20)  # always the brighter
    visible = _grey(torch.full((2, 1, 16, 20), 0.05))
    ideal = _grey(torch.maximum(thermal, torch.tensor(0.05)))
    loss = FusionLoss()
    assert loss(ideal, visible, thermal).item() == pytest.approx(0, abs=1e-5)
    assert loss(visible, visible, thermal).item() > 0.1


def test_fusion_loss_gradient_term_prefers_the_stronger_edges():
    visible = _grey(torch.zeros(1, 1, 8, 8))
    thermal = torch.zeros(1, 1, 8, 8)
    thermal[..., 4:] = 1.0
    loss = FusionLoss(intensity_weight=0, chroma_weight=0)
    flat = _grey(torch.full((1, 1, 8, 8), 0.5))
    assert loss(_grey(thermal), visible, thermal).item() == pytest.approx(0)
    assert loss(flat, visible, thermal).item() > 0


def test_fusion_loss_backpropagates_and_checks_shapes():
    fused = torch.rand(1, 3, 8, 8, requires_grad=True)
    loss = FusionLoss()
    loss(fused, torch.rand(1, 3, 8, 8), torch.rand(1, 1, 8, 8)).backward()
    assert fused.grad is not None and fused.grad.abs().sum() > 0
    assert loss.loss_name == 'loss_fusion_image'
    with pytest.raises(ValueError, match='share H, W'):
        loss(fused, torch.rand(1, 3, 8, 8), torch.rand(1, 1, 4, 4))
