"""Pulling results: the decision, scored by :meth:`PullingProblem.evaluate`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from trimcore.errors import invalid
from trimcore.pulling.problem import PullingProblem
from trimcore.result import Result, Sense, Status

__all__ = ["PullingResult", "OnlineResult", "make_result"]


def _int_vector(name: str, value: Any) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise invalid(name, "a 1-d integer array", f"{arr.dtype}[{arr.shape}]")
    arr = np.array(arr, dtype=np.int64, copy=True)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False, repr=False, kw_only=True)
class PullingResult(Result):
    """What an offline pulling algorithm returns.

    Attributes
    ----------
    model, shareable_source, remaining_source : ndarray of int64, shape (J,)
        The decision (sources are node ids; ``n`` is the data center).
    mean_cost, mean_accuracy : float
        From the evaluator.
    fraction : ndarray of float64, shape (J, K) or (0, 0)
        The LP's fractional model choice (``pulling_lp`` and the rounding), else empty.

    ``objective`` (= :attr:`total_delay`) is :meth:`PullingProblem.evaluate`'s total delay;
    ``lower_bound`` a certified lower bound on the optimum (the dual bound, or the LP's value).
    """

    objective_name: ClassVar[str] = "total_delay"
    sense: ClassVar[Sense] = "min"
    decision_fields: ClassVar[tuple[str, ...]] = ("model", "shareable_source", "remaining_source")

    model: np.ndarray
    shareable_source: np.ndarray
    remaining_source: np.ndarray
    mean_cost: float = 0.0
    mean_accuracy: float = 0.0
    fraction: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def _check(self) -> None:
        name = type(self).__name__
        for key in self.decision_fields:
            object.__setattr__(self, key, _int_vector(f"{name}.{key}", getattr(self, key)))
        if not (self.model.shape == self.shareable_source.shape == self.remaining_source.shape):
            raise invalid(f"{name}.model", "decision arrays of one length",
                          [a.shape for a in (self.model, self.shareable_source, self.remaining_source)])
        for key in ("mean_cost", "mean_accuracy"):
            object.__setattr__(self, key, float(getattr(self, key)))
        frac = np.array(self.fraction, dtype=np.float64, copy=True)
        if frac.ndim != 2:
            raise invalid(f"{name}.fraction", "a 2-d array", f"shape {frac.shape}")
        frac.setflags(write=False)
        object.__setattr__(self, "fraction", frac)

    @property
    def total_delay(self) -> float:
        """The objective: total delay under the problem's ``pull_delay``."""
        return self.objective

    def _summary_extra(self) -> dict[str, Any]:
        return {"mean_cost": self.mean_cost, "mean_accuracy": self.mean_accuracy}


@dataclass(frozen=True, eq=False, repr=False, kw_only=True)
class OnlineResult(PullingResult):
    """What :func:`pulling_online` returns: the served decisions plus the learning curves.

    Attributes
    ----------
    penalty : ndarray of float64, shape (T,)
        Observed penalty ``xi * (-ln a) + (1 - xi) * delay`` per round.
    regret : ndarray of float64, shape (T,)
        ``penalty - min_k penalty_k`` against the per-round oracle (same cache state).
    features : ndarray of int64, shape (T, d)
        Observed context features per round (empty for context-free policies).
    """

    penalty: np.ndarray = field(default_factory=lambda: np.zeros(0))
    regret: np.ndarray = field(default_factory=lambda: np.zeros(0))
    features: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))

    def _check(self) -> None:
        super()._check()
        for key in ("penalty", "regret"):
            arr = np.array(getattr(self, key), dtype=np.float64, copy=True)
            if arr.ndim != 1:
                raise invalid(f"OnlineResult.{key}", "a 1-d array", f"shape {arr.shape}")
            arr.setflags(write=False)
            object.__setattr__(self, key, arr)
        feats = np.array(self.features, dtype=np.int64, copy=True)
        feats.setflags(write=False)
        object.__setattr__(self, "features", feats)

    @property
    def total_penalty(self) -> float:
        """Sum of the penalties (the paper's "weight sum")."""
        return float(self.penalty.sum())

    @property
    def cumulative_regret(self) -> np.ndarray:
        """Running sum of :attr:`regret`."""
        return np.cumsum(self.regret)

    def _summary_extra(self) -> dict[str, Any]:
        return {**super()._summary_extra(), "total_penalty": self.total_penalty,
                "total_regret": float(self.regret.sum())}


def make_result(problem: PullingProblem, model: Any, shareable_source: Any, remaining_source: Any, *,
                algorithm: str, options: dict[str, Any], started: float, status: Status | None = None,
                lower_bound: float | None = None, bound_method: str | None = None,
                bound_runtime_s: float = 0.0, fraction: Any = None, cls: type[PullingResult] = PullingResult,
                runtime_s: float | None = None, **extra: Any) -> PullingResult:
    """Score a decision with :meth:`PullingProblem.evaluate` and wrap it.

    ``started`` is the ``time.perf_counter()`` at the algorithm's start (``runtime_s`` overrides).
    ``status`` None means ``"feasible"`` / ``"infeasible"`` from the evaluator; a given
    ``"optimal"`` or ``"time_limit"`` is kept only for a feasible decision.
    """
    runtime = time.perf_counter() - started if runtime_s is None else runtime_s
    ev = problem.evaluate(model, shareable_source, remaining_source)
    if not ev.feasible:
        status = "infeasible"
    elif status is None or status == "infeasible":
        status = "feasible"
    if lower_bound is not None and ev.feasible:
        lower_bound = min(float(lower_bound), ev.total_delay)  # a solver's bound can sit a hair above
    opts = {"backend": "reference", **options}
    return cls(model=ev.model, shareable_source=ev.shareable_source, remaining_source=ev.remaining_source,
               objective=ev.total_delay, mean_cost=ev.mean_cost, mean_accuracy=ev.mean_accuracy,
               feasible=ev.feasible, status=status, runtime_s=runtime, algorithm=algorithm, options=opts,
               lower_bound=lower_bound, bound_method=bound_method, bound_runtime_s=bound_runtime_s,
               fraction=np.zeros((0, 0)) if fraction is None else fraction, **extra)
