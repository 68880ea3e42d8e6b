"""Compact demand forms of a placement problem (issue #15).

Every form is stored as one factored matrix, the layout every kernel tier reads:

``p[k, i] = rate[k] * by_model[i, group[k]]``

with ``by_model`` float64[I, G] (G popularity vectors, stored by model), ``group`` int32[K] and
``rate`` float64[K]. The dense form is ``G = K`` with the identity map and rate 1 (stored without
the map and the rates: the kernels then read ``by_model[i, k]``, the arrays of before); multiplying
by 1.0 is exact, so dense results are bit-identical to those of before.

Public forms (give one as ``popularity=`` to :class:`~trimcore.placement.problem.PlacementProblem`'s
constructors):

* a dense float array [K, I] (as before);
* :class:`UserGroups`: G popularity vectors and a user -> group map, optional per-user rates;
* :class:`RankedDemand`: one global model popularity vector and per-user request rates (G = 1).

The same instance given densely (``rate[:, None] * group_popularity[group]``) and compactly gives
identical placements, hit weights and bounds on every tier: each request's probability is the
same product, summed in the same order. Only ``total_popularity`` (the hit ratio's denominator)
is summed differently (``sum_k rate[k] * sum_i p_g[i]``, O(K + G I) rather than O(K I)), so hit
ratios may differ in the last bits (relative 1e-15 or so) between the two forms.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from trimcore._validate import float_array, index_array
from trimcore.errors import invalid

__all__ = ["UserGroups", "RankedDemand", "Demand", "as_demand"]


@dataclass(frozen=True, eq=False)
class UserGroups:
    """Demand from user groups: ``p[k, i] = rate[k] * group_popularity[group[k], i]``.

    Parameters
    ----------
    group_popularity : array_like of float, shape (G, I)
        Request probability of each model in each group, >= 0.
    group : array_like of int, shape (K,)
        Group of each user, in [0, G).
    rate : array_like of float, shape (K,), optional
        Request rate of each user, >= 0 (default 1 for every user).
    """

    group_popularity: Any
    group: Any
    rate: Any = None


@dataclass(frozen=True, eq=False)
class RankedDemand:
    """One global model ranking with per-user request rates: ``p[k, i] = user_rate[k] * model_popularity[i]``.

    Parameters
    ----------
    model_popularity : array_like of float, shape (I,)
        Request probability of each model (e.g. a Zipf vector over a ranking), >= 0.
    user_rate : array_like of float, shape (K,)
        Request rate of each user, >= 0.
    """

    model_popularity: Any
    user_rate: Any


@dataclass(frozen=True, eq=False)
class Demand:
    """The validated, read-only factored demand a problem stores (see the module doc).

    Attributes
    ----------
    by_model : ndarray of float64, shape (I, G)
    group : ndarray of int32, shape (K,), or None
        None: the dense form (G = K, user k reads column k).
    rate : ndarray of float64, shape (K,), or None
        None: rate 1 for every user.
    kind : {"dense", "groups", "ranked"}
    """

    by_model: np.ndarray
    group: np.ndarray | None
    rate: np.ndarray | None
    kind: str

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled as its arrays, read-only again when unpickled (pickle alone loses the flag)."""
        return _frozen_demand, (self.by_model, self.group, self.rate, self.kind)

    @property
    def n_users(self) -> int:
        """Number of users K."""
        return self.by_model.shape[1] if self.group is None else self.group.shape[0]

    @property
    def n_models(self) -> int:
        """Number of models I."""
        return self.by_model.shape[0]

    @property
    def n_groups(self) -> int:
        """Number of popularity vectors G (K for the dense form)."""
        return self.by_model.shape[1]

    @property
    def is_dense(self) -> bool:
        """True for the dense form (the kernels then read ``by_model[i, k]`` directly)."""
        return self.group is None

    def kernel_args(self) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """``(by_model, group, rate)``: what every tier's kernels read."""
        return self.by_model, self.group, self.rate

    def weights(self, model: int, users: np.ndarray) -> np.ndarray:
        """``p[users, model]``, float64 (the same products as the compiled tiers)."""
        if self.group is None:
            return self.by_model[model, users]
        w = self.by_model[model, self.group[users]]
        return w if self.rate is None else self.rate[users] * w

    def rows(self, users: np.ndarray) -> np.ndarray:
        """``p[users, :]``, float64[len(users), I]: the users' rows only (the same products as the kernels)."""
        if self.group is None:
            return np.ascontiguousarray(self.by_model[:, users].T)
        out = self.by_model.T[self.group[users]]
        return out if self.rate is None else self.rate[users, None] * out

    def model_totals(self) -> np.ndarray:
        """Total request probability of each model, float64[I] (dense: the row sums of before;
        compact: ``by_model @ (rate summed per group)``, O(G I + K))."""
        if self.group is None:
            return self.by_model.sum(axis=1)
        per_group = np.bincount(self.group, weights=self.rate, minlength=self.n_groups).astype(np.float64)
        return self.by_model @ per_group

    def dense_by_model(self) -> np.ndarray:
        """The dense matrix float64[I, K] (O(K I) memory: for small instances and the dense form)."""
        if self.group is None:
            return self.by_model
        out = self.by_model[:, self.group]
        if self.rate is not None:
            out = self.rate[None, :] * out
        out.setflags(write=False)
        return out

    @cached_property
    def total(self) -> float:
        """Sum of all request probabilities (pairwise sums: over the matrix, or ``rate @ group totals``)."""
        if self.group is None:
            return float(self.by_model.sum())
        group_totals = np.ascontiguousarray(self.by_model.T).sum(axis=1)
        per_user = group_totals[self.group]
        if self.rate is not None:
            per_user = self.rate * per_user
        return float(per_user.sum())

    def n_requests(self) -> int:
        """Number of positive request probabilities ``p[k, i] > 0`` (without densifying)."""
        if self.group is None:
            return int(np.count_nonzero(self.by_model))
        per_group = np.count_nonzero(self.by_model, axis=0)
        per_user = per_group[self.group]
        if self.rate is not None:
            per_user = np.where(self.rate > 0.0, per_user, 0)
        return int(per_user.sum())

    def take_users(self, users: np.ndarray) -> Demand:
        """The demand of the users ``users`` (in that order), in the same form."""
        if self.group is None:
            return _frozen_demand(np.ascontiguousarray(self.by_model[:, users]), None, None, "dense")
        rate = None if self.rate is None else np.ascontiguousarray(self.rate[users])
        return _frozen_demand(self.by_model, np.ascontiguousarray(self.group[users]), rate, self.kind)


def _frozen_demand(by_model: np.ndarray, group: np.ndarray | None, rate: np.ndarray | None, kind: str) -> Demand:
    for a in (by_model, group, rate):
        if a is not None and a.flags.writeable:
            a.setflags(write=False)
    return Demand(by_model, group, rate, kind)


def dense_demand(popularity_by_model: np.ndarray) -> Demand:
    """The dense form over a validated float64[I, K] array (read-only afterwards)."""
    return _frozen_demand(np.ascontiguousarray(popularity_by_model, dtype=np.float64), None, None, "dense")


def _rates(name: str, rate: Any, n_users: int | None) -> np.ndarray:
    return float_array(name, rate, (n_users,), minimum=0.0)


def as_demand(popularity: Any, n_users: int | None, n_models: int) -> Demand:
    """Validate ``popularity`` (a dense [K, I] array or a demand object) into a :class:`Demand`.

    ``n_users`` None: taken from the demand (constructors whose eligibility does not fix K).

    Raises
    ------
    InstanceError
        On any malformed field (named), or a zero total request probability.
    """
    if isinstance(popularity, Demand):
        demand = popularity
        if demand.n_models != n_models or (n_users is not None and demand.n_users != n_users):
            raise invalid("popularity", f"a demand of {n_users} users and {n_models} models",
                          f"{demand.n_users} users and {demand.n_models} models")
    elif isinstance(popularity, UserGroups):
        gp = float_array("group_popularity", popularity.group_popularity, (None, n_models), minimum=0.0)
        if gp.shape[0] == 0:
            raise invalid("group_popularity", "at least one group", "shape (0, I)")
        group = index_array("group", popularity.group, gp.shape[0], shape=(n_users,))
        rate = None if popularity.rate is None else _rates("rate", popularity.rate, group.shape[0])
        demand = _frozen_demand(np.ascontiguousarray(gp.T), group.astype(np.int32), rate, "groups")
    elif isinstance(popularity, RankedDemand):
        mp = float_array("model_popularity", popularity.model_popularity, (n_models,), minimum=0.0)
        rate = _rates("user_rate", popularity.user_rate, n_users)
        demand = _frozen_demand(np.ascontiguousarray(mp[:, None]), np.zeros(rate.shape[0], dtype=np.int32), rate,
                                "ranked")
    else:
        pop = float_array("popularity", popularity, (n_users, n_models), minimum=0.0)
        demand = dense_demand(pop.T)
    if demand.n_users >= 2**31:
        raise invalid("popularity", "fewer than 2^31 users (user ids are int32)", f"{demand.n_users} users")
    if not demand.total > 0:
        raise invalid("popularity", "a positive total request probability", "all zeros")
    return demand
