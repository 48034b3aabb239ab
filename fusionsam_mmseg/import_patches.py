"""Every change ``import fusionsam_mmseg`` makes to other libraries.

Nothing else in the package patches another library at import time. Each
patch is one function, applied once by :func:`apply_import_patches`, and
tested in ``tests/test_import_patches.py``:

1. :func:`allow_mmengine_checkpoint_globals`: torch >= 2.6 loads with
   ``weights_only=True`` and then refuses mmengine 0.10.7's own training
   checkpoints (``HistoryBuffer`` and numpy values in ``meta``); the exact
   types are allow-listed, ``weights_only`` stays on.
2. :func:`install_cpu_pytorch_launcher`: mmengine's ``pytorch`` launcher
   calls ``torch.cuda.set_device`` and so cannot start a CPU / gloo run
   (``tools/dist_train.sh`` on a machine without CUDA); the replacement
   also leaves the process group cleanly at exit.
3. :func:`import_segment_anything_modeling`: ``segment_anything``'s package
   ``__init__`` imports torchvision, which no CPU torch 2.13 build has, so
   its ``modeling`` subpackage (torch only) is imported without that
   ``__init__`` when the normal import fails.

This module imports only the standard library at module level, so a script
on a machine without OpenMMLab (``tools/analysis/benchmark_sam_encoder.py``)
can load it alone and call :func:`import_segment_anything_modeling`.
"""
import importlib
import importlib.util
import logging
import sys
from types import ModuleType

_SAM_PACKAGE = 'segment_anything'


def allow_mmengine_checkpoint_globals() -> bool:
    """Patch 1: allow-list the globals of mmengine training checkpoints.

    Returns:
        bool: False when this torch has no safe-globals API (torch < 2.4,
        where ``weights_only`` is off by default anyway).
    """
    from .engine.checkpoint_safe_globals import \
        register_checkpoint_safe_globals
    return register_checkpoint_safe_globals()


def install_cpu_pytorch_launcher() -> None:
    """Patch 2: mmengine's ``init_dist('pytorch')`` works without CUDA."""
    from .engine.cpu_launcher import install_cpu_launcher
    install_cpu_launcher()


def _log(message: str) -> None:
    try:
        from mmengine.logging import print_log
    except ImportError:  # torch + segment_anything only
        print(message, file=sys.stderr)
        return
    print_log(message, logger='current', level=logging.DEBUG)


def _import_modeling_without_package_init() -> ModuleType:
    """Import ``segment_anything.modeling`` while skipping the package init."""
    spec = importlib.util.find_spec(_SAM_PACKAGE)
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError(
            'segment_anything is not installed; install it with '
            '`pip install segment-anything==1.0` (or `make install`).')
    package = importlib.util.module_from_spec(spec)
    package.__fusionsam_partial_import__ = True
    sys.modules[_SAM_PACKAGE] = package
    try:
        return importlib.import_module(f'{_SAM_PACKAGE}.modeling')
    except Exception:
        sys.modules.pop(_SAM_PACKAGE, None)
        raise


def import_segment_anything_modeling() -> ModuleType:
    """Patch 3: make ``segment_anything.modeling`` importable.

    Tries the normal import first; when the package ``__init__`` fails
    (torchvision), registers the package in ``sys.modules`` without running
    its ``__init__`` and imports ``modeling`` alone (logged once; then
    ``SamPredictor`` is unavailable). Idempotent.

    Returns:
        ModuleType: ``segment_anything.modeling`` (``ImageEncoderViT``,
        ``PromptEncoder``, ``MaskDecoder``, ``TwoWayTransformer``, ``Sam``).
    """
    loaded = sys.modules.get(f'{_SAM_PACKAGE}.modeling')
    if loaded is not None:
        return loaded
    try:
        importlib.import_module(_SAM_PACKAGE)
    except ImportError as error:
        if importlib.util.find_spec(_SAM_PACKAGE) is None:
            raise
        reason = error
    except RuntimeError as error:  # torchvision operator registration
        reason = error
    else:
        return importlib.import_module(f'{_SAM_PACKAGE}.modeling')
    for name in [n for n in sys.modules
                 if n == _SAM_PACKAGE or n.startswith(f'{_SAM_PACKAGE}.')]:
        sys.modules.pop(name)
    _log(f'`import {_SAM_PACKAGE}` failed ({type(reason).__name__}: '
         f'{reason}); importing {_SAM_PACKAGE}.modeling alone '
         '(SamPredictor is unavailable).')
    return _import_modeling_without_package_init()


def apply_import_patches() -> None:
    """Apply patches 1-3 (idempotent)."""
    allow_mmengine_checkpoint_globals()
    install_cpu_pytorch_launcher()
    import_segment_anything_modeling()
