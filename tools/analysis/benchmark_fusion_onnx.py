"""Benchmark SAGE's student: PyTorch eager against ONNX Runtime on the CPU.

Both run in one process on the same weights and inputs, batch 1, at each
``--sizes`` (default 480x640 and 768x1024); the timed runs alternate
between them so that load changes on a shared machine hit both alike.
Prints, per size, images/s of each, ``ort / eager`` and the max abs
difference of their outputs. Without ``--onnx`` the student is exported
first (``tools/deployment/export_onnx.py``) to a temporary file.

Example::

    python tools/analysis/benchmark_fusion_onnx.py \\
        configs/sage/sage_student_official.py \\
        checkpoints/sage/sage_student_official.pth --threads 2
"""
import argparse
import importlib.util
import os.path as osp
import statistics
import tempfile
import time
from typing import Callable, List, Optional, Tuple

import numpy as np
import onnxruntime
import torch

EXPORT_TOOL = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                       'deployment', 'export_onnx.py')


def load_export_tool():
    spec = importlib.util.spec_from_file_location('export_onnx', EXPORT_TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_size(text: str) -> Tuple[int, int]:
    height, width = (int(value) for value in text.lower().split('x'))
    return height, width


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def measure(student: torch.nn.Module, session: onnxruntime.InferenceSession,
            size: Tuple[int, int], repeats: int) -> dict:
    """images/s of eager and ONNX Runtime at one size, alternating."""
    generator = torch.Generator().manual_seed(0)
    inputs = [torch.rand(1, 1, *size, generator=generator) for _ in range(2)]
    feed = dict(zip(('visible_y', 'infrared'),
                    (tensor.numpy() for tensor in inputs)))

    @torch.no_grad()
    def eager():
        return student(*inputs)[0]

    def ort():
        return session.run(None, feed)[0]

    difference = float(np.abs(ort() - eager().numpy()).max())  # warm-up
    times = {'eager': [], 'ort': []}
    for _ in range(repeats):
        times['eager'].append(timed(eager))
        times['ort'].append(timed(ort))
    rates = {name: 1.0 / statistics.median(values)
             for name, values in times.items()}
    return dict(size=size, difference=difference, **rates)


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='SAGE config (its student is used)')
    parser.add_argument('checkpoint', help='SAGE or student checkpoint')
    parser.add_argument('--onnx', help='exported student (default: export)')
    parser.add_argument('--sizes', nargs='+', type=parse_size,
                        default=[(480, 640), (768, 1024)], help='HxW')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--threads', type=int, default=1,
                        help='threads of both runtimes')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    export_tool = load_export_tool()
    student = export_tool.load_student(args.config, args.checkpoint)
    with tempfile.TemporaryDirectory() as folder:
        onnx_file = args.onnx or osp.join(folder, 'student.onnx')
        if args.onnx is None:
            export_tool.export(student, onnx_file)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = args.threads
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            onnx_file, options, providers=['CPUExecutionProvider'])
        results = [measure(student, session, size, args.repeats)
                   for size in args.sizes]
    print(f'CPU, {args.threads} thread(s), batch 1, median of '
          f'{args.repeats}; torch {torch.__version__}, onnxruntime '
          f'{onnxruntime.__version__}')
    print('| size (HxW) | PyTorch eager img/s | ONNX Runtime img/s | '
          'ort / eager | max abs diff |')
    print('|---|---|---|---|---|')
    for result in results:
        height, width = result['size']
        print(f"| {height}x{width} | {result['eager']:.2f} | "
              f"{result['ort']:.2f} | {result['ort'] / result['eager']:.2f} "
              f"| {result['difference']:.1e} |")


if __name__ == '__main__':
    main()
