"""Registered components; importing this package registers them."""
from .rgbt_visualizer import RGBTSegLocalVisualizer, fused_image_to_rgb

__all__ = ['RGBTSegLocalVisualizer', 'fused_image_to_rgb']
