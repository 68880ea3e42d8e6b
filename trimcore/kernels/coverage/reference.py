"""Reference tier of the weighted max-coverage kernels: plain NumPy, the oracle."""

from __future__ import annotations

import numpy as np

from trimcore._numeric import ranks_before, sequential_sum
from trimcore.errors import invalid


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


KERNELS = {"max_coverage": max_coverage, "coverage_gains": coverage_gains}
