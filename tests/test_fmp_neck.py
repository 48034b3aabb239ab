"""FMP / ConcatFusion necks, the cross-attention block and FusionLoss."""
import importlib.util
import math
import os.path as osp
import sys

import pytest
import torch

import fusionsam_mmseg  # noqa: F401  (registers the components)
from conftest import REPO_ROOT
from fusionsam_mmseg.models.losses.fusion_loss import FusionLoss
from fusionsam_mmseg.models.necks import FMP, FusionNeckOutput
from fusionsam_mmseg.models.layers.cross_attention import (
    CrossAttention, CrossAttentionBlock, WindowCrossAttentionBlock)
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
    output = neck(_tokens(2, height, width))
    assert isinstance(output, FusionNeckOutput)
    assert output.features.shape == (2, 24, height, width)
    assert output.mask_logits.shape == (2, 1, height, width)
    fused = output.fused_image
    assert fused.shape == (2, 3, 4 * height, 4 * width)
    assert fused.min() >= 0 and fused.max() <= 1


def test_concat_without_mask_logits_gives_none_in_their_field():
    output = _neck('ConcatFusion', with_mask_logits=False)(_tokens(2, 6, 8))
    assert output.mask_logits is None
    assert output.features.shape == (2, 24, 6, 8)
    assert output.fused_image.shape == (2, 3, 24, 32)


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


def _attention_per_window(block, query_map, key_value_maps):
    """Reference of WindowCrossAttentionBlock: a loop over the windows of
    the shifted grid, each attending over its real tokens only."""
    size, shift = block.window_size, block.shift_size
    batch, channels, height, width = query_map.shape
    query = query_map.permute(0, 2, 3, 1)
    key_values = [m.permute(0, 2, 3, 1) for m in key_value_maps]
    attended = torch.zeros_like(query)
    for top in range(-shift, height, size):
        for left in range(-shift, width, size):
            rows = slice(max(top, 0), top + size)
            cols = slice(max(left, 0), left + size)
            cells = [(r, c) for r in range(height)[rows]
                     for c in range(width)[cols]]
            offsets = torch.tensor(
                [[(r1 - r2 + size - 1) * (2 * size - 1) + c1 - c2 + size - 1
                  for r2, c2 in cells] for r1, c1 in cells])
            bias = block.relative_position_bias_table[offsets]
            window = query[:, rows, cols]
            out = block.attn(
                window.reshape(batch, -1, channels),
                torch.cat([kv[:, rows, cols].reshape(batch, -1, channels)
                           for kv in key_values], dim=1),
                bias.permute(2, 0, 1).repeat(1, 1, len(key_values)))
            attended[:, rows, cols] = out.view(window.shape)
    return block.residual_ffn(query, attended).permute(0, 3, 1, 2)


@pytest.mark.parametrize('hw, window_size, shift_size, num_maps', [
    ((8, 8), 4, 0, 1),  # whole windows
    ((6, 7), 4, 2, 2),  # shifted grid, padded windows, two key/value maps
])
def test_window_attention_is_attention_inside_each_window(
        hw, window_size, shift_size, num_maps):
    torch.manual_seed(0)
    block = WindowCrossAttentionBlock(
        embed_dims=8, num_heads=2, window_size=window_size,
        shift_size=shift_size).eval()
    with torch.no_grad():
        block.relative_position_bias_table.normal_()
    query_map = torch.randn(2, 8, *hw)
    key_value_maps = [torch.randn(2, 8, *hw) for _ in range(num_maps)]
    torch.testing.assert_close(
        block(query_map, key_value_maps),
        _attention_per_window(block, query_map, key_value_maps))


def test_fmp_window_attention_shapes_and_gradients():
    neck = _neck('FMP', attention='window', window_size=4)
    blocks = [*neck.cross_domain_blocks, *neck.complementary_blocks]
    assert all(isinstance(b, WindowCrossAttentionBlock) for b in blocks)
    assert [b.shift_size for b in blocks] == [0, 0, 2, 2]
    features, mask_logits, fused = neck(_tokens(2, 7, 9))
    assert features.shape == (2, 24, 7, 9)
    assert mask_logits.shape == (2, 1, 7, 9) and fused.shape == (2, 3, 28,
                                                                  36)
    (features.mean() + mask_logits.mean() + fused.mean()).backward()
    assert not [n for n, p in neck.named_parameters() if p.grad is None]


def test_fmp_attention_settings_are_checked():
    with pytest.raises(ValueError, match="attention='windowed'"):
        _neck('FMP', attention='windowed')
    with pytest.raises(ValueError, match='kv_pool_size'):
        _neck('FMP', attention='window', kv_pool_size=16)
    with pytest.raises(ValueError, match='shift_size'):
        WindowCrossAttentionBlock(embed_dims=8, window_size=4, shift_size=4)
    block = WindowCrossAttentionBlock(embed_dims=8, num_heads=2,
                                      window_size=4)
    with pytest.raises(ValueError, match=r"query map's size \(6, 8\)"):
        block(torch.randn(1, 8, 6, 8), [torch.randn(1, 8, 3, 4)])


def test_complementary_unit_attends_both_ways_on_the_projected_tokens():
    neck = _neck('FMP').eval()
    assert neck.complementary_unit == 'bidirectional'
    seen = {}

    def record(name):
        def hook(module, args, output):
            seen[name] = (args, output)
        return hook

    modules = dict(visible_projection=neck.projections[0],
                   thermal_projection=neck.projections[1],
                   visible_queries=neck.complementary_blocks[0],
                   thermal_queries=neck.complementary_blocks[1],
                   initial_mask=neck.initial_fusion,
                   fusion_conv=neck.fusion_conv)
    for name, module in modules.items():
        module.register_forward_hook(record(name))
    with torch.no_grad():
        neck(_tokens(2, 5, 6))
    visible = seen['visible_projection'][1]
    thermal = seen['thermal_projection'][1]
    (query, (key_value, )), visible_read = seen['visible_queries']
    assert query is visible and key_value is thermal
    (query, (key_value, )), thermal_read = seen['thermal_queries']
    assert query is thermal and key_value is visible
    # F_c = mean of the two directions; F_c + M0 feeds the fusion conv.
    torch.testing.assert_close(
        seen['fusion_conv'][0][0],
        (visible_read + thermal_read) / 2 + seen['initial_mask'][1])


def test_one_way_fmp_checkpoint_loads_with_cross_modal():
    """``tests/data/fmp_one_way_e71db3d.pth``: what FMP (commit e71db3d,
    ``complementary_unit='cross_modal'``, then one-way) of this module's tiny
    sizes wrote after one training-mode forward (state dict), and its
    eval-mode outputs for the stored tokens."""
    fixture = torch.load(
        osp.join(REPO_ROOT, 'tests', 'data', 'fmp_one_way_e71db3d.pth'))
    one_way = _neck('FMP', complementary_unit='cross_modal')
    one_way.load_state_dict(fixture['state_dict'], strict=True)
    with torch.no_grad():
        outputs = one_way.eval()(fixture['tokens'])
    for output, expected in zip(outputs, fixture['outputs'], strict=True):
        torch.testing.assert_close(output, expected)
    # Not loadable into the other layout, not even by a lenient loader
    # (mmengine's runner loads with strict=False).
    with pytest.raises(ValueError, match="'cross_modal'"):
        _neck('FMP').load_state_dict(fixture['state_dict'], strict=False)
    with pytest.raises(ValueError, match='holds a bidirectional'):
        one_way.load_state_dict(_neck('FMP').state_dict(), strict=False)


def test_attention_benchmark_times_the_config_neck_both_ways():
    spec = importlib.util.spec_from_file_location(
        'benchmark_fmp_attention',
        osp.join(REPO_ROOT, 'tools', 'analysis', 'benchmark_fmp_attention.py'))
    tool = importlib.util.module_from_spec(spec)
    sys.path.insert(0, osp.dirname(spec.origin))
    try:
        spec.loader.exec_module(tool)
    finally:
        sys.path.remove(osp.dirname(spec.origin))
    args = tool.parse_args([
        '--config', osp.join(REPO_ROOT, 'configs', 'fusionsam_tiny_demo.py'),
        '--shape', '36', '52', '--window-size', '4', '--iters', '1',
        '--warmup', '0'])
    necks = tool.build_necks(args)
    assert isinstance(necks['window'].cross_domain_blocks[0],
                      WindowCrossAttentionBlock)
    assert type(necks['global'].cross_domain_blocks[0]) is \
        CrossAttentionBlock
    result = tool.measure(args)
    assert result['tokens'] == (1, 32, 9, 13)
    assert result['ratio'] == pytest.approx(
        result['median_s']['global'] / result['median_s']['window'])


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
