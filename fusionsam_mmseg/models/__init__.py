"""Models: importing this package registers them in mmseg's MODELS.

Rooms: ``backbones``, ``necks``, ``decode_heads``, ``segmentors``,
``losses`` (as in mmseg), ``sam`` (Segment Anything / SAM2 building,
official checkpoints, frame geometry, prompts, class-token decoder) and
``layers`` (attention, quantizer).
"""
from . import (backbones, decode_heads, layers, losses, necks,  # noqa: F401
               sam, segmentors)
