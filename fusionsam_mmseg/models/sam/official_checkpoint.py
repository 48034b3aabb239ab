"""One official SAM / SAM2 checkpoint file: opened safely, named in errors.

Both readers (:mod:`.sam_checkpoint`, :mod:`.sam2_checkpoint`) open their
files here, with ``torch.load(..., weights_only=True)`` (tensors and plain
containers only: a pickled object stops the load before it runs), and every
error of theirs starts with the same name of the file,
``"<owner>: <kind> checkpoint '<path>'"``.
"""
import dataclasses
import os.path as osp
from typing import Callable, Dict, List

import torch
from torch import Tensor


def _first_keys(keys: List[str]) -> str:
    """``keys`` for a message: the first five, '...' when there are more."""
    return f"{keys[:5]}{' ...' if len(keys) > 5 else ''}"


@dataclasses.dataclass(frozen=True)
class OfficialCheckpoint:
    """An official checkpoint file and who reads it.

    Args:
        path (str): The file, e.g. ``sam_vit_h_4b8939.pth``.
        owner (str): The reading module or tool, e.g.
            ``"SAMPromptHead(sam_type='vit_h', image_size=1024, "
            "num_classes=9)"``.
        kind (str): ``'SAM'`` or ``'SAM2'``.
    """

    path: str
    owner: str
    kind: str

    def __str__(self) -> str:
        return f"{self.owner}: {self.kind} checkpoint '{self.path}'"

    def load(self, expected: str) -> object:
        """The file's content, loaded on the CPU with ``weights_only=True``.

        Args:
            expected (str): What the file should be and where it comes from,
                said when it does not exist.
        """
        if not osp.isfile(self.path):
            raise FileNotFoundError(f'{self} does not exist; expected '
                                    f'{expected}.')
        return torch.load(self.path, map_location='cpu', weights_only=True)

    def check_fits(self, own: Dict[str, Tensor], loaded: Dict[str, Tensor],
                   looks_like: str, setting: str,
                   may_lack: Callable[[str], bool] = lambda key: False
                   ) -> None:
        """Raise unless ``loaded`` has the keys of ``own`` (but those
        ``may_lack`` accepts), with their shapes, and no other keys.

        Args:
            own (dict[str, Tensor]): The configured model's state dict.
            loaded (dict[str, Tensor]): The file's tensors, same key layout.
            looks_like (str): Which model the file holds, e.g.
                ``"sam_type='vit_b'"``.
            setting (str): The option that picks the model, e.g.
                ``'sam2_config'``.
            may_lack (Callable[[str], bool]): Keys of ``own`` the file need
                not have (LoRA layers). Default: none.
        """
        advice = (f'The file looks like {looks_like}; set {setting} to match '
                  'it, or use the file of the configured model.')
        for key, value in loaded.items():
            if key in own and own[key].shape != value.shape:
                raise ValueError(
                    f"{self}: key '{key}' has shape {tuple(value.shape)} but "
                    'the configured model expects '
                    f'{tuple(own[key].shape)}. {advice}')
        missing = sorted(key for key in set(own) - set(loaded)
                         if not may_lack(key))
        unexpected = sorted(set(loaded) - set(own))
        if missing or unexpected:
            raise ValueError(
                f'{self} does not fit the configured model: missing keys '
                f'{_first_keys(missing)}, unexpected keys '
                f'{_first_keys(unexpected)}. {advice}')


def fitted_tokens_note(new_keys: List[str], dropped_keys: List[str]) -> str:
    """What fitting a decoder's class tokens to the file's mask tokens did,
    for the load message ('' when the counts match)."""
    note = ''
    if new_keys:
        note += (' Class tokens the checkpoint lacks were initialised '
                 f'randomly (new keys): {new_keys}.')
    if dropped_keys:
        note += f' Unused checkpoint mask tokens (dropped): {dropped_keys}.'
    return note
