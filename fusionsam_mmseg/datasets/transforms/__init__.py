"""Multi-modal transforms registered in mmseg's TRANSFORMS."""
from .geometric import CropMargins
from .loading import LoadCheckedAnnotations, LoadRGBTImageFromFile
from .mask_priors import LoadSAMMaskPriors  # noqa: F401
from .photometric import RGBTPhotoMetricDistortion

__all__ = [
    'LoadRGBTImageFromFile', 'LoadCheckedAnnotations',
    'RGBTPhotoMetricDistortion', 'CropMargins'
]
