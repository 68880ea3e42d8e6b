"""Weighted maximum coverage: the greedy engine of TrimCaching as a general tool.

Sets are given in CSR form (set ``s`` covers elements ``indices[indptr[s]:indptr[s + 1]]``),
elements carry weights, sets carry costs, and the greedy picks sets until the budget is spent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trimcore.errors import invalid
from trimcore.instance._validate import float_array
from trimcore.kernels import kernel

__all__ = ["CoverageResult", "max_coverage", "coverage_value", "COVERAGE_RTOL"]

#: Budget tolerance of the greedy (relative).
COVERAGE_RTOL = 1e-12


@dataclass(frozen=True, eq=False)
class CoverageResult:
    """Result of :func:`max_coverage`.

    Attributes
    ----------
    selected : ndarray of int64
        Chosen set ids in selection order.
    value : float
        Total weight of the covered elements, computed by :func:`coverage_value`.
    upper_bound : float
        Certified bound on the optimum: ``value`` plus the best (fractional) use of the budget
        on the marginal gains that remain (the standard online bound of the greedy).
    runtime_s : float
        Wall-clock time of the greedy (input validation excluded).
    algorithm : str
    options : dict
    """

    selected: np.ndarray
    value: float
    upper_bound: float
    runtime_s: float
    algorithm: str = "max_coverage"
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def gap(self) -> float:
        """``1 - value / upper_bound`` (0 when the bound is 0)."""
        return 0.0 if self.upper_bound <= 0 else max(0.0, 1.0 - self.value / self.upper_bound)


def _csr(indptr: Any, indices: Any, n_elements: int | None) -> tuple[np.ndarray, np.ndarray, int]:
    ptr = np.asarray(indptr)
    idx = np.asarray(indices)
    if ptr.ndim != 1 or ptr.size < 1 or ptr.dtype.kind not in "iu":
        raise invalid("indptr", "a 1-d integer array of CSR offsets", f"shape {ptr.shape}, dtype {ptr.dtype}")
    if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
        raise invalid("indices", "a 1-d integer array of element ids", f"shape {idx.shape}, dtype {idx.dtype}")
    ptr = np.ascontiguousarray(ptr, dtype=np.int64)
    if ptr[0] != 0 or ptr[-1] != idx.size or (np.diff(ptr) < 0).any():
        raise invalid("indptr", f"non-decreasing offsets from 0 to len(indices) = {idx.size}",
                      f"from {int(ptr[0])} to {int(ptr[-1])}")
    if idx.size and idx.min() < 0:
        raise invalid("indices", "element ids >= 0", int(idx.min()))
    top = int(idx.max()) + 1 if idx.size else 0
    n = top if n_elements is None else n_elements
    if top > n:
        raise invalid("indices", f"element ids < {n}", top - 1)
    if n >= 2**31:
        raise invalid("indices", "fewer than 2^31 elements", n)
    return ptr, np.ascontiguousarray(idx, dtype=np.int32), n


def coverage_value(indptr: Any, indices: Any, weights: Any, selected: Any) -> float:
    """Total weight of the elements covered by the sets ``selected`` (the evaluator)."""
    w = float_array("weights", weights, (None,), minimum=0.0)
    ptr, idx, _ = _csr(indptr, indices, w.size)
    covered = np.zeros(w.size, dtype=bool)
    for s in np.asarray(selected, dtype=np.int64):
        if not 0 <= s < ptr.size - 1:
            raise invalid("selected", f"set ids in [0, {ptr.size - 1})", int(s))
        covered[idx[ptr[s]:ptr[s + 1]]] = True
    return float(w[covered].sum())


def _remaining_gains(ptr: np.ndarray, idx: np.ndarray, weights: np.ndarray, selected: np.ndarray) -> np.ndarray:
    covered = np.zeros(weights.size, dtype=bool)
    for s in selected:
        covered[idx[ptr[s]:ptr[s + 1]]] = True
    open_weight = np.where(covered, 0.0, weights)[idx]
    gains = np.zeros(ptr.size - 1)
    nonempty = np.diff(ptr) > 0
    if open_weight.size:
        gains[nonempty] = np.add.reduceat(open_weight, ptr[:-1][nonempty])
    return gains


def _fractional_fill(gains: np.ndarray, costs: np.ndarray, budget: float) -> float:
    useful = gains > 0
    gains, costs = gains[useful], costs[useful]
    free = costs <= 0
    total = float(gains[free].sum())
    gains, costs = gains[~free], costs[~free]
    order = np.argsort(-gains / costs, kind="stable")
    room = budget
    for s in order:
        if room <= 0:
            break
        take = min(1.0, room / costs[s])
        total += take * gains[s]
        room -= take * costs[s]
    return total


def max_coverage(indptr: Any, indices: Any, budget: float, weights: Any = None, costs: Any = None,
                 lazy: bool = True, *, n_elements: int | None = None, backend: str = "auto") -> CoverageResult:
    """Greedy weighted maximum coverage.

    Parameters
    ----------
    indptr, indices : array_like of int
        Sets in CSR form: set ``s`` covers ``indices[indptr[s]:indptr[s + 1]]`` (no repeats).
    budget : float
        Number of sets when ``costs`` is None, else the total cost allowed.
    weights : array_like of float, optional
        Element weights >= 0 (default 1).
    costs : array_like of float, optional
        Set costs >= 0. Without costs the plain greedy (1 - 1/e); with costs the cost-benefit
        greedy and the best single set, keeping the better (Khuller-Moss-Naor).
    lazy : bool
        Exact lazy evaluation (same selection as the plain scan).
    n_elements : int, optional
        Number of elements (default: largest id + 1, or ``len(weights)``).
    backend : {"auto", "cpp", "reference"}

    Returns
    -------
    CoverageResult
        Ties are broken towards the lowest set id.

    Raises
    ------
    InstanceError
        On malformed input (offsets, ids, repeated elements in a set, negative weights or costs).
    """
    if weights is not None:
        w = float_array("weights", weights, (None,), minimum=0.0)
        ptr, idx, n = _csr(indptr, indices, w.size if n_elements is None else n_elements)
        if w.size != n:
            raise invalid("weights", f"{n} weights (one per element)", w.size)
    else:
        ptr, idx, n = _csr(indptr, indices, n_elements)
        w = np.ones(n)
    n_sets = ptr.size - 1
    if costs is None:
        if not (isinstance(budget, int | np.integer) or float(budget).is_integer()) or budget < 0:
            raise invalid("budget", "a number of sets (integer >= 0) when costs is None", budget)
        c = np.ones(n_sets)
        rule = "gain"
    else:
        c = float_array("costs", costs, (n_sets,), minimum=0.0)
        rule = "ratio"
    budget = float(budget)
    if not (np.isfinite(budget) and budget >= 0):
        raise invalid("budget", "a finite number >= 0", budget)
    if idx.size:
        rows = np.repeat(np.arange(n_sets, dtype=np.int64), np.diff(ptr))
        keys = np.sort(rows * max(n, 1) + idx)
        if (np.diff(keys) == 0).any():
            dup = int(keys[1:][np.diff(keys) == 0][0] // max(n, 1))
            raise invalid("indices", "no element twice in one set", f"a repeat in set {dup}")
    started = time.perf_counter()
    selected = kernel("max_coverage", backend)(ptr, idx, w, c, budget, rule, bool(lazy), COVERAGE_RTOL)
    options: dict[str, Any] = {"budget": budget, "lazy": lazy, "rule": rule, "backend": backend}
    if costs is not None:
        # Khuller-Moss-Naor: also consider the single best affordable set
        singles = _remaining_gains(ptr, idx, w, np.zeros(0, dtype=np.int64))
        singles[c > budget * (1.0 + COVERAGE_RTOL)] = -1.0
        best_single = int(np.argmax(singles)) if n_sets else -1
        greedy_value = coverage_value(ptr, idx, w, selected)
        options["kept"] = "greedy"
        if best_single >= 0 and singles[best_single] > greedy_value:
            selected = np.array([best_single], dtype=np.int64)
            options["kept"] = "best_single"
    runtime = time.perf_counter() - started
    value = coverage_value(ptr, idx, w, selected)
    remaining = _remaining_gains(ptr, idx, w, selected)
    if costs is None:
        extra = float(np.sort(remaining)[::-1][:int(budget)].sum())
    else:
        extra = _fractional_fill(remaining, c, budget)
    return CoverageResult(selected=selected, value=value, upper_bound=value + extra, runtime_s=runtime,
                          options=options)
