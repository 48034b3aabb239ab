"""Registered components; importing this package registers them."""
from .lstg import LSTG  # noqa: F401
