"""Registered components; importing this package registers them."""
from .concat_fusion import ConcatFusion  # noqa: F401
from .fmp import FMP  # noqa: F401
from .fusion_neck_output import FusionNeckOutput  # noqa: F401
