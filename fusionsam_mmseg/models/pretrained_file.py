"""Keep frozen weights that come from a pretrained file out of checkpoints.

A frozen SAM image encoder (or VGG16, a SAM2 trunk) is a copy of a file the
user already has: 360 MB of every ViT-B FusionSAM checkpoint, 2.5 GB of a
ViT-H one. A module that loads such a file owns a :class:`PretrainedFile`
and calls :meth:`PretrainedFile.loaded` after loading it. From then on:

- every ``state_dict`` of the module (mmengine's ``CheckpointHook``,
  ``torch.save(model.state_dict())``) leaves out the tensors that were
  copied verbatim from the file and holds instead one uint8 tensor
  ``<prefix>pretrained_file``: the UTF-8 JSON record of the file's path,
  sha256 and the keys left out;
- loading such a state dict (``load_from``, ``--resume``, ``tools/test.py``,
  the inferencer, the demos) puts the tensors back from the file: the file
  the module is configured with (or, when it has none, the recorded path)
  must have the recorded sha256, else the load stops with an error naming
  both files. When the module already holds that very file's tensors
  (training: ``init_weights`` loaded it), they are taken from the module and
  the file is not read again.

A module whose weights did not come from a file (a random encoder in tests)
keeps them in its checkpoints, so these still reload exactly; full
checkpoints (older ones) load as before.
"""
import hashlib
import json
import os
import os.path as osp
from functools import partial
from itertools import chain
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

RECORD_KEY = 'pretrained_file'
_SHA256_CACHE: Dict[Tuple[str, int, int], str] = {}


def file_sha256(path: str) -> str:
    """sha256 hex digest of ``path`` (cached per path, size and mtime)."""
    stat = os.stat(path)
    cache_key = (osp.realpath(path), stat.st_size, stat.st_mtime_ns)
    if cache_key not in _SHA256_CACHE:
        digest = hashlib.sha256()
        with open(path, 'rb') as file:
            for chunk in iter(lambda: file.read(1 << 24), b''):
                digest.update(chunk)
        _SHA256_CACHE[cache_key] = digest.hexdigest()
    return _SHA256_CACHE[cache_key]


def encode_record(record: dict) -> Tensor:
    """JSON record -> 1-D uint8 tensor (survives every checkpoint path)."""
    return torch.tensor(list(json.dumps(record).encode()), dtype=torch.uint8)


def decode_record(tensor: Tensor) -> dict:
    """Inverse of :func:`encode_record`."""
    return json.loads(bytes(tensor.tolist()).decode())


class PretrainedFile:
    """The pretrained file behind some of a module's frozen tensors.

    Args:
        owner (nn.Module): The module whose state dicts it edits.
        what (str): Names the file in messages, e.g.
            ``"SAMPromptHead: SAM checkpoint"``.
        configured_path (Callable[[], str | None]): The file the owner is
            configured with now (e.g. ``lambda: head.checkpoint``).
        read_file (Callable[[str], dict[str, Tensor]]): Reads a file into
            owner-relative keys (``'image_encoder.blocks.0...'``); called
            only when a load needs tensors the owner does not hold.
    """

    def __init__(self, owner: nn.Module, what: str,
                 configured_path: Callable[[], Optional[str]],
                 read_file: Callable[[str], Dict[str, Tensor]]) -> None:
        self.what = what
        self.configured_path = configured_path
        self.read_file = read_file
        self.record: Optional[dict] = None
        # partial: torch marks public-API hooks with an attribute, which a
        # bound method cannot take.
        owner.register_state_dict_post_hook(partial(self._leave_out))
        owner.register_load_state_dict_pre_hook(partial(self._put_back))

    def loaded(self, path: str, keys: Sequence[str]) -> None:
        """Note that ``keys`` (owner-relative) now hold ``path``'s tensors."""
        self.record = dict(
            path=osp.abspath(path), sha256=file_sha256(path),
            keys=sorted(keys))

    def _leave_out(self, module: nn.Module, state_dict: dict, prefix: str,
                   local_metadata: dict) -> None:
        if self.record is None:
            return
        for key in self.record['keys']:
            state_dict.pop(prefix + key, None)
        state_dict[prefix + RECORD_KEY] = encode_record(self.record)

    def _put_back(self, module: nn.Module, state_dict: dict, prefix: str,
                  local_metadata: dict, strict: bool, missing_keys: List[str],
                  unexpected_keys: List[str], error_msgs: List[str]) -> None:
        record_tensor = state_dict.pop(prefix + RECORD_KEY, None)
        if record_tensor is None:
            return
        record = decode_record(record_tensor)
        path = self._verified_path(record)
        if self.record is not None and (self.record['sha256'] ==
                                        record['sha256']):
            tensors = dict(
                chain(module.named_parameters(), module.named_buffers()))
        else:
            tensors = self.read_file(path)
            print_log(
                f"{self.what}: re-read '{path}' (sha256 "
                f"{record['sha256'][:12]}...) for the "
                f"{len(record['keys'])} tensors the checkpoint leaves out.",
                logger='current')
        absent = [key for key in record['keys'] if key not in tensors]
        if absent:
            raise KeyError(f"{self.what}: '{path}' lacks {absent[:3]} that "
                           'the checkpoint left out.')
        for key in record['keys']:
            state_dict[prefix + key] = tensors[key]
        self.record = dict(record, path=osp.abspath(path))

    def _verified_path(self, record: dict) -> str:
        """The file to re-read: the configured one, else the recorded one;
        its sha256 must be the recorded one."""
        configured = self.configured_path()
        path = configured or record['path']
        where = ('configured' if configured else
                 'recorded in the checkpoint (the module has none configured)')
        if not osp.isfile(path):
            raise FileNotFoundError(
                f"{self.what}: the checkpoint leaves out tensors of "
                f"'{record['path']}' (sha256 {record['sha256']}) and the file "
                f"{where}, '{path}', does not exist. Put that file there or "
                'point the config at a copy of it.')
        found = file_sha256(path)
        if found != record['sha256']:
            raise ValueError(
                f"{self.what}: the checkpoint was trained with "
                f"'{record['path']}' (sha256 {record['sha256']}) but the "
                f"{where} file '{path}' has sha256 {found}: another file. Use "
                'the file the checkpoint was trained with.')
        return path
