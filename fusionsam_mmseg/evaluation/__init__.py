"""Evaluation metrics registered in mmseg's METRICS."""
from . import metrics  # noqa: F401
