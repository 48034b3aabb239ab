"""Building blocks shared by several models (not registered)."""
from .cross_attention import CrossAttention, CrossAttentionBlock
from .lora import LoRALinear, add_lora
from .vector_quantizer import QuantizerOutput, VectorQuantizer

__all__ = [
    'CrossAttention', 'CrossAttentionBlock', 'LoRALinear', 'add_lora',
    'QuantizerOutput', 'VectorQuantizer'
]
