"""Framework helpers: torch >= 2.6 safe loading of mmengine checkpoints."""
from .safe_checkpoint import (checkpoint_safe_globals,
                              register_checkpoint_safe_globals)

__all__ = ['checkpoint_safe_globals', 'register_checkpoint_safe_globals']
