"""TrimCaching Spec: successive greedy over servers + knapsack DP (spec §5.1).

Servers are taken in turn. On server m every model has an additive marginal gain given what
earlier servers serve. For every realisable union S of shared blocks (the shared parts of the
candidate models, combined), the models whose shared blocks lie in S form a 0/1 knapsack with
their private sizes as weights and ``Q_m - size(S)`` as capacity. The best knapsack over all S
is placed. With a (1 - eps) knapsack this is a (1 - eps)/2 approximation (spec §5.1.2).
"""

from __future__ import annotations

import math
import time
from functools import reduce

import numpy as np

from trimcore._numeric import fractional_knapsack, sequential_sum
from trimcore._tolerances import GRID_ROUNDING_RTOL, PRUNE_RTOL
from trimcore.errors import InstanceError, invalid
from trimcore.kernels import kernel
from trimcore.kernels.knapsack.reference import fptas_rounded_values
from trimcore.placement.greedy import GREEDY_RTOL
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
SPEC_KERNELS = ("placement.coverage_view", "placement.server_gains", "knapsack.knapsack_fptas",
                "knapsack.knapsack_grid")
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
    n = values.size
    if n == 0:
        return np.zeros(0, dtype=np.int64), method
    # float: the column count of a tiny eps can exceed any int64; nothing is allocated before the checks
    fptas_cols = float(fptas_rounded_values(values, eps).sum()) + 1.0
    if method == "auto":
        integral = np.all(weights == np.floor(weights)) and weights.max() < 2.0**53
        if integral:
            unit = reduce(math.gcd, (int(w) for w in weights if w > 0), 0) or 1
            cells = int(capacity // unit)
            if cells <= min(fptas_cols, GRID_CELL_LIMIT):
                units = (weights // unit).astype(np.int64)
                return kernel("knapsack.knapsack_grid", backend)(values, units, cells), "grid-exact"
        method = "fptas" if n * fptas_cols <= FPTAS_TABLE_LIMIT else "grid"
    if method == "fptas":
        footprint = (n + 8) * fptas_cols
        if not footprint <= FPTAS_HARD_LIMIT:
            raise invalid("knapsack", f"an FPTAS table of at most {FPTAS_HARD_LIMIT:.0e} bytes (use knapsack='auto' "
                          "or 'grid', or a larger eps)", f"{n} items x {fptas_cols:.0f} value cells = "
                          f"{footprint:.3g} bytes")
        return kernel("knapsack.knapsack_fptas", backend)(values, weights, float(capacity), float(eps)), "fptas"
    cell = capacity / grid_cells
    units = np.ceil(weights / cell * (1.0 + GRID_ROUNDING_RTOL)).astype(np.int64)
    keep = units <= grid_cells
    idx = np.flatnonzero(keep)
    chosen = kernel("knapsack.knapsack_grid", backend)(values[keep], units[keep], int(grid_cells))
    return idx[chosen], "grid"


def successive_knapsack(problem: PlacementProblem, *, eps: float, atomic: bool, knapsack: str = "auto",
                        grid_cells: int = 4096, max_combinations: int = 4096,
                        server_order: np.ndarray | None = None,
                        backend: str = "auto") -> tuple[np.ndarray, dict[str, int]]:
    """The successive greedy + knapsack loop shared by Spec and the independent-caching baseline.

    With ``atomic=True`` every model is one indivisible file of its full size (no shared
    blocks): the independent-caching baseline. Returns the placement and counters.
    """
    lib = problem.library
    n_models = problem.n_models
    if atomic:
        shared_ids = np.zeros(0, dtype=np.int64)
    else:
        shared_ids = lib.shared_blocks
    position = np.full(lib.n_blocks, -1, dtype=np.int64)
    position[shared_ids] = np.arange(shared_ids.size)
    shared_sizes = lib.block_sizes[shared_ids]
    # each model's shared part as an integer bitmask over shared_ids, its private size as weight
    shared_mask = [0] * n_models
    private = np.empty(n_models)
    for i in range(n_models):
        blocks = lib.blocks_of(i)
        pos = position[blocks]
        shared_mask[i] = sum(1 << int(p) for p in pos[pos >= 0])
        private[i] = sequential_sum(lib.block_sizes[blocks[pos < 0]]) if not atomic else lib.model_sizes[i]
    word_masks = np.array(shared_mask, dtype=np.uint64) if shared_ids.size <= 64 else None
    covered = np.zeros((n_models, problem.n_users), dtype=np.uint8)
    gains_of = kernel("placement.server_gains", backend)
    view = problem.coverage_view(backend)  # validated once per problem and tier, not per server
    x = np.zeros((problem.n_servers, n_models), dtype=bool)
    counters = {"knapsacks": 0, "pruned": 0, "most_combinations": 0}
    order = range(problem.n_servers) if server_order is None else server_order
    for m in order:
        m = int(m)
        limit = problem.capacity[m] * (1.0 + GREEDY_RTOL)
        gains = gains_of(m, view, problem.popularity_by_model, covered)
        cand = np.flatnonzero((gains > 0.0) & (lib.model_sizes <= limit if not atomic else private <= limit))
        combos = {0}
        for mask in sorted({shared_mask[i] for i in cand}):
            combos |= {c | mask for c in combos}
            if len(combos) > max_combinations:
                raise InstanceError(
                    f"server {m}: more than {max_combinations} combinations of shared blocks "
                    f"(max_combinations); this library has too much sharing for trimcaching_spec, "
                    f"use trimcaching_gen (general case) or raise max_combinations")
        counters["most_combinations"] = max(counters["most_combinations"], len(combos))
        combo_size = {c: sequential_sum(shared_sizes[[p for p in range(shared_ids.size) if c >> p & 1]])
                      for c in combos}
        best_value, best_set = 0.0, np.zeros(0, dtype=np.int64)
        for combo in sorted(combos, key=lambda c: (combo_size[c], c)):
            room = limit - combo_size[combo]
            if room < 0.0:
                continue
            if word_masks is not None:  # up to 64 shared blocks: one vectorized subset test
                items = cand[((word_masks[cand] & ~np.uint64(combo)) == 0) & (private[cand] <= room)]
            else:
                items = np.array([i for i in cand if shared_mask[i] & ~combo == 0 and private[i] <= room],
                                 dtype=np.int64)
            if items.size == 0:
                continue
            free = items[private[items] <= 0.0]  # nothing to pay beyond S: always taken
            paid = items[private[items] > 0.0]
            # the knapsack can only win with a value above best_value; its LP relaxation bounds it,
            # so skipping combos whose bound falls short changes no decision (margin for rounding)
            bound = float(gains[free].sum()) + fractional_knapsack(gains[paid], private[paid], room)
            if bound < best_value * (1.0 - PRUNE_RTOL):
                counters["pruned"] += 1
                continue
            chosen, used = solve_knapsack(gains[paid], private[paid], room, eps, knapsack, grid_cells, backend)
            counters["knapsacks"] += 1
            counters["knapsack_" + used.replace("-", "_")] = counters.get("knapsack_" + used.replace("-", "_"), 0) + 1
            selected = np.sort(np.concatenate([free, paid[chosen]]))
            value = sequential_sum(gains[selected])
            if value > best_value:
                best_value, best_set = value, selected
        for model in best_set.tolist():
            x[m, model] = True
            covered[model, problem.users_of(m, model)] = 1
    return x, counters


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
        reach = np.array([sum(float(problem.popularity_by_model[i, problem.users_of(m, i)].sum())
                              for i in range(problem.n_models)) for m in range(problem.n_servers)])
        return np.argsort(-reach, kind="stable")
    raise invalid("server_order", "one of 'index', 'capacity', 'demand'", server_order)
