"""On-disk cache of frozen SAM image-encoder embeddings.

Valid only when the encoder's input is a fixed function of the sample file
and of the transform parameters recorded in its metainfo -- e.g. the encoder
is fed the visible image, and the pipeline has no random transform that the
metainfo does not record (``RandomCrop``, photometric jitter). It is NOT
valid for FusionSAM's default wiring, where the encoder sees the fused image
that the (trained) FMP neck produces.

Layout of ``cache_dir``:

* ``manifest.json`` -- fingerprint (encoder weights + image size + dtype, see
  :func:`fingerprint_encoder`), storage dtype, embedding shape and shard
  size. A different fingerprint (or storage layout) on open wipes the cache.
* ``index.sqlite`` -- key -> slot, last use; sqlite's file locking makes one
  directory safe to share between DDP ranks on one machine.
* ``shard_00000.bin`` ... -- raw arrays of fixed-size slots, read and written
  through ``numpy.memmap``. Their total size never exceeds ``max_bytes``;
  beyond it the cache refuses new entries (``when_full='refuse'``, best for
  epoch-wise scans) or evicts the least recently used (``'lru'``); both are
  logged.

Turning it on from a config (the ``SAMPromptHead`` side builds it with
:meth:`SAMEmbeddingCache.for_encoder` after loading the SAM checkpoint)::

    model = dict(decode_head=dict(
        embedding_cache=dict(cache_dir='work_dirs/sam_embedding_cache',
                             max_bytes=16 * 1024**3, when_full='refuse')))
"""
import hashlib
import json
import os
import os.path as osp
import sqlite3
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.logging import print_log

MANIFEST_NAME = 'manifest.json'
INDEX_NAME = 'index.sqlite'
FORMAT_VERSION = 1
WHEN_FULL_POLICIES = ('refuse', 'lru')
STORAGE_DTYPES = ('float32', 'float16')


def _jsonable(value):
    """``json.dumps`` fallback for metainfo values (arrays, tensors, paths)."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return repr(value)


def keys_from_metainfo(batch_img_metas: Sequence[dict]) -> List[str]:
    """Cache keys of a batch: hashes of each sample's full metainfo.

    Every metainfo field takes part (``img_path``, ``ori_shape``,
    ``img_shape``, ``pad_shape``, ``scale_factor``, ``flip``,
    ``flip_direction``, ``padding_size``, ...), so any recorded change of
    file or geometry gives a new key.

    Args:
        batch_img_metas (Sequence[dict]): ``data_sample.metainfo`` per image.

    Returns:
        list[str]: one sha256 hex key per image.
    """
    keys = []
    for index, meta in enumerate(batch_img_metas):
        if 'img_path' not in meta:
            raise KeyError(f'SAMEmbeddingCache: metainfo of image {index} has '
                           f'no "img_path" (keys: {sorted(meta)}); the cache '
                           f'key must name the source file')
        canonical = json.dumps(dict(meta), sort_keys=True, default=_jsonable)
        keys.append(hashlib.sha256(canonical.encode()).hexdigest())
    return keys


def fingerprint_encoder(encoder: nn.Module,
                        image_size: int,
                        extra: Union[str, dict] = '') -> str:
    """Fingerprint of what makes an encoder's embeddings what they are.

    Hashes every ``state_dict`` tensor (name, dtype, shape, bytes), the input
    ``image_size``, the encoder's autocast dtype (``autocast_dtype``
    attribute, None for the stock encoder) and ``extra``. Reads all weights
    once (a few seconds for ViT-H); call it after loading the checkpoint.

    Args:
        encoder (nn.Module): the frozen image encoder.
        image_size (int): square input side fed to it.
        extra (str | dict): anything else that changes the encoder input for
            the same metainfo (input source, pixel mean/std, ...).
            Default: ''.

    Returns:
        str: sha256 hex digest.
    """
    digest = hashlib.sha256()
    header = dict(image_size=int(image_size),
                  autocast_dtype=str(getattr(encoder, 'autocast_dtype', None)),
                  extra=extra)
    digest.update(json.dumps(header, sort_keys=True, default=repr).encode())
    for name, tensor in sorted(encoder.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f'{name}|{tensor.dtype}|{tuple(tensor.shape)}'.encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


class SAMEmbeddingCache:
    """Disk cache (memory-mapped shards + sqlite index) of SAM embeddings.

    Args:
        cache_dir (str): folder of the cache (created when missing).
        max_bytes (int): limit on the total size of the embedding shards.
        fingerprint (str): identity of the encoder
            (:func:`fingerprint_encoder`); a cache written under another
            fingerprint is wiped on open.
        when_full (str): ``'refuse'`` new entries (default; keeps the first
            ``max_bytes`` of an epoch-wise scan) or evict the least recently
            used (``'lru'``).
        storage_dtype (str): ``'float32'`` (default, exact) or ``'float16'``
            (half the disk).
        slots_per_shard (int): embeddings per shard file. Default: 64.
        log_interval (int): log the hit rate every this many :meth:`get`
            calls. Default: 100.
    """

    def __init__(self,
                 cache_dir: str,
                 max_bytes: int,
                 fingerprint: str,
                 *,
                 when_full: str = 'refuse',
                 storage_dtype: str = 'float32',
                 slots_per_shard: int = 64,
                 log_interval: int = 100) -> None:
        if when_full not in WHEN_FULL_POLICIES:
            raise ValueError(f'SAMEmbeddingCache: when_full must be one of '
                             f'{WHEN_FULL_POLICIES}, got {when_full!r}')
        if storage_dtype not in STORAGE_DTYPES:
            raise ValueError(f'SAMEmbeddingCache: storage_dtype must be one '
                             f'of {STORAGE_DTYPES}, got {storage_dtype!r}')
        if int(max_bytes) < 0 or int(slots_per_shard) < 1:
            raise ValueError(f'SAMEmbeddingCache: max_bytes must be >= 0 and '
                             f'slots_per_shard >= 1, got {max_bytes} and '
                             f'{slots_per_shard}')
        self.cache_dir = osp.abspath(cache_dir)
        self.max_bytes = int(max_bytes)
        self.fingerprint = str(fingerprint)
        self.when_full = when_full
        self.storage_dtype = np.dtype(storage_dtype)
        self.slots_per_shard = int(slots_per_shard)
        self.log_interval = int(log_interval)
        self.hits = 0
        self.lookups = 0
        self.refused = 0
        self.evicted = 0
        self._get_calls = 0
        self._connection_pid = None
        self._connection = None
        self._manifest_cache: dict = {}
        os.makedirs(self.cache_dir, exist_ok=True)
        with self._write_transaction():
            self._validate_manifest()

    @classmethod
    def for_encoder(cls, encoder: nn.Module, *, image_size: int,
                    cache_dir: str, max_bytes: int,
                    extra: Union[str, dict] = '',
                    **kwargs) -> 'SAMEmbeddingCache':
        """Open the cache of ``encoder`` (fingerprinted with ``extra``).

        ``kwargs`` are the remaining constructor arguments.
        """
        fingerprint = fingerprint_encoder(encoder, image_size, extra=extra)
        return cls(cache_dir, max_bytes, fingerprint, **kwargs)

    keys_from_metainfo = staticmethod(keys_from_metainfo)

    @property
    def hit_rate(self) -> float:
        """Fraction of the images asked for that :meth:`get` served."""
        return self.hits / self.lookups if self.lookups else 0.0

    @property
    def size_bytes(self) -> int:
        """Total size of the shard files."""
        return sum(osp.getsize(path) for path in self._shard_paths())

    def __len__(self) -> int:
        row = self._db.execute(
            'SELECT COUNT(*) FROM entries WHERE ready = 1').fetchone()
        return row[0]

    def get(self,
            keys: Sequence[str],
            device: Union[str, torch.device, None] = None
            ) -> Optional[torch.Tensor]:
        """Embeddings of ``keys``, or None unless every key is cached.

        Args:
            keys (Sequence[str]): keys of one batch
                (:func:`keys_from_metainfo`).
            device (str | torch.device | None): where to put the result.
                Default: CPU.

        Returns:
            Tensor | None: (B, C, h, w) float32 embeddings in ``keys`` order.
        """
        self._get_calls += 1
        self.lookups += len(keys)
        embeddings = self._read(list(keys))
        if embeddings is not None:
            self.hits += len(keys)
        if self.log_interval and self._get_calls % self.log_interval == 0:
            self.log_stats()
        if embeddings is None:
            return None
        return torch.from_numpy(embeddings).to(device or 'cpu',
                                               torch.float32)

    def put(self, keys: Sequence[str], embeddings: torch.Tensor) -> int:
        """Store a batch of embeddings (already cached keys are kept).

        Args:
            keys (Sequence[str]): one key per embedding.
            embeddings (Tensor): (B, C, h, w) encoder output.

        Returns:
            int: number of embeddings written.
        """
        if embeddings.dim() != 4 or embeddings.shape[0] != len(keys):
            raise ValueError(f'SAMEmbeddingCache.put: expected embeddings of '
                             f'shape (B={len(keys)}, C, h, w), got '
                             f'{tuple(embeddings.shape)}')
        arrays = embeddings.detach().to('cpu', torch.float32).numpy()
        arrays = arrays.astype(self.storage_dtype, copy=False)
        with self._write_transaction():
            self._set_embedding_shape(arrays.shape[1:])
            slots = self._allocate(list(keys))
        first_index = {key: index for index, key in reversed(
            list(enumerate(keys)))}
        for key, slot in slots.items():
            self._write_slot(slot, arrays[first_index[key]])
        if slots:
            with self._write_transaction() as db:
                db.executemany(
                    'UPDATE entries SET ready = 1 WHERE key = ? AND slot = ?',
                    list(slots.items()))
        return len(slots)

    def log_stats(self) -> str:
        """Log (and return) the hit rate and fill level."""
        message = (f'SAMEmbeddingCache {self.cache_dir}: hit rate '
                   f'{self.hit_rate:.1%} ({self.hits}/{self.lookups} images), '
                   f'{len(self)} entries, {self.size_bytes / 2**20:.1f} MiB '
                   f'of max_bytes={self.max_bytes / 2**20:.1f} MiB, '
                   f'{self.refused} refused, {self.evicted} evicted')
        print_log(message, logger='current')
        return message

    # -- storage ---------------------------------------------------------
    @property
    def _db(self) -> sqlite3.Connection:
        """A connection owned by this process (reopened after fork)."""
        if self._connection is None or self._connection_pid != os.getpid():
            self._connection = sqlite3.connect(
                osp.join(self.cache_dir, INDEX_NAME),
                timeout=600,
                isolation_level=None)
            self._connection.execute(
                'CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, '
                'slot INTEGER UNIQUE NOT NULL, last_used INTEGER NOT NULL, '
                'ready INTEGER NOT NULL)')
            self._connection_pid = os.getpid()
        return self._connection

    def _write_transaction(self):
        return _Transaction(self._db, 'BEGIN IMMEDIATE')

    def _manifest(self) -> Optional[dict]:
        path = osp.join(self.cache_dir, MANIFEST_NAME)
        if not osp.exists(path):
            return None
        with open(path) as file:
            return json.load(file)

    def _write_manifest(self, manifest: dict) -> None:
        path = osp.join(self.cache_dir, MANIFEST_NAME)
        with open(path + '.tmp', 'w') as file:
            json.dump(manifest, file, indent=2)
        os.replace(path + '.tmp', path)
        self._manifest_cache = manifest

    def _validate_manifest(self) -> None:
        """Wipe the cache if it was written for another encoder or layout."""
        manifest = self._manifest()
        expected = dict(format=FORMAT_VERSION, fingerprint=self.fingerprint,
                        storage_dtype=self.storage_dtype.name,
                        slots_per_shard=self.slots_per_shard)
        if manifest is not None and all(
                manifest.get(name) == value
                for name, value in expected.items()):
            self._manifest_cache = manifest
            self._shrink_to_capacity()
            return
        if manifest is not None or self._shard_paths():
            old = (manifest or {}).get('fingerprint')
            print_log(f'SAMEmbeddingCache {self.cache_dir}: invalidated '
                      f'(fingerprint {old} -> {self.fingerprint}, or storage '
                      f'layout changed); deleting the cached embeddings',
                      logger='current')
        self._db.execute('DELETE FROM entries')
        for path in self._shard_paths():
            os.remove(path)
        self._write_manifest(dict(expected, embedding_shape=None))

    def _set_embedding_shape(self, shape) -> None:
        shape = [int(size) for size in shape]
        manifest = self._manifest()
        if manifest.get('fingerprint') != self.fingerprint:
            raise RuntimeError(
                f'SAMEmbeddingCache {self.cache_dir}: another process opened '
                f'this cache with fingerprint {manifest.get("fingerprint")} '
                f'(this one: {self.fingerprint}); use one cache_dir per '
                f'encoder')
        if manifest['embedding_shape'] is None:
            self._write_manifest(dict(manifest, embedding_shape=shape))
        elif manifest['embedding_shape'] != shape:
            raise ValueError(
                f'SAMEmbeddingCache {self.cache_dir}: embeddings of shape '
                f'{shape} but the cache holds {manifest["embedding_shape"]} '
                f'under the same fingerprint; the fingerprint must cover '
                f'image_size and the encoder')
        self._manifest_cache = self._manifest()

    @property
    def _slot_bytes(self) -> int:
        shape = self._manifest_cache['embedding_shape']
        return int(np.prod(shape)) * self.storage_dtype.itemsize

    @property
    def _capacity(self) -> int:
        return self.max_bytes // self._slot_bytes

    def _shard_paths(self) -> List[str]:
        return sorted(
            osp.join(self.cache_dir, name)
            for name in os.listdir(self.cache_dir)
            if name.startswith('shard_') and name.endswith('.bin'))

    def _shard_path(self, shard: int) -> str:
        return osp.join(self.cache_dir, f'shard_{shard:05d}.bin')

    def _shrink_to_capacity(self) -> None:
        """Drop slots beyond ``max_bytes`` (after ``max_bytes`` shrank)."""
        if self._manifest_cache.get('embedding_shape') is None:
            return
        capacity = self._capacity
        dropped = self._db.execute('DELETE FROM entries WHERE slot >= ?',
                                   (capacity, )).rowcount
        for path in self._shard_paths():
            shard = int(osp.basename(path)[len('shard_'):-len('.bin')])
            slots_kept = min(self.slots_per_shard,
                             capacity - shard * self.slots_per_shard)
            if slots_kept <= 0:
                os.remove(path)
            elif osp.getsize(path) > slots_kept * self._slot_bytes:
                os.truncate(path, slots_kept * self._slot_bytes)
        if dropped:
            print_log(f'SAMEmbeddingCache {self.cache_dir}: max_bytes='
                      f'{self.max_bytes} holds {capacity} embeddings; dropped '
                      f'{dropped}', logger='current')

    def _allocate(self, keys: List[str]) -> Dict[str, int]:
        """Reserve slots for the keys not cached yet (in a write transaction).

        Returns:
            dict: key -> slot for the embeddings to write.
        """
        db = self._db
        now = time.time_ns()
        slots = {}
        for key in dict.fromkeys(keys):
            row = db.execute('SELECT slot, ready FROM entries WHERE key = ?',
                             (key, )).fetchone()
            if row is not None:
                if not row[1]:
                    slots[key] = row[0]
                continue
            slot = self._free_slot()
            if slot is None:
                continue
            db.execute('INSERT INTO entries VALUES (?, ?, ?, 0)',
                       (key, slot, now))
            self._grow_shard(slot)
            slots[key] = slot
        return slots

    def _free_slot(self) -> Optional[int]:
        """Next dense slot, the least recently used one (``'lru'``; never a
        slot another process is still writing), or None (full)."""
        db = self._db
        count = db.execute('SELECT COUNT(*) FROM entries').fetchone()[0]
        if count < self._capacity:
            return count
        victim = None
        if self.when_full == 'lru':
            victim = db.execute(
                'SELECT key, slot FROM entries WHERE ready = 1 ORDER BY '
                'last_used LIMIT 1').fetchone()
        if victim is not None:
            key, slot = victim
            db.execute('DELETE FROM entries WHERE key = ?', (key, ))
            self.evicted += 1
            if self.evicted == 1:
                print_log(f'SAMEmbeddingCache {self.cache_dir}: full at '
                          f'max_bytes={self.max_bytes}; evicting least '
                          f'recently used embeddings', logger='current')
            return slot
        self.refused += 1
        if self.refused == 1:
            print_log(f'SAMEmbeddingCache {self.cache_dir}: full at '
                      f'max_bytes={self.max_bytes} ({count} embeddings); '
                      f'refusing new ones', logger='current')
        return None

    def _grow_shard(self, slot: int) -> None:
        shard, local = divmod(slot, self.slots_per_shard)
        path = self._shard_path(shard)
        needed = (local + 1) * self._slot_bytes
        with open(path, 'ab') as file:
            if file.tell() < needed:
                file.truncate(needed)

    def _slot_memmap(self, slot: int, mode: str) -> np.memmap:
        shard, local = divmod(slot, self.slots_per_shard)
        return np.memmap(self._shard_path(shard), dtype=self.storage_dtype,
                         mode=mode, offset=local * self._slot_bytes,
                         shape=tuple(self._manifest_cache['embedding_shape']))

    def _write_slot(self, slot: int, array: np.ndarray) -> None:
        memmap = self._slot_memmap(slot, 'r+')
        memmap[...] = array
        del memmap

    def _read(self, keys: List[str]) -> Optional[np.ndarray]:
        """All embeddings of ``keys`` or None; holds a read lock meanwhile."""
        if self._manifest_cache.get('embedding_shape') is None:
            self._manifest_cache = self._manifest() or {}
        if not keys or self._manifest_cache.get('embedding_shape') is None:
            return None
        db = self._db
        unique = list(dict.fromkeys(keys))
        marks = ','.join('?' * len(unique))
        with _Transaction(db, 'BEGIN'):
            rows = dict(db.execute(
                f'SELECT key, slot FROM entries WHERE ready = 1 AND key IN '
                f'({marks})', unique).fetchall())
            if len(rows) < len(unique):
                return None
            embeddings = np.stack(
                [np.array(self._slot_memmap(rows[key], 'r')) for key in keys])
        if self.when_full == 'lru':
            with self._write_transaction():
                db.executemany(
                    'UPDATE entries SET last_used = ? WHERE key = ?',
                    [(time.time_ns(), key) for key in unique])
        return embeddings

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state['_connection'] = None
        state['_connection_pid'] = None
        return state


class _Transaction:
    """``with`` block around one sqlite transaction (commit or roll back)."""

    def __init__(self, db: sqlite3.Connection, begin: str) -> None:
        self.db = db
        self.begin = begin

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute(self.begin)
        return self.db

    def __exit__(self, exc_type, exc, traceback) -> None:
        self.db.execute('ROLLBACK' if exc_type else 'COMMIT')
