"""tools/analysis/benchmark.py and get_flops.py on the tiny demo model, CPU."""
import importlib.util
import json
import os.path as osp
import sys

import pytest
import torch
import torch.nn.functional as F
from mmengine.analysis import FlopAnalyzer
from mmengine.config import Config

from conftest import REPO_ROOT

CONFIG = osp.join(REPO_ROOT, 'configs', 'fusionsam_tiny_demo.py')
ANALYSIS_DIR = osp.join(REPO_ROOT, 'tools', 'analysis')


def _load_tool(name: str):
    if ANALYSIS_DIR not in sys.path:
        sys.path.insert(0, ANALYSIS_DIR)
    spec = importlib.util.spec_from_file_location(
        name, osp.join(ANALYSIS_DIR, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def benchmark():
    return _load_tool('benchmark')


@pytest.fixture(scope='module')
def get_flops():
    return _load_tool('get_flops')


def test_benchmark_writes_throughput_and_memory(benchmark, tmp_path):
    out = tmp_path / 'bench.json'
    record = benchmark.main([
        CONFIG, '--batch-size', '2', '--shape', '48', '64', '--warmup', '1',
        '--iters', '2', '--device', 'cpu', '--out', str(out)
    ])
    written = json.loads(out.read_text())
    assert written == json.loads(json.dumps(record))
    assert written['input_shape'] == [4, 48, 64]
    assert written['batch_size'] == 2 and written['amp'] == 'none'
    assert written['images_per_s'] > 0
    seconds = written['seconds_per_batch']
    assert seconds['min'] <= seconds['median'] <= seconds['max']
    assert written['images_per_s'] == pytest.approx(2 / seconds['mean'])
    assert written['peak_memory_mib'] > 0
    assert written['num_params'] > 0


def test_benchmark_bf16_with_checkpoint(benchmark, tmp_path):
    cfg = benchmark.load_config(CONFIG)
    model = benchmark.build_segmentor(cfg)
    checkpoint = tmp_path / 'weights.pth'
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    record = benchmark.main([
        CONFIG, str(checkpoint), '--shape', '48', '64', '--warmup', '0',
        '--iters', '1', '--amp', 'bf16', '--device', 'cpu', '--out',
        str(tmp_path / 'bf16.json')
    ])
    assert record['amp'] == 'bf16' and record['checkpoint'] == str(checkpoint)


def test_random_batch_is_rgbt(benchmark):
    cfg = benchmark.load_config(CONFIG)
    model = benchmark.build_segmentor(cfg)
    batch = benchmark.random_batch(model, 4, (8, 12), batch_size=3)
    assert [tuple(image.shape) for image in batch['inputs']] == [(4, 8, 12)
                                                                 ] * 3
    assert batch['data_samples'][0].metainfo['modality_channels'] == (3, 1)
    predictions = model.test_step(batch)
    assert predictions[0].pred_sem_seg.data.shape[-2:] == (8, 12)


def test_input_channels_come_from_data_preprocessor(benchmark):
    cfg = Config(dict(model=dict(data_preprocessor=dict(
        type='SegDataPreProcessor', mean=[0.0] * 5, std=[1.0] * 5))))
    assert benchmark.input_channels(cfg) == 5
    no_mean = Config(dict(model=dict(
        data_preprocessor=dict(type='SegDataPreProcessor'))))
    with pytest.raises(ValueError, match='data_preprocessor.mean'):
        benchmark.input_channels(no_mean)


class _Attention(torch.nn.Module):

    def forward(self, query, key, value):
        return F.scaled_dot_product_attention(query, key, value)


def test_sdpa_macs_counted_exactly(get_flops):
    query = torch.rand(2, 3, 5, 8)
    key = torch.rand(2, 3, 7, 8)
    value = torch.rand(2, 3, 7, 4)
    analyzer = FlopAnalyzer(_Attention(), (query, key, value))
    analyzer.set_op_handle('aten::scaled_dot_product_attention',
                           get_flops.sdpa_flop_jit)
    analyzer.unsupported_ops_warnings(False)
    # Q K^T: 2*3 * 5*7*8; attention V: 2*3 * 5*7*4.
    assert analyzer.total() == 2 * 3 * 5 * 7 * 8 + 2 * 3 * 5 * 7 * 4


def test_get_flops_counts_four_channel_model(get_flops, tmp_path):
    out = tmp_path / 'flops.json'
    record = get_flops.main(
        [CONFIG, '--shape', '48', '64', '--out', str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(record))
    assert record['input_shape'] == [4, 48, 64]
    assert record['macs'] > 0 and record['flops'] == 2 * record['macs']
    top_level = {name: entry['macs'] for name, entry in
                 record['modules'].items() if '.' not in name}
    assert {'backbone', 'neck', 'decode_head'} <= set(top_level)
    assert sum(top_level.values()) == record['macs']
    # The frozen SAM image encoder is part of the count.
    assert record['modules']['decode_head.image_encoder']['macs'] > 0
