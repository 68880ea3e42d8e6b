"""Schedule results: the decision (order and bandwidth), scored by the problem's own evaluator."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trimcore.loading.problem import Evaluation, LoadingProblem

__all__ = ["LoadingResult", "make_result"]


@dataclass(frozen=True, eq=False)
class LoadingResult:
    """What a loading-order algorithm returns.

    Attributes
    ----------
    order : ndarray of int64, shape (N,)
        Scheduled users in service order.
    bandwidth : ndarray of float64, shape (K,)
        Uplink bandwidth per user in Hz (0 for users not scheduled).
    served : int
        Tasks finished by their deadline, computed by :meth:`LoadingProblem.evaluate` from
        ``order`` and ``bandwidth``.
    feasible : bool
        ``evaluate`` found every scheduled task on time within the memory and bandwidth limits.
    runtime_s : float
        Wall-clock time of the algorithm (the final scoring excluded).
    algorithm : str
    options : dict
        Options the algorithm ran with, and what it did (e.g. the number of repairs).
    evaluation : Evaluation
        The evaluator's full report (finish times, ``beta``, latest starts, ...).
    status : str
        ``"heuristic"``, ``"optimal"`` (proved) or ``"time_limit"`` (exact solver stopped early).
    upper_bound : int or None
        A certified upper bound on the optimal number served, or None.
    problem : LoadingProblem or None
        The problem the result was scored on (baselines without sharing score on the
        ``loading="full"`` variant).
    """

    order: np.ndarray
    bandwidth: np.ndarray
    served: int
    feasible: bool
    runtime_s: float
    algorithm: str
    options: dict[str, Any] = field(default_factory=dict)
    evaluation: Evaluation | None = None
    status: str = "heuristic"
    upper_bound: int | None = None
    problem: LoadingProblem | None = field(default=None, repr=False)

    @property
    def n_scheduled(self) -> int:
        """Length N of the order."""
        return int(self.order.shape[0])

    @property
    def served_ratio(self) -> float:
        """``served / K``."""
        k = self.bandwidth.shape[0]
        return self.served / k if k else 0.0

    @property
    def gap(self) -> int | None:
        """``upper_bound - served`` (None without a bound)."""
        return None if self.upper_bound is None else max(0, self.upper_bound - self.served)

    def summary(self) -> dict[str, Any]:
        """One flat row for tables and CSV files."""
        return {"algorithm": self.algorithm, "served": self.served, "scheduled": self.n_scheduled,
                "served_ratio": self.served_ratio, "feasible": self.feasible,
                "bandwidth_used_hz": float(self.bandwidth.sum()), "upper_bound": self.upper_bound,
                "status": self.status, "runtime_s": self.runtime_s}


def make_result(problem: LoadingProblem, order: Any, algorithm: str, options: dict[str, Any], started: float,
                *, bandwidth: Any = None, spread: str = "proportional", status: str = "heuristic",
                upper_bound: int | None = None, backend: str = "auto") -> LoadingResult:
    """Score a decision with the problem's evaluator.

    ``started`` is the ``time.perf_counter()`` value at the algorithm's start. Without
    ``bandwidth`` the allocation is the decoupling theorem's ``beta`` plus the leftover spread by
    ``spread``; the order is then re-evaluated with that explicit allocation, so ``served`` and
    ``feasible`` come from simulating the timeline with the returned bandwidths.
    """
    runtime = time.perf_counter() - started
    if bandwidth is None:
        bandwidth = problem.evaluate(order, spread=spread, backend=backend).bandwidth
    ev = problem.evaluate(order, bandwidth, backend=backend)
    if upper_bound is not None:
        upper_bound = max(int(upper_bound), ev.served)
    return LoadingResult(order=ev.order, bandwidth=ev.bandwidth, served=ev.served, feasible=ev.feasible,
                         runtime_s=runtime, algorithm=algorithm, options=dict(options), evaluation=ev,
                         status=status, upper_bound=upper_bound, problem=problem)
