"""Registered components; importing this package registers them."""
from .rgbt_visualizer import MultiModalSegLocalVisualizer, fused_image_to_rgb

__all__ = ['MultiModalSegLocalVisualizer', 'fused_image_to_rgb']
