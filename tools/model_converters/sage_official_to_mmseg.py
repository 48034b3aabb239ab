"""Convert the SAGE authors' released student to this package's layout.

RollingPlain/SAGE_IVIF ships ``checkpoints/checkpoints.pt``, the plain state
dict of its ``model_sub`` network (121 tensors: ``module1.0.weight``, ...).
This writes ``{'state_dict': {'student.<key>': ...}, 'meta': ...}``, the
student of ``configs/sage/sage_student_official.py``, which
``demo/fusion_demo.py``, ``FusionInferencer``, ``tools/test.py`` and
``load_from`` read (``extract_sage_student.py`` makes a bare student file of
it for ``FusedImageBackbone``).

Every official tensor must land in ``SAGEStudent(channels, conv_bias=True)``
with its shape, and every tensor of that network must be filled; anything
else is an error that names the keys.

Example::

    python tools/model_converters/sage_official_to_mmseg.py \\
        ../shared/data/sage_official/checkpoints.pt \\
        checkpoints/sage/sage_student_official.pth
"""
import argparse
import os
import os.path as osp
import re
from typing import Dict, List, Optional

import torch

from fusionsam_mmseg.models.fusion import SAGEStudent
from fusionsam_mmseg.models.pretrained_file import file_sha256

# Official module -> ours. Each official nn.Sequential repeats (Conv2d,
# BatchNorm2d, LeakyReLU); final_decoder is (Conv2d, Tanh).
STAGES = {'module1': 'down1', 'module2': 'down2', 'module3': 'bottom',
          'module4': 'up2', 'module5': 'up1'}
MERGES = {'adjust_channels4': 'merge_up2', 'adjust_channels5': 'merge_up1'}
LAYER_PARTS = ('conv', 'bn')
OFFICIAL_KEY = re.compile(r'(\w+?)\.(\d+)\.(\w+)')


def our_key(key: str) -> Optional[str]:
    """Our name of an official tensor; None when it has no counterpart."""
    match = OFFICIAL_KEY.fullmatch(key)
    if match is None:
        return None
    module, index, tensor = match.group(1), int(match.group(2)), match.group(3)
    layer, part = divmod(index, 3)
    if part >= len(LAYER_PARTS):
        return None
    if module in STAGES:
        return f'{STAGES[module]}.{layer}.{LAYER_PARTS[part]}.{tensor}'
    if module in MERGES and layer == 0:
        return f'{MERGES[module]}.{LAYER_PARTS[part]}.{tensor}'
    if module == 'final_decoder' and index == 0:
        return f'out.{tensor}'
    return None


def _listed(keys: List[str]) -> str:
    return ', '.join(keys[:8]) + (f' (+{len(keys) - 8} more)'
                                  if len(keys) > 8 else '')


def convert(official: Dict[str, torch.Tensor],
            source: str) -> Dict[str, torch.Tensor]:
    """Official state dict -> ``SAGEStudent`` state dict (no prefix).

    Raises:
        ValueError: Naming the unexpected, missing and mis-shaped keys.
    """
    first = official.get('module1.0.weight')
    if first is None:
        raise ValueError(
            f"{source} has no 'module1.0.weight'; expected the state dict "
            "of SAGE's released student (RollingPlain/SAGE_IVIF "
            'checkpoints/checkpoints.pt).')
    expected = SAGEStudent(channels=first.shape[0],
                           conv_bias=True).state_dict()
    converted, unexpected = {}, []
    for key, value in official.items():
        ours = our_key(key)
        if ours in expected:
            converted[ours] = value.detach().cpu()
        else:
            unexpected.append(key)
    missing = [key for key in expected if key not in converted]
    misshaped = [f'{key} {tuple(value.shape)} (want '
                 f'{tuple(expected[key].shape)})'
                 for key, value in converted.items()
                 if value.shape != expected[key].shape]
    problems = [f'{what}: {_listed(keys)}' for what, keys in (
        ('unexpected official keys', unexpected),
        ('student keys not filled', missing),
        ('shapes that differ', misshaped)) if keys]
    if problems:
        raise ValueError(f'{source} is not the released SAGE student: ' +
                         '; '.join(problems) + '.')
    return converted


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help="the authors' checkpoints.pt")
    parser.add_argument('dst', help='checkpoint to write')
    args = parser.parse_args(argv)
    if not osp.isfile(args.src):
        raise FileNotFoundError(f'{args.src} does not exist; expected the '
                                "authors' checkpoints/checkpoints.pt.")
    official = torch.load(args.src, map_location='cpu', weights_only=True)
    official = official.get('state_dict', official)
    student = convert(official, args.src)
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    meta = dict(model='SAGEStudent', conv_bias=True,
                source=osp.abspath(args.src),
                source_sha256=file_sha256(args.src))
    torch.save(dict(state_dict={f'student.{key}': value
                                for key, value in student.items()},
                    meta=meta), args.dst)
    print(f'wrote {len(student)} student tensors of {args.src} to '
          f'{args.dst}')


if __name__ == '__main__':
    main()
