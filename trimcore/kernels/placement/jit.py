"""Numba tier: the reference kernels compiled with ``@njit`` (cached on disk) at module level.

Compiled code is cached on disk next to this file, or in ``NUMBA_CACHE_DIR`` when that is set
(use it when the installation directory is read-only).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trimcore.kernels._jit import njit
from trimcore.kernels.placement import demand_tuple

_NO_GROUP = np.zeros(0, dtype=np.int32)
_NO_RATE = np.zeros(0, dtype=np.float64)


def _demand(demand: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool, bool]:
    """``(by_model, group, rate, has_group, has_rate)`` with empty arrays for None (one compiled signature)."""
    by_model, group, rate = demand_tuple(demand)
    return (by_model, _NO_GROUP if group is None else group, _NO_RATE if rate is None else rate,
            group is not None, rate is not None)


def _n_users(demand: Any) -> int:
    by_model, group, _ = demand_tuple(demand)
    return by_model.shape[1] if group is None else group.shape[0]


@njit(nogil=True, inline="always")
def _w(weight, group, rate, has_group, has_rate, i, u):  # pragma: no cover - compiled
    if not has_group:
        return weight[i, u]
    w = weight[i, group[u]]
    if has_rate:
        return rate[u] * w
    return w


@njit(nogil=True)
def _storage_used(placement, model_bits, block_sizes, out):  # pragma: no cover - compiled
    n_servers, n_models = placement.shape
    n_words = model_bits.shape[1]
    acc = np.zeros(n_words, dtype=np.uint64)
    for m in range(n_servers):
        acc[:] = 0
        for i in range(n_models):
            if placement[m, i]:
                for w in range(n_words):
                    acc[w] |= model_bits[i, w]
        total = 0.0
        for w in range(n_words):
            bits = acc[w]
            b = 0
            while bits != 0:
                if bits & np.uint64(1):
                    total += block_sizes[w * 64 + b]
                bits >>= np.uint64(1)
                b += 1
        out[m] = total


def storage_used(placement: np.ndarray, model_bits: np.ndarray, block_sizes: np.ndarray) -> np.ndarray:
    """See :func:`trimcore.kernels.placement.reference.storage_used`."""
    out = np.zeros(placement.shape[0])
    _storage_used(placement, model_bits, block_sizes, out)
    return out


@njit(nogil=True)
def _hit_weight(placement, pair_ptr, pair_len, pair_users, weight, group, rate, has_group, has_rate,
                n_users):  # pragma: no cover - compiled
    n_servers, n_models = placement.shape
    stamp = np.full(n_users, -1, dtype=np.int64)
    total = 0.0
    for i in range(n_models):
        for m in range(n_servers):
            if not placement[m, i]:
                continue
            p = m * n_models + i
            for t in range(pair_ptr[p], pair_ptr[p] + pair_len[p]):
                u = pair_users[t]
                if stamp[u] != i:
                    stamp[u] = i
                    total += _w(weight, group, rate, has_group, has_rate, i, u)
    return total


def coverage_view(pair_ptr: np.ndarray, pair_len: np.ndarray, pair_users: np.ndarray, n_servers: int,
                  n_users: int, n_models: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """See :func:`trimcore.kernels.placement.reference.coverage_view` (the arrays themselves)."""
    return pair_ptr, pair_len, pair_users


def hit_weight(placement: np.ndarray, coverage: tuple[np.ndarray, np.ndarray, np.ndarray], demand: Any) -> float:
    """See :func:`trimcore.kernels.placement.reference.hit_weight`."""
    pair_ptr, pair_len, pair_users = coverage
    return float(_hit_weight(placement, pair_ptr, pair_len, pair_users, *_demand(demand), _n_users(demand)))


@njit(nogil=True)
def _server_gains(server, pair_ptr, pair_len, pair_users, weight, group, rate, has_group, has_rate, covered,
                  out):  # pragma: no cover - compiled
    n_models = weight.shape[0]
    for i in range(n_models):
        p = server * n_models + i
        gain = 0.0
        for t in range(pair_ptr[p], pair_ptr[p] + pair_len[p]):
            u = pair_users[t]
            if covered[i, u] == 0:
                gain += _w(weight, group, rate, has_group, has_rate, i, u)
        out[i] = gain


def server_gains(server: int, coverage: tuple[np.ndarray, np.ndarray, np.ndarray], demand: Any,
                 covered: np.ndarray) -> np.ndarray:
    """See :func:`trimcore.kernels.placement.reference.server_gains`."""
    pair_ptr, pair_len, pair_users = coverage
    parts = _demand(demand)
    out = np.zeros(parts[0].shape[0])
    _server_gains(server, pair_ptr, pair_len, pair_users, *parts, covered, out)
    return out


@njit(nogil=True)
def _all_server_gains(pair_ptr, pair_len, pair_users, weight, group, rate, has_group, has_rate, covered,
                      out):  # pragma: no cover - compiled
    for m in range(out.shape[0]):
        _server_gains(m, pair_ptr, pair_len, pair_users, weight, group, rate, has_group, has_rate, covered, out[m])


def all_server_gains(coverage: tuple[np.ndarray, np.ndarray, np.ndarray], demand: Any,
                     covered: np.ndarray) -> np.ndarray:
    """See :func:`trimcore.kernels.placement.reference.all_server_gains`."""
    pair_ptr, pair_len, pair_users = coverage
    parts = _demand(demand)
    n_models = parts[0].shape[0]
    out = np.zeros((pair_ptr.shape[0] // n_models if n_models else 0, n_models))
    _all_server_gains(pair_ptr, pair_len, pair_users, *parts, covered, out)
    return out


@njit(nogil=True)
def _placed_server_gains(placement, pair_ptr, pair_len, pair_users, weight, group, rate, has_group, has_rate,
                         n_users, out):  # pragma: no cover - compiled
    # One model at a time: stamp[u] == i marks request (u, i) as served by the placement, so the
    # covered state is O(K) rather than the reference's [I, K]; the sums run in _server_gains' order.
    n_servers, n_models = placement.shape
    stamp = np.full(n_users, -1, dtype=np.int64)
    for i in range(n_models):
        for m in range(n_servers):
            if placement[m, i]:
                p = m * n_models + i
                for t in range(pair_ptr[p], pair_ptr[p] + pair_len[p]):
                    stamp[pair_users[t]] = i
        for m in range(n_servers):
            p = m * n_models + i
            gain = 0.0
            for t in range(pair_ptr[p], pair_ptr[p] + pair_len[p]):
                u = pair_users[t]
                if stamp[u] != i:
                    gain += _w(weight, group, rate, has_group, has_rate, i, u)
            out[m, i] = gain


def placed_server_gains(coverage: tuple[np.ndarray, np.ndarray, np.ndarray], demand: Any,
                        placement: np.ndarray) -> np.ndarray:
    """See :func:`trimcore.kernels.placement.reference.placed_server_gains` (covered state O(K), not [I, K])."""
    pair_ptr, pair_len, pair_users = coverage
    out = np.zeros(placement.shape)
    _placed_server_gains(placement, pair_ptr, pair_len, pair_users, *_demand(demand), _n_users(demand), out)
    return out


KERNELS = {"storage_used": storage_used, "coverage_view": coverage_view, "hit_weight": hit_weight,
           "server_gains": server_gains, "all_server_gains": all_server_gains,
           "placed_server_gains": placed_server_gains}
