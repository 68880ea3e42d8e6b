"""Placement results: the decision, scored by the problem's own evaluator."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trimcore.placement.problem import PlacementProblem

__all__ = ["PlacementResult", "make_result"]


@dataclass(frozen=True, eq=False)
class PlacementResult:
    """What a placement algorithm returns.

    Attributes
    ----------
    placement : ndarray of bool, shape (M, I)
        ``placement[m, i]``: model i is cached on server m.
    hit_ratio : float
        Expected cache hit ratio, computed by :meth:`PlacementProblem.hit_ratio`.
    storage_used : ndarray of float64, shape (M,)
        Union-of-blocks storage per server, computed by :meth:`PlacementProblem.storage_used`.
    feasible : bool
        Every server within capacity.
    upper_bound : float or None
        A certified upper bound on the optimal hit ratio (never below the optimum), or None.
    runtime_s : float
        Wall-clock time of the algorithm (the bound's computation excluded).
    algorithm : str
    options : dict
        Options the algorithm ran with (and choices it made, e.g. the winning greedy rule).
    status : str
        ``"heuristic"``, ``"optimal"`` or ``"time_limit"`` (exact solver stopped early).
    bound_method : str or None
        How ``upper_bound`` was obtained (``"lp"``, ``"submodular"``, ``"milp"``, ...).
    """

    placement: np.ndarray
    hit_ratio: float
    storage_used: np.ndarray
    feasible: bool
    upper_bound: float | None
    runtime_s: float
    algorithm: str
    options: dict[str, Any] = field(default_factory=dict)
    status: str = "heuristic"
    bound_method: str | None = None

    @property
    def gap(self) -> float | None:
        """Certified optimality gap ``1 - hit_ratio / upper_bound`` (None without a bound)."""
        if self.upper_bound is None:
            return None
        if self.upper_bound <= 0.0:
            return 0.0
        return max(0.0, 1.0 - self.hit_ratio / self.upper_bound)

    @property
    def models_placed(self) -> int:
        """Number of (server, model) pairs placed."""
        return int(self.placement.sum())

    def save(self, path: str | Path) -> Path:
        """Write the result to ``path`` (``.npz`` + JSON header, atomic)."""
        from trimcore.instance.io import save_dataclass

        return save_dataclass(path, "PlacementResult", self)

    @classmethod
    def load(cls, path: str | Path) -> PlacementResult:
        """Read a result written by :meth:`save` (InstanceError naming the file on any defect)."""
        from trimcore.instance.io import load_dataclass

        return load_dataclass(path, cls, "PlacementResult")

    def summary(self) -> dict[str, Any]:
        """One flat row for tables and CSV files."""
        return {"algorithm": self.algorithm, "hit_ratio": self.hit_ratio,
                "storage_used_bytes": float(self.storage_used.sum()), "models_placed": self.models_placed,
                "feasible": self.feasible, "upper_bound": self.upper_bound, "gap": self.gap,
                "status": self.status, "runtime_s": self.runtime_s}


def make_result(problem: PlacementProblem, placement: np.ndarray, algorithm: str, options: dict[str, Any],
                started: float, *, bound: str | None = "auto", status: str = "heuristic",
                upper_bound: float | None = None, bound_method: str | None = None,
                backend: str = "auto") -> PlacementResult:
    """Score ``placement`` with the problem's evaluator and attach a certified bound.

    ``started`` is the ``time.perf_counter()`` value at the algorithm's start. ``bound`` selects
    the bound (see :func:`trimcore.placement.bounds.certified_upper_bound`); a bound already
    known (``upper_bound``, e.g. a solver's dual bound) is kept when tighter.
    """
    runtime = time.perf_counter() - started
    x = problem.check_placement(placement)
    hit = problem.hit_ratio(x, backend=backend)
    if bound is not None:
        from trimcore.placement.bounds import certified_upper_bound

        value, method = certified_upper_bound(problem, x, method=bound, backend=backend)
        if upper_bound is None or value < upper_bound:
            upper_bound, bound_method = value, method
    if upper_bound is not None:
        upper_bound = max(upper_bound, hit)  # a solver's bound can sit a hair below its own value
    return PlacementResult(placement=x, hit_ratio=hit, storage_used=problem.storage_used(x, backend=backend),
                           feasible=problem.is_feasible(x, backend=backend), upper_bound=upper_bound,
                           runtime_s=runtime, algorithm=algorithm, options=options, status=status,
                           bound_method=bound_method)
