"""Small numeric helpers shared by several packages (no paper-specific logic)."""

from __future__ import annotations

import numpy as np

__all__ = ["sequential_sum", "fractional_knapsack", "ranks_before"]


def sequential_sum(values: np.ndarray) -> float:
    """Left-to-right sum (``np.cumsum``), the summation order of the native kernels.

    ``np.sum`` uses pairwise summation, whose last bits differ; algorithms that compare sums to
    break ties use this order in every tier so that all tiers decide identically.
    """
    return float(np.cumsum(values)[-1]) if values.size else 0.0


def fractional_knapsack(values: np.ndarray, weights: np.ndarray, capacity: float) -> float:
    """Optimum of the LP relaxation of a 0/1 knapsack (Dantzig's bound).

    Items with zero weight are taken whole; the others by decreasing value per weight, the last
    one fractionally. Only items with positive value count.
    """
    useful = values > 0
    values, weights = values[useful], weights[useful]
    free = weights <= 0
    total = float(values[free].sum())
    values, weights = values[~free], weights[~free]
    if values.size == 0 or capacity <= 0:
        return total
    order = np.argsort(-values / weights, kind="stable")
    filled = np.cumsum(weights[order])
    gained = np.cumsum(values[order])
    whole = int(np.searchsorted(filled, capacity, side="right"))
    total += float(gained[whole - 1]) if whole else 0.0
    if whole < order.size:
        rest = capacity - (float(filled[whole - 1]) if whole else 0.0)
        total += rest / weights[order[whole]] * values[order[whole]]
    return total


def ranks_before(a: tuple[float, float, int], b: tuple[float, float, int], rule: str) -> bool:
    """True when score ``a = (ratio, gain, id)`` ranks strictly before ``b`` under ``rule``."""
    if rule == "ratio" and a[0] != b[0]:
        return a[0] > b[0]
    if a[1] != b[1]:
        return a[1] > b[1]
    return a[2] < b[2]
