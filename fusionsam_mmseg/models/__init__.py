"""Models: importing this package registers them in mmseg's MODELS."""
from . import backbones, decode_heads, losses, necks, segmentors, utils  # noqa: F401
