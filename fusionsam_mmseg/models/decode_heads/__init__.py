"""Registered components; importing this package registers them."""
from .memorysam_head import MemorySAMHead  # noqa: F401
from .sam_prompt_head import SAMPromptHead  # noqa: F401
from .stock_sam2_head import StockSAM2Head  # noqa: F401
from .stock_sam_head import StockSAMHead  # noqa: F401
