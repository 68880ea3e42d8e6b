"""Online caching for discrete-event simulators: one request at a time.

:class:`OnlineCache` is the C++ ``trimcore::online::Cache`` of :func:`simulate_caching`'s fast
tier, stepped from Python: a simulator calls :meth:`OnlineCache.request` whenever a request
arrives and gets the decision at once (hit, substitute, load or cloud; the model that served; the
accuracy, latency and cost). Given the same problem, policy, options and seed, the decisions are
exactly those :func:`simulate_caching` makes on the same trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trimcore._validate import integer, real
from trimcore.errors import invalid
from trimcore.kernels import choose_backend
from trimcore.kernels.online.reference import OUTCOME_NAMES, POLICY_CODES
from trimcore.online.problem import CachingProblem
from trimcore.online.simulate import resolve_policy, simulation_flags, static_placement

__all__ = ["OnlineCache", "StepOutcome"]


@dataclass(frozen=True)
class StepOutcome:
    """The decision on one request.

    Attributes
    ----------
    outcome : {"hit", "substitute", "load", "cloud"}
    served_by : int
        The model that served the request at the edge, -1 for the cloud.
    accuracy, latency, aoc, cost : float
        As in :class:`~trimcore.online.CachingResult` (``aoc`` of the serving model when it served).
    loaded_bytes, memory_used : float
        Bytes loaded for this request, and the server's used memory after it.
    costs : tuple of float
        The cost components: latency, accuracy loss, switching, cloud, energy.
    evicted : tuple of int
        Models evicted to make room.
    """

    outcome: str
    served_by: int
    accuracy: float
    latency: float
    aoc: float
    loaded_bytes: float
    memory_used: float
    cost: float
    costs: tuple[float, ...]
    evicted: tuple[int, ...]

    @property
    def hit(self) -> bool:
        """The requested model was resident when the request arrived."""
        return self.outcome == "hit"


class OnlineCache:
    """The edge servers' GPU caches of a :class:`CachingProblem`, stepped request by request.

    Parameters
    ----------
    problem : CachingProblem
        Servers, memory, the model library, tasks and every cost option. Its trace is not
        replayed; it only sets the defaults of ``horizon_slots`` and ``static``'s placement.
    policy : str
        A built-in causal policy: ``"lc"``, ``"lc_task"``, ``"lru"``, ``"lfu"``, ``"fifo"``,
        ``"random"``, ``"cloud"`` or ``"static"`` (``"belady"`` needs the future and is refused).
    greedy_admission, allow_substitution, seed, **options
        As in :func:`simulate_caching` (``lc_task_aware``, ``lc_grace_slots``, ``lc_order``,
        ``lfu_reset_on_evict``, ``pin_models_used_this_slot``, ``task_ewma``,
        ``admission_horizon``).
    horizon_slots : int, optional
        The last slot a request may carry, counted from the first request's (it sizes the table
        of ``nu`` powers); default: the span of the problem's trace.

    Raises
    ------
    InstanceError
        An unknown or non-causal policy, a bad option, or the C++ tier unavailable here.
    """

    def __init__(self, problem: CachingProblem, policy: str = "lc", *, greedy_admission: bool = False,
                 allow_substitution: bool = True, seed: Any = None, horizon_slots: int | None = None,
                 **options: Any) -> None:
        if not isinstance(problem, CachingProblem):
            raise invalid("problem", "a CachingProblem", type(problem).__name__)
        name = resolve_policy(policy, bool(options.get("lc_task_aware", False)))
        if not isinstance(name, str):
            raise invalid("policy", "a built-in policy name (Python policy objects run in simulate_caching)", policy)
        if name == "belady":
            raise invalid("policy", "a causal policy (belady needs the future of the trace)", policy)
        choose_backend("online.simulate", "cpp", algorithm="OnlineCache")
        from trimcore import _core

        self.problem, self.policy = problem, name
        self.flags = simulation_flags(greedy_admission=greedy_admission, allow_substitution=allow_substitution,
                                      seed=seed, **options)
        span = None if horizon_slots is None else integer("horizon_slots", horizon_slots, minimum=0, maximum=10**9)
        inputs = problem.kernel_inputs(static_placement(problem) if name == "static" else None, horizon_slots=span)
        self._stepper = _core.OnlineStepper(inputs, POLICY_CODES[name], self.flags)
        self.n_requests = 0

    def request(self, server: int, model: int, slot: int, task: int | None = None, tokens_in: float | None = None,
                tokens_out: float | None = None) -> StepOutcome:
        """Decide one request, in arrival order (slots non-decreasing).

        ``task`` defaults to the model's own task (its first in ``model_tasks``); the token counts
        to the spec's defaults (the problem's mean over its trace when it has one).
        """
        p = self.problem
        s = integer("server", server, minimum=0, maximum=p.n_servers - 1)
        m = integer("model", model, minimum=0, maximum=p.n_models - 1)
        t = integer("slot", slot, minimum=0, maximum=2**62)
        if task is None:
            own = np.flatnonzero(p.model_tasks[m])
            task = int(own[0]) if own.size else 0
        k = integer("task", task, minimum=0, maximum=p.n_tasks - 1)
        tin = real("tokens_in", self._default(p.tokens_in) if tokens_in is None else tokens_in, low=0.0)
        tout = real("tokens_out", self._default(p.tokens_out) if tokens_out is None else tokens_out, low=0.0)
        code, served, acc, lat, aoc, loaded, used, cost, costs, evicted = self._stepper.request(t, s, m, k, tin, tout)
        self.n_requests += 1
        return StepOutcome(OUTCOME_NAMES[code], int(served), acc, lat, aoc, loaded, used, cost, tuple(costs),
                           tuple(int(v) for v in evicted))

    @staticmethod
    def _default(values: np.ndarray) -> float:
        return float(values.mean()) if values.size else 0.0

    def __repr__(self) -> str:
        p = self.problem
        return (f"OnlineCache(policy={self.policy!r}, servers={p.n_servers}, models={p.n_models}, "
                f"requests={self.n_requests})")
