from .dataset_model_check_hook import DatasetModelCheckHook
from .non_finite_loss_hook import NonFiniteLossHook
from .rng_state_hook import RNGStateHook

__all__ = ['DatasetModelCheckHook', 'NonFiniteLossHook', 'RNGStateHook']
