"""RGB-T transforms registered in mmseg's TRANSFORMS."""
from .loading import LoadCheckedAnnotations, LoadRGBTImageFromFile
from .photometric import RGBTPhotoMetricDistortion

__all__ = [
    'LoadRGBTImageFromFile', 'LoadCheckedAnnotations',
    'RGBTPhotoMetricDistortion'
]
