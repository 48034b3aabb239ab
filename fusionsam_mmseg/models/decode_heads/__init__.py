"""Registered components; importing this package registers them."""
from .sam_prompt_head import SAMPromptHead  # noqa: F401
from .stock_sam2_head import StockSAM2Head  # noqa: F401
from .stock_sam_head import StockSAMHead  # noqa: F401
