"""Export SAGE's SAM-free student to ONNX with dynamic batch, height, width.

The graph takes ``visible_y`` and ``infrared`` (B, 1, H, W) float32 in
[0, 1] (the visible luminance Y of OpenCV's YCrCb and the grey infrared
image, each / 255) and returns ``fused_y`` (B, 1, H, W), the student's Tanh
output; ``fusionsam_mmseg.apis.FusionInferencer`` shows the colour
conversion and 8-bit rounding around it. Exported with torch's
``torch.export``-based exporter (onnxscript), opset 18.

Example::

    python tools/deployment/export_onnx.py \\
        configs/sage/sage_student_official.py \\
        checkpoints/sage/sage_student_official.pth \\
        --out work_dirs/student.onnx
"""
import argparse
import os
import os.path as osp
from typing import List, Optional

import torch
from mmengine.config import Config
from torch import Tensor, nn

import fusionsam_mmseg  # noqa: F401  (registers the plugin)
from fusionsam_mmseg.apis.fusion_inferencer import build_student
from fusionsam_mmseg.models.fusion.sage_student import load_student_weights

OPSET = 18
INPUT_NAMES = ('visible_y', 'infrared')
OUTPUT_NAME = 'fused_y'
# Example input size of the trace; every size works after export.
EXAMPLE_SIZE = (96, 128)


class FusedLuminance(nn.Module):
    """The student's fused Y alone (its stage features are for training)."""

    def __init__(self, student: nn.Module) -> None:
        super().__init__()
        self.student = student

    def forward(self, visible_y: Tensor, infrared: Tensor) -> Tensor:
        return self.student(visible_y, infrared)[0]


def load_student(config: str, checkpoint: str) -> nn.Module:
    """The config's student with the checkpoint's weights, in eval mode."""
    student = build_student(Config.fromfile(config), config)
    load_student_weights(student, checkpoint)
    return student.eval()


def export(student: nn.Module, out: str) -> None:
    """Write ``student`` as ONNX to ``out`` (dynamic B, H, W)."""
    batch, height, width = (torch.export.Dim('batch', max=1024),
                            torch.export.Dim('height', min=8, max=16384),
                            torch.export.Dim('width', min=8, max=16384))
    dims = {0: batch, 2: height, 3: width}
    example = tuple(torch.rand(1, 1, *EXAMPLE_SIZE) for _ in INPUT_NAMES)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    torch.onnx.export(
        FusedLuminance(student).eval(), example, out, dynamo=True,
        input_names=list(INPUT_NAMES), output_names=[OUTPUT_NAME],
        dynamic_shapes={name: dims for name in INPUT_NAMES},
        opset_version=OPSET, external_data=False)


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='SAGE config (its student is used)')
    parser.add_argument('checkpoint', help='SAGE or student checkpoint')
    parser.add_argument('--out', required=True, help='ONNX file to write')
    args = parser.parse_args(argv)
    export(load_student(args.config, args.checkpoint), args.out)
    print(f'wrote {args.out} (inputs {", ".join(INPUT_NAMES)}: (B, 1, H, W) '
          f'in [0, 1]; output {OUTPUT_NAME})')


if __name__ == '__main__':
    main()
