"""Building blocks shared by several models (not registered)."""
from .cross_attention import CrossAttention, CrossAttentionBlock
from .frozen_parts import FrozenPartsMixin
from .lora import LoRALinear, add_lora
from .vector_quantizer import QuantizerOutput, VectorQuantizer

__all__ = [
    'CrossAttention', 'CrossAttentionBlock', 'FrozenPartsMixin', 'LoRALinear',
    'add_lora', 'QuantizerOutput', 'VectorQuantizer'
]
