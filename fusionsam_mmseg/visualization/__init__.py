"""Registered components; importing this package registers them."""
from .rgbt_visualizer import RGBTSegLocalVisualizer

__all__ = ['RGBTSegLocalVisualizer']
