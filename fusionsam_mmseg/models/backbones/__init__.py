"""Registered components; importing this package registers them."""
from .lstg import LSTG  # noqa: F401
from .modality_patch_embed import ModalityPatchEmbed  # noqa: F401
