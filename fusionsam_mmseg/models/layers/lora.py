"""Low-rank adaptation (LoRA, Hu et al. 2021) of frozen linear layers.

mmpretrain's ``LoRAModel`` is the OpenMMLab version, but ``mmpretrain.models``
imports torchvision, which no CPU build of torch here can have; this is the
small part of it the SAM2 backbone needs.

:class:`LoRALinear` is an ``nn.Linear`` (so a wrapped layer keeps its
``weight`` / ``bias`` keys and official checkpoints load unchanged) plus one
trainable low-rank update per *part* of its output. A part is the whole
output, or one third of a fused ``qkv`` projection (``q``, ``k`` or ``v``)::

    y = W x + b + sum_p pad_p(alpha / rank * B_p A_p x)

``A_p`` (rank, in) is Kaiming-uniform initialised, ``B_p`` (part width, rank)
zero, so a freshly wrapped layer computes exactly what the frozen one did.
:func:`add_lora` wraps the layers a list of targets names, e.g.
``('attn.qkv:q', 'attn.qkv:v')`` (q and v of every fused qkv projection whose
module name ends in ``attn.qkv``) or ``('attn.proj',)`` (a whole output).
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

QKV_PARTS = ('q', 'k', 'v')
WHOLE_OUTPUT = 'out'


class LoRALinear(nn.Linear):
    """``nn.Linear`` with low-rank updates of slices of its output.

    Args:
        in_features (int): Input width.
        out_features (int): Output width.
        parts (dict[str, tuple[int, int]]): Part name -> ``(start, stop)``
            slice of the output that the part's update adds to.
        rank (int): Rank r of every update. Default: 4.
        alpha (float): Scale numerator; the updates are multiplied by
            ``alpha / rank``. Default: 4.0 (scale 1).
        bias (bool): Whether the layer has a bias. Default: True.
        device, dtype: As in ``nn.Linear``.

    Parameters ``lora_a.<part>`` (r, in_features) and ``lora_b.<part>``
    (stop - start, r). Shapes: (..., in_features) -> (..., out_features).
    """

    def __init__(self,
                 *,
                 in_features: int,
                 out_features: int,
                 parts: Dict[str, Tuple[int, int]],
                 rank: int = 4,
                 alpha: float = 4.0,
                 bias: bool = True,
                 device: Optional[torch.device] = None,
                 dtype: Optional[torch.dtype] = None) -> None:
        super().__init__(in_features, out_features, bias, device, dtype)
        if rank < 1:
            raise ValueError(f'LoRALinear: rank={rank}, expected >= 1.')
        for name, (start, stop) in parts.items():
            if not 0 <= start < stop <= out_features:
                raise ValueError(
                    f"LoRALinear: part '{name}' slice ({start}, {stop}) lies "
                    f'outside the {out_features} outputs.')
        self.parts = dict(parts)
        self.rank = rank
        self.scale = alpha / rank
        factory = dict(device=device, dtype=dtype)
        self.lora_a = nn.ParameterDict({
            name: nn.Parameter(torch.empty(rank, in_features, **factory))
            for name in parts
        })
        self.lora_b = nn.ParameterDict({
            name: nn.Parameter(torch.empty(stop - start, rank, **factory))
            for name, (start, stop) in parts.items()
        })
        self.reset_lora_parameters()

    @classmethod
    def from_linear(cls, linear: nn.Linear, *,
                    parts: Dict[str, Tuple[int, int]], rank: int,
                    alpha: float) -> 'LoRALinear':
        """Wrap ``linear``: the new layer shares its weight and bias."""
        lora = cls(in_features=linear.in_features,
                   out_features=linear.out_features, parts=parts, rank=rank,
                   alpha=alpha, bias=linear.bias is not None,
                   device=linear.weight.device, dtype=linear.weight.dtype)
        lora.weight = linear.weight
        lora.bias = linear.bias
        return lora

    def reset_lora_parameters(self) -> None:
        """A Kaiming-uniform (as ``nn.Linear``), B zero."""
        for name in self.parts:
            nn.init.kaiming_uniform_(self.lora_a[name], a=math.sqrt(5))
            nn.init.zeros_(self.lora_b[name])

    def forward(self, x: Tensor) -> Tensor:
        out = F.linear(x, self.weight, self.bias)
        for name, (start, stop) in self.parts.items():
            # In place on the slice: the frozen product is not needed for
            # the backward pass, and a padded full-width update would cost
            # more than the product itself.
            out[..., start:stop] += F.linear(
                F.linear(x, self.lora_a[name]) * self.scale,
                self.lora_b[name])
        return out

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, parts={self.parts}, '
                f'rank={self.rank}, scale={self.scale}')


def _parse_target(target: str) -> Tuple[str, str]:
    """``'attn.qkv:q'`` -> ``('attn.qkv', 'q')``; ``'attn.proj'`` ->
    ``('attn.proj', 'out')``."""
    name, _, part = target.partition(':')
    part = part or WHOLE_OUTPUT
    if not name or part not in QKV_PARTS + (WHOLE_OUTPUT, ):
        raise ValueError(
            f"LoRA target '{target}': expected '<module name suffix>' or "
            f"'<module name suffix>:<part>' with part in {QKV_PARTS}.")
    return name, part


def _part_slice(linear: nn.Linear, module_name: str,
                part: str) -> Tuple[int, int]:
    if part == WHOLE_OUTPUT:
        return 0, linear.out_features
    if linear.out_features % 3:
        raise ValueError(
            f"LoRA target part '{part}' of '{module_name}': a fused qkv "
            f'projection has 3 equal output parts, but {module_name} has '
            f'{linear.out_features} outputs.')
    width = linear.out_features // 3
    index = QKV_PARTS.index(part)
    return index * width, (index + 1) * width


def add_lora(module: nn.Module, targets: Sequence[str], rank: int = 4,
             alpha: float = 4.0) -> List[str]:
    """Replace the linear layers ``targets`` name with :class:`LoRALinear`.

    Args:
        module (nn.Module): Searched for ``nn.Linear`` submodules whose
            qualified name ends with a target's module name.
        targets (Sequence[str]): ``'<suffix>'`` (whole output) or
            ``'<suffix>:q|k|v'`` (one third of a fused qkv output).
        rank (int): LoRA rank. Default: 4.
        alpha (float): LoRA scale numerator. Default: 4.0.

    Returns:
        list[str]: Qualified names of the wrapped layers.
    """
    parts_by_name: Dict[str, Dict[str, Tuple[int, int]]] = {}
    for target in targets:
        suffix, part = _parse_target(target)
        matches = [(name, child) for name, child in module.named_modules()
                   if isinstance(child, nn.Linear) and (
                       name == suffix or name.endswith('.' + suffix))]
        if not matches:
            raise ValueError(
                f"LoRA target '{target}' matches no nn.Linear of "
                f'{type(module).__name__}; its linear layers are named like '
                f'{_linear_names(module)[:3]}.')
        for name, linear in matches:
            parts_by_name.setdefault(name, {})[part] = _part_slice(
                linear, name, part)
    for name, parts in parts_by_name.items():
        parent_name, _, child_name = name.rpartition('.')
        parent = module.get_submodule(parent_name)
        setattr(parent, child_name,
                LoRALinear.from_linear(
                    getattr(parent, child_name), parts=parts, rank=rank,
                    alpha=alpha))
    return sorted(parts_by_name)


def _linear_names(module: nn.Module) -> List[str]:
    return [name for name, child in module.named_modules()
            if isinstance(child, nn.Linear)]
