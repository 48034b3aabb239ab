"""tools/analysis/gpu_train_check.py runs (on the CPU, model shrunk), so the
GPU check is ready for a machine that has one."""
import json

import pytest

from conftest import run_tool


@pytest.mark.slow
def test_gpu_check_script_runs_on_cpu(tmp_path):
    out = tmp_path / 'check.json'
    tiny_sam = ['model.decode_head.sam_type=custom',
                'model.decode_head.image_size=64'] + [
        f'model.decode_head.encoder_cfg.{key}={value}' for key, value in dict(
            embed_dim=32, depth=1, num_heads=2, global_attn_indexes=(0, ),
            window_size=4, patch_size=8, prompt_embed_dim=32,
            mask_in_chans=8, decoder_depth=1, decoder_mlp_dim=64,
            decoder_num_heads=2, iou_head_hidden_dim=16).items()]
    result = run_tool([
        'tools/analysis/gpu_train_check.py', '--device', 'cpu', '--iters',
        '2', '--warmup', '1', '--batch-size', '2', '--height', '64',
        '--width', '96', '--encoder-iters', '1', '--json', str(out),
        '--cfg-options', *tiny_sam
    ])
    results = json.loads(out.read_text())
    assert results['iterations'] == 2 and results['batch_size'] == 2
    assert results['train_images_per_s'] > 0
    assert results['encoder_images_per_s'] > 0
    assert '"train_images_per_s"' in result.stdout
