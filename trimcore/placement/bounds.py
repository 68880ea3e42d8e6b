"""Certified upper bounds on the optimal hit ratio.

* ``"submodular"``: for any placement G and any feasible X*,
  ``U(X*) <= U(G) + sum_m max_{A fits m} sum_{i in A} gain(m, i | G)`` (U is monotone submodular).
  The inner maximum is bounded by a fractional knapsack with additive weights
  ``w(m, i) = sum_{j in blocks(i)} size_j / #{positive-gain models on m containing j}``, which never
  exceed the union size of any set of positive-gain models, so the bound is valid.
* ``"lp"``: the LP relaxation of the exact ILP (:mod:`trimcore.placement.exact`).
* ``"auto"``: both when the LP is small enough (``LP_AUTO_LIMIT`` variables), else submodular;
  the smaller valid bound is returned.
"""

from __future__ import annotations

import numpy as np

from trimcore._numeric import fractional_knapsack
from trimcore._tolerances import BOUND_RTOL
from trimcore.errors import invalid
from trimcore.kernels import choose_backend, kernel
from trimcore.placement.ilp import lp_relaxation_bound, lp_size
from trimcore.placement.problem import PlacementProblem

__all__ = ["BOUND_METHODS", "certified_upper_bound", "submodular_bound", "covered_requests", "LP_AUTO_LIMIT",
           "BOUND_KERNELS"]

#: What ``bound=`` accepts (besides None).
BOUND_METHODS = ("submodular", "lp", "auto")
#: ``bound="auto"`` solves the LP relaxation only below this many LP variables.
LP_AUTO_LIMIT = 20_000
#: Kernels of the submodular bound (the view is the one its gains kernel reads).
BOUND_KERNELS = ("placement.coverage_view", "placement.placed_server_gains")


def covered_requests(problem: PlacementProblem, placement: np.ndarray) -> np.ndarray:
    """uint8[I, K]: 1 where request (k, i) is served by some server holding i in ``placement``."""
    covered = np.zeros((problem.n_models, problem.n_users), dtype=np.uint8)
    for m, i in zip(*np.nonzero(placement)):
        covered[i, problem.users_of(int(m), int(i))] = 1
    return covered


def submodular_bound(problem: PlacementProblem, placement: np.ndarray, *, backend: str = "auto") -> float:
    """Upper bound on the optimal hit ratio from submodularity around ``placement`` (see module doc)."""
    x = problem.check_placement(placement)
    tier = choose_backend(BOUND_KERNELS, backend)
    # every server's gains from one native call over the view the problem keeps (validated once),
    # around the placement's covered requests (bits in C++: K I / 8 bytes, not K I) and the compact demand
    all_gains = kernel("placement.placed_server_gains", tier)(problem.coverage_view(tier), problem.demand_args, x)
    lib = problem.library
    rows = np.repeat(np.arange(lib.n_models), np.diff(lib.indptr))
    extra = 0.0
    for m in np.flatnonzero((all_gains > 0.0).any(axis=1)).tolist():  # servers with nothing to gain add 0
        gains = all_gains[m]
        positive = gains > 0.0
        in_positive = positive[rows]
        sharers = np.bincount(lib.indices[in_positive], minlength=lib.n_blocks)
        share = np.zeros(lib.n_blocks)
        np.divide(lib.block_sizes, sharers, out=share, where=sharers > 0)
        weights = np.add.reduceat(share[lib.indices], lib.indptr[:-1])[positive]
        extra += fractional_knapsack(gains[positive], weights, float(problem.capacity[m]))
    base = problem.hit_weight(x, backend=backend)
    return min(1.0, (base + extra) / problem.total_popularity * (1.0 + BOUND_RTOL))


def certified_upper_bound(problem: PlacementProblem, placement: np.ndarray, *, method: str = "auto",
                          backend: str = "auto") -> tuple[float, str]:
    """A bound on the optimal hit ratio that is never below the optimum, and how it was obtained.

    Parameters
    ----------
    method : {"auto", "submodular", "lp"}
    """
    if method not in BOUND_METHODS:
        raise invalid("bound", f"one of {BOUND_METHODS} or None", method)
    best, how = submodular_bound(problem, placement, backend=backend), "submodular"
    if method == "lp" or (method == "auto" and lp_size(problem) <= LP_AUTO_LIMIT):
        value = lp_relaxation_bound(problem)
        if method == "lp" or value < best:
            best, how = value, "lp"
    return best, how
