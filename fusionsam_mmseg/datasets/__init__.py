"""Multi-modal datasets and transforms registered in mmseg's registries."""
from .deliver import DELIVERDataset
from .fmb import FMBDataset
from .mcubes import MCubeSDataset
from .mfnet import MFNetDataset
from .multimodal_folder import MultiModalFolderDataset  # noqa: F401
from .msrs import MSRSDataset
from .pst900 import PST900Dataset
from .transforms import (CropMargins, LoadCheckedAnnotations,
                         LoadMultiModalImageFromFile,
                         MultiModalPhotoMetricDistortion)

__all__ = [
    'MFNetDataset', 'FMBDataset', 'DELIVERDataset', 'MCubeSDataset',
    'MSRSDataset', 'PST900Dataset', 'LoadMultiModalImageFromFile',
    'LoadCheckedAnnotations', 'MultiModalPhotoMetricDistortion', 'CropMargins'
]
