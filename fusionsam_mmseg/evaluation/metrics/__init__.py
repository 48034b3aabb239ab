"""Registered components; importing this package registers them."""
from .reconstruction_metric import ReconstructionMetric  # noqa: F401
from .per_class_iou import PerClassIoUMetric  # noqa: F401
from .fusion_quality_metric import FusionQualityMetric  # noqa: F401
