"""Baselines (spec §6): independent caching (no block sharing), popularity and random filling."""

from __future__ import annotations

import time

import numpy as np

from trimcore._validate import make_rng
from trimcore.errors import invalid
from trimcore.placement.greedy import GREEDY_RTOL
from trimcore.placement.problem import PlacementProblem
from trimcore.placement.result import PlacementResult
from trimcore.placement.scoring import DEFAULT_BOUND, make_result, placement_backend
from trimcore.placement.spec import SPEC_KERNELS, server_ordering, successive_knapsack

__all__ = ["independent_caching", "popularity_caching", "random_caching"]


def independent_caching(problem: PlacementProblem, eps: float = 0.1, *, knapsack: str = "auto",
                        server_order: str = "index", bound: str | None = DEFAULT_BOUND,
                        backend: str = "auto") -> PlacementResult:
    """Conventional content caching that ignores block sharing (spec §6).

    Every model is an atomic file of its full size ``S_i``, and ``sum_i x[m,i] S_i <= Q_m``.
    Placement by the same successive greedy with a per-server knapsack as TrimCaching Spec (a
    (1 - eps)/2 approximation of the *independent* problem, i.e. a strong content-caching
    baseline). The placement is scored with the real union storage, which is never larger.
    """
    if not (isinstance(eps, (int, float)) and 0.0 < eps < 1.0):
        raise invalid("eps", "a number in (0, 1)", eps)
    backend = placement_backend(SPEC_KERNELS, backend, bound, "independent_caching")
    started = time.perf_counter()
    x, counters = successive_knapsack(problem, eps=eps, atomic=True, knapsack=knapsack,
                                      server_order=server_ordering(problem, server_order), backend=backend)
    options = {"eps": eps, "knapsack": knapsack, "server_order": server_order, **counters}
    return make_result(problem, x, "independent_caching", options, started, bound=bound, backend=backend)


def _fill_in_order(problem: PlacementProblem, order_of: list[np.ndarray], sharing_aware: bool) -> np.ndarray:
    """Each server takes models in its order while they fit (union or sum of sizes)."""
    lib = problem.library
    x = np.zeros((problem.n_servers, problem.n_models), dtype=bool)
    for m in range(problem.n_servers):
        limit = problem.capacity[m] * (1.0 + GREEDY_RTOL)
        stored = np.zeros(lib.n_blocks, dtype=bool)
        used = 0.0
        for i in order_of[m]:
            blocks = lib.blocks_of(int(i))
            extra = float(lib.block_sizes[blocks[~stored[blocks]]].sum()) if sharing_aware else lib.model_sizes[i]
            if used + extra <= limit:
                x[m, i] = True
                used += extra
                stored[blocks] = True
    return x


def popularity_caching(problem: PlacementProblem, *, sharing_aware: bool = True, bound: str | None = DEFAULT_BOUND,
                       backend: str = "auto") -> PlacementResult:
    """Every server fills its storage with the globally most popular models (spec §6, optional).

    ``sharing_aware`` counts only blocks not yet on the server (union storage); otherwise full
    model sizes.
    """
    backend = placement_backend((), backend, bound, "popularity_caching")
    started = time.perf_counter()
    order = np.argsort(-problem.demand.model_totals(), kind="stable")  # compact demand: O(G I + K)
    x = _fill_in_order(problem, [order] * problem.n_servers, sharing_aware)
    return make_result(problem, x, "popularity_caching", {"sharing_aware": sharing_aware}, started, bound=bound,
                       backend=backend)


def random_caching(problem: PlacementProblem, *, seed: int | None = None, sharing_aware: bool = True,
                   bound: str | None = DEFAULT_BOUND, backend: str = "auto") -> PlacementResult:
    """Every server fills its storage with models in a random order (seeded through ``make_rng``)."""
    rng = make_rng(seed)
    backend = placement_backend((), backend, bound, "random_caching")
    started = time.perf_counter()
    orders = [rng.permutation(problem.n_models) for _ in range(problem.n_servers)]
    x = _fill_in_order(problem, orders, sharing_aware)
    return make_result(problem, x, "random_caching", {"seed": seed, "sharing_aware": sharing_aware}, started,
                       bound=bound, backend=backend)
