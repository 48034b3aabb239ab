"""Leave the default process group cleanly when a distributed run ends.

mmengine never destroys the process group. When ``tools/train.py`` or
``tools/test.py`` returns, the interpreter shuts down while a gloo worker
thread may still be releasing the last collective (for example the
``all_gather`` that collected the validation results): that release needs
the GIL, a finalising interpreter ends the thread instead, and the process
aborts (``terminate called without an active exception``, SIGABRT), so
``torchrun`` reports a finished run as failed. Seen intermittently on the
CPU / gloo runs of ``tools/dist_train.sh``; ``sys.setswitchinterval(1)``
makes it frequent.

:func:`register_process_group_exit` (called by the plugin's ``pytorch``
launcher) adds an ``atexit`` handler that, after a run without an uncaught
exception, waits at a barrier, then sleeps ``SETTLE_SECONDS`` (both release
the GIL, so a worker thread waiting for it finishes its release; the barrier
alone still lost the race once in a full test-suite run on two loaded
cores, because the waiting thread was not scheduled during the short
barrier) and destroys the process group. After an uncaught exception it
does nothing: the peers may never reach a barrier, and ``torchrun`` stops
them.
"""
import atexit
import sys
import time
from types import TracebackType
from typing import Type

import torch.distributed as torch_dist
from mmengine.logging import print_log

SETTLE_SECONDS = 0.5
_state = dict(registered=False, uncaught_exception=False)


def _record_uncaught_exception(previous_hook):
    """``sys.excepthook`` that notes the failure, then calls ``previous_hook``."""

    def excepthook(exc_type: Type[BaseException], exc: BaseException,
                   traceback: TracebackType) -> None:
        _state['uncaught_exception'] = True
        previous_hook(exc_type, exc, traceback)

    return excepthook


def release_process_group() -> None:
    """Barrier, GIL released for ``SETTLE_SECONDS``, then destroy the
    default process group (``atexit``).

    A no-op without an initialised group or after an uncaught exception.
    """
    if _state['uncaught_exception'] or not (torch_dist.is_available()
                                            and torch_dist.is_initialized()):
        return
    try:
        torch_dist.barrier()
    except RuntimeError as error:  # a peer has already gone
        print_log(f'Skipped destroying the process group at exit: {error}',
                  logger='current')
        return
    time.sleep(SETTLE_SECONDS)
    torch_dist.destroy_process_group()


def register_process_group_exit() -> None:
    """Install :func:`release_process_group` at exit (idempotent)."""
    if _state['registered']:
        return
    _state['registered'] = True
    sys.excepthook = _record_uncaught_exception(sys.excepthook)
    atexit.register(release_process_group)
