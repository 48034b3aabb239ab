"""Exit 0 when the pinned stack and this checkout's package are installed.

Used by ``make install`` to skip work on re-runs. Prints what is missing.
Run it from outside the repository (so the checkout itself does not shadow
the installed package): ``python tools/install/check_stack.py REPO_ROOT``.
"""
import importlib
import importlib.metadata as metadata
import os.path as osp
import sys

PINNED = {
    'mmcv': '2.1.0',
    'mmengine': '0.10.7',
    'mmsegmentation': '1.2.2',
    'mmpretrain': '1.2.0',
    'segment-anything': '1.0',
    'sam2': '1.1.0',
    'torchmetrics': '1.9.0',
    'onnx': '1.23.1',
    'onnxscript': '0.7.2',
    'onnx-ir': '1.0.0',
    'onnxruntime': '1.23.2',
}


def problems(repo_root: str) -> list:
    """List human-readable reasons the stack is not ready (empty if ready)."""
    found = []
    try:
        import torch
    except ImportError:
        return ['torch is not installed']
    if not torch.version.cuda and torch.__version__.split('+')[0] != '2.13.0':
        found.append(f'torch {torch.__version__} (want 2.13.0 CPU or a CUDA '
                     'build)')
    for name, version in PINNED.items():
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            have = None
        if have != version:
            found.append(f'{name} {have} (want {version})')
    for module in ('mmcv.ops', 'ftfy', 'regex', 'pytest', 'xdist', 'hydra',
                   'iopath', 'seaborn'):
        try:
            importlib.import_module(module)
        except Exception as error:  # noqa: BLE001 (report any import error)
            found.append(f'import {module} fails: {error}')
    try:
        package = importlib.import_module('fusionsam_mmseg')
        here = osp.realpath(repo_root)
        if not osp.realpath(package.__file__).startswith(here + osp.sep):
            found.append(f'fusionsam_mmseg is installed from '
                         f'{osp.dirname(package.__file__)}, not {here}')
    except Exception as error:  # noqa: BLE001
        found.append(f'import fusionsam_mmseg fails: {error}')
    return found


if __name__ == '__main__':
    missing = problems(sys.argv[1])
    for line in missing:
        print(f'[install] needs work: {line}')
    sys.exit(1 if missing else 0)
