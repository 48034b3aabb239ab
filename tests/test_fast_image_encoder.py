"""FastImageEncoderViT equals segment_anything's ImageEncoderViT."""
import dataclasses
import json
import os.path as osp
import subprocess
import sys

import pytest
import torch

from fusionsam_mmseg.models.sam import (SAM_ARCHITECTURES,
                                        FastImageEncoderViT, SAMArchitecture,
                                        build_sam_image_encoder)
from fusionsam_mmseg.models.sam.fast_image_encoder import ImageEncoderViT

# tiny: window 4 on a 6x6 token grid -> windows padded to 8x8.
TINY = dict(arch=SAMArchitecture(embed_dim=32, depth=3, num_heads=2,
                                 global_attn_indexes=(1, ), window_size=4,
                                 prompt_embed_dim=16),
            image_size=96)
# ViT-B heads/width/window, 2 blocks; 16x16 tokens -> windows padded to 28x28.
VIT_B_SHAPED = dict(arch=dataclasses.replace(SAM_ARCHITECTURES['vit_b'],
                                             depth=2,
                                             global_attn_indexes=(1, )),
                    image_size=256)
# no padding: 14x14 tokens == one window.
VIT_B_SHAPED_EXACT = dict(VIT_B_SHAPED, image_size=224)


def make_pair(spec, attention='sdpa', rel_pos_mode='mask', autocast=None,
              compile=False):
    """Stock encoder with random weights and ours loaded from its state."""
    torch.manual_seed(0)
    stock = build_sam_image_encoder(spec['arch'], spec['image_size'],
                                    attention='stock').eval()
    assert type(stock) is ImageEncoderViT
    with torch.no_grad():
        for name, parameter in stock.named_parameters():
            if name == 'pos_embed' or 'rel_pos' in name:
                parameter.normal_(0.0, 0.3)
    ours = build_sam_image_encoder(
        spec['arch'], spec['image_size'], attention=attention,
        autocast=autocast, compile=compile,
        rel_pos_mode=rel_pos_mode).eval()
    assert list(ours.state_dict()) == list(stock.state_dict())
    ours.load_state_dict(stock.state_dict())
    return stock, ours


def padded_images(size, content_hw, batch=2):
    """Normalised random content top-left, zero padding (Sam.preprocess)."""
    images = torch.zeros(batch, 3, size, size)
    height, width = content_hw
    images[:, :, :height, :width] = torch.randn(batch, 3, height, width)
    return images


@pytest.mark.parametrize('spec,content_fraction,rel_pos_mode', [
    (TINY, (1.0, 1.0), 'mask'), (TINY, (1.0, 1.0), 'concat'),
    (TINY, (0.5, 1.0), 'mask'), (TINY, (0.5, 1.0), 'concat'),
    (VIT_B_SHAPED, (1.0, 1.0), 'mask'), (VIT_B_SHAPED, (1.0, 0.75), 'mask'),
    (VIT_B_SHAPED, (1.0, 0.75), 'concat'),
    (VIT_B_SHAPED_EXACT, (0.75, 1.0), 'mask')
])
def test_sdpa_equals_stock_fp32(spec, content_fraction, rel_pos_mode):
    stock, ours = make_pair(spec, rel_pos_mode=rel_pos_mode)
    size = spec['image_size']
    batch = 2 if spec is TINY else 1
    images = padded_images(size, [int(size * f) for f in content_fraction],
                           batch=batch)
    with torch.no_grad():
        expected = stock(images)
        actual = ours(images)
    assert actual.shape == expected.shape == (
        batch, spec['arch'].prompt_embed_dim, size // 16, size // 16)
    assert (actual - expected).abs().max().item() <= 1e-4
    assert expected.abs().max().item() > 0.5  # not a trivially small output


def test_sdpa_block_replaces_stock_attention():
    stock, ours = make_pair(TINY)
    assert type(ours.blocks[0]).__name__ == 'SDPABlock'
    assert type(stock.blocks[0]).__name__ == 'Block'
    assert type(ours.blocks[0].attn).__name__ == 'Attention'
    stock_mode = build_sam_image_encoder(TINY['arch'], 96, attention='stock',
                                         autocast='bf16')
    assert type(stock_mode.blocks[0]).__name__ == 'Block'


def test_bf16_autocast_within_tolerance():
    stock, ours = make_pair(TINY, autocast='bf16')
    images = padded_images(96, (96, 64))
    with torch.no_grad():
        expected = stock(images)
        actual = ours(images)
    assert actual.dtype == torch.float32
    difference = (actual - expected).abs()
    assert 0 < difference.max().item() <= 0.15
    assert difference.mean().item() <= 0.02


def test_compile_keeps_state_dict_and_output():
    stock, ours = make_pair(TINY, compile=dict(backend='eager'))
    assert list(ours.state_dict()) == list(stock.state_dict())
    images = padded_images(96, (96, 96), batch=1)
    with torch.no_grad():
        assert torch.allclose(ours(images), stock(images), atol=1e-4)


def test_bad_input_and_settings_raise():
    _, ours = make_pair(TINY)
    with pytest.raises(ValueError, match=r'\(B, 3, 96, 96\)'):
        ours(torch.zeros(1, 3, 96, 64))
    with pytest.raises(ValueError, match='attention'):
        FastImageEncoderViT(attention='flash', img_size=32)
    with pytest.raises(ValueError, match='rel_pos_mode'):
        build_sam_image_encoder(TINY['arch'], 96, rel_pos_mode='x')
    with pytest.raises(ValueError, match='autocast'):
        build_sam_image_encoder(TINY['arch'], 96, autocast='int8')
    with pytest.raises(ValueError, match='patch size'):
        build_sam_image_encoder(TINY['arch'], 100)


@pytest.mark.slow
def test_benchmark_script_runs_without_openmmlab(repo_root, tmp_path):
    script = osp.join(repo_root, 'tools', 'analysis',
                      'benchmark_sam_encoder.py')
    out_json = tmp_path / 'bench.json'
    argv = ['--model-type', 'tiny', '--image-size', '64', '--batch-size',
            '1', '--device', 'cpu', '--warmup', '1', '--iters', '2',
            '--json', str(out_json)]
    code = (  # run it as on a machine without OpenMMLab packages
        'import runpy, sys\n'
        'class BlockOpenMMLab:\n'
        '    def find_spec(self, name, path=None, target=None):\n'
        '        if name.split(".")[0] in ("mmengine", "mmcv", "mmseg",\n'
        '                                  "mmpretrain"):\n'
        '            raise ModuleNotFoundError(name)\n'
        'sys.meta_path.insert(0, BlockOpenMMLab())\n'
        f'sys.argv = [{script!r}] + {argv!r}\n'
        f'runpy.run_path({script!r}, run_name="__main__")\n')
    result = subprocess.run([sys.executable, '-c', code], cwd=str(tmp_path),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert 'speedup: ' in result.stdout
    results = json.loads(out_json.read_text())
    assert results['speedup'] > 0
    assert results['max_abs_diff'] <= 1e-4
    assert set(results['images_per_s']) == {'stock', 'ours'}


def test_auto_autocast_is_fp32_on_cpu_and_bf16_on_cuda():
    _, ours = make_pair(TINY, autocast='auto')
    images = padded_images(96, (96, 64))
    with torch.no_grad():
        assert torch.equal(ours(images), make_pair(TINY)[1](images))
    assert ours.autocast_dtype_for(torch.device('cpu')) is None
    assert ours.autocast_dtype_for(torch.device('cuda')) == torch.bfloat16
    _, always = make_pair(TINY, autocast='bf16')
    assert always.autocast_dtype_for(torch.device('cpu')) == torch.bfloat16
