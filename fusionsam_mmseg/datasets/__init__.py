"""RGB-T datasets and transforms registered in mmseg's registries."""
from .fmb import FMBDataset
from .mfnet import MFNetDataset
from .transforms import (LoadCheckedAnnotations, LoadRGBTImageFromFile,
                         RGBTPhotoMetricDistortion)

__all__ = [
    'MFNetDataset', 'FMBDataset', 'LoadRGBTImageFromFile',
    'LoadCheckedAnnotations', 'RGBTPhotoMetricDistortion'
]
