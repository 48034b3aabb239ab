"""Registered components; importing this package registers them."""
from .lstg import LSTG  # noqa: F401
from .modality_patch_embed import ModalityPatchEmbed  # noqa: F401
from .sam2_lora import SAM2LoRABackbone  # noqa: F401
from .fused_image_backbone import FusedImageBackbone  # noqa: F401
