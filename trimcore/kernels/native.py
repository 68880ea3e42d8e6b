"""C++ tier: thin wrappers over the pybind11 module ``trimcore._core``.

Importing this module fails (ImportError) when the extension was not built, which makes the
``cpp`` backend unavailable rather than breaking ``import trimcore``.
"""

from __future__ import annotations

import numpy as np

from trimcore import _core

__all__ = [
    "storage_used", "hit_weight", "greedy_placement", "server_gains", "knapsack_fptas", "knapsack_grid", "max_coverage",
]


def storage_used(placement: np.ndarray, model_bits: np.ndarray, block_sizes: np.ndarray) -> np.ndarray:
    """See :func:`trimcore.kernels.reference.storage_used`."""
    return _core.storage_used(placement, model_bits, block_sizes)


def hit_weight(placement: np.ndarray, pair_ptr: np.ndarray, pair_len: np.ndarray, pair_users: np.ndarray,
               popularity_by_model: np.ndarray) -> float:
    """See :func:`trimcore.kernels.reference.hit_weight`."""
    return float(_core.hit_weight(placement, pair_ptr, pair_len, pair_users, popularity_by_model))


def greedy_placement(pair_ptr, pair_len, pair_users, popularity_by_model, model_bits, block_sizes, capacity,
                     block_ptr, block_models, candidates, covered, rule, lazy, rtol) -> np.ndarray:
    """See :func:`trimcore.kernels.reference.greedy_placement` (``lazy`` selects the exact lazy greedy)."""
    return _core.greedy_placement(pair_ptr, pair_len, pair_users, popularity_by_model, model_bits, block_sizes,
                                  capacity, block_ptr, block_models, candidates, covered, rule, lazy, rtol)


def server_gains(server, pair_ptr, pair_len, pair_users, popularity_by_model, covered) -> np.ndarray:
    """See :func:`trimcore.kernels.reference.server_gains`."""
    return _core.server_gains(server, pair_ptr, pair_len, pair_users, popularity_by_model, covered)


def knapsack_fptas(values: np.ndarray, weights: np.ndarray, capacity: float, eps: float) -> np.ndarray:
    """See :func:`trimcore.kernels.reference.knapsack_fptas`."""
    return _core.knapsack_fptas(values, weights, capacity, eps)


def knapsack_grid(values: np.ndarray, weights: np.ndarray, capacity: int) -> np.ndarray:
    """See :func:`trimcore.kernels.reference.knapsack_grid`."""
    return _core.knapsack_grid(values, weights, capacity)


def max_coverage(indptr, indices, weights, costs, budget, rule, lazy, rtol) -> np.ndarray:
    """See :func:`trimcore.kernels.reference.max_coverage` (``lazy`` selects the exact lazy greedy)."""
    return _core.max_coverage(indptr, indices, weights, costs, budget, rule, lazy, rtol)
