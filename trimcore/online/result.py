"""The result of replaying a trace with one caching policy (the shared result protocol)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from trimcore.errors import invalid
from trimcore.kernels.online.reference import OUTCOME_NAMES
from trimcore.online.problem import COMPONENTS
from trimcore.result import Result

__all__ = ["CachingResult", "OUTCOME_NAMES"]

_FLOAT_FIELDS = ("accuracy", "latency", "aoc", "loaded_bytes", "memory_used", "request_cost")


@dataclass(frozen=True, eq=False, repr=False, kw_only=True)
class CachingResult(Result):
    """Per-request decisions of one policy on one trace, and the system cost they incur.

    Attributes
    ----------
    hit : ndarray of bool, shape (R,)
        The requested model was resident at the request's server when the request arrived.
    served_by : ndarray of int64, shape (R,)
        Model that served the request at the edge, -1 for the cloud.
    outcome : ndarray of int8, shape (R,)
        0 hit, 1 substitute, 2 load, 3 cloud (:data:`OUTCOME_NAMES`).
    accuracy, latency, aoc : ndarray of float64, shape (R,), or None
        Per request; ``aoc`` is the task-agnostic AoC of the serving model when it served (0 in the cloud).
        None, as every per-request float array below, when the run asked for
        ``outputs="decisions"`` (:func:`~trimcore.online.simulate_caching`): then only the
        decisions, :attr:`components`, :attr:`cost` and :attr:`totals` are kept.
    loaded_bytes : ndarray of float64, shape (R,), or None
        Bytes loaded into GPU memory by the request (its missing blocks when it loaded a model).
    memory_used : ndarray of float64, shape (R,), or None
        Used GPU memory of the request's server after it was handled (the union of blocks).
    request_cost : ndarray of float64, shape (R,), or None
        System cost of each request (switching included), the sum of ``request_costs``' columns.
    request_costs : ndarray of float64, shape (R, 5), or None
        Per request and component (:data:`trimcore.online.problem.COMPONENTS`).
    evict_ptr, evicted : ndarray of int64
        CSR: the models request r evicted are ``evicted[evict_ptr[r]:evict_ptr[r + 1]]``, in order.
    components : dict
        Mean cost per request of each component; they sum to :attr:`cost`.
    totals : dict
        ``outputs="decisions"`` only (empty otherwise, the arrays hold them): sums over the
        requests of ``accuracy``, ``latency`` and ``loaded_bytes`` (compensated, in request
        order), read by :attr:`mean_accuracy`, :attr:`mean_latency` and :attr:`loaded_gb`.
    """

    objective_name: ClassVar[str] = "cost"
    sense: ClassVar[str] = "min"  # type: ignore[assignment]
    decision_fields: ClassVar[tuple[str, ...]] = ("served_by", "outcome", "evicted")

    hit: np.ndarray
    served_by: np.ndarray
    outcome: np.ndarray
    accuracy: np.ndarray | None
    latency: np.ndarray | None
    aoc: np.ndarray | None
    loaded_bytes: np.ndarray | None
    memory_used: np.ndarray | None
    request_cost: np.ndarray | None
    request_costs: np.ndarray | None
    evict_ptr: np.ndarray
    evicted: np.ndarray
    components: dict[str, float] = field(default_factory=dict)
    totals: dict[str, float] = field(default_factory=dict)

    def _check(self) -> None:
        n = np.asarray(self.hit).shape[0] if np.asarray(self.hit).ndim == 1 else -1
        if n < 0:
            raise invalid("CachingResult.hit", "a 1-d bool array", np.asarray(self.hit).shape)
        for name, dtype in (("hit", np.bool_), ("served_by", np.int64), ("outcome", np.int8),
                            *((f, np.float64) for f in _FLOAT_FIELDS)):
            if name in _FLOAT_FIELDS and getattr(self, name) is None:
                continue
            arr = np.asarray(getattr(self, name))
            if arr.shape != (n,):
                raise invalid(f"CachingResult.{name}", f"shape ({n},)", arr.shape)
            object.__setattr__(self, name, arr.astype(dtype, copy=False))
        if self.request_costs is not None:
            rc = np.asarray(self.request_costs, dtype=np.float64)
            if rc.shape != (n, len(COMPONENTS)):
                raise invalid("CachingResult.request_costs", f"shape ({n}, {len(COMPONENTS)})", rc.shape)
            object.__setattr__(self, "request_costs", rc)
        ptr = np.asarray(self.evict_ptr, dtype=np.int64)
        ev = np.asarray(self.evicted, dtype=np.int64)
        if ptr.shape != (n + 1,) or ptr[0] != 0 or ptr[-1] != ev.shape[0] or (np.diff(ptr) < 0).any():
            raise invalid("CachingResult.evict_ptr", f"CSR offsets of length {n + 1} ending at {ev.shape[0]}",
                          ptr.shape)
        object.__setattr__(self, "evict_ptr", ptr)
        object.__setattr__(self, "evicted", ev)
        if self.outcome.size and (self.outcome.min() < 0 or self.outcome.max() > 3):
            raise invalid("CachingResult.outcome", "codes 0..3", int(self.outcome.max()))
        object.__setattr__(self, "components", {k: float(v) for k, v in dict(self.components).items()})
        object.__setattr__(self, "totals", {k: float(v) for k, v in dict(self.totals).items()})

    def _mean(self, name: str) -> float:
        arr = getattr(self, name)
        if not self.n_requests:
            return 0.0
        if name in self.totals:
            return self.totals[name] / self.n_requests
        return float(arr.mean()) if arr is not None else float("nan")

    @property
    def mean_accuracy(self) -> float:
        """Mean accuracy per request (0 for an empty trace); in both output modes."""
        return self._mean("accuracy")

    @property
    def mean_latency(self) -> float:
        """Mean latency per request in seconds (0 for an empty trace); in both output modes."""
        return self._mean("latency")

    @property
    def loaded_gb(self) -> float:
        """Gigabytes (1e9 bytes) loaded into GPU memory over the trace; in both output modes."""
        if "loaded_bytes" in self.totals:
            return self.totals["loaded_bytes"] / 1e9
        return float(self.loaded_bytes.sum()) / 1e9 if self.loaded_bytes is not None else float("nan")

    @property
    def cost(self) -> float:
        """Mean system cost per request (the objective)."""
        return self.objective

    @property
    def n_requests(self) -> int:
        """Length R of the trace."""
        return int(self.hit.shape[0])

    def outcome_counts(self) -> dict[str, int]:
        """Requests per outcome (hit, substitute, load, cloud)."""
        counts = np.bincount(self.outcome.astype(np.int64), minlength=4)
        return {name: int(c) for name, c in zip(OUTCOME_NAMES, counts)}

    @property
    def hit_ratio(self) -> float:
        """Share of requests whose model was resident on arrival."""
        return float(self.hit.mean()) if self.hit.size else 0.0

    @property
    def edge_ratio(self) -> float:
        """Share of requests served at the edge (hit, substitute or load)."""
        return float((self.outcome != 3).mean()) if self.outcome.size else 0.0

    def _summary_extra(self) -> dict[str, Any]:
        counts = self.outcome_counts()
        n = max(self.n_requests, 1)
        row: dict[str, Any] = {"policy": self.options.get("policy"), "hit_ratio": self.hit_ratio,
                               "substitute_ratio": counts["substitute"] / n, "load_ratio": counts["load"] / n,
                               "cloud_ratio": counts["cloud"] / n,
                               "mean_accuracy": self.mean_accuracy, "mean_latency_s": self.mean_latency,
                               "loaded_gb": self.loaded_gb}
        row.update({f"cost_{k}": v for k, v in self.components.items()})
        return row
