"""Evaluation metrics registered in mmseg's METRICS."""
from . import metrics  # noqa: F401
from .fusion_quality import FUSION_METRICS, fusion_quality  # noqa: F401
