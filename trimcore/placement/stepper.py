"""Placement for discrete-event simulators: ``place(state)`` each epoch, ``update(observation)``.

:class:`EdgePlacer` keeps what a simulator should not have to: the model library, the servers'
storage, the latency limits, a running estimate of the demand, and the previous epoch's
placement, from which TrimCaching Gen warm-starts (``trimcaching_gen(..., warm_start=...)``):
models already on a server stay where they still fit and serve somebody, so an epoch after users
moved sends only what the new positions need.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trimcore._validate import float_array, index_array, real
from trimcore.errors import invalid
from trimcore.instance.blocks import ModelLibrary
from trimcore.placement.greedy import RULES, trimcaching_gen
from trimcore.placement.problem import PlacementProblem
from trimcore.placement.result import PlacementResult

__all__ = ["EdgePlacer"]


class EdgePlacer:
    """TrimCaching under mobility, stepped by a simulator.

    Parameters
    ----------
    library : ModelLibrary
    capacity : float or array_like of float, shape (M,)
        Storage per server in bytes.
    popularity : array_like of float, shape (K, I)
        The initial demand estimate (request probabilities or rates per user and model).
    latency_limit : float or array_like of float, shape (K,)
        Seconds within which a model must reach its user.
    rule : {"best_of_both", "ratio", "gain"}
        Gen's rule.
    warm_start : bool
        Start each epoch's greedy from the previous placement (default) or from scratch.
    smoothing : float in (0, 1]
        Weight of a new observation in the demand estimate (:meth:`update`).
    bound : {"submodular", "lp", "auto"} or None
        Certified bound attached to each epoch's result (None by default: a simulator's hot path).
    backend : str
        Kernel tier.
    **radio
        Radio options of :meth:`PlacementProblem.from_topology`.
    """

    def __init__(self, library: ModelLibrary, capacity: Any, popularity: Any, latency_limit: Any, *,
                 rule: str = "best_of_both", warm_start: bool = True, smoothing: float = 0.5,
                 bound: str | None = None, backend: str = "auto", **radio: Any) -> None:
        if not isinstance(library, ModelLibrary):
            raise invalid("library", "a ModelLibrary", type(library).__name__)
        if rule not in RULES:
            raise invalid("rule", f"one of {RULES}", rule)
        if not isinstance(warm_start, bool):
            raise invalid("warm_start", "a bool", warm_start)
        self.library, self.capacity, self.latency_limit = library, capacity, latency_limit
        self.popularity = float_array("popularity", popularity, (None, library.n_models), minimum=0.0).copy()
        self.rule, self.warm_start, self.bound, self.backend, self.radio = rule, warm_start, bound, backend, radio
        self.smoothing = real("smoothing", smoothing, low=0.0, high=1.0)
        if self.smoothing <= 0.0:
            raise invalid("smoothing", "a weight in (0, 1]", smoothing)
        self.placement: np.ndarray | None = None
        self.epochs = 0

    @property
    def n_users(self) -> int:
        """Number of users K of the demand estimate."""
        return int(self.popularity.shape[0])

    def place(self, topology: Any) -> PlacementResult:
        """This epoch's placement for the users' current positions (a :class:`Topology`).

        The problem is rebuilt from the positions (who can get which model in time) and the
        current demand estimate; Gen warm-starts from the previous placement when ``warm_start``.
        ``result.options["kept"]`` is the number of (server, model) pairs kept from it.
        """
        if getattr(topology, "n_users", None) != self.n_users:
            raise invalid("topology", f"a Topology with the placer's {self.n_users} users",
                          getattr(topology, "n_users", type(topology).__name__))
        problem = PlacementProblem.from_topology(self.library, topology, self.popularity, self.capacity,
                                                 self.latency_limit, **self.radio)
        start = self.placement if self.warm_start and self.placement is not None \
            and self.placement.shape == (problem.n_servers, problem.n_models) else None
        result = trimcaching_gen(problem, self.rule, bound=self.bound, backend=self.backend, warm_start=start)
        self.placement = result.placement
        self.epochs += 1
        return result

    def update(self, users: Any, models: Any, weights: Any = None) -> None:
        """Fold the requests observed since the last epoch into the demand estimate.

        ``users`` and ``models`` (int arrays of one length) are the observed requests; the
        estimate becomes ``(1 - smoothing) * estimate + smoothing * observed``, where ``observed``
        is each user's request counts (weighted by ``weights``) scaled to the estimate's total.
        """
        u = index_array("users", users, self.n_users, shape=(None,))
        m = index_array("models", models, self.library.n_models, shape=(u.shape[0],))
        w = np.ones(u.shape[0]) if weights is None else float_array("weights", weights, (u.shape[0],), minimum=0.0)
        observed = np.zeros_like(self.popularity)
        np.add.at(observed, (u, m), w)
        total, scale = float(observed.sum()), float(self.popularity.sum())
        if total <= 0.0:
            return
        observed *= scale / total if scale > 0.0 else 1.0
        self.popularity = (1.0 - self.smoothing) * self.popularity + self.smoothing * observed

    def __repr__(self) -> str:
        return (f"EdgePlacer(models={self.library.n_models}, users={self.n_users}, rule={self.rule!r}, "
                f"warm_start={self.warm_start}, epochs={self.epochs})")
