"""Schedule results: the decision (order and bandwidth), scored by the problem's own evaluator."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from trimcore.errors import invalid
from trimcore.kernels import choose_backend
from trimcore.loading.problem import Evaluation, LoadingProblem
from trimcore.result import Result, Sense, Status

__all__ = ["LoadingResult", "make_result", "loading_backend", "EVALUATOR_KERNELS"]

#: Kernels :meth:`LoadingProblem.evaluate` runs, so every loading algorithm needs them.
EVALUATOR_KERNELS = ("loading.order_times", "loading.simulate", "loading.switch_row", "loading.switch_matrix")


def loading_backend(backend: str, algorithm: str, kernels: tuple[str, ...] = ()) -> str:
    """The one tier that runs an algorithm's ``kernels`` and the evaluator (never ``"auto"``)."""
    return choose_backend((*EVALUATOR_KERNELS, *kernels), backend, algorithm=algorithm)


@dataclass(frozen=True, eq=False, repr=False, kw_only=True)
class LoadingResult(Result):
    """What a loading-order algorithm returns (the result protocol of :class:`trimcore.result.Result`).

    Attributes
    ----------
    order : ndarray of int64, shape (N,)
        Scheduled users in service order.
    bandwidth : ndarray of float64, shape (K,)
        Uplink bandwidth per user in Hz (0 for users not scheduled).
    evaluation : Evaluation
        The evaluator's full report of ``order`` with ``bandwidth`` (finish times, ``beta``,
        latest starts, ...).
    problem : LoadingProblem
        The problem the result was scored on (baselines without sharing score on the
        ``loading="full"`` variant); saved with the result, so a loaded result re-evaluates.
    objective : float
        Tasks finished by their deadline (:attr:`served`), from ``evaluation``.
    upper_bound : float or None
        A certified upper bound on the optimal number served, or None.

    The other fields are those of :class:`~trimcore.result.Result`.
    """

    objective_name: ClassVar[str] = "served"
    sense: ClassVar[Sense] = "max"
    decision_fields: ClassVar[tuple[str, ...]] = ("order", "bandwidth")

    order: np.ndarray
    bandwidth: np.ndarray
    evaluation: Evaluation
    problem: LoadingProblem

    def _check(self) -> None:
        if not isinstance(self.problem, LoadingProblem):
            raise invalid("LoadingResult.problem", "a LoadingProblem", type(self.problem).__name__)
        if not isinstance(self.evaluation, Evaluation):
            raise invalid("LoadingResult.evaluation", "an Evaluation", type(self.evaluation).__name__)
        order, band = self.order, self.bandwidth
        if not isinstance(order, np.ndarray) or order.ndim != 1 or order.dtype.kind not in "iu":
            raise invalid("LoadingResult.order", "a 1-D integer array of user ids",
                          f"{getattr(order, 'dtype', type(order).__name__)}{list(getattr(order, 'shape', []))}")
        if not isinstance(band, np.ndarray) or band.ndim != 1 or band.dtype.kind != "f" \
                or not np.all(np.isfinite(band)) or np.any(band < 0):
            raise invalid("LoadingResult.bandwidth", "a 1-D array of finite Hz >= 0",
                          f"{getattr(band, 'dtype', type(band).__name__)}{list(getattr(band, 'shape', []))}")
        if band.size != self.problem.n_users:
            raise invalid("LoadingResult.bandwidth", f"one value per user ({self.problem.n_users})", band.size)
        if order.size and (order.min() < 0 or order.max() >= band.size):
            raise invalid("LoadingResult.order", f"user ids in [0, {band.size})", order)
        if self.objective != float(self.evaluation.served):
            raise invalid("LoadingResult.objective", f"the evaluation's served count {self.evaluation.served}",
                          self.objective)

    @property
    def served(self) -> int:
        """Tasks finished by their deadline (the objective, under the paper's name)."""
        return int(self.objective)

    @property
    def n_scheduled(self) -> int:
        """Length N of the order."""
        return int(self.order.shape[0])

    @property
    def served_ratio(self) -> float:
        """``served / K``."""
        k = self.bandwidth.shape[0]
        return self.served / k if k else 0.0

    def _summary_extra(self) -> dict[str, Any]:
        return {"scheduled": self.n_scheduled, "served_ratio": self.served_ratio,
                "bandwidth_used_hz": float(self.bandwidth.sum())}


def make_result(problem: LoadingProblem, order: Any, algorithm: str, options: dict[str, Any], started: float,
                *, backend: str, bandwidth: Any = None, spread: str = "proportional", status: Status = "feasible",
                upper_bound: float | None = None) -> LoadingResult:
    """Score a decision with the problem's evaluator.

    ``started`` is the ``time.perf_counter()`` value at the algorithm's start; ``backend`` is the
    tier the algorithm resolved. Without ``bandwidth`` the allocation is the decoupling
    theorem's ``beta`` plus the leftover spread by ``spread``; the order is then re-evaluated
    with that explicit allocation, so ``served`` and ``feasible`` come from simulating the
    timeline with the returned bandwidths. An infeasible decision gets ``status="infeasible"``.
    """
    runtime = time.perf_counter() - started
    if bandwidth is None:
        bandwidth = problem.evaluate(order, spread=spread, backend=backend).bandwidth
    ev = problem.evaluate(order, bandwidth, backend=backend)
    if upper_bound is not None:
        upper_bound = float(max(upper_bound, ev.served))
    return LoadingResult(order=ev.order, bandwidth=ev.bandwidth, evaluation=ev, problem=problem,
                         objective=float(ev.served),
                         feasible=ev.feasible, status=status if ev.feasible else "infeasible", runtime_s=runtime,
                         algorithm=algorithm, options={**options, "backend": backend},
                         upper_bound=upper_bound)
