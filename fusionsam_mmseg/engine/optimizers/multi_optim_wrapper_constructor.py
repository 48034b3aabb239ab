"""One optimizer wrapper per sub-network, as an ``OptimWrapperDict``.

mmengine builds an ``OptimWrapperDict`` from a config only through a
constructor. Models that alternate updates of sub-networks in their own
``train_step`` (SAGE's teacher and student, like mmagic's generator and
discriminator) name one wrapper config per attribute::

    optim_wrapper = dict(
        constructor='MultiOptimWrapperConstructor',
        teacher=dict(type='OptimWrapper',
                     optimizer=dict(type='Adam', lr=5e-4)),
        student=dict(type='OptimWrapper',
                     optimizer=dict(type='Adam', lr=2e-3)))

and ``param_scheduler`` may then be a dict with the same keys.
"""
from mmengine.model import is_model_wrapper
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapperDict
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MultiOptimWrapperConstructor:
    """Build an ``OptimWrapperDict`` keyed by sub-module names.

    Args:
        optim_wrapper_cfg (dict): ``{name: wrapper config}``; each config is
            built for ``model.<name>`` by mmengine's
            ``DefaultOptimWrapperConstructor`` (its ``paramwise_cfg`` key
            included).
        paramwise_cfg (dict, optional): Must be None (give it per wrapper).
    """

    def __init__(self, optim_wrapper_cfg: dict,
                 paramwise_cfg: dict = None) -> None:
        if paramwise_cfg is not None:
            raise ValueError(
                'MultiOptimWrapperConstructor: set paramwise_cfg inside each '
                f'wrapper config ({sorted(optim_wrapper_cfg)}), not at the '
                'top of optim_wrapper.')
        if not optim_wrapper_cfg or not all(
                isinstance(cfg, dict) for cfg in optim_wrapper_cfg.values()):
            raise ValueError(
                'MultiOptimWrapperConstructor: optim_wrapper must map '
                'sub-module names to optimizer wrapper configs, got '
                f'{optim_wrapper_cfg}.')
        self.optim_wrapper_cfg = optim_wrapper_cfg

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        if is_model_wrapper(model):
            model = model.module
        wrappers = {}
        for name, cfg in self.optim_wrapper_cfg.items():
            module = getattr(model, name, None)
            if not isinstance(module, nn.Module):
                raise ValueError(
                    f'MultiOptimWrapperConstructor: optim_wrapper.{name} '
                    f'names no sub-module of {type(model).__name__}.')
            cfg = dict(cfg)
            paramwise_cfg = cfg.pop('paramwise_cfg', None)
            wrappers[name] = DefaultOptimWrapperConstructor(
                cfg, paramwise_cfg)(module)
        return OptimWrapperDict(**wrappers)
