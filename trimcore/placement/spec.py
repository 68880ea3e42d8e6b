"""TrimCaching Spec: successive greedy over servers + knapsack DP (spec §5.1).

Servers are taken in turn. On server m every model has an additive marginal gain given what
earlier servers serve. For every realisable union S of shared blocks (the shared parts of the
candidate models, combined), the models whose shared blocks lie in S form a 0/1 knapsack with
their private sizes as weights and ``Q_m - size(S)`` as capacity. The best knapsack over all S
is placed. With a (1 - eps) knapsack this is a (1 - eps)/2 approximation (spec §5.1.2).
"""

from __future__ import annotations

import time

import numpy as np

from trimcore.errors import invalid
from trimcore.kernels import choose_backend, kernel
from trimcore.placement.problem import PlacementProblem
from trimcore.placement.result import PlacementResult
from trimcore.placement.scoring import DEFAULT_BOUND, make_result, placement_backend

__all__ = ["trimcaching_spec", "successive_knapsack", "solve_knapsack", "KNAPSACK_METHODS",
           "GRID_CELL_LIMIT"]

KNAPSACK_METHODS = ("auto", "fptas", "grid")
#: The exact integer-grid DP is used by ``"auto"`` only up to this many capacity cells.
GRID_CELL_LIMIT = 1 << 22
#: ``"auto"`` uses the FPTAS up to this many table cells (items x rounded values), then the grid.
FPTAS_TABLE_LIMIT = 50_000_000
#: Kernels of the successive knapsack greedy (Spec and independent caching).
SPEC_KERNELS = ("placement.gen_problem", "placement.successive_knapsack")
#: No FPTAS table beyond this many bytes: the whole footprint, one byte per cell of the
#: back-tracking table plus the 8-byte row beside it, ``(n + 8) * columns``, counted before allocating.
FPTAS_HARD_LIMIT = 4_000_000_000


def solve_knapsack(values: np.ndarray, weights: np.ndarray, capacity: float, eps: float, method: str,
                   grid_cells: int, backend: str) -> tuple[np.ndarray, str]:
    """0/1 knapsack for positive values; returns (chosen ids ascending, method used).

    ``"fptas"``: value rounding, (1 - eps) of the optimum, always feasible. ``"grid"``: weights
    rounded up to a grid of ``grid_cells`` cells over the capacity, exact on the rounded
    weights, always feasible. ``"auto"`` chooses by table size: the exact DP over an integer
    weight grid (optimal) when the weights are integers whose gcd puts the capacity on no more
    cells than the FPTAS table has columns; otherwise the FPTAS while its table has at most
    ``FPTAS_TABLE_LIMIT`` cells; beyond that the rounded grid (``"grid"``, no guarantee).
    """
    from trimcore.kernels.placement import reference

    return reference.solve_knapsack(values, weights, capacity, eps, method, grid_cells, _limits(),
                                    grid=kernel("knapsack.knapsack_grid", backend),
                                    fptas=kernel("knapsack.knapsack_fptas", backend))


def _limits() -> tuple[int, float, float]:
    # read at call time (tests lower them)
    return GRID_CELL_LIMIT, float(FPTAS_TABLE_LIMIT), float(FPTAS_HARD_LIMIT)


def successive_knapsack(problem: PlacementProblem, *, eps: float, atomic: bool, knapsack: str = "auto",
                        grid_cells: int = 4096, max_combinations: int = 4096,
                        server_order: np.ndarray | None = None,
                        backend: str = "auto") -> tuple[np.ndarray, dict[str, int]]:
    """The successive greedy + knapsack loop shared by Spec and the independent-caching baseline.

    With ``atomic=True`` every model is one indivisible file of its full size (no shared
    blocks): the independent-caching baseline. Returns the placement and counters. One kernel
    call (``placement.successive_knapsack``: in C++ on the cpp tier, ``trimcore::trimcaching_spec``).
    """
    order = np.arange(problem.n_servers, dtype=np.int64) if server_order is None else np.asarray(server_order,
                                                                                                  dtype=np.int64)
    backend = choose_backend(SPEC_KERNELS, backend)
    return kernel("placement.successive_knapsack", backend)(
        problem.gen_view(backend), eps, atomic, knapsack, grid_cells, max_combinations, order, *_limits())


def trimcaching_spec(problem: PlacementProblem, eps: float = 0.1, *, knapsack: str = "auto",
                     grid_cells: int = 4096, max_combinations: int = 4096, server_order: str = "index",
                     bound: str | None = DEFAULT_BOUND, backend: str = "auto") -> PlacementResult:
    """TrimCaching Spec: successive greedy + knapsack DP, a (1 - eps)/2 approximation (spec §5.1).

    Parameters
    ----------
    problem : PlacementProblem
    eps : float in (0, 1)
        Accuracy of the knapsack FPTAS; the placement is worth at least (1 - eps)/2 of the optimum.
    knapsack : {"auto", "fptas", "grid"}
        Knapsack DP: value-rounding FPTAS, weight-grid DP with sizes rounded up (feasible, no
        guarantee), or ``"auto"`` (exact integer grid when it is smaller than the FPTAS table,
        else the FPTAS up to ``FPTAS_TABLE_LIMIT`` cells, else the rounded grid). The result's
        ``options["guaranteed"]`` says whether every knapsack kept the (1 - eps) factor, i.e.
        whether the (1 - eps)/2 guarantee is certified for this run.
    grid_cells : int
        Capacity cells of the ``"grid"`` DP.
    max_combinations : int
        Refuse (InstanceError) when a server has more realisable shared-block unions.
    server_order : {"index", "capacity", "demand"}
        Order of the successive greedy: index, decreasing capacity, or decreasing reachable
        demand. The guarantee holds for any order.
    bound, backend :
        As in :func:`trimcore.trimcaching_gen`.
    """
    if not (isinstance(eps, (int, float)) and 0.0 < eps < 1.0):
        raise invalid("eps", "a number in (0, 1)", eps)
    if not isinstance(knapsack, str) or knapsack not in KNAPSACK_METHODS:
        raise invalid("knapsack", f"one of {KNAPSACK_METHODS}", knapsack)
    if not (isinstance(grid_cells, int) and 1 <= grid_cells <= GRID_CELL_LIMIT):
        raise invalid("grid_cells", f"an integer in [1, {GRID_CELL_LIMIT}]", grid_cells)
    if not (isinstance(max_combinations, int) and max_combinations >= 1):
        raise invalid("max_combinations", "an integer >= 1", max_combinations)
    backend = placement_backend(SPEC_KERNELS, backend, bound, "trimcaching_spec")
    started = time.perf_counter()
    order = server_ordering(problem, server_order)
    x, counters = successive_knapsack(problem, eps=eps, atomic=False, knapsack=knapsack, grid_cells=grid_cells,
                                      max_combinations=max_combinations, server_order=order, backend=backend)
    options = {"eps": eps, "knapsack": knapsack, "grid_cells": grid_cells, "max_combinations": max_combinations,
               "server_order": server_order, **counters, "guaranteed": counters.get("knapsack_grid", 0) == 0}
    return make_result(problem, x, "trimcaching_spec", options, started, bound=bound, backend=backend)


def server_ordering(problem: PlacementProblem, server_order: str) -> np.ndarray:
    """Server visiting order of the successive greedy."""
    if server_order == "index":
        return np.arange(problem.n_servers)
    if server_order == "capacity":
        return np.argsort(-problem.capacity, kind="stable")
    if server_order == "demand":
        reach = np.array([sum(float(problem.demand.weights(i, problem.users_of(m, i)).sum())
                              for i in range(problem.n_models)) for m in range(problem.n_servers)])
        return np.argsort(-reach, kind="stable")
    raise invalid("server_order", "one of 'index', 'capacity', 'demand'", server_order)
