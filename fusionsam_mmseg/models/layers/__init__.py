"""Building blocks shared by several models (not registered)."""
from .cross_attention import CrossAttention, CrossAttentionBlock
from .vector_quantizer import QuantizerOutput, VectorQuantizer

__all__ = [
    'CrossAttention', 'CrossAttentionBlock', 'QuantizerOutput',
    'VectorQuantizer'
]
