"""Save the random number generators in checkpoints; restore them on resume.

mmengine checkpoints hold the weights, the optimizer, the schedulers, the
message hub and the iteration, and an iteration-based resume fast-forwards
the data loader past the batches already trained on. The generators are
not saved: after ``--resume`` torch (dropout, prompt sampling, codebook
restarts), numpy (data augmentation) and python ``random`` restart from the
seed, so the resumed run draws other numbers than the uninterrupted one.

:class:`RNGStateHook` stores every process's torch (CPU and CUDA), numpy
and python generator states in ``checkpoint['rng_state']`` and sets them
back at the point where the uninterrupted run stood when it saved:

* iteration-based loops: after mmengine's data skipping and right before
  the first new batch is fetched. The skipped batches replay the data
  pipeline from the seed; the restore then replaces whatever that replay
  left in the generators. (Restoring at the first ``before_train_iter``
  would be one batch late: that batch is fetched before the hook runs, so
  the numpy draws of its augmentation would be handed out a second time.)
* epoch-based loops: at the first ``before_train_epoch``.

Validation during training runs between a checkpoint and the next training
iteration; the hook puts the generators back after it, so validating (or
not) never changes the training stream and a resumed run sees the same
numbers as one that validated at the checkpoint.

Only the tensors / lists / ints of the saved states go into the checkpoint,
so ``torch.load(weights_only=True)`` reads them without any allow-list.
"""
import logging
import random
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop
from mmseg.registry import HOOKS

RNG_STATE_KEY = 'rng_state'


def capture_rng_state() -> Dict[str, object]:
    """This process's generator states in a ``weights_only``-safe form.

    Returns:
        dict: ``torch`` (uint8 tensor), ``cuda`` (list of uint8 tensors,
        empty without CUDA), ``numpy`` (dict with the MT19937 key as an
        int64 tensor) and ``python`` (dict with the Mersenne state as an
        int64 tensor).
    """
    np_state = np.random.get_state(legacy=False)
    py_version, py_internal, py_gauss = random.getstate()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    return dict(
        torch=torch.get_rng_state(),
        cuda=list(cuda),
        numpy=dict(
            bit_generator=np_state['bit_generator'],
            key=torch.from_numpy(np_state['state']['key'].astype(np.int64)),
            pos=int(np_state['state']['pos']),
            has_gauss=int(np_state['has_gauss']),
            gauss=float(np_state['gauss'])),
        python=dict(
            version=py_version,
            internal=torch.tensor(py_internal, dtype=torch.int64),
            gauss=py_gauss))


def restore_rng_state(state: Dict[str, object]) -> None:
    """Set the generators from :func:`capture_rng_state`'s output.

    Args:
        state (dict): as returned by :func:`capture_rng_state`. CUDA states
            are restored only when this process sees as many devices.
    """
    torch.set_rng_state(state['torch'])
    cuda = state['cuda']
    if cuda and torch.cuda.is_available() and \
            len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    np_state = state['numpy']
    np.random.set_state(
        dict(
            bit_generator=np_state['bit_generator'],
            state=dict(
                key=np_state['key'].numpy().astype(np.uint32),
                pos=np_state['pos']),
            has_gauss=np_state['has_gauss'],
            gauss=np_state['gauss']))
    py_state = state['python']
    random.setstate((py_state['version'],
                     tuple(py_state['internal'].tolist()),
                     py_state['gauss']))


class _RestoreBeforeFetch:
    """Stand-in for an iteration-based loop's ``dataloader_iterator``.

    Passes ``num_skipped`` fetches (mmengine's data skipping) through, calls
    ``restore`` right before the next fetch and then puts the original
    iterator back on the loop.

    Args:
        loop (IterBasedTrainLoop): the loop whose iterator is wrapped.
        num_skipped (int): fetches mmengine makes to skip trained batches.
        restore (callable): called once, before the first new batch.
    """

    def __init__(self, loop: IterBasedTrainLoop, num_skipped: int,
                 restore: Callable[[], None]) -> None:
        self._loop = loop
        self._iterator = loop.dataloader_iterator
        self._num_skipped = num_skipped
        self._restore = restore

    def __iter__(self) -> '_RestoreBeforeFetch':
        return self

    def __next__(self):
        if self._num_skipped > 0:
            self._num_skipped -= 1
        else:
            self._restore()
            self._loop.dataloader_iterator = self._iterator
        return next(self._iterator)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Keep torch / CUDA / numpy / python generator states across resume.

    Every process's states go into the checkpoint that rank 0 writes.
    mmengine calls ``before_save_checkpoint`` on rank 0 only, so under
    distributed training the processes exchange their states at the end of
    every training iteration / epoch (one ``all_gather_object`` of ~15 kB,
    priority LOW: before ``CheckpointHook``) and rank 0 stores the latest
    exchange. On resume each rank restores its own states when the world
    size is unchanged; otherwise it warns and keeps the seeded generators
    (the data split differs then anyway). A checkpoint loaded with
    ``load_from`` (no resume, iteration 0) keeps the generators seeded by
    ``randomness``.
    """

    priority = 'LOW'

    def __init__(self) -> None:
        self._loaded_state: Optional[dict] = None
        self._val_state: Optional[Dict[str, object]] = None
        self._gathered_states: Optional[List[dict]] = None

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        """Exchange the states of all processes (distributed runs only)."""
        self._gather_states()

    def after_train_epoch(self, runner) -> None:
        """Exchange the states of all processes (distributed runs only)."""
        self._gather_states()

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Add ``rng_state``: ``world_size`` and one state per rank."""
        world_size = get_world_size()
        per_rank = ([capture_rng_state()]
                    if world_size == 1 else self._gathered_states)
        if per_rank is not None:
            checkpoint[RNG_STATE_KEY] = dict(
                world_size=world_size, ranks=per_rank)

    def _gather_states(self) -> None:
        if get_world_size() > 1:
            self._gathered_states = all_gather_object(capture_rng_state())

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep the saved states until training reaches the restore point."""
        self._loaded_state = checkpoint.get(RNG_STATE_KEY)

    def before_train_epoch(self, runner) -> None:
        """Arrange the restore of a resumed run (see the module doc)."""
        if self._loaded_state is None or runner.iter == 0:
            self._loaded_state = None
            return
        loop = runner.train_loop
        if isinstance(loop, IterBasedTrainLoop):
            loop.dataloader_iterator = _RestoreBeforeFetch(
                loop, loop.iter, self._restore_loaded_state)
        else:
            self._restore_loaded_state()

    def before_val(self, runner) -> None:
        """Remember the generators so validation leaves no trace in them."""
        self._val_state = capture_rng_state()

    def after_val(self, runner) -> None:
        """Put back the generators remembered by :meth:`before_val`."""
        if self._val_state is not None:
            restore_rng_state(self._val_state)
            self._val_state = None

    def _restore_loaded_state(self) -> None:
        saved, self._loaded_state = self._loaded_state, None
        if saved['world_size'] != get_world_size():
            print_log(
                f'RNGStateHook: the checkpoint holds generator states of '
                f'{saved["world_size"]} processes, this run has '
                f'{get_world_size()}; the generators stay as seeded, so the '
                'resumed run will not repeat the random draws of the '
                'interrupted one.',
                logger='current',
                level=logging.WARNING)
            return
        restore_rng_state(saved['ranks'][get_rank()])
        print_log(
            'RNGStateHook: restored the torch / numpy / python generator '
            'states saved with the checkpoint.',
            logger='current')
