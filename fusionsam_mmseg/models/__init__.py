"""Models: importing this package registers them in mmseg's MODELS.

Rooms: ``backbones``, ``necks``, ``decode_heads``, ``segmentors``,
``losses`` (as in mmseg), ``sam`` (Segment Anything / SAM2 building,
official checkpoints, frame geometry, prompts, class-token decoder),
``layers`` (attention, quantizer) and ``fusion`` (networks whose output is
a fused image: SAGE).
"""
from . import (backbones, decode_heads, fusion, layers,  # noqa: F401
               losses, necks, sam, segmentors)
