"""Count the multiply-accumulates and parameters of an RGB-T segmentor.

mmseg's ``tools/analysis/get_flops.py`` feeds 3-channel images and counts the
decode head alone for some models. This tool feeds as many channels as the
config's ``data_preprocessor.mean`` lists, runs the preprocessed batch through
the whole model (``model(inputs, mode='tensor')``: backbone, neck and decode
head, the frozen SAM image encoder included) and counts with mmengine's
:class:`~mmengine.analysis.FlopAnalyzer`.

mmengine (like fvcore) counts one fused multiply-add as one "flop"; this tool
reports that number as MACs and 2 × MACs as FLOPs. ``scaled_dot_product_
attention`` is counted (Q·Kᵀ and attention·V); operators the analyzer does not
know are listed in the output instead of being guessed.

Example::

    python tools/analysis/get_flops.py configs/fusionsam_vith_mfnet.py \
        --shape 480 640 --out work_dirs/flops/vith_mfnet.json
"""
import argparse
import json
import os
import os.path as osp
import sys
from collections import Counter
from math import prod
from typing import Any, List, Optional, Sequence

import torch
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.analysis.print_helper import complexity_stats_table
from mmengine.analysis.jit_handles import get_shape
from mmengine.config import DictAction

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from benchmark import (build_segmentor, input_channels,  # noqa: E402
                       load_config, random_batch)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Count MACs/FLOPs and parameters of a segmentor with '
        'the input channels of its data preprocessor.')
    parser.add_argument('config', help='model config file')
    parser.add_argument(
        '--shape', type=int, nargs=2, default=[480, 640],
        metavar=('H', 'W'), help='input height and width (default: 480 640)')
    parser.add_argument(
        '--max-depth', type=int, default=2,
        help='module depth of the per-module breakdown (default: 2)')
    parser.add_argument(
        '--show-table', action='store_true',
        help="print mmengine's per-module table")
    parser.add_argument('--out', help='json file to write')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, as in tools/test.py')
    return parser.parse_args(argv)


def sdpa_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """MACs of ``aten::scaled_dot_product_attention``.

    Q (…, L, E), K (…, S, E), V (…, S, Ev): Q·Kᵀ costs …·L·S·E and the
    weighted sum …·L·S·Ev; softmax and masking are not counted (as for
    mmengine's other element-wise ops).
    """
    query, key, value = (get_shape(v) for v in inputs[:3])
    *batch, length, embed = query
    source = key[-2]
    return prod(batch) * length * source * (embed + value[-1])


def preprocessed_inputs(model: torch.nn.Module, channels: int,
                        shape: Sequence[int]) -> torch.Tensor:
    """One random image through the model's data preprocessor: (1, C, H, W).
    """
    batch = random_batch(model, channels, shape, batch_size=1)
    return model.data_preprocessor(batch, False)['inputs']


def module_breakdown(analyzer: FlopAnalyzer, params: Counter,
                     max_depth: int) -> dict:
    """MACs and parameters of every module down to ``max_depth``."""
    breakdown = {}
    for name, macs in analyzer.by_module().items():
        if name and name.count('.') < max_depth and (macs or params[name]):
            breakdown[name] = dict(macs=int(macs), params=int(params[name]))
    return breakdown


def count(args: argparse.Namespace) -> dict:
    """Build the model, count, and return the json record."""
    cfg = load_config(args.config, args.cfg_options)
    channels = input_channels(cfg)
    model = build_segmentor(cfg)
    inputs = preprocessed_inputs(model, channels, args.shape)
    analyzer = FlopAnalyzer(model, inputs)
    analyzer.set_op_handle('aten::scaled_dot_product_attention',
                           sdpa_flop_jit)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    params = parameter_count(model)
    macs = int(analyzer.total())
    if args.show_table:
        print(complexity_stats_table(analyzer, max_depth=args.max_depth,
                                     show_param_shapes=False))
    return dict(
        config=args.config,
        input_shape=[channels, *args.shape],
        macs=macs,
        flops=2 * macs,
        gmacs=macs / 1e9,
        gflops=2 * macs / 1e9,
        params=int(params['']),
        params_m=params[''] / 1e6,
        modules=module_breakdown(analyzer, params, args.max_depth),
        uncounted_ops=dict(analyzer.unsupported_ops()),
        note='MACs as counted by mmengine.analysis.FlopAnalyzer (one fused '
        'multiply-add = 1); flops = 2 * macs.')


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Entry point: count, print a summary and write the json if asked."""
    args = parse_args(argv)
    record = count(args)
    split = '=' * 30
    print(f'{split}\nInput shape: {tuple(record["input_shape"])}\n'
          f'MACs: {record["gmacs"]:.3f} G (FLOPs: {record["gflops"]:.3f} G)'
          f'\nParams: {record["params_m"]:.3f} M\n{split}')
    for name, entry in record['modules'].items():
        print(f'  {name}: {entry["macs"] / 1e9:.3f} GMACs, '
              f'{entry["params"] / 1e6:.3f} M params')
    if record['uncounted_ops']:
        print(f'Not counted (no handle): {record["uncounted_ops"]}')
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w', encoding='utf-8') as file:
            json.dump(record, file, indent=2)
        print(f'wrote {args.out}')
    return record


if __name__ == '__main__':
    main()
