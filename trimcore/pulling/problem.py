"""The model-selection and block-pulling problem (Chasing Common Knowledge, spec §3-§5).

Every request ``j`` (home cloudlet ``h = home[j]``) is served by one model ``k``. The model's
shareable block (size ``shareable_size[k]``) is pulled from a *shareable source*: any cloudlet
caching any model of ``k``'s family, or the data center (node ``n``) when ``dc_source``. Its
remaining block (``model_size[k] - shareable_size[k]``) is pulled from a *remaining source*: a
cloudlet caching ``k`` itself, or the data center. Both pulls run in parallel:

* pull delay ``P_j = max(sh_k * path_delay[h, s], re_k * path_delay[h, r])`` (spec §4.1-2);
* delay ``D_j = P_j + infer_delay[j, k] + queue_delay[j] + trans_delay[j, k]`` (§4.6);
* cost ``c_j = infer_cost[j, k] + trans_power[h] * (P_j + trans_delay[j, k])`` (§4.7);
* accuracy ``accuracy[j, k]``.

Constraints: accuracy ``a_jk >= min_accuracy[j]`` (C3), budget ``c_j <= budget[j]`` (C4) and
memory (C5, see ``capacity``). The objective is the total delay, under ``pull_delay``:

* ``"per_request"`` (spec §5.2's recommended linearisation): ``sum_j D_j``;
* ``"global"`` (the authors' code): one network-wide ``P = max(sum_j sh-pull_j, sum_j re-pull_j)``
  replaces the pull delays, ``total = P + sum_j (inference + queue + transmission)``, and ``P``
  is charged in every budget: ``infer_cost + trans_power[h] * (P + trans_delay) <= budget``.

Memory, under ``capacity``:

* ``"per_cloudlet"`` (spec §5.4, default): cloudlet ``i`` uses ``alpha * (sum over the families
  served at i of the family's shareable block + sum over the models served at i of their
  remaining blocks) <= memory[i]``. A family's shareable block is counted once; when the family's
  models declare different shareable sizes, the block counted is the *largest shareable size
  among that family's models served at i*. Copies merely cached at i (pulling sources) do not
  count;
* ``"per_request"`` (the authors' code): every request alone, ``alpha * model_size[k] <=
  memory[home[j]]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from trimcore._persist import Stored
from trimcore._tolerances import FEASIBILITY_RTOL
from trimcore._validate import bool_array, float_array, index_array, real
from trimcore.errors import invalid
from trimcore.result import short_repr

__all__ = ["PullingProblem", "PullingEvaluation", "PULL_DELAYS", "CAPACITIES", "FEASIBILITY_RTOL"]

#: ``pull_delay`` options (see the module docstring).
PULL_DELAYS = ("per_request", "global")
#: ``capacity`` options (see the module docstring).
CAPACITIES = ("per_cloudlet", "per_request")
#: Relative tolerance of every ``<=`` / ``>=`` check of the evaluator (LP solutions sit on bounds):
#: the evaluators' tolerance of :mod:`trimcore._tolerances`.


def _leq(lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    return lhs <= rhs + FEASIBILITY_RTOL * np.maximum(1.0, np.abs(rhs))


@dataclass(frozen=True, eq=False)
class PullingEvaluation:
    """What :meth:`PullingProblem.evaluate` finds for one decision.

    Attributes
    ----------
    model, shareable_source, remaining_source : ndarray of int64, shape (J,)
    shareable_pull, remaining_pull : ndarray of float64, shape (J,)
        Each block's pull delay (block size x per-GB path delay).
    pull : ndarray of float64, shape (J,)
        ``max`` of the two pulls per request.
    delay, cost, accuracy : ndarray of float64, shape (J,)
        Per request, with the request's own pull delay.
    total_delay : float
        The objective under the problem's ``pull_delay``.
    global_pull : float
        ``max(sum shareable_pull, sum remaining_pull)`` (the ``"global"`` pull delay).
    memory_used : ndarray of float64, shape (n,)
        Per cloudlet, by the ``per_cloudlet`` rule (reported under either ``capacity``).
    feasible : bool
        No violation.
    violations : dict of str -> ndarray of int64
        Constraint -> offending indices: ``"accuracy"``, ``"budget"`` and ``"shareable_source"``
        / ``"remaining_source"`` (requests whose source does not hold the block) list requests;
        ``"capacity"`` lists cloudlets (``per_cloudlet``) or requests (``per_request``).
    """

    model: np.ndarray
    shareable_source: np.ndarray
    remaining_source: np.ndarray
    shareable_pull: np.ndarray
    remaining_pull: np.ndarray
    pull: np.ndarray
    delay: np.ndarray
    cost: np.ndarray
    accuracy: np.ndarray
    total_delay: float
    global_pull: float
    memory_used: np.ndarray
    feasible: bool
    violations: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def mean_cost(self) -> float:
        """Average cost over requests (0 without requests)."""
        return float(self.cost.mean()) if self.cost.size else 0.0

    @property
    def mean_accuracy(self) -> float:
        """Average accuracy over requests (0 without requests)."""
        return float(self.accuracy.mean()) if self.accuracy.size else 0.0

    def __repr__(self) -> str:
        bad = {k: int(v.size) for k, v in self.violations.items() if v.size}
        return (f"PullingEvaluation(total_delay={self.total_delay:.6g}, mean_cost={self.mean_cost:.6g}, "
                f"mean_accuracy={self.mean_accuracy:.4g}, feasible={self.feasible}, violations={bad})")


@dataclass(frozen=True, eq=False, repr=False)
class PullingProblem(Stored):
    """An instance of the pulling problem; build it with :meth:`from_arrays` (same arguments).

    Nodes ``0..n-1`` are cloudlets, node ``n`` is the data center. See the module docstring for
    the model; every array is validated (``InstanceError`` naming the field).
    """

    path_delay: np.ndarray
    model_size: np.ndarray
    shareable_size: np.ndarray
    family: np.ndarray
    cached: np.ndarray
    home: np.ndarray
    infer_delay: np.ndarray
    queue_delay: np.ndarray
    trans_delay: np.ndarray
    accuracy: np.ndarray
    min_accuracy: np.ndarray
    infer_cost: np.ndarray
    trans_power: np.ndarray
    budget: np.ndarray
    memory: np.ndarray
    alpha: float = 1.0
    pull_delay: str = "per_request"
    capacity: str = "per_cloudlet"
    dc_source: bool = True

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(cls, path_delay: Any, model_size: Any, shareable_size: Any, family: Any, cached: Any,
                    home: Any, infer_delay: Any, queue_delay: Any, trans_delay: Any, accuracy: Any,
                    min_accuracy: Any, infer_cost: Any, trans_power: Any, budget: Any, memory: Any, *,
                    alpha: float = 1.0, pull_delay: str = "per_request", capacity: str = "per_cloudlet",
                    dc_source: bool = True) -> PullingProblem:
        """Validate the arrays and build the problem.

        Parameters
        ----------
        path_delay : array_like of float, shape (n+1, n+1)
            Per-GB delay (s/GB) of the shortest path between nodes; node ``n`` is the data center.
        model_size, shareable_size : array_like of float, shape (K,)
            GB; ``0 <= shareable_size <= model_size``.
        family : array_like of int, shape (K,)
            Models of one family share their shareable block (any non-negative labels).
        cached : array_like of bool, shape (n, K)
            Cloudlet ``i`` initially holds model ``k`` (both blocks).
        home : array_like of int, shape (J,)
            Home cloudlet of each request, in ``[0, n)`` (never the data center).
        infer_delay, trans_delay, accuracy, infer_cost : array_like of float, shape (J, K)
        queue_delay, min_accuracy, budget : array_like of float, shape (J,)
        trans_power, memory : array_like of float, shape (n,)
        alpha : float
            Memory footprint of a served block = ``alpha`` x its size (> 0).
        pull_delay : {"per_request", "global"}
        capacity : {"per_cloudlet", "per_request"}
        dc_source : bool
            The data center is a source of every block.

        Raises
        ------
        InstanceError
            Any malformed field (named in the message).
        """
        return cls(path_delay=path_delay, model_size=model_size, shareable_size=shareable_size, family=family,
                   cached=cached, home=home, infer_delay=infer_delay, queue_delay=queue_delay,
                   trans_delay=trans_delay, accuracy=accuracy, min_accuracy=min_accuracy, infer_cost=infer_cost,
                   trans_power=trans_power, budget=budget, memory=memory, alpha=alpha, pull_delay=pull_delay,
                   capacity=capacity, dc_source=dc_source)

    def __post_init__(self) -> None:
        s = object.__setattr__
        pd = float_array("path_delay", self.path_delay, (None, None), minimum=0.0)
        if pd.shape[0] != pd.shape[1] or pd.shape[0] < 2:
            raise invalid("path_delay", "a square (n+1, n+1) matrix with n >= 1 cloudlets", f"shape {pd.shape}")
        if (np.diag(pd) != 0).any():
            raise invalid("path_delay", "zeros on the diagonal", f"{float(np.diag(pd)[np.diag(pd) != 0][0])}")
        n = pd.shape[0] - 1
        s(self, "path_delay", pd)
        size = float_array("model_size", self.model_size, (None,), minimum=0.0)
        k = size.shape[0]
        if k < 1:
            raise invalid("model_size", "at least one model", "an empty array")
        s(self, "model_size", size)
        sh = float_array("shareable_size", self.shareable_size, (k,), minimum=0.0)
        if (sh > size).any():
            bad = int(np.argmax(sh > size))
            raise invalid("shareable_size", "values <= model_size", f"{sh[bad]} > {size[bad]} at index {bad}")
        s(self, "shareable_size", sh)
        s(self, "family", index_array("family", self.family, np.iinfo(np.int64).max, shape=(k,)))
        s(self, "cached", bool_array("cached", self.cached, (n, k)))
        home = np.asarray(self.home)
        if home.ndim == 1 and home.size and home.dtype.kind in "iu" and (home == n).any():
            raise invalid("home", f"cloudlet ids in [0, {n}) (node {n} is the data center)", n)
        home = index_array("home", self.home, n, shape=(None,))
        j = home.shape[0]
        s(self, "home", home)
        for name in ("infer_delay", "trans_delay", "infer_cost"):
            s(self, name, float_array(name, getattr(self, name), (j, k), minimum=0.0))
        s(self, "accuracy", float_array("accuracy", self.accuracy, (j, k)))
        s(self, "queue_delay", float_array("queue_delay", self.queue_delay, (j,), minimum=0.0))
        s(self, "min_accuracy", float_array("min_accuracy", self.min_accuracy, (j,)))
        s(self, "budget", float_array("budget", self.budget, (j,)))
        s(self, "trans_power", float_array("trans_power", self.trans_power, (n,), minimum=0.0))
        s(self, "memory", float_array("memory", self.memory, (n,), minimum=0.0))
        s(self, "alpha", real("alpha", self.alpha, low=0.0, low_open=True))
        if self.pull_delay not in PULL_DELAYS:
            raise invalid("pull_delay", f"one of {PULL_DELAYS}", self.pull_delay)
        if self.capacity not in CAPACITIES:
            raise invalid("capacity", f"one of {CAPACITIES}", self.capacity)
        if not isinstance(self.dc_source, bool | np.bool_):
            raise invalid("dc_source", "a bool", self.dc_source)
        s(self, "dc_source", bool(self.dc_source))

    def with_options(self, **changes: Any) -> PullingProblem:
        """A copy with some fields changed (e.g. ``pull_delay="global"``), validated again."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        values.update(changes)
        return PullingProblem(**values)

    def subset_requests(self, requests: Any) -> PullingProblem:
        """The same network, models and options with only the given requests (in that order)."""
        idx = index_array("requests", requests, max(self.n_requests, 1), shape=(None,))
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        for name in ("home", "queue_delay", "min_accuracy", "budget", "infer_delay", "trans_delay", "accuracy",
                     "infer_cost"):
            values[name] = values[name][idx]
        return PullingProblem(**values)

    # ------------------------------------------------------------------ sizes
    @property
    def n_cloudlets(self) -> int:
        """Number of cloudlets n (the data center is node n)."""
        return int(self.cached.shape[0])

    @property
    def n_models(self) -> int:
        """Number of models K."""
        return int(self.model_size.shape[0])

    @property
    def n_requests(self) -> int:
        """Number of requests J."""
        return int(self.home.shape[0])

    @property
    def dc(self) -> int:
        """Node id of the data center (n)."""
        return self.n_cloudlets

    @cached_property
    def remaining_size(self) -> np.ndarray:
        """``model_size - shareable_size`` per model."""
        out = np.maximum(self.model_size - self.shareable_size, 0.0)
        out.setflags(write=False)
        return out

    @cached_property
    def family_index(self) -> np.ndarray:
        """Family of each model as a dense index ``0..F-1`` (first appearance order of sorted labels)."""
        return np.unique(self.family, return_inverse=True)[1].astype(np.int64)

    @property
    def n_families(self) -> int:
        """Number of distinct families F."""
        return int(self.family_index.max()) + 1

    # ------------------------------------------------------------------ sources
    @cached_property
    def shareable_sources(self) -> np.ndarray:
        """bool[K, n+1]: node ``l`` holds model ``k``'s shareable block (a family member, or the DC)."""
        fam = self.family_index
        by_family = np.zeros((self.n_cloudlets, self.n_families), dtype=bool)
        for f in range(self.n_families):
            by_family[:, f] = self.cached[:, fam == f].any(axis=1)
        out = np.zeros((self.n_models, self.n_cloudlets + 1), dtype=bool)
        out[:, :-1] = by_family[:, fam].T
        out[:, -1] = self.dc_source
        out.setflags(write=False)
        return out

    @cached_property
    def remaining_sources(self) -> np.ndarray:
        """bool[K, n+1]: node ``l`` holds model ``k``'s remaining block (a copy of k, or the DC)."""
        out = np.zeros((self.n_models, self.n_cloudlets + 1), dtype=bool)
        out[:, :-1] = self.cached.T
        out[:, -1] = self.dc_source
        out.setflags(write=False)
        return out

    def _nearest(self, sources: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Per distinct home (never J x K x n at once): the nearest source, ties to the smallest id.
        homes, inv = np.unique(self.home, return_inverse=True)
        dist = self.path_delay[homes]                                   # (H, n+1)
        masked = np.where(sources[None, :, :], dist[:, None, :], np.inf)  # (H, K, n+1)
        src = masked.argmin(axis=2)
        best = np.take_along_axis(masked, src[:, :, None], axis=2)[:, :, 0]
        src = np.where(np.isfinite(best), src, -1)
        pull = np.where(np.isfinite(best), np.where(np.isfinite(best), best, 0.0) * sizes[None, :], np.inf)
        return src[inv].astype(np.int64), pull[inv]

    @cached_property
    def nearest(self) -> dict[str, np.ndarray]:
        """Nearest sources and their pull delays per (request, model) (source dominance, docs/pulling.md).

        Keys ``"shareable_source"``, ``"remaining_source"`` (int64[J, K], ``-1`` when the block
        has no source), ``"shareable_pull"``, ``"remaining_pull"`` and ``"pull"`` (the max;
        float64[J, K], ``inf`` without a source).
        """
        ss, sp = self._nearest(self.shareable_sources, self.shareable_size)
        rs, rp = self._nearest(self.remaining_sources, self.remaining_size)
        out = {"shareable_source": ss, "remaining_source": rs, "shareable_pull": sp, "remaining_pull": rp,
               "pull": np.maximum(sp, rp)}
        for v in out.values():
            v.setflags(write=False)
        return out

    @cached_property
    def fixed_delay(self) -> np.ndarray:
        """float[J, K]: inference + queue + transmission delay of serving j with k (no pulling)."""
        out = self.infer_delay + self.queue_delay[:, None] + self.trans_delay
        out.setflags(write=False)
        return out

    @cached_property
    def allowed(self) -> np.ndarray:
        """bool[J, K]: (j, k) can be part of a feasible decision on its own.

        Accuracy met, both blocks have a source, the budget holds at the nearest sources' pull
        delay (a lower bound on the charged pull under either ``pull_delay``), and, under
        ``capacity="per_request"``, ``alpha * model_size <= memory[home]``.
        """
        nr = self.nearest
        hp = self.trans_power[self.home][:, None]
        ok = _leq(self.min_accuracy[:, None], self.accuracy)
        ok &= np.isfinite(nr["pull"])
        with np.errstate(invalid="ignore"):
            ok &= _leq(self.infer_cost + hp * (np.where(ok, nr["pull"], 0.0) + self.trans_delay),
                       self.budget[:, None])
        if self.capacity == "per_request":
            ok &= _leq(self.alpha * self.model_size[None, :], self.memory[self.home][:, None])
        else:
            # A model whose blocks alone exceed the home's memory can never be served there.
            ok &= _leq(self.alpha * (self.shareable_size + self.remaining_size)[None, :],
                       self.memory[self.home][:, None])
        ok.setflags(write=False)
        return ok

    def per_request_optima(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-request optimum when the problem is separable (``pull_delay="per_request"`` and
        ``capacity="per_request"``): each request alone takes its least-delay allowed model at
        the nearest sources.

        Returns
        -------
        model : ndarray of int64, shape (J,)
            The optimal model (``-1`` when the request has no feasible model).
        delay : ndarray of float64, shape (J,)
            Its delay (``inf`` when none).

        Raises
        ------
        InstanceError
            The problem is not of the separable variant.
        """
        if self.pull_delay != "per_request" or self.capacity != "per_request":
            raise invalid("problem", "pull_delay='per_request' and capacity='per_request' (separable)",
                          f"pull_delay={self.pull_delay!r}, capacity={self.capacity!r}")
        c = np.where(self.allowed, self.fixed_delay + self.nearest["pull"], np.inf)
        model = c.argmin(axis=1) if self.n_requests else np.zeros(0, np.int64)
        delay = c[np.arange(self.n_requests), model] if self.n_requests else np.zeros(0)
        model = np.where(np.isfinite(delay), model, -1).astype(np.int64)
        return model, delay

    # ------------------------------------------------------------------ evaluation
    def check_decision(self, model: Any, shareable_source: Any, remaining_source: Any
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Validate a decision's shapes and ids (InstanceError naming the field)."""
        j = self.n_requests
        m = index_array("model", model, self.n_models, shape=(j,))
        s = index_array("shareable_source", shareable_source, self.n_cloudlets + 1, shape=(j,))
        r = index_array("remaining_source", remaining_source, self.n_cloudlets + 1, shape=(j,))
        return m, s, r

    def evaluate(self, model: Any, shareable_source: Any, remaining_source: Any) -> PullingEvaluation:
        """Score a decision: per-request delay, cost and accuracy, the objective, every constraint.

        Parameters
        ----------
        model : array_like of int, shape (J,)
            Serving model of each request.
        shareable_source, remaining_source : array_like of int, shape (J,)
            Node ids (``n`` = data center) the two blocks are pulled from. A node that does not
            hold the block is not an error: it is reported under ``violations``.

        Returns
        -------
        PullingEvaluation

        Raises
        ------
        InstanceError
            Wrong shapes or ids out of range.
        """
        m, s, r = self.check_decision(model, shareable_source, remaining_source)
        idx = np.arange(self.n_requests)
        h = self.home
        sp = self.shareable_size[m] * self.path_delay[h, s]
        rp = self.remaining_size[m] * self.path_delay[h, r]
        pull = np.maximum(sp, rp)
        rest = self.infer_delay[idx, m] + self.queue_delay + self.trans_delay[idx, m]
        delay = pull + rest
        cost = self.infer_cost[idx, m] + self.trans_power[h] * (pull + self.trans_delay[idx, m])
        acc = self.accuracy[idx, m]
        gpull = max(float(sp.sum()), float(rp.sum())) if m.size else 0.0
        total = float(delay.sum()) if self.pull_delay == "per_request" else gpull + float(rest.sum())
        if self.pull_delay == "per_request":
            charged = cost
        else:
            charged = self.infer_cost[idx, m] + self.trans_power[h] * (gpull + self.trans_delay[idx, m])
        used = self.memory_used(m)
        viol: dict[str, np.ndarray] = {
            "accuracy": np.flatnonzero(~_leq(self.min_accuracy, acc)),
            "budget": np.flatnonzero(~_leq(charged, self.budget)),
            "shareable_source": np.flatnonzero(~self.shareable_sources[m, s]),
            "remaining_source": np.flatnonzero(~self.remaining_sources[m, r]),
        }
        if self.capacity == "per_cloudlet":
            viol["capacity"] = np.flatnonzero(~_leq(used, self.memory))
        else:
            viol["capacity"] = np.flatnonzero(~_leq(self.alpha * self.model_size[m], self.memory[h]))
        for arr in (m, s, r, sp, rp, pull, delay, cost, acc, used, *viol.values()):
            arr.setflags(write=False)
        feasible = not any(v.size for v in viol.values())
        return PullingEvaluation(model=m, shareable_source=s, remaining_source=r, shareable_pull=sp,
                                 remaining_pull=rp, pull=pull, delay=delay, cost=cost, accuracy=acc,
                                 total_delay=total, global_pull=gpull, memory_used=used, feasible=feasible,
                                 violations=viol)

    def memory_used(self, model: np.ndarray) -> np.ndarray:
        """Per-cloudlet memory of a model choice under the ``per_cloudlet`` rule (module docstring)."""
        n, k = self.n_cloudlets, self.n_models
        served = np.zeros((n, k), dtype=bool)
        served[self.home, model] = True
        sh_by_family = np.zeros((n, self.n_families))
        fam = self.family_index
        for f in range(self.n_families):
            cols = np.flatnonzero(fam == f)
            sh_by_family[:, f] = np.where(served[:, cols], self.shareable_size[cols][None, :], 0.0).max(axis=1)
        used = self.alpha * (sh_by_family.sum(axis=1) + served.astype(np.float64) @ self.remaining_size)
        return used

    def evaluate_nearest(self, model: Any) -> PullingEvaluation:
        """:meth:`evaluate` with each block pulled from its nearest source (``-1`` none -> the DC id)."""
        m = index_array("model", model, self.n_models, shape=(self.n_requests,))
        idx = np.arange(self.n_requests)
        s = self.nearest["shareable_source"][idx, m]
        r = self.nearest["remaining_source"][idx, m]
        return self.evaluate(m, np.where(s < 0, self.dc, s), np.where(r < 0, self.dc, r))

    # save / load: trimcore._persist.Stored (validated like from_arrays by __post_init__)

    def __repr__(self) -> str:
        text = short_repr(self, ["path_delay", "model_size", "home"])[:-1]
        return (f"{text}, n={self.n_cloudlets}, K={self.n_models}, J={self.n_requests}, "
                f"pull_delay={self.pull_delay!r}, capacity={self.capacity!r}, dc_source={self.dc_source})")
