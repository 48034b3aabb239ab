"""Import ``segment_anything.modeling`` on machines where the package cannot.

``segment_anything/__init__.py`` imports ``SamPredictor``, which imports
torchvision. On CPU-only stacks without a working torchvision (torch 2.13 CPU
has none) ``import segment_anything`` therefore fails, although the model code
in ``segment_anything.modeling`` needs only torch.

:func:`import_sam_modeling` tries the normal import first. If the package's
``__init__`` fails, it registers the package in ``sys.modules`` *without*
executing its ``__init__`` and imports only the ``modeling`` subpackage. The
returned module exposes ``ImageEncoderViT``, ``PromptEncoder``,
``MaskDecoder``, ``TwoWayTransformer`` and ``Sam`` either way.
"""
import importlib
import importlib.util
import logging
import sys
from types import ModuleType
from typing import Optional

try:
    from mmengine.logging import print_log
except ImportError:  # torch + segment_anything only (benchmark_sam_encoder.py)

    def print_log(msg: str,
                  logger: Optional[str] = None,
                  level: int = logging.INFO) -> None:
        if level >= logging.INFO:
            print(msg, file=sys.stderr)


_PACKAGE = 'segment_anything'


def _import_modeling_without_package_init() -> ModuleType:
    """Import ``segment_anything.modeling`` while skipping the package init."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError(
            'segment_anything is not installed; install it with '
            '`pip install segment-anything==1.0` (or `make install`).')
    package = importlib.util.module_from_spec(spec)
    package.__fusionsam_partial_import__ = True
    sys.modules[_PACKAGE] = package
    try:
        return importlib.import_module(f'{_PACKAGE}.modeling')
    except Exception:
        sys.modules.pop(_PACKAGE, None)
        raise


def import_sam_modeling() -> ModuleType:
    """Return the ``segment_anything.modeling`` module.

    Returns:
        ModuleType: ``segment_anything.modeling``, imported normally when the
        package imports, else through the fallback that skips the package's
        ``__init__`` (logged once).
    """
    loaded = sys.modules.get(f'{_PACKAGE}.modeling')
    if loaded is not None:
        return loaded
    try:
        importlib.import_module(_PACKAGE)
    except ImportError as error:
        if importlib.util.find_spec(_PACKAGE) is None:
            raise
        reason = error
    except RuntimeError as error:  # torchvision operator registration
        reason = error
    else:
        return importlib.import_module(f'{_PACKAGE}.modeling')
    sys.modules.pop(_PACKAGE, None)
    for name in [n for n in sys.modules if n.startswith(f'{_PACKAGE}.')]:
        sys.modules.pop(name)
    print_log(
        f'`import {_PACKAGE}` failed ({type(reason).__name__}: {reason}); '
        f'importing {_PACKAGE}.modeling alone (SamPredictor is unavailable).',
        logger='current',
        level=logging.DEBUG)
    return _import_modeling_without_package_init()
