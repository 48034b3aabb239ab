"""SAMEmbeddingCache: hits, misses, invalidation and the size limit."""
import copy
import multiprocessing
import os
import pickle

import numpy as np
import pytest
import torch

from fusionsam_mmseg.models.utils import embedding_cache as cache_module
from fusionsam_mmseg.models.utils.embedding_cache import (
    SAMEmbeddingCache, fingerprint_encoder, keys_from_metainfo)
from fusionsam_mmseg.models.utils.fast_image_encoder import \
    build_image_encoder

EMBEDDING_SHAPE = (8, 4, 4)
SLOT_BYTES = int(np.prod(EMBEDDING_SHAPE)) * 4


def metainfo(index, **changes):
    meta = dict(img_path=f'/data/images/{index:05d}D.png', ori_shape=(48, 64),
                img_shape=(48, 64), pad_shape=(48, 64),
                scale_factor=(1.0, 1.0), flip=False, flip_direction=None,
                modality_channels=(3, 1))
    meta.update(changes)
    return meta


def embeddings_for(keys):
    seeds = [int(key[:8], 16) for key in keys]
    return torch.stack([
        torch.randn(EMBEDDING_SHAPE,
                    generator=torch.Generator().manual_seed(seed))
        for seed in seeds
    ])


def tiny_encoder():
    torch.manual_seed(0)
    return build_image_encoder(encoder_embed_dim=16, encoder_depth=1,
                               encoder_num_heads=2,
                               encoder_global_attn_indexes=(0, ),
                               image_size=32, out_chans=8)


def test_second_epoch_hits(tmp_path):
    cache = SAMEmbeddingCache(str(tmp_path), 1 << 20, 'fp-a')
    batches = [[metainfo(0), metainfo(1)], [metainfo(2), metainfo(3)]]
    for metas in batches:  # epoch 1: misses, then stored
        keys = keys_from_metainfo(metas)
        assert cache.get(keys) is None
        assert cache.put(keys, embeddings_for(keys)) == 2
    for metas in batches:  # epoch 2: hits with the stored values
        keys = keys_from_metainfo(metas)
        cached = cache.get(keys)
        assert cached is not None
        assert torch.equal(cached, embeddings_for(keys))
    assert cache.hit_rate == pytest.approx(0.5)
    assert len(cache) == 4
    reopened = SAMEmbeddingCache(str(tmp_path), 1 << 20, 'fp-a')
    keys = keys_from_metainfo(batches[1][::-1])
    assert torch.equal(reopened.get(keys), embeddings_for(keys))


def test_changed_transform_parameter_misses(tmp_path):
    cache = SAMEmbeddingCache(str(tmp_path), 1 << 20, 'fp-a')
    keys = keys_from_metainfo([metainfo(0)])
    cache.put(keys, embeddings_for(keys))
    flipped = keys_from_metainfo(
        [metainfo(0, flip=True, flip_direction='horizontal')])
    rescaled = keys_from_metainfo(
        [metainfo(0, img_shape=(96, 128), scale_factor=(2.0, 2.0))])
    assert flipped != keys and rescaled != keys
    assert cache.get(flipped) is None
    assert cache.get(rescaled) is None
    assert cache.get(keys + flipped) is None  # all-or-nothing per batch
    reordered = dict(reversed(list(metainfo(0).items())))
    assert keys_from_metainfo([reordered]) == keys
    with pytest.raises(KeyError, match='img_path'):
        keys_from_metainfo([dict(img_shape=(4, 4))])


def test_changed_weight_or_geometry_invalidates(tmp_path, monkeypatch):
    encoder = tiny_encoder()
    fingerprint = fingerprint_encoder(encoder, 32)
    assert fingerprint == fingerprint_encoder(encoder, 32)
    assert fingerprint != fingerprint_encoder(encoder, 64)
    cache = SAMEmbeddingCache(str(tmp_path), 1 << 20, fingerprint)
    keys = keys_from_metainfo([metainfo(0)])
    cache.put(keys, embeddings_for(keys))
    assert cache.get(keys) is not None
    with torch.no_grad():
        encoder.blocks[0].attn.rel_pos_h[0, 0] += 1e-3
    changed = fingerprint_encoder(encoder, 32)
    assert changed != fingerprint
    log = []
    monkeypatch.setattr(cache_module, 'print_log',
                        lambda message, logger=None: log.append(message))
    invalidated = SAMEmbeddingCache(str(tmp_path), 1 << 20, changed)
    assert any('invalidated' in message for message in log)
    assert invalidated.get(keys) is None
    assert len(invalidated) == 0 and invalidated.size_bytes == 0


def test_size_limit_refuse_and_lru(tmp_path):
    max_bytes = int(2.5 * SLOT_BYTES)  # room for two embeddings
    keys = [keys_from_metainfo([metainfo(i)]) for i in range(3)]
    refusing = SAMEmbeddingCache(str(tmp_path / 'refuse'), max_bytes, 'fp',
                                 slots_per_shard=1)
    written = [refusing.put(k, embeddings_for(k)) for k in keys]
    assert written == [1, 1, 0] and refusing.refused == 1
    assert refusing.get(keys[2]) is None
    assert refusing.get(keys[0]) is not None
    assert refusing.size_bytes <= max_bytes

    lru = SAMEmbeddingCache(str(tmp_path / 'lru'), max_bytes, 'fp',
                            when_full='lru')
    lru.put(keys[0], embeddings_for(keys[0]))
    lru.put(keys[1], embeddings_for(keys[1]))
    assert lru.get(keys[0]) is not None  # keys[1] is now least recent
    assert lru.put(keys[2], embeddings_for(keys[2])) == 1
    assert lru.evicted == 1 and len(lru) == 2
    assert lru.get(keys[1]) is None
    assert torch.equal(lru.get(keys[2]), embeddings_for(keys[2]))
    assert torch.equal(lru.get(keys[0]), embeddings_for(keys[0]))
    assert lru.size_bytes <= max_bytes

    shrunk = SAMEmbeddingCache(str(tmp_path / 'lru'), SLOT_BYTES, 'fp')
    assert len(shrunk) == 1 and shrunk.size_bytes <= SLOT_BYTES


def test_hit_rate_log_line_and_copies(tmp_path, monkeypatch):
    log = []
    monkeypatch.setattr(cache_module, 'print_log',
                        lambda message, logger=None: log.append(message))
    cache = SAMEmbeddingCache(str(tmp_path), 1 << 20, 'fp', log_interval=2,
                              storage_dtype='float16')
    keys = keys_from_metainfo([metainfo(0)])
    cache.get(keys)
    cache.put(keys, embeddings_for(keys))
    restored = cache.get(keys)
    assert any('hit rate 50.0% (1/2 images)' in message for message in log)
    assert torch.allclose(restored, embeddings_for(keys), atol=1e-2)
    for clone in (copy.deepcopy(cache), pickle.loads(pickle.dumps(cache))):
        assert torch.equal(clone.get(keys), restored)
    other_handle = SAMEmbeddingCache(str(tmp_path), 1 << 20, 'fp',
                                     storage_dtype='float16')
    assert torch.equal(other_handle.get(keys), restored)
    with pytest.raises(ValueError, match='shape'):
        cache.put(keys_from_metainfo([metainfo(5)]), torch.zeros(1, 8, 2, 2))
    with pytest.raises(ValueError, match='when_full'):
        SAMEmbeddingCache(str(tmp_path), 1, 'fp', when_full='fifo')
    assert os.path.exists(tmp_path / 'manifest.json')


def _fill_from_process(cache_dir, first):
    cache = SAMEmbeddingCache(cache_dir, 1 << 20, 'fp')
    for index in range(first, first + 8, 2):
        keys = keys_from_metainfo([metainfo(index), metainfo(index + 1)])
        cache.put(keys, embeddings_for(keys))


def test_processes_share_one_cache_dir(tmp_path):
    context = multiprocessing.get_context('fork')
    workers = [context.Process(target=_fill_from_process,
                               args=(str(tmp_path), first))
               for first in (0, 8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    cache = SAMEmbeddingCache(str(tmp_path), 1 << 20, 'fp')
    keys = keys_from_metainfo([metainfo(index) for index in range(16)])
    assert len(cache) == 16
    assert torch.equal(cache.get(keys), embeddings_for(keys))
