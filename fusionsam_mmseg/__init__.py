"""FusionSAM for MMSegmentation 1.x.

``import fusionsam_mmseg`` registers every component of the plugin in
MMSegmentation's registries (scope ``mmseg``) and installs the torch >= 2.6
safe-loading allow-list for mmengine checkpoints.
"""
from .version import __version__
from .utils import safe_checkpoint  # noqa: F401  (allow-list on import)
from . import datasets, engine, evaluation, models, visualization  # noqa: F401

__all__ = ['__version__']
