"""Load mmengine checkpoints under torch's ``weights_only=True`` default.

Since torch 2.6 ``torch.load`` defaults to ``weights_only=True``, which only
unpickles tensors, containers and allow-listed globals. mmengine 0.10.7 calls
``torch.load`` without the argument, so ``load_from`` and ``--resume`` of
its own checkpoints fail on the objects a training checkpoint stores in
``meta`` (``Unsupported global: GLOBAL
mmengine.logging.history_buffer.HistoryBuffer``, numpy arrays and scalars in
the message hub).

:func:`register_checkpoint_safe_globals` (applied on ``import
fusionsam_mmseg`` by :mod:`fusionsam_mmseg.import_patches`) adds exactly those
types to torch's safe-globals allow-list. ``weights_only`` stays on: any other pickled object (for example
one whose ``__reduce__`` would run code) is still refused by ``torch.load``.

``HistoryBuffer.__getstate__`` also pickles its statistics methods
(``HistoryBuffer.min`` ...), which protocol 2 writes as
``getattr(HistoryBuffer, 'min')``. Allow-listing the builtin ``getattr``
would reopen arbitrary attribute access, so the name ``builtins.getattr`` is
bound to :func:`history_buffer_getattr`, which resolves only statistics
methods of ``HistoryBuffer`` and refuses everything else.
"""
import pickle
from typing import List

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

_DEFAULT_STATISTICS = {'min', 'max', 'current', 'mean'}


def _numpy_core_multiarray():
    """``numpy._core.multiarray`` (numpy 2) or ``numpy.core.multiarray``."""
    core = getattr(np, '_core', None)
    if core is not None and hasattr(core, 'multiarray'):
        return core.multiarray
    return np.core.multiarray


def history_buffer_getattr(owner: object, name: str) -> object:
    """``getattr`` restricted to ``HistoryBuffer``'s statistics methods.

    Raises:
        pickle.UnpicklingError: For any other owner or attribute.
    """
    allowed = _DEFAULT_STATISTICS | set(HistoryBuffer._statistics_methods)
    if owner is HistoryBuffer and name in allowed:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({owner!r}, {name!r}); only '
        'HistoryBuffer statistics methods are allowed under weights_only.')


def checkpoint_safe_globals() -> List[object]:
    """Types an mmengine training checkpoint holds besides tensors.

    Returns:
        list: ``HistoryBuffer`` (message hub) with its restricted
        ``getattr``, and numpy's array / dtype /
        scalar reconstruction entry points for the arrays and scalars the
        message hub and hooks store.
    """
    multiarray = _numpy_core_multiarray()
    numpy_types = [np.ndarray, np.dtype, multiarray._reconstruct,
                   multiarray.scalar]
    dtypes_module = getattr(np, 'dtypes', None)
    if dtypes_module is not None:
        numpy_types += [
            type(np.dtype(name)) for name in (
                'bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16',
                'uint32', 'uint64', 'float16', 'float32', 'float64')
        ]
    return [
        HistoryBuffer, (history_buffer_getattr, 'builtins.getattr'),
        *numpy_types
    ]


def register_checkpoint_safe_globals() -> bool:
    """Add :func:`checkpoint_safe_globals` to torch's allow-list.

    Returns:
        bool: False when this torch has no safe-globals API (torch < 2.4,
        where ``weights_only`` is off by default anyway).
    """
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is None:
        return False
    add_safe_globals(checkpoint_safe_globals())
    return True
