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
def benchmark_tool():
    return _load_tool('benchmark')


@pytest.fixture(scope='module')
def flops_tool():
    return _load_tool('get_flops')


@pytest.fixture(scope='module')
def tiny_model(benchmark_tool):
    return benchmark_tool.build_segmentor(benchmark_tool.load_config(CONFIG))


def test_benchmark_writes_throughput_and_memory(benchmark_tool, tmp_path):
    out = tmp_path / 'bench.json'
    record = benchmark_tool.main([
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


def test_benchmark_bf16_with_checkpoint(benchmark_tool, tiny_model,
                                        tmp_path):
    checkpoint = tmp_path / 'weights.pth'
    torch.save(dict(state_dict=tiny_model.state_dict()), checkpoint)
    record = benchmark_tool.main([
        CONFIG, str(checkpoint), '--shape', '48', '64', '--warmup', '0',
        '--iters', '1', '--amp', 'bf16', '--device', 'cpu', '--out',
        str(tmp_path / 'bf16.json')
    ])
    assert record['amp'] == 'bf16' and record['checkpoint'] == str(checkpoint)


def test_random_batch_is_rgbt(benchmark_tool, tiny_model):
    batch = benchmark_tool.random_batch(tiny_model, 4, (8, 12), batch_size=3)
    assert [tuple(image.shape) for image in batch['inputs']] == [(4, 8, 12)
                                                                 ] * 3
    assert batch['data_samples'][0].metainfo['modality_channels'] == (3, 1)
    with torch.no_grad():
        predictions = tiny_model.test_step(batch)
    assert predictions[0].pred_sem_seg.data.shape[-2:] == (8, 12)


def test_input_channels_come_from_data_preprocessor(benchmark_tool):
    cfg = Config(dict(model=dict(data_preprocessor=dict(
        type='SegDataPreProcessor', mean=[0.0] * 5, std=[1.0] * 5))))
    assert benchmark_tool.input_channels(cfg) == 5
    no_mean = Config(dict(model=dict(
        data_preprocessor=dict(type='SegDataPreProcessor'))))
    with pytest.raises(ValueError, match='data_preprocessor.mean'):
        benchmark_tool.input_channels(no_mean)


class _TwoPartModel(torch.nn.Module):

    def __init__(self):
        super().__init__()
        self.backbone = torch.nn.Conv2d(4, 3, 3)
        self.neck = None
        self.decode_head = torch.nn.Conv2d(3, 2, 1)

    def forward(self, inputs):
        return self.decode_head(self.backbone(inputs))


def test_compile_parts_keeps_outputs_and_state_dict(benchmark_tool):
    model = _TwoPartModel()
    inputs = torch.rand(1, 4, 8, 8)
    expected = model(inputs)
    keys = set(model.state_dict())
    assert benchmark_tool.compile_parts(model, 'eager') == [
        'backbone', 'decode_head'
    ]
    assert 'forward' in vars(model.backbone)
    torch.testing.assert_close(model(inputs), expected)
    assert set(model.state_dict()) == keys


class _Attention(torch.nn.Module):

    def forward(self, query, key, value):
        return F.scaled_dot_product_attention(query, key, value)


def test_sdpa_macs_counted_exactly(flops_tool):
    query = torch.rand(2, 3, 5, 8)
    key = torch.rand(2, 3, 7, 8)
    value = torch.rand(2, 3, 7, 4)
    analyzer = FlopAnalyzer(_Attention(), (query, key, value))
    analyzer.set_op_handle('aten::scaled_dot_product_attention',
                           flops_tool.sdpa_flop_jit)
    analyzer.unsupported_ops_warnings(False)
    # Q K^T: 2*3 * 5*7*8; attention V: 2*3 * 5*7*4.
    assert analyzer.total() == 2 * 3 * 5 * 7 * 8 + 2 * 3 * 5 * 7 * 4


def test_get_flops_counts_four_channel_model(flops_tool, tmp_path):
    out = tmp_path / 'flops.json'
    record = flops_tool.main(
        [CONFIG, '--shape', '48', '64', '--out', str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(record))
    assert record['input_shape'] == [4, 48, 64]
    assert record['macs'] > 0 and record['flops'] == 2 * record['macs']
    top_level = {name: entry['macs'] for name, entry in
                 record['modules'].items() if '.' not in name}
    assert {'backbone', 'neck', 'decode_head'} <= set(top_level)
    # A few resizes run in the segmentor itself, outside its children.
    assert 0.95 * record['macs'] <= sum(top_level.values()) <= record['macs']
    # The frozen SAM image encoder (SDPA attention here) is counted.
    assert record['modules']['decode_head.image_encoder']['macs'] > 0
    assert 'aten::scaled_dot_product_attention' not in record['uncounted_ops']
