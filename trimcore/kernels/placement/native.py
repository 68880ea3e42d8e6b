"""C++ tier of the placement kernels: thin wrappers over the pybind11 module ``trimcore._core``.

Importing this module fails (ImportError) when the extension was not built, which makes the
``cpp`` backend unavailable rather than breaking ``import trimcore``.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from trimcore import _core


def storage_used(placement: np.ndarray, model_bits: np.ndarray, block_sizes: np.ndarray) -> np.ndarray:
    """See :func:`trimcore.kernels.placement.reference.storage_used`."""
    return _core.storage_used(placement, model_bits, block_sizes)


# Validated coverage indexes, one per problem (keyed by the identity of its read-only arrays):
# evaluating many placements of one problem then checks only the placement.
_INDEXES: dict[tuple[int, int, int, int], tuple[tuple[weakref.ref, ...], Any]] = {}


def _coverage_index(placement: np.ndarray, pair_ptr: np.ndarray, pair_len: np.ndarray, pair_users: np.ndarray,
                    popularity_by_model: np.ndarray) -> Any | None:
    arrays = (pair_ptr, pair_len, pair_users)
    if any(not isinstance(a, np.ndarray) or a.flags.writeable for a in arrays):
        return None  # mutable input: validate on every call instead
    key = (id(pair_ptr), id(pair_len), id(pair_users), popularity_by_model.shape[1])
    entry = _INDEXES.get(key)
    if entry is not None and all(ref() is a for ref, a in zip(entry[0], arrays)):
        return entry[1]
    n_models = popularity_by_model.shape[0]
    index = _core.CoverageIndex(pair_ptr, pair_len, pair_users, placement.shape[0], popularity_by_model.shape[1],
                                n_models)  # validates and copies
    for stale in [k for k, (refs, _) in _INDEXES.items() if any(r() is None for r in refs)]:
        del _INDEXES[stale]
    _INDEXES[key] = (tuple(weakref.ref(a) for a in arrays), index)
    return index


def hit_weight(placement: np.ndarray, pair_ptr: np.ndarray, pair_len: np.ndarray, pair_users: np.ndarray,
               popularity_by_model: np.ndarray) -> float:
    """See :func:`trimcore.kernels.placement.reference.hit_weight`."""
    if (isinstance(placement, np.ndarray) and placement.ndim == 2 and isinstance(popularity_by_model, np.ndarray)
            and popularity_by_model.ndim == 2 and placement.shape[1] == popularity_by_model.shape[0]
            and pair_ptr.shape == (placement.shape[0] * placement.shape[1],)):
        index = _coverage_index(placement, pair_ptr, pair_len, pair_users, popularity_by_model)
        if index is not None:
            return float(_core.hit_weight_indexed(placement, index, popularity_by_model))
    return float(_core.hit_weight(placement, pair_ptr, pair_len, pair_users, popularity_by_model))


def greedy_placement(pair_ptr, pair_len, pair_users, popularity_by_model, model_bits, block_sizes, capacity,
                     block_ptr, block_models, candidates, covered, rule, lazy, rtol) -> np.ndarray:
    """See :func:`trimcore.kernels.placement.reference.greedy_placement` (``lazy`` selects the exact lazy greedy)."""
    return _core.greedy_placement(pair_ptr, pair_len, pair_users, popularity_by_model, model_bits, block_sizes,
                                  capacity, block_ptr, block_models, candidates, covered, rule, lazy, rtol)


def server_gains(server, pair_ptr, pair_len, pair_users, popularity_by_model, covered) -> np.ndarray:
    """See :func:`trimcore.kernels.placement.reference.server_gains`."""
    return _core.server_gains(server, pair_ptr, pair_len, pair_users, popularity_by_model, covered)


KERNELS = {
    "storage_used": storage_used,
    "hit_weight": hit_weight,
    "greedy_placement": greedy_placement,
    "server_gains": server_gains,
}
