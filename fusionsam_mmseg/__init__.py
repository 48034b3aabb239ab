"""FusionSAM for MMSegmentation 1.x.

``import fusionsam_mmseg`` first applies the changes to other libraries
listed in :mod:`fusionsam_mmseg.import_patches` (each with its reason), then
registers every component of the plugin in MMSegmentation's registries
(scope ``mmseg``).
"""
from .import_patches import apply_import_patches
from .version import __version__

apply_import_patches()

from . import datasets, engine, evaluation, models, visualization  # noqa: E402,F401,E501

__all__ = ['__version__']
