"""Reference tier: plain, obvious NumPy. The oracle the fast tiers are tested against.

All kernels take canonical arrays that the problem constructors already validated.
Coverage of pair p = m * I + i: users ``pair_users[pair_ptr[p]:pair_ptr[p] + pair_len[p]]``.
Popularity is passed by model: ``popularity_by_model[i, k]``.
"""

from __future__ import annotations

import numpy as np

from trimcore._numeric import sequential_sum
from trimcore.errors import invalid

__all__ = [
    "storage_used", "hit_weight", "greedy_placement", "server_gains", "knapsack_fptas", "knapsack_grid", "max_coverage",
    "coverage_gains",
]


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
        out[m] = block_sizes[present].sum()
    return out


def hit_weight(placement: np.ndarray, pair_ptr: np.ndarray, pair_len: np.ndarray, pair_users: np.ndarray,
               popularity_by_model: np.ndarray) -> float:
    """Total popularity of the requests (k, i) served by some server that holds model i."""
    n_servers, n_models = placement.shape
    total = 0.0
    for i in range(n_models):
        hit = np.zeros(popularity_by_model.shape[1], dtype=bool)
        for m in np.flatnonzero(placement[:, i]):
            p = m * n_models + i
            hit[pair_users[pair_ptr[p]:pair_ptr[p] + pair_len[p]]] = True
        total += popularity_by_model[i, hit].sum()
    return float(total)


# ---------------------------------------------------------------------------------- greedy
# Sums are taken left to right (np.cumsum) in the same order as the native tier, so both tiers
# see bit-identical gains and costs and make identical choices, ties to the lowest id.
def ranks_before(a: tuple[float, float, int], b: tuple[float, float, int], rule: str) -> bool:
    """True when score ``a = (ratio, gain, id)`` ranks strictly before ``b`` under ``rule``."""
    if rule == "ratio" and a[0] != b[0]:
        return a[0] > b[0]
    if a[1] != b[1]:
        return a[1] > b[1]
    return a[2] < b[2]


def decode_bitsets(model_bits: np.ndarray, n_blocks: int) -> list[np.ndarray]:
    """Block ids (ascending) of every model from its bitset row."""
    dense = np.unpackbits(model_bits.view(np.uint8), axis=1, bitorder="little")[:, :n_blocks]
    return [np.flatnonzero(row) for row in dense]


def greedy_placement(pair_ptr, pair_len, pair_users, popularity_by_model, model_bits, block_sizes, capacity,
                     block_ptr, block_models, candidates, covered, rule, lazy, rtol) -> np.ndarray:
    """Plain-scan greedy over (server, model) pairs under union-of-blocks budgets.

    Every round scores every live pair: gain = popularity of its not yet covered requests,
    cost = size of its blocks not yet on the server, score ``gain`` (rule ``"gain"``) or
    ``gain / cost`` (rule ``"ratio"``, +inf at zero cost; ties to the larger gain). The best
    pair (ties to the lowest id ``m * I + i``) is placed. ``lazy`` is ignored: the reference
    always scans. ``covered`` (uint8[I, K]) is updated in place. Returns chosen ids in order.
    """
    n_models = popularity_by_model.shape[0]
    blocks = decode_bitsets(model_bits, block_sizes.shape[0])
    stored = np.zeros((capacity.shape[0], block_sizes.shape[0]), dtype=bool)
    used = np.zeros(capacity.shape[0])
    limit = capacity * (1.0 + rtol)
    alive = [int(p) for p in candidates]
    chosen: list[int] = []
    while True:
        best, best_cost, keep = None, 0.0, []
        for p in alive:
            m, i = divmod(p, n_models)
            fresh = blocks[i][~stored[m, blocks[i]]]
            cost = sequential_sum(block_sizes[fresh])
            if not used[m] + cost <= limit[m]:
                continue
            users = pair_users[pair_ptr[p]:pair_ptr[p] + pair_len[p]]
            gain = sequential_sum(popularity_by_model[i, users] * (covered[i, users] == 0))
            if not gain > 0.0:
                continue
            keep.append(p)
            score = (gain / cost if cost > 0.0 else np.inf, gain, p)
            if best is None or ranks_before(score, best, rule):
                best, best_cost = score, cost
        if best is None:
            break
        p = best[2]
        m, i = divmod(p, n_models)
        chosen.append(p)
        covered[i, pair_users[pair_ptr[p]:pair_ptr[p] + pair_len[p]]] = 1
        used[m] += best_cost
        stored[m, blocks[i]] = True
        alive = [q for q in keep if q != p]
    return np.array(chosen, dtype=np.int64)


def server_gains(server, pair_ptr, pair_len, pair_users, popularity_by_model, covered) -> np.ndarray:
    """Marginal gain of every model on ``server`` given the covered requests, float64[I]."""
    n_models = popularity_by_model.shape[0]
    out = np.zeros(n_models)
    for i in range(n_models):
        p = server * n_models + i
        users = pair_users[pair_ptr[p]:pair_ptr[p] + pair_len[p]]
        out[i] = sequential_sum(popularity_by_model[i, users] * (covered[i, users] == 0))
    return out


# ---------------------------------------------------------------------------------- knapsack
def knapsack_fptas(values: np.ndarray, weights: np.ndarray, capacity: float, eps: float) -> np.ndarray:
    """Value-rounding FPTAS (spec §5.1.1): least weight per rounded value, then backtrack.

    Values are rounded down to multiples of ``mu = eps * max(values) / n``; the chosen set fits
    ``capacity`` and is worth at least ``(1 - eps)`` of the optimum. Returns ids ascending.
    """
    n = values.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    mu = eps * values.max() / n
    scaled = np.floor(values / mu).astype(np.int64)
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
    best = int(np.flatnonzero(least <= capacity).max())
    return _backtrack(take, scaled, best)


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


# ---------------------------------------------------------------------------------- max coverage
def max_coverage(indptr, indices, weights, costs, budget, rule, lazy, rtol, threads=1) -> np.ndarray:
    """Plain-scan greedy weighted max coverage under an additive budget (``lazy`` and ``threads``
    ignored).

    Each round every set that still fits is scored (``gain`` or ``gain / cost``, ties to the
    larger gain, then the lowest id); sums run left to right as in the native tier.

    Raises
    ------
    InstanceError
        If a set lists an element twice (it would count twice); the native tier checks the same
        inside its first pass.
    """
    n_sets, n_elements = indptr.shape[0] - 1, weights.shape[0]
    if indices.size:
        rows = np.repeat(np.arange(n_sets, dtype=np.int64), np.diff(indptr))
        keys = np.sort(rows * max(n_elements, 1) + indices)
        repeats = np.diff(keys) == 0
        if repeats.any():
            raise invalid("indices", "no element twice in one set",
                          f"a repeat in set {int(keys[1:][repeats][0] // max(n_elements, 1))}")
    covered = np.zeros(weights.shape[0], dtype=bool)
    limit = budget * (1.0 + rtol)
    used = 0.0
    alive = list(range(indptr.shape[0] - 1))
    chosen: list[int] = []
    while True:
        best, keep = None, []
        for s in alive:
            cost = float(costs[s])
            if not used + cost <= limit:
                continue
            members = indices[indptr[s]:indptr[s + 1]]
            gain = sequential_sum(weights[members] * ~covered[members])
            if not gain > 0.0:
                continue
            keep.append(s)
            score = (gain / cost if cost > 0.0 else np.inf, gain, s)
            if best is None or ranks_before(score, best, rule):
                best = score
        if best is None:
            break
        s = best[2]
        chosen.append(s)
        covered[indices[indptr[s]:indptr[s + 1]]] = True
        used += float(costs[s])
        alive = [t for t in keep if t != s]
    return np.array(chosen, dtype=np.int64)


def coverage_gains(indptr, indices, weights, covered=None, threads=1) -> np.ndarray:
    """Marginal gain of every set given the ``covered`` elements (``None``: nothing covered;
    ``threads`` ignored).

    The left-to-right sum of the weights of the set's uncovered elements, as in the greedy (a
    covered element adds 0.0, which changes no sum). ``np.add.reduceat`` would not do: it sums
    pairwise, which differs in the last bits.
    """
    n_sets = indptr.shape[0] - 1
    gains = np.zeros(n_sets)
    if indices.size == 0:
        return gains
    open_weight = weights if covered is None else np.where(covered, 0.0, weights)
    lengths = np.diff(indptr)
    order = np.argsort(-lengths, kind="stable")  # longest first: the sets still running are a prefix
    running = lengths[order]
    for j in range(int(running[0])):  # one vector step per position: term j of every longer set
        live = order[:np.searchsorted(-running, -j, side="left")]
        gains[live] += open_weight[indices[indptr[live] + j]]
    return gains
