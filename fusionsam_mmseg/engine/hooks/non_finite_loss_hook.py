"""Stop training at the first NaN / Inf loss, before anything is saved.

A non-finite loss gives non-finite gradients, and the optimizer step of
that iteration has already written them into the weights when the
``after_train_iter`` hooks run. :class:`NonFiniteLossHook` runs after
``LoggerHook`` (priority 60: the bad values still reach the log) and before
``CheckpointHook`` (priority 90): it raises ``FloatingPointError`` so the
corrupted weights of that iteration are never written, and the last
checkpoint on disk stays the last good one.
"""
import math
import os.path as osp
from typing import Dict, List, Optional

import torch
from mmengine.dist import all_reduce, get_rank, get_world_size
from mmengine.hooks import Hook
from mmseg.registry import HOOKS


def non_finite_loss_terms(outputs: Optional[Dict[str, object]]
                          ) -> Dict[str, float]:
    """The loss terms of ``outputs`` that are NaN or infinite.

    Args:
        outputs (dict, optional): the ``log_vars`` a model's ``train_step``
            returns (name -> scalar tensor / number). Only names containing
            ``'loss'`` are checked: they are the terms mmengine sums into
            the optimized loss.

    Returns:
        dict: name -> value (float) of every non-finite loss term.
    """
    bad_terms = {}
    for name, value in (outputs or {}).items():
        if 'loss' not in name:
            continue
        number = float(value.detach().float().mean()) if isinstance(
            value, torch.Tensor) else float(value)
        if not math.isfinite(number):
            bad_terms[name] = number
    return bad_terms


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise ``FloatingPointError`` on a NaN / Inf loss term.

    The message names the iteration (as ``Iter(train) [k/N]`` in the log),
    every non-finite loss term with its value, the process(es) where it
    happened, and the last checkpoint written. Under distributed training
    every process learns whether any process saw a non-finite loss (one
    all-reduce per iteration), so all of them stop together instead of the
    others waiting forever in the next gradient synchronisation.
    """

    priority = 'LOW'

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        bad_terms = non_finite_loss_terms(outputs)
        bad_ranks = self._ranks_with_non_finite_loss(bool(bad_terms))
        if bad_ranks:
            raise FloatingPointError(
                self._message(runner, bad_terms, bad_ranks))

    @staticmethod
    def _ranks_with_non_finite_loss(is_bad: bool) -> List[int]:
        """Ranks whose loss is non-finite (all ranks agree on the list)."""
        world_size = get_world_size()
        if world_size == 1:
            return [0] if is_bad else []
        flags = torch.zeros(world_size)
        flags[get_rank()] = float(is_bad)
        all_reduce(flags, op='sum')
        return [rank for rank, flag in enumerate(flags.tolist()) if flag]

    @staticmethod
    def _message(runner, bad_terms: Dict[str, float],
                 bad_ranks: List[int]) -> str:
        iteration = f'iteration {runner.iter + 1}/{runner.max_iters}'
        if bad_terms:
            terms = ', '.join(f'{name}={value}'
                              for name, value in bad_terms.items())
            found = f'Non-finite loss at {iteration}: {terms}'
        else:
            found = f'Non-finite loss at {iteration} on another process'
        if get_world_size() > 1:
            found += f' (rank(s) {bad_ranks}, this is rank {get_rank()})'
        last_path = osp.join(runner.work_dir, 'last_checkpoint')
        last = (open(last_path).read().strip() if osp.isfile(last_path)
                else 'none was written')
        return (
            f'{found}. Training stopped before any checkpoint of this '
            f'iteration was written; the last checkpoint is {last}. Usual '
            'causes: a learning rate too high for this batch size '
            '(optim_wrapper.optimizer.lr), no gradient clipping '
            '(optim_wrapper.clip_grad=dict(max_norm=...)), fp16 overflow '
            '(try bf16 or fp32), or a corrupt sample; see '
            'docs/troubleshooting.md.')
