"""Reference tier of the TrimCaching placement kernels: plain, obvious NumPy, the oracle.

All kernels take canonical arrays that the problem constructors already validated.
Coverage of pair p = m * I + i: users ``pair_users[pair_ptr[p]:pair_ptr[p] + pair_len[p]]``.
Demand is passed as ``(by_model, group, rate)`` (:mod:`trimcore.placement.demand`:
``p[k, i] = rate[k] * by_model[i, group[k]]``, ``group`` None for the dense form ``by_model[i, k]``)
or as a dense popularity by model float64[I, K]; :func:`weights_of` reads either.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import reduce
from typing import Any

import numpy as np

from trimcore._numeric import fractional_knapsack, ranks_before, sequential_sum
from trimcore._tolerances import ALGORITHM_RTOL, GRID_ROUNDING_RTOL, PRUNE_RTOL
from trimcore.errors import InstanceError, invalid
from trimcore.kernels.knapsack.reference import fptas_rounded_values, knapsack_fptas, knapsack_grid
from trimcore.kernels.placement import covered_of, demand_tuple


def weights_of(demand: Any, model: int, users: np.ndarray) -> np.ndarray:
    """``p[users, model]``: the dense entries, or ``rate[u] * by_model[model, group[u]]`` (the compiled
    tiers' product)."""
    by_model, group, rate = demand_tuple(demand)
    if group is None:
        return by_model[model, users]
    w = by_model[model, group[users]]
    return w if rate is None else rate[users] * w


def demand_shape(demand: Any) -> tuple[int, int]:
    """``(I, K)`` of a demand."""
    by_model, group, _ = demand_tuple(demand)
    return by_model.shape[0], (by_model.shape[1] if group is None else group.shape[0])


def storage_used(placement: np.ndarray, model_bits: np.ndarray, block_sizes: np.ndarray) -> np.ndarray:
    """Size of the union of the blocks of the models placed on each server, float64[M].

    ``model_bits`` is only used for its shape here: the reference works on the explicit block
    sets decoded from the bitsets, so it also checks the bit layout.
    """
    n_blocks = block_sizes.shape[0]
    bits = np.unpackbits(model_bits.view(np.uint8), axis=1, bitorder="little")[:, :n_blocks].astype(bool)
    out = np.zeros(placement.shape[0])
    for m in range(placement.shape[0]):
        present = bits[placement[m]].any(axis=0)
        out[m] = sequential_sum(block_sizes[present])  # ascending block ids, as the compiled tiers
    return out


def coverage_view(pair_ptr: np.ndarray, pair_len: np.ndarray, pair_users: np.ndarray, n_servers: int,
                  n_users: int, n_models: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The eligibility CSR in the form this tier's :func:`hit_weight` reads (here: the arrays).

    A problem builds it once per tier and keeps it (the native tier validates and copies there).
    """
    return pair_ptr, pair_len, pair_users


def hit_weight(placement: np.ndarray, coverage: tuple[np.ndarray, np.ndarray, np.ndarray],
               popularity_by_model: np.ndarray) -> float:
    """Total popularity of the requests (k, i) served by some server that holds model i.

    ``coverage`` is this tier's :func:`coverage_view` of the problem's eligibility.
    """
    pair_ptr, pair_len, pair_users = coverage
    n_servers, n_models = placement.shape
    # one running sum in the compiled tiers' order (model, then server, then the pair's users,
    # each user at its first hit), so that every tier returns the same bits
    total = 0.0
    for i in range(n_models):
        seen = np.zeros(demand_shape(popularity_by_model)[1], dtype=bool)
        for m in np.flatnonzero(placement[:, i]):
            p = m * n_models + i
            users = pair_users[pair_ptr[p]:pair_ptr[p] + pair_len[p]]
            fresh = users[~seen[users]]
            seen[fresh] = True
            total = sequential_sum(np.concatenate(([total], weights_of(popularity_by_model, i, fresh))))
    return float(total)


# ---------------------------------------------------------------------------------- greedy
# Sums are taken left to right (np.cumsum) in the same order as the native tier, so both tiers
# see bit-identical gains and costs and make identical choices, ties to the lowest id.

def decode_bitsets(model_bits: np.ndarray, n_blocks: int) -> list[np.ndarray]:
    """Block ids (ascending) of every model from its bitset row."""
    dense = np.unpackbits(model_bits.view(np.uint8), axis=1, bitorder="little")[:, :n_blocks]
    return [np.flatnonzero(row) for row in dense]


def greedy_placement(pair_ptr, pair_len, pair_users, popularity_by_model, model_bits, block_sizes, capacity,
                     block_ptr, block_models, candidates, covered, rule, lazy, rtol, kept) -> np.ndarray:
    """Plain-scan greedy over (server, model) pairs under union-of-blocks budgets.

    Every round scores every live pair: gain = popularity of its not yet covered requests,
    cost = size of its blocks not yet on the server, score ``gain`` (rule ``"gain"``) or
    ``gain / cost`` (rule ``"ratio"``, +inf at zero cost; ties to the larger gain). The best
    pair (ties to the lowest id ``m * I + i``) is placed. ``lazy`` is ignored: the reference
    always scans. ``covered`` (uint8[I, K]) is updated in place. Returns chosen ids in order.

    ``kept`` (int64 pair ids) is a warm start: those pairs are committed first, in their order,
    each that still fits and still gains; the greedy continues from there without them.
    """
    n_models = demand_shape(popularity_by_model)[0]
    blocks = decode_bitsets(model_bits, block_sizes.shape[0])
    stored = np.zeros((capacity.shape[0], block_sizes.shape[0]), dtype=bool)
    used = np.zeros(capacity.shape[0])
    limit = capacity * (1.0 + rtol)
    chosen: list[int] = []

    def cost_of(p: int) -> float:
        m, i = divmod(p, n_models)
        return sequential_sum(block_sizes[blocks[i][~stored[m, blocks[i]]]])

    def gain_of(p: int) -> float:
        i = p % n_models
        users = pair_users[pair_ptr[p]:pair_ptr[p] + pair_len[p]]
        return sequential_sum(weights_of(popularity_by_model, i, users) * (covered[i, users] == 0))

    def commit(p: int, cost: float) -> None:
        m, i = divmod(p, n_models)
        chosen.append(p)
        covered[i, pair_users[pair_ptr[p]:pair_ptr[p] + pair_len[p]]] = 1
        used[m] += cost
        stored[m, blocks[i]] = True

    for p in (int(q) for q in kept):
        cost = cost_of(p)
        if used[p // n_models] + cost <= limit[p // n_models] and gain_of(p) > 0.0:
            commit(p, cost)
    taken = set(chosen)
    alive = [int(p) for p in candidates if int(p) not in taken]
    while True:
        best, best_cost, keep = None, 0.0, []
        for p in alive:
            cost = cost_of(p)
            if not used[p // n_models] + cost <= limit[p // n_models]:
                continue
            gain = gain_of(p)
            if not gain > 0.0:
                continue
            keep.append(p)
            score = (gain / cost if cost > 0.0 else np.inf, gain, p)
            if best is None or ranks_before(score, best, rule):
                best, best_cost = score, cost
        if best is None:
            break
        p = best[2]
        commit(p, best_cost)
        alive = [q for q in keep if q != p]
    return np.array(chosen, dtype=np.int64)


def server_gains(server: int, coverage: tuple[np.ndarray, np.ndarray, np.ndarray], popularity_by_model: np.ndarray,
                 covered: np.ndarray) -> np.ndarray:
    """Marginal gain of every model on ``server`` given the covered requests, float64[I].

    ``coverage`` is this tier's :func:`coverage_view` (the problem keeps it: nothing is
    validated per call); ``covered`` is uint8[I, K], 1 where a request is already served.
    """
    pair_ptr, pair_len, pair_users = coverage
    n_models = demand_shape(popularity_by_model)[0]
    out = np.zeros(n_models)
    for i in range(n_models):
        p = server * n_models + i
        users = pair_users[pair_ptr[p]:pair_ptr[p] + pair_len[p]]
        out[i] = sequential_sum(weights_of(popularity_by_model, i, users) * (covered[i, users] == 0))
    return out


def all_server_gains(coverage: tuple[np.ndarray, np.ndarray, np.ndarray], popularity_by_model: np.ndarray,
                     covered: np.ndarray) -> np.ndarray:
    """:func:`server_gains` of every server, float64[M, I] (one call where a caller wants them all)."""
    n_models = demand_shape(popularity_by_model)[0]
    n_servers = coverage[0].shape[0] // n_models if n_models else 0
    out = np.zeros((n_servers, n_models))
    for m in range(n_servers):
        out[m] = server_gains(m, coverage, popularity_by_model, covered)
    return out


def placed_server_gains(coverage: tuple[np.ndarray, np.ndarray, np.ndarray], popularity_by_model: Any,
                        placement: np.ndarray) -> np.ndarray:
    """:func:`all_server_gains` around ``placement`` (its covered requests), float64[M, I]."""
    covered = covered_of(coverage, demand_shape(popularity_by_model)[1], placement)
    return all_server_gains(coverage, popularity_by_model, covered)


# ---------------------------------------------------------------------------- TrimCaching Gen
def gen_problem(block_sizes, indptr, indices, model_bits, block_ptr, block_models, capacity, popularity_by_model,
                pair_ptr, pair_len, pair_users, max_size) -> dict[str, Any]:
    """The problem as this tier's :func:`trimcaching_gen` reads it: the arrays, and the model sizes.

    ``max_size`` is not needed here: the pair lists already say who each pair serves.
    """
    return {"block_sizes": block_sizes, "model_bits": model_bits, "block_ptr": block_ptr,
            "block_models": block_models, "capacity": capacity, "popularity_by_model": popularity_by_model,
            "pair_ptr": pair_ptr, "pair_len": pair_len, "pair_users": pair_users, "indptr": indptr, "indices": indices,
            "model_sizes": np.add.reduceat(block_sizes[indices], indptr[:-1])}  # as ModelLibrary.model_sizes


def trimcaching_gen(problem: dict[str, Any], rule: str, lazy: bool,
                    warm_start: np.ndarray | None) -> tuple[np.ndarray, str, int]:
    """TrimCaching Gen from this tier's greedy: returns ``(placement bool[M, I], chosen_rule, kept)``.

    Candidates are the pairs whose model fits the empty server (``ALGORITHM_RTOL``) and that serve
    somebody. ``warm_start`` (bool[M, I] or None) pairs are kept first, in pair order, each that
    still fits and gains. ``rule`` ``"best_of_both"`` runs ``"ratio"`` then ``"gain"`` and keeps
    the larger :func:`hit_weight` (ties to ``"ratio"``). ``kept`` counts the warm start's pairs
    in the result (0 without one). ``lazy`` is ignored: the reference always scans.
    """
    capacity, pair_len = problem["capacity"], problem["pair_len"]
    n_servers, n_models = capacity.shape[0], demand_shape(problem["popularity_by_model"])[0]
    fits = problem["model_sizes"][None, :] <= capacity[:, None] * (1.0 + ALGORITHM_RTOL)
    candidates = np.flatnonzero((fits & (pair_len.reshape(n_servers, n_models) > 0)).reshape(-1)).astype(np.int64)
    kept = (np.zeros(0, dtype=np.int64) if warm_start is None else
            np.flatnonzero(warm_start.reshape(-1)).astype(np.int64))
    coverage = (problem["pair_ptr"], pair_len, problem["pair_users"])
    best_x, best_value, best_rule = np.zeros((n_servers, n_models), dtype=bool), -1.0, "ratio"
    for r in (("ratio", "gain") if rule == "best_of_both" else (rule,)):
        covered = np.zeros(demand_shape(problem["popularity_by_model"]), dtype=np.uint8)
        chosen = greedy_placement(problem["pair_ptr"], pair_len, problem["pair_users"], problem["popularity_by_model"],
                                  problem["model_bits"], problem["block_sizes"], capacity, problem["block_ptr"],
                                  problem["block_models"], candidates, covered, r, lazy, ALGORITHM_RTOL, kept)
        x = np.zeros(n_servers * n_models, dtype=bool)
        x[chosen] = True
        x = x.reshape(n_servers, n_models)
        value = hit_weight(x, coverage, problem["popularity_by_model"])
        if value > best_value:
            best_x, best_value, best_rule = x, value, r
    return best_x, best_rule, 0 if warm_start is None else int((best_x & warm_start).sum())


# ---------------------------------------------------------------------------- TrimCaching Spec
def solve_knapsack(values: np.ndarray, weights: np.ndarray, capacity: float, eps: float, method: str,
                   grid_cells: int, limits: tuple[int, float, float], grid: Callable[..., np.ndarray] = knapsack_grid,
                   fptas: Callable[..., np.ndarray] = knapsack_fptas) -> tuple[np.ndarray, str]:
    """0/1 knapsack for positive values; returns (chosen ids ascending, method used).

    See :func:`trimcore.placement.spec.solve_knapsack`; ``limits`` are ``(GRID_CELL_LIMIT,
    FPTAS_TABLE_LIMIT, FPTAS_HARD_LIMIT)`` and ``grid`` / ``fptas`` the knapsack kernels to call.
    """
    grid_cell_limit, fptas_table_limit, fptas_hard_limit = limits
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
            if cells <= min(fptas_cols, grid_cell_limit):
                units = (weights // unit).astype(np.int64)
                return grid(values, units, cells), "grid-exact"
        method = "fptas" if n * fptas_cols <= fptas_table_limit else "grid"
    if method == "fptas":
        footprint = (n + 8) * fptas_cols
        if not footprint <= fptas_hard_limit:
            raise invalid("knapsack", f"an FPTAS table of at most {fptas_hard_limit:.0e} bytes (use knapsack='auto' "
                          "or 'grid', or a larger eps)", f"{n} items x {fptas_cols:.0f} value cells = "
                          f"{footprint:.3g} bytes")
        return fptas(values, weights, float(capacity), float(eps)), "fptas"
    cell = capacity / grid_cells
    units = np.ceil(weights / cell * (1.0 + GRID_ROUNDING_RTOL)).astype(np.int64)
    keep = units <= grid_cells
    idx = np.flatnonzero(keep)
    chosen = grid(values[keep], units[keep], int(grid_cells))
    return idx[chosen], "grid"


def successive_knapsack(problem: dict[str, Any], eps: float, atomic: bool, knapsack: str, grid_cells: int,
                        max_combinations: int, server_order: np.ndarray, grid_cell_limit: int,
                        fptas_table_limit: float, fptas_hard_limit: float) -> tuple[np.ndarray, dict[str, int]]:
    """TrimCaching Spec's successive greedy + knapsack loop (``atomic``: independent caching).

    Servers in ``server_order``; on each, every realisable union S of the candidates' shared
    blocks (in increasing size, then as an integer) is a knapsack of the models whose shared
    blocks lie in S (private sizes as weights, ``capacity - size(S)`` as capacity), skipped when
    its LP bound cannot beat the best so far; the best is placed. Returns the placement and the
    counters (``knapsacks``, ``pruned``, ``most_combinations``, ``knapsack_<method>``).
    ``problem`` is this tier's :func:`gen_problem`.
    """
    block_sizes, indptr, indices = problem["block_sizes"], problem["indptr"], problem["indices"]
    capacity, pop, model_sizes = problem["capacity"], problem["popularity_by_model"], problem["model_sizes"]
    pair_ptr, pair_len, pair_users = problem["pair_ptr"], problem["pair_len"], problem["pair_users"]
    n_models, n_users = demand_shape(pop)
    n_servers = capacity.shape[0]
    limits = (grid_cell_limit, fptas_table_limit, fptas_hard_limit)
    shared_ids = (np.zeros(0, dtype=np.int64) if atomic else
                  np.flatnonzero(np.diff(problem["block_ptr"]) >= 2))  # blocks of two models or more
    position = np.full(block_sizes.shape[0], -1, dtype=np.int64)
    position[shared_ids] = np.arange(shared_ids.size)
    shared_sizes = block_sizes[shared_ids]
    # each model's shared part as an integer bitmask over shared_ids, its private size as weight
    shared_mask = [0] * n_models
    private = np.empty(n_models)
    for i in range(n_models):
        blocks = indices[indptr[i]:indptr[i + 1]]
        pos = position[blocks]
        shared_mask[i] = sum(1 << int(p) for p in pos[pos >= 0])
        private[i] = sequential_sum(block_sizes[blocks[pos < 0]]) if not atomic else model_sizes[i]
    word_masks = np.array(shared_mask, dtype=np.uint64) if shared_ids.size <= 64 else None
    covered = np.zeros((n_models, n_users), dtype=np.uint8)
    view = (pair_ptr, pair_len, pair_users)
    x = np.zeros((n_servers, n_models), dtype=bool)
    counters = {"knapsacks": 0, "pruned": 0, "most_combinations": 0}
    for m in (int(s) for s in server_order):
        limit = capacity[m] * (1.0 + ALGORITHM_RTOL)
        gains = server_gains(m, view, pop, covered)
        cand = np.flatnonzero((gains > 0.0) & (model_sizes <= limit if not atomic else private <= limit))
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
            chosen, used = solve_knapsack(gains[paid], private[paid], room, eps, knapsack, grid_cells, limits)
            counters["knapsacks"] += 1
            counters["knapsack_" + used.replace("-", "_")] = counters.get("knapsack_" + used.replace("-", "_"), 0) + 1
            selected = np.sort(np.concatenate([free, paid[chosen]]))
            value = sequential_sum(gains[selected])
            if value > best_value:
                best_value, best_set = value, selected
        for model in best_set.tolist():
            x[m, model] = True
            p = m * n_models + model
            covered[model, pair_users[pair_ptr[p]:pair_ptr[p] + pair_len[p]]] = 1
    return x, counters


KERNELS = {
    "storage_used": storage_used,
    "coverage_view": coverage_view,
    "hit_weight": hit_weight,
    "greedy_placement": greedy_placement,
    "server_gains": server_gains,
    "all_server_gains": all_server_gains,
    "placed_server_gains": placed_server_gains,
    "gen_problem": gen_problem,
    "trimcaching_gen": trimcaching_gen,
    "successive_knapsack": successive_knapsack,
}
