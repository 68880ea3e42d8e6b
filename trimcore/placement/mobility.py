"""User mobility (spec §5.3): a placement made at t = 0, evaluated while users random-walk.

Each slot the users' positions change, so the servers that can deliver a model within a user's
latency limit change; eligibility is rebuilt (compactly) from the new positions and the fixed
placement is scored by the problem's evaluator. Optionally the placement is recomputed every
``replace_every`` slots with a placement algorithm.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from trimcore.errors import invalid
from trimcore.instance.blocks import ModelLibrary
from trimcore.instance.topology import Topology
from trimcore.placement.problem import PlacementProblem
from trimcore.placement.result import PlacementResult

__all__ = ["MobilityTrace", "mobility_hit_ratio"]


@dataclass(frozen=True, eq=False)
class MobilityTrace:
    """Hit ratio per slot of a placement under user mobility.

    Attributes
    ----------
    time_s : ndarray of float64, shape (T + 1,)
        Slot start times; slot 0 is the placement time.
    hit_ratio : ndarray of float64, shape (T + 1,)
    replaced : ndarray of bool, shape (T + 1,)
        True at the slots where the placement was recomputed.
    """

    time_s: np.ndarray
    hit_ratio: np.ndarray
    replaced: np.ndarray

    @property
    def mean_hit_ratio(self) -> float:
        """Mean hit ratio over slots 1..T (after the users started moving)."""
        return float(self.hit_ratio[1:].mean()) if self.hit_ratio.size > 1 else float(self.hit_ratio[0])


def mobility_hit_ratio(
    library: ModelLibrary,
    topology: Topology,
    popularity: np.ndarray,
    capacity: np.ndarray | float,
    latency_limit: np.ndarray | float,
    algorithm: Callable[[PlacementProblem], PlacementResult],
    *,
    speed_mps: float = 5.0,
    slot_s: float = 1.0,
    n_slots: int = 100,
    replace_every: int | None = None,
    seed: int | None = None,
    radio: dict[str, Any] | None = None,
) -> MobilityTrace:
    """Place with ``algorithm`` at t = 0, then evaluate while users random-walk.

    Parameters
    ----------
    library, topology, popularity, capacity, latency_limit :
        The instance, as for :meth:`PlacementProblem.build`.
    algorithm : callable
        ``problem -> PlacementResult``, e.g. ``lambda p: trimcaching_gen(p, bound=None)``.
    speed_mps, slot_s, n_slots :
        Random walk: each slot a user moves ``speed_mps * slot_s`` metres in a random direction,
        reflected at the area border.
    replace_every : int or None
        Recompute the placement every this many slots (None: never, the spec's default).
    seed : int or None
        Seed of the walk.
    radio : dict, optional
        Radio options for :func:`trimcore.instance.topology.max_deliverable_size`.
    """
    if replace_every is not None and (not isinstance(replace_every, int) or replace_every < 1):
        raise invalid("replace_every", "None or an integer >= 1", replace_every)
    radio = radio or {}
    walk = topology.random_walk(speed_mps, slot_s, n_slots, seed=seed)
    hits = np.zeros(n_slots + 1)
    replaced = np.zeros(n_slots + 1, dtype=bool)
    placement = None
    for t in range(n_slots + 1):
        problem = PlacementProblem.from_topology(library, topology.with_users(walk[t]), popularity, capacity,
                                         latency_limit, **radio)
        if placement is None or (replace_every is not None and t % replace_every == 0):
            placement = algorithm(problem).placement
            replaced[t] = True
        hits[t] = problem.hit_ratio(placement)
    return MobilityTrace(np.arange(n_slots + 1) * slot_s, hits, replaced)
