"""Weighted maximum coverage: the greedy engine of TrimCaching as a general tool.

Sets are given in CSR form (set ``s`` covers elements ``indices[indptr[s]:indptr[s + 1]]``),
elements carry weights, sets carry costs, and the greedy picks sets until the budget is spent.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from trimcore._numeric import fractional_knapsack
from trimcore._tolerances import ALGORITHM_RTOL
from trimcore._validate import float_array, index_array, integer, real
from trimcore.errors import invalid
from trimcore.kernels import choose_backend, kernel
from trimcore.result import Result, Sense

__all__ = ["CoverageResult", "max_coverage", "coverage_value", "default_threads", "COVERAGE_RTOL"]

#: Budget tolerance of the greedy (relative): the algorithms' tolerance.
COVERAGE_RTOL = ALGORITHM_RTOL
#: Most threads a call may ask for (the native tier takes a C int; more than this is a mistake).
MAX_THREADS = 1024


@dataclass(frozen=True, eq=False, repr=False, kw_only=True)
class CoverageResult(Result):
    """Result of :func:`max_coverage` (the result protocol of :class:`trimcore.result.Result`).

    Attributes
    ----------
    selected : ndarray of int64
        Chosen set ids in selection order.
    objective : float
        Total weight of the covered elements, computed by the evaluator (the code of
        :func:`coverage_value`), not by the kernel; also :attr:`value`.
    upper_bound : float
        Certified bound on the optimum: the value plus the best (fractional) use of the budget
        on the marginal gains that remain (the standard online bound of the greedy), capped at
        the total weight of all elements (``bound_method="online"``).
    runtime_s : float
        Wall-clock time of the greedy kernel and of the Khuller-Moss-Naor comparison (the Python
        input checks excluded; the native kernel checks the CSR inside its first pass); the
        bound's gain pass is ``bound_runtime_s``.

    The other fields are those of :class:`~trimcore.result.Result`.
    """

    objective_name: ClassVar[str] = "value"
    sense: ClassVar[Sense] = "max"
    decision_fields: ClassVar[tuple[str, ...]] = ("selected",)

    selected: np.ndarray

    def _check(self) -> None:
        sel = self.selected
        if not isinstance(sel, np.ndarray) or sel.ndim != 1 or sel.dtype.kind not in "iu" or \
                (sel.size and sel.min() < 0):
            raise invalid("CoverageResult.selected", "a 1-D array of set ids >= 0",
                          f"{getattr(sel, 'dtype', type(sel).__name__)}{list(getattr(sel, 'shape', []))}")
        if self.objective < 0:
            raise invalid("CoverageResult.objective", "a covered weight >= 0", self.objective)

    @property
    def value(self) -> float:
        """Total weight of the covered elements (the objective)."""
        return self.objective


def _csr(indptr: Any, indices: Any, n_elements: int | None) -> tuple[np.ndarray, np.ndarray, int]:
    ptr = np.asarray(indptr)
    idx = np.asarray(indices)
    if ptr.ndim != 1 or ptr.size < 1 or ptr.dtype.kind not in "iu":
        raise invalid("indptr", "a 1-d integer array of CSR offsets", f"shape {ptr.shape}, dtype {ptr.dtype}")
    if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
        raise invalid("indices", "a 1-d integer array of element ids", f"shape {idx.shape}, dtype {idx.dtype}")
    if ptr.min() < 0 or ptr.max() > idx.size:  # in the given dtype: a uint64 offset must not wrap
        raise invalid("indptr", f"offsets in [0, len(indices) = {idx.size}]", int(ptr.max() if ptr.min() >= 0
                                                                                    else ptr.min()))
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


def _members(ptr: np.ndarray, idx: np.ndarray, sets: np.ndarray) -> np.ndarray:
    """Concatenated elements of ``sets`` (vectorised: no Python loop over the sets)."""
    starts = ptr[sets]
    lengths = ptr[sets + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        return idx[:0]
    ends = np.cumsum(lengths)
    return idx[np.repeat(starts - (ends - lengths), lengths) + np.arange(total)]


def _covered(ptr: np.ndarray, idx: np.ndarray, n: int, selected: Any) -> np.ndarray:
    sets = index_array("selected", np.asarray(selected).reshape(-1), ptr.size - 1)
    covered = np.zeros(n, dtype=bool)
    covered[_members(ptr, idx, sets)] = True
    return covered


def coverage_value(indptr: Any, indices: Any, weights: Any, selected: Any) -> float:
    """Total weight of the elements covered by the sets ``selected`` (the evaluator)."""
    w = float_array("weights", weights, (None,), minimum=0.0)
    ptr, idx, _ = _csr(indptr, indices, w.size)
    return float(w[_covered(ptr, idx, w.size, selected)].sum())


def default_threads() -> int:
    """Threads of the native first pass and index build by default: the CPUs this process may
    use, at most 4 (the greedy rounds themselves are sequential)."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        available = os.cpu_count() or 1
    return max(1, min(4, available))


def max_coverage(indptr: Any, indices: Any, budget: float, weights: Any = None, costs: Any = None,
                 lazy: bool = True, *, n_elements: int | None = None, threads: int | None = None,
                 backend: str = "auto") -> CoverageResult:
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
    threads : int in [1, MAX_THREADS], optional
        Threads of the native tier's first pass, index build and gain passes (default
        :func:`default_threads`; used from 2^18 entries on). The result does not depend on it.
    backend : {"auto", "cpp", "reference"}
        Tier of the greedy and of the gain passes behind ``upper_bound``.

    Returns
    -------
    CoverageResult
        Ties are broken towards the lowest set id.

    Raises
    ------
    InstanceError
        On malformed input (offsets, ids, repeated elements in a set, negative weights or costs).
    """
    if n_elements is not None:
        n_elements = integer("n_elements", n_elements, minimum=0, maximum=2**31 - 1)
    if threads is not None:
        threads = integer("threads", threads, minimum=1, maximum=MAX_THREADS)
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
        count = real("budget", budget, low=0.0) if not isinstance(budget, int | np.integer) else budget
        if not float(count).is_integer() or count < 0:
            raise invalid("budget", "a number of sets (integer >= 0) when costs is None", budget)
        c = np.ones(n_sets)
        rule = "gain"
    else:
        c = float_array("costs", costs, (n_sets,), minimum=0.0)
        rule = "ratio"
    budget = real("budget", budget, low=0.0)
    if threads is None:
        threads = default_threads()
    backend = choose_backend(("coverage.max_coverage", "coverage.coverage_gains"), backend, algorithm="max_coverage")
    gains = kernel("coverage.coverage_gains", backend)
    # the CSR is checked for repeats inside a set by each tier's kernel (O(nnz), fused into the
    # native kernel's first pass)
    started = time.perf_counter()
    greedy = kernel("coverage.max_coverage", backend)
    selected = greedy(ptr, idx, w, c, budget, rule, bool(lazy), COVERAGE_RTOL, int(threads))
    options: dict[str, Any] = {"budget": budget, "lazy": lazy, "rule": rule, "backend": backend,
                               "threads": int(threads)}
    if costs is not None:
        # Khuller-Moss-Naor: also consider the single best affordable set
        singles = gains(ptr, idx, w, None, int(threads))
        singles[c > budget * (1.0 + COVERAGE_RTOL)] = -1.0
        best_single = int(np.argmax(singles)) if n_sets else -1
        # both candidates scored by the evaluator, so that the choice does not hang on rounding
        greedy_value = float(w[_covered(ptr, idx, n, selected)].sum())
        options["kept"] = "greedy"
        if best_single >= 0 and singles[best_single] >= 0 and \
                float(w[_covered(ptr, idx, n, [best_single])].sum()) > greedy_value:
            selected = np.array([best_single], dtype=np.int64)
            options["kept"] = "best_single"
    runtime = time.perf_counter() - started
    covered = _covered(ptr, idx, n, selected)
    value = float(w[covered].sum())
    bound_started = time.perf_counter()
    remaining = gains(ptr, idx, w, covered, int(threads))
    if costs is None:
        k = int(budget)
        extra = float(-np.partition(-remaining, k - 1)[:k].sum()) if 0 < k < remaining.size else float(
            remaining.sum() if k else 0.0)
    else:
        extra = fractional_knapsack(remaining, c, budget)
    # the optimum covers at most every element: the bound never exceeds the total weight
    upper = min(value + extra, float(w.sum()))
    bound_runtime = time.perf_counter() - bound_started
    feasible = bool(c[selected].sum() <= budget * (1.0 + COVERAGE_RTOL))
    return CoverageResult(selected=np.asarray(selected, dtype=np.int64), objective=value, feasible=feasible,
                          status="feasible" if feasible else "infeasible", runtime_s=runtime, algorithm="max_coverage",
                          options=options, upper_bound=max(upper, value), bound_method="online",
                          bound_runtime_s=bound_runtime)
