"""C++ tier of the knapsack kernels (``trimcore._core``)."""

from __future__ import annotations

import numpy as np

from trimcore import _core


def knapsack_fptas(values: np.ndarray, weights: np.ndarray, capacity: float, eps: float) -> np.ndarray:
    """See :func:`trimcore.kernels.knapsack.reference.knapsack_fptas`."""
    return _core.knapsack_fptas(values, weights, capacity, eps)


def knapsack_grid(values: np.ndarray, weights: np.ndarray, capacity: int) -> np.ndarray:
    """See :func:`trimcore.kernels.knapsack.reference.knapsack_grid`."""
    return _core.knapsack_grid(values, weights, capacity)


KERNELS = {"knapsack_fptas": knapsack_fptas, "knapsack_grid": knapsack_grid}
