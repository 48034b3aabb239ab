"""Multi-modal transforms registered in mmseg's TRANSFORMS."""
from .drop_modality import DropModality  # noqa: F401
from .geometric import CropMargins
from .loading import LoadCheckedAnnotations, LoadMultiModalImageFromFile
from .mask_priors import LoadSAMMaskPriors  # noqa: F401
from .modality_photometric import ModalityColorJitter, ModalityGaussianBlur  # noqa: F401,E501
from .photometric import MultiModalPhotoMetricDistortion

__all__ = [
    'LoadMultiModalImageFromFile', 'LoadCheckedAnnotations',
    'MultiModalPhotoMetricDistortion', 'CropMargins'
]
