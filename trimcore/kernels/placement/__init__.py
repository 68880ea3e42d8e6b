"""Placement kernels, one module per tier (see :mod:`trimcore.kernels`)."""

from typing import Any

import numpy as np


def demand_tuple(demand: Any) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``(by_model, group, rate)`` of a demand tuple (a problem's ``demand_args``) or of a dense
    popularity by model [I, K] (shared by every tier; importing it imports no tier)."""
    if isinstance(demand, np.ndarray):
        return demand, None, None
    return demand


def covered_of(coverage: tuple[np.ndarray, np.ndarray, np.ndarray], n_users: int, placement: np.ndarray) -> np.ndarray:
    """uint8[I, K]: 1 where request (k, i) is served by some server holding i in ``placement``."""
    pair_ptr, pair_len, pair_users = coverage
    n_models = placement.shape[1]
    covered = np.zeros((n_models, n_users), dtype=np.uint8)
    for m, i in zip(*np.nonzero(placement)):
        p = int(m) * n_models + int(i)
        covered[i, pair_users[pair_ptr[p]:pair_ptr[p] + pair_len[p]]] = 1
    return covered
