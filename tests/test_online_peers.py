"""Agreement with outside cache implementations: libCacheSim and cachetools (test extra; skipped if absent).

As one reactive cache (one server, ``greedy_admission=True``, ``allow_substitution=False``) our LRU,
FIFO and LFU must match both hit for hit on random traces with byte sizes, models larger than the
memory and a model of exactly the memory's size. Semantic points (docs/online.md):

* an object larger than the cache is never admitted and evicts nothing (libCacheSim warns and
  bypasses it; cachetools raises ``ValueError`` on insertion, which we catch as a bypass);
* an object of exactly the cache size is admitted and evicts everything else (all three);
* LFU counts 1 at insertion and +1 per hit, forgets the count on eviction; ties go to the least
  recently requested object. cachetools and libCacheSim evict, among the least frequent, the one
  that reached that frequency first; an object reaches its count at its last request, so that is
  the same object.
"""

from __future__ import annotations

import numpy as np
import pytest

import trimcore as tc

REACTIVE = {"greedy_admission": True, "allow_substitution": False}


def random_trace(seed: int, n: int = 600) -> tuple[np.ndarray, np.ndarray, int]:
    rng = np.random.default_rng(seed)
    n_models = int(rng.integers(3, 25))
    memory = int(rng.integers(50, 400))
    sizes = rng.integers(1, memory // 2, n_models).astype(np.int64)
    sizes[0] = memory  # exactly the memory's size
    if n_models > 2:
        sizes[1] = memory + int(rng.integers(1, 50))  # never fits
    w = 1.0 / np.arange(1, n_models + 1) ** rng.uniform(0.3, 1.3)
    trace = rng.choice(n_models, n, p=w / w.sum())
    return sizes, trace, memory


def ours(sizes: np.ndarray, trace: np.ndarray, memory: int, policy: str) -> np.ndarray:
    cp = tc.CachingProblem.from_arrays(sizes.astype(float), [[i] for i in range(sizes.size)], [float(memory)],
                                       np.zeros(trace.size, dtype=np.int64), np.zeros(trace.size, dtype=np.int64),
                                       trace, block_sharing=False)
    res = tc.simulate_caching(cp, policy=policy, bound=False, **REACTIVE)
    return res.hit


def libcachesim_hits(sizes: np.ndarray, trace: np.ndarray, memory: int, policy: str) -> np.ndarray:
    lcs = pytest.importorskip("libcachesim")
    cache = {"lru": lcs.LRU, "fifo": lcs.FIFO, "lfu": lcs.LFU}[policy](cache_size=memory, hashpower=10)
    out = np.zeros(trace.size, dtype=bool)
    req = lcs.Request()
    for r, i in enumerate(trace.tolist()):
        req.obj_id, req.obj_size, req.valid = i + 1, int(sizes[i]), True
        out[r] = cache.get(req)
    return out


def cachetools_hits(sizes: np.ndarray, trace: np.ndarray, memory: int, policy: str) -> np.ndarray:
    ct = pytest.importorskip("cachetools")
    cls = {"lru": ct.LRUCache, "fifo": ct.FIFOCache, "lfu": ct.LFUCache}[policy]
    cache = cls(maxsize=memory, getsizeof=lambda key: int(sizes[key]))
    out = np.zeros(trace.size, dtype=bool)
    for r, i in enumerate(trace.tolist()):
        if i in cache:
            cache[i]  # a hit: refreshes recency / frequency
            out[r] = True
        else:
            try:
                cache[i] = i
            except ValueError:  # larger than the cache: bypassed
                pass
    return out


@pytest.mark.parametrize("policy", ["lru", "fifo", "lfu"])
def test_agrees_with_libcachesim(policy: str) -> None:
    pytest.importorskip("libcachesim")
    total = 0
    for seed in range(25):
        sizes, trace, memory = random_trace(seed)
        a, b = ours(sizes, trace, memory, policy), libcachesim_hits(sizes, trace, memory, policy)
        assert np.array_equal(a, b), (seed, int(np.flatnonzero(a != b)[0]))
        total += int(a.sum())
    assert total > 1000  # the traces hit and miss


@pytest.mark.parametrize("policy", ["lru", "fifo", "lfu"])
def test_agrees_with_cachetools(policy: str) -> None:
    pytest.importorskip("cachetools")
    for seed in range(25):
        sizes, trace, memory = random_trace(seed)
        a, b = ours(sizes, trace, memory, policy), cachetools_hits(sizes, trace, memory, policy)
        assert np.array_equal(a, b), (seed, int(np.flatnonzero(a != b)[0]))


def test_block_mode_equals_model_mode_without_sharing() -> None:
    """A library of one private block per model: both memory modes give the same hits (and LRU the peers')."""
    sizes, trace, memory = random_trace(3)
    lib = [[i] for i in range(sizes.size)]
    zeros = np.zeros(trace.size, dtype=np.int64)
    a = tc.CachingProblem.from_arrays(sizes.astype(float), lib, [float(memory)], zeros, zeros, trace)
    b = a.with_options(block_sharing=False)
    ra, rb = (tc.simulate_caching(p, policy="lru", bound=False, **REACTIVE) for p in (a, b))
    assert np.array_equal(ra.hit, rb.hit) and np.array_equal(ra.evicted, rb.evicted)
