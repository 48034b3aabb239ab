"""Let mmengine's ``pytorch`` launcher start on CPU-only machines.

``tools/dist_train.sh`` runs ``torchrun ... --launcher pytorch``; mmengine
0.10.7 then calls ``torch.cuda.set_device(LOCAL_RANK)`` before
``torch.distributed.init_process_group``. On a CPU-only torch build that
fails with ``AttributeError: module 'torch._C' has no attribute
'_cuda_setDevice'``, so a gloo run never starts.

Importing :mod:`fusionsam_mmseg` (directly or through a config's
``custom_imports``, which the stock ``tools/train.py`` processes before it
builds the runner) applies :func:`install_cpu_launcher` (through
:mod:`fusionsam_mmseg.import_patches`), which replaces mmengine's
``_init_dist_pytorch`` by
:func:`init_dist_pytorch`: without CUDA it makes the same
``init_process_group`` call minus ``set_device``; with CUDA, or another
accelerator or init backend, it calls mmengine's function unchanged.

The model wrapper needs one more setting on CPU: mmengine passes
``device_ids=[LOCAL_RANK]`` to DDP, which torch refuses for CPU modules. A
config given ``model_wrapper_cfg=dict(type='MMDistributedDataParallel',
device_ids=None)`` keeps it out (see docs/distributed.md).

Either way the launcher registers the clean exit of
:mod:`fusionsam_mmseg.engine.process_group_exit`.
"""
import torch
import torch.distributed as torch_dist
from mmengine.device import (is_mlu_available, is_musa_available,
                             is_npu_available)
from mmengine.dist import utils as dist_utils

from .process_group_exit import register_process_group_exit

_MMENGINE_INIT_DIST_PYTORCH = dist_utils._init_dist_pytorch


def init_dist_pytorch(backend: str, init_backend: str = 'torch',
                      **kwargs) -> None:
    """mmengine's ``_init_dist_pytorch`` that also works without CUDA.

    Args:
        backend (str): ``env_cfg.dist_cfg.backend``; must be ``'gloo'`` (or
            ``'mpi'``) on a machine without CUDA.
        init_backend (str): mmengine's ``'torch'`` / ``'deepspeed'`` /
            ``'colossalai'``; only ``'torch'`` has a CPU path here.
            Default: 'torch'.
        **kwargs: further ``init_process_group`` arguments (``timeout`` ...).
    """
    accelerated = (torch.cuda.is_available() or init_backend != 'torch'
                   or is_mlu_available() or is_npu_available()
                   or is_musa_available())
    register_process_group_exit()
    if accelerated:
        _MMENGINE_INIT_DIST_PYTORCH(backend, init_backend, **kwargs)
        return
    if backend == 'nccl':
        raise RuntimeError(
            "env_cfg.dist_cfg.backend='nccl' needs CUDA GPUs, and this "
            "machine has none: set env_cfg.dist_cfg.backend='gloo' (e.g. "
            "--cfg-options env_cfg.dist_cfg.backend=gloo) for CPU processes.")
    torch_dist.init_process_group(backend=backend, **kwargs)


def install_cpu_launcher() -> None:
    """Make mmengine's ``init_dist('pytorch')`` use :func:`init_dist_pytorch`.

    Idempotent; ``init_dist`` looks the function up at call time.
    """
    dist_utils._init_dist_pytorch = init_dist_pytorch
