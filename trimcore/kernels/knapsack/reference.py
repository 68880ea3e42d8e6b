"""Reference tier of the 0/1 knapsack kernels (Spec's per-server step): plain NumPy, the oracle."""

from __future__ import annotations

import numpy as np


# ---------------------------------------------------------------------------------- knapsack
def knapsack_fptas(values: np.ndarray, weights: np.ndarray, capacity: float, eps: float) -> np.ndarray:
    """Value-rounding FPTAS (spec §5.1.1): least weight per rounded value, then backtrack.

    Values are rounded down to multiples of ``mu = eps * max(values) / n``; the chosen set fits
    ``capacity`` and is worth at least ``(1 - eps)`` of the optimum. Returns ids ascending.
    """
    n = values.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    scaled = fptas_rounded_values(values, eps).astype(np.int64)
    width = int(scaled.sum()) + 1
    least = np.full(width, np.inf)
    least[0] = 0.0
    take = np.zeros((n, width), dtype=bool)
    for i in range(n):
        v = scaled[i]
        if v == 0:
            continue
        candidate = least[:width - v] + weights[i]
        better = candidate < least[v:]
        take[i, v:] = better
        least[v:] = np.where(better, candidate, least[v:])
    fits = np.flatnonzero(least <= capacity)
    best = int(fits.max()) if fits.size else 0  # a negative capacity: nothing (as the C++ tier)
    return _backtrack(take, scaled, best)


def fptas_rounded_values(values: np.ndarray, eps: float) -> np.ndarray:
    """The FPTAS's rounded values ``floor(v / mu)``, as float64 (the C++ tier's operations and order).

    Computed as ``floor((v / v_max) * (n / eps))``: ``mu`` itself underflows to 0 for denormal
    values. Each is at most ``n / eps``, so the caller can bound the table before casting.
    """
    return np.floor((values / values.max()) * (values.shape[0] / eps))


def knapsack_grid(values: np.ndarray, weights: np.ndarray, capacity: int) -> np.ndarray:
    """Exact 0/1 knapsack over integer ``weights`` (best value per capacity). Returns ids ascending."""
    n = values.shape[0]
    best = np.zeros(capacity + 1)
    take = np.zeros((n, capacity + 1), dtype=bool)
    for i in range(n):
        w = int(weights[i])
        candidate = best[:capacity + 1 - w] + values[i]
        better = candidate > best[w:]
        take[i, w:] = better
        best[w:] = np.where(better, candidate, best[w:])
    return _backtrack(take, weights.astype(np.int64), capacity)


def _backtrack(take: np.ndarray, step: np.ndarray, cell: int) -> np.ndarray:
    chosen = []
    for i in range(take.shape[0] - 1, -1, -1):
        if take[i, cell]:
            chosen.append(i)
            cell -= int(step[i])
    return np.array(chosen[::-1], dtype=np.int64)


KERNELS = {"knapsack_fptas": knapsack_fptas, "knapsack_grid": knapsack_grid}
