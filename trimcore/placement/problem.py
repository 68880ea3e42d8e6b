"""The TrimCaching placement problem and its evaluators (hit ratio, union-of-blocks storage)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from trimcore._persist import Stored
from trimcore._tolerances import FEASIBILITY_RTOL
from trimcore._validate import bool_array, float_array, index_array
from trimcore.errors import InstanceError, invalid
from trimcore.instance.blocks import ModelLibrary
from trimcore.kernels import choose_backend, kernel
from trimcore.placement.demand import Demand, RankedDemand, UserGroups, as_demand, dense_demand

__all__ = ["PlacementProblem", "FEASIBILITY_RTOL"]



@dataclass(frozen=True, eq=False, repr=False)
class PlacementProblem(Stored):
    """Which models to cache on which edge servers (TrimCaching, spec §3-§4).

    A request of user ``k`` for model ``i`` is a hit when some server ``m`` holding ``i`` can
    deliver it within ``k``'s latency limit (``eligible[m, k, i]``). The storage a server uses
    is the size of the union of the blocks of its models.

    Build it with :meth:`from_arrays` (dense eligibility, small instances), :meth:`from_library`
    (compact eligibility ``eligible[m, k, i] = size_i <= max_size[m, k]``) or :meth:`from_topology`
    (from a topology and latency limits). The constructor itself trusts its arguments.

    Attributes
    ----------
    library : ModelLibrary
        Blocks and models.
    capacity : ndarray of float64, shape (M,)
        Storage capacity of each server in bytes.
    demand : Demand
        Request probabilities in factored form ``p[k, i] = rate[k] * by_model[i, group[k]]``
        (:mod:`trimcore.placement.demand`: dense, user groups or a global ranking with rates); the
        kernels read it without densifying. :attr:`popularity` densifies it (the API's ``(K, I)``).
    pair_ptr, pair_len : ndarray of int64, shape (M * I,)
    pair_users : ndarray of int32
        Users that pair ``p = m * I + i`` can serve: ``pair_users[pair_ptr[p]:][:pair_len[p]]``.
    max_size : ndarray of float64, shape (M, K), or None
        Largest model size server ``m`` delivers to user ``k`` in time (compact form only).
    server_ptr : ndarray of int64, shape (M + 1,), or None
        Set by :meth:`from_reach`: server ``m``'s pairs are prefixes of the user list
        ``pair_users[server_ptr[m]:server_ptr[m + 1]]`` (sorted by decreasing deliverable size).
    """

    library: ModelLibrary
    capacity: np.ndarray
    demand: Demand
    pair_ptr: np.ndarray
    pair_len: np.ndarray
    pair_users: np.ndarray
    max_size: np.ndarray | None = None
    server_ptr: np.ndarray | None = None
    # per-tier views of the eligibility CSR (the native one validated and copied once)
    _views: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    repr_fields: ClassVar[tuple[str, ...]] = ("n_servers", "n_users", "n_models", "capacity", "library")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(
        cls,
        block_sizes: Sequence[float] | np.ndarray,
        model_blocks: Sequence[Sequence[int]],
        capacity: Sequence[float] | np.ndarray | float,
        eligible: np.ndarray,
        popularity: np.ndarray,
    ) -> PlacementProblem:
        """Build a problem from dense arrays.

        Parameters
        ----------
        block_sizes : array_like of float, shape (J,)
            Block sizes in bytes, > 0.
        model_blocks : list of lists of int
            Block ids of each of the I models.
        capacity : array_like of float, shape (M,), or float
            Storage of each server in bytes, >= 0 (a scalar applies to every server).
        eligible : array_like of bool, shape (M, K, I)
            ``eligible[m, k, i]``: server m can deliver model i to user k within k's limit.
        popularity : array_like of float, shape (K, I), or UserGroups or RankedDemand
            Request probability of model i by user k, >= 0, with a positive total; or a compact
            demand form (:mod:`trimcore.placement.demand`), stored and used without densifying.

        Raises
        ------
        InstanceError
            On any malformed input, naming the field.
        """
        library = ModelLibrary.from_lists(block_sizes, model_blocks)
        elig = bool_array("eligible", eligible)
        if elig.ndim != 3:
            raise invalid("eligible", "a 3-d array of shape (M, K, I)", f"shape {elig.shape}")
        n_servers, n_users, n_models = elig.shape
        if n_models != library.n_models:
            raise invalid("eligible", f"shape (M, K, {library.n_models}) (one column per model)",
                          f"shape {elig.shape}")
        cap = _capacity(capacity, n_servers)
        pop_t = as_demand(popularity, n_users, n_models)
        by_pair = elig.transpose(0, 2, 1)  # (M, I, K): users of each pair in increasing order
        pair_len = by_pair.sum(axis=2, dtype=np.int64).reshape(-1)
        pair_users = np.nonzero(by_pair)[2].astype(np.int32)
        pair_ptr = np.zeros(n_servers * n_models, dtype=np.int64)
        np.cumsum(pair_len[:-1], out=pair_ptr[1:])
        return cls._frozen(library, cap, pop_t, pair_ptr, pair_len, pair_users, None)

    @classmethod
    def from_library(
        cls,
        library: ModelLibrary,
        capacity: Sequence[float] | np.ndarray | float,
        popularity: np.ndarray,
        max_size: np.ndarray,
    ) -> PlacementProblem:
        """Build a problem with compact eligibility (never materializes M x K x I).

        ``eligible[m, k, i] = library.model_sizes[i] <= max_size[m, k]``: per server the users
        are sorted by decreasing ``max_size`` (ties by user id), and the users of pair (m, i) are
        a prefix of that list, so coverage costs at most O(M K) memory: only the longest prefix a
        model of the library uses is stored per server.

        Parameters
        ----------
        library : ModelLibrary
        capacity : array_like of float, shape (M,), or float
            Storage of each server in bytes, >= 0.
        popularity : array_like of float, shape (K, I), or UserGroups or RankedDemand
            See :meth:`from_arrays`.
        max_size : array_like of float, shape (M, K)
            Largest model size (bytes) server m can deliver to user k within k's latency limit;
            0 where m cannot reach k (see :func:`trimcore.instance.topology.max_deliverable_size`).
        """
        if not isinstance(library, ModelLibrary):
            raise invalid("library", "a ModelLibrary", type(library).__name__)
        smax = float_array("max_size", max_size, (None, None), minimum=0.0, allow_inf=True)
        n_servers, n_users = smax.shape
        cap = _capacity(capacity, n_servers)
        pop_t = as_demand(popularity, n_users, library.n_models)
        sizes = library.model_sizes
        pair_len = np.empty((n_servers, library.n_models), dtype=np.int64)
        kept: list[np.ndarray] = []
        start = np.zeros(n_servers, dtype=np.int64)
        # one server at a time (O(K) temporaries, not several M x K ones), and only the prefix some
        # model uses is kept: users no model reaches (most of them, at city scale) are not stored
        for m in range(n_servers):
            order = np.argsort(-smax[m], kind="stable")
            # users with max_size >= size_i form a prefix of the descending order
            pair_len[m] = np.searchsorted(-smax[m][order], -sizes, side="right")
            kept.append(order[:int(pair_len[m].max(initial=0))].astype(np.int32))
            if m + 1 < n_servers:
                start[m + 1] = start[m] + kept[-1].size
        pair_ptr = np.repeat(start, library.n_models)
        users = np.concatenate(kept) if kept else np.zeros(0, dtype=np.int32)
        return cls._frozen(library, cap, pop_t, pair_ptr, pair_len.reshape(-1), users, smax)

    @classmethod
    def from_reach(
        cls,
        library: ModelLibrary,
        capacity: Sequence[float] | np.ndarray | float,
        popularity: Any,
        reach_ptr: np.ndarray,
        reach_users: np.ndarray,
        reach_size: np.ndarray,
    ) -> PlacementProblem:
        """Build a problem from the sparse form of ``max_size``: O(M I + entries + demand) memory.

        Server ``m`` reaches the users ``reach_users[reach_ptr[m]:reach_ptr[m + 1]]`` (distinct) with
        largest deliverable sizes ``reach_size`` (same slice); every other user gets 0. The pairs are
        exactly those of :meth:`from_library` on the dense ``max_size`` with those entries (ties by
        user id), so results are identical; the M x K matrix is never built (``max_size`` is None).

        Parameters
        ----------
        library : ModelLibrary
        capacity : array_like of float, shape (M,), or float
        popularity : array_like of float, shape (K, I), or UserGroups or RankedDemand
            K is the demand's number of users.
        reach_ptr : array_like of int, shape (M + 1,)
            CSR offsets from 0 to ``len(reach_users)``, non-decreasing.
        reach_users : array_like of int, shape (E,)
        reach_size : array_like of float, shape (E,)
            >= 0, inf allowed.
        """
        if not isinstance(library, ModelLibrary):
            raise invalid("library", "a ModelLibrary", type(library).__name__)
        demand = as_demand(popularity, None, library.n_models)
        n_users = demand.n_users
        users = index_array("reach_users", reach_users, max(n_users, 1) if n_users else 0, shape=(None,))
        size = float_array("reach_size", reach_size, (users.shape[0],), minimum=0.0, allow_inf=True)
        raw_ptr = np.asarray(reach_ptr)
        ptr = index_array("reach_ptr", raw_ptr, users.shape[0] + 1, shape=(None,))
        if ptr.shape[0] < 1 or ptr[0] != 0 or ptr[-1] != users.shape[0] or (np.diff(ptr) < 0).any():
            raise invalid("reach_ptr", f"non-decreasing CSR offsets from 0 to {users.shape[0]}",
                          f"{ptr.shape[0]} offsets")
        n_servers = ptr.shape[0] - 1
        cap = _capacity(capacity, n_servers)
        sizes = library.model_sizes
        smallest = float(sizes.min())
        pair_len = np.empty((n_servers, library.n_models), dtype=np.int64)
        kept: list[np.ndarray] = []
        start = np.zeros(n_servers + 1, dtype=np.int64)
        for m in range(n_servers):
            u, sz = users[ptr[m]:ptr[m + 1]], size[ptr[m]:ptr[m + 1]]
            by_id = np.argsort(u, kind="stable")
            u, sz = u[by_id], sz[by_id]
            if u.size > 1 and (u[1:] == u[:-1]).any():
                raise invalid("reach_users", "distinct users within each server's list", f"a repeat for server {m}")
            keep = sz >= smallest  # the others are in no pair, as in from_library
            u, sz = u[keep], sz[keep]
            order = np.argsort(-sz, kind="stable")  # decreasing size, ties by user id (from_library's order)
            pair_len[m] = np.searchsorted(-sz[order], -sizes, side="right")
            kept.append(u[order[:int(pair_len[m].max(initial=0))]].astype(np.int32))
            start[m + 1] = start[m] + kept[-1].size
        flat = np.concatenate(kept) if kept else np.zeros(0, dtype=np.int32)
        return cls._prefixes(library, cap, demand, start, flat, pair_len.reshape(-1))

    @classmethod
    def _prefixes(cls, library: ModelLibrary, cap: np.ndarray, demand: Demand, server_ptr: np.ndarray,
                  users: np.ndarray, pair_len: np.ndarray) -> PlacementProblem:
        """A problem whose pairs are prefixes of per-server lists (checked: ids, distinct per server, lengths)."""
        n_servers, n_models, n_users = cap.shape[0], library.n_models, demand.n_users
        server_ptr = np.ascontiguousarray(server_ptr, dtype=np.int64)
        if server_ptr.shape != (n_servers + 1,) or server_ptr[0] != 0 or server_ptr[-1] != users.size or \
                (np.diff(server_ptr) < 0).any():
            raise invalid("server_ptr", f"{n_servers + 1} non-decreasing offsets from 0 to {users.size}",
                          f"shape {server_ptr.shape}")
        users = index_array("pair_users", users, n_users).astype(np.int32)
        lengths = np.diff(server_ptr)
        pair_len = np.ascontiguousarray(pair_len, dtype=np.int64)
        if pair_len.shape != (n_servers * n_models,):
            raise invalid("pair_len", f"shape ({n_servers * n_models},)", f"shape {pair_len.shape}")
        too_long = (pair_len < 0) | (pair_len > np.repeat(lengths, n_models))
        if too_long.any():
            p = int(np.flatnonzero(too_long)[0])
            raise invalid("pair_len", "lengths within their server's list", f"{int(pair_len[p])} at pair {p}")
        owner = np.repeat(np.arange(n_servers, dtype=np.int64), lengths)
        key = np.sort(owner * max(n_users, 1) + users)
        if key.size > 1 and (key[1:] == key[:-1]).any():
            raise invalid("pair_users", "distinct users within each server's list", "a repeated user")
        pair_ptr = np.repeat(server_ptr[:-1], n_models)
        problem = cls._frozen(library, cap, demand, pair_ptr, pair_len, users, None)
        server_ptr.setflags(write=False)
        object.__setattr__(problem, "server_ptr", server_ptr)
        return problem

    @classmethod
    def from_topology(
        cls,
        library: ModelLibrary,
        topology: Any,
        popularity: np.ndarray,
        capacity: Sequence[float] | np.ndarray | float,
        latency_limit: Sequence[float] | np.ndarray | float,
        **radio: Any,
    ) -> PlacementProblem:
        """Build a compact problem from a topology, latency limits and radio parameters.

        ``radio`` is passed to :func:`trimcore.instance.topology.max_deliverable_size`
        (``bandwidth_hz``, ``tx_power_dbm``, ``noise_dbm_per_hz``, ``variant`` =
        ``"direct"`` | ``"backhaul"``, ``backhaul_bps``).
        """
        from trimcore.instance.topology import max_deliverable_size

        smax = max_deliverable_size(topology, latency_limit, **radio)
        return cls.from_library(library, capacity, popularity, smax)

    @classmethod
    def _frozen(cls, library, cap, pop_t, pair_ptr, pair_len, pair_users, smax) -> PlacementProblem:
        """``pop_t``: a :class:`Demand`, or a dense float64[I, K] popularity by model."""
        for a in (pair_ptr, pair_len, pair_users):
            a.setflags(write=False)
        demand = pop_t if isinstance(pop_t, Demand) else dense_demand(pop_t)
        return cls(library, cap, demand, pair_ptr, pair_len, np.ascontiguousarray(pair_users), smax)

    # ------------------------------------------------------------------ shape
    @property
    def n_servers(self) -> int:
        """Number of edge servers M."""
        return self.capacity.shape[0]

    @property
    def n_users(self) -> int:
        """Number of users K."""
        return self.demand.n_users

    @property
    def n_models(self) -> int:
        """Number of models I."""
        return self.library.n_models

    @property
    def popularity_by_model(self) -> np.ndarray:
        """Request probabilities by model, float64[I, K], read-only.

        The stored array for dense demand; a compact form (:attr:`demand`) is densified, which
        takes O(K I) memory (no algorithm path does this; the kernels read :attr:`demand`).
        """
        return self.demand.dense_by_model()

    @property
    def popularity(self) -> np.ndarray:
        """Request probabilities, float64[K, I] (a read-only view).

        Densifies a compact demand (O(K I) memory; see :attr:`popularity_by_model`).
        """
        return self.popularity_by_model.T

    @property
    def demand_args(self) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """``(by_model, group, rate)``: the demand as every kernel tier reads it."""
        return self.demand.kernel_args()

    @property
    def total_popularity(self) -> float:
        """Sum of all request probabilities (the hit ratio's denominator; computed once)."""
        return self.demand.total

    @property
    def is_compact(self) -> bool:
        """True when eligibility is stored as ``max_size`` rather than explicit user lists."""
        return self.max_size is not None

    def users_of(self, server: int, model: int) -> np.ndarray:
        """Users that ``server`` can serve with ``model`` within their latency limit."""
        p = server * self.n_models + model
        return self.pair_users[self.pair_ptr[p]:self.pair_ptr[p] + self.pair_len[p]]

    def eligible(self) -> np.ndarray:
        """Dense eligibility bool[M, K, I] (for small instances: it takes M K I bytes)."""
        dense = np.zeros((self.n_servers, self.n_users, self.n_models), dtype=bool)
        for m in range(self.n_servers):
            for i in range(self.n_models):
                dense[m, self.users_of(m, i), i] = True
        return dense

    # ------------------------------------------------------------------ evaluators
    def check_placement(self, placement: np.ndarray) -> np.ndarray:
        """Validate a placement and return it as a C-contiguous bool[M, I] array.

        Raises
        ------
        InstanceError
            If ``placement`` is not a boolean (or 0/1) array of shape (M, I).
        """
        return bool_array("placement", placement, (self.n_servers, self.n_models))

    def storage_used(self, placement: np.ndarray, *, backend: str = "auto") -> np.ndarray:
        """Storage used on each server: the size of the union of its models' blocks, float64[M]."""
        x = self.check_placement(placement)
        return kernel("placement.storage_used", backend)(x, self.library.bitsets, self.library.block_sizes)

    def hit_weight(self, placement: np.ndarray, *, backend: str = "auto") -> float:
        """Total popularity of the requests served from the edge (the unnormalised U(X))."""
        x = self.check_placement(placement)
        tier = choose_backend(("placement.coverage_view", "placement.hit_weight"), backend)
        return kernel("placement.hit_weight", tier)(x, self.coverage_view(tier), self.demand_args)

    def coverage_view(self, backend: str) -> Any:
        """The eligibility CSR as tier ``backend``'s kernels read it, built once per tier and kept.

        The C++ view is a validated, owned copy (``_core.CoverageIndex``): many evaluations of
        one problem then check only the placement. The arrays are read-only, so it stays valid.
        """
        view = self._views.get(backend)
        if view is None:
            view = kernel("placement.coverage_view", backend)(self.pair_ptr, self.pair_len, self.pair_users,
                                                              self.n_servers, self.n_users, self.n_models)
            self._views[backend] = view
        return view

    def gen_view(self, backend: str) -> Any:
        """The problem as tier ``backend``'s ``placement.trimcaching_gen`` reads it, built once and kept.

        The C++ one is a ``_core.PlacementProblem``: the core's validated, owned copy
        (``trimcore::PlacementProblem``), so repeated runs of TrimCaching Gen check nothing again.
        """
        key = f"gen:{backend}"
        view = self._views.get(key)
        if view is None:
            lib = self.library
            block_ptr, block_models = lib.block_models
            view = kernel("placement.gen_problem", backend)(
                lib.block_sizes, lib.indptr, lib.indices, lib.bitsets, block_ptr, block_models, self.capacity,
                self.demand_args, self.pair_ptr, self.pair_len, self.pair_users,
                self.max_size if self.server_ptr is None else ("prefixes", self.server_ptr, self.n_users))
            self._views[key] = view
        return view

    def hit_ratio(self, placement: np.ndarray, *, backend: str = "auto") -> float:
        """Expected cache hit ratio: ``sum p[k,i] hit(k,i) / sum p[k,i]``."""
        return self.hit_weight(placement, backend=backend) / self.total_popularity

    def is_feasible(self, placement: np.ndarray, *, backend: str = "auto") -> bool:
        """True when every server's union storage fits its capacity (1e-9 relative tolerance)."""
        return self.storage_fits(self.storage_used(placement, backend=backend))

    def storage_fits(self, storage_used: np.ndarray) -> bool:
        """True when the per-server storage ``storage_used`` fits every capacity (the tolerance of
        :meth:`is_feasible`); for callers that already have the storage."""
        return bool(np.all(storage_used <= self.capacity * (1.0 + FEASIBILITY_RTOL)))

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict[str, Any]:
        """The fields without the per-tier views (the native one cannot be pickled; each process
        builds its own), and which arrays were read-only (pickle does not keep the flag)."""
        state = {k: v for k, v in self.__dict__.items() if k != "_views"}
        state["_read_only"] = [k for k, v in state.items() if isinstance(v, np.ndarray) and not v.flags.writeable]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        for name in state.pop("_read_only", ()):
            state[name].setflags(write=False)  # the views rely on the CSR never changing
        self.__dict__.update(state, _views={})

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path) -> Path:
        """Write the problem to ``path`` (``.npz`` + JSON header, atomic); see :mod:`trimcore.instance.io`."""
        from trimcore.instance.io import library_parts, save_arrays

        arrays, library_meta = library_parts(self.library, "library.")
        arrays["capacity"] = self.capacity
        d = self.demand
        if d.is_dense:
            arrays["popularity_by_model"] = d.by_model
        else:  # compact forms stay compact on disk
            arrays["demand.by_model"] = d.by_model
            arrays["demand.group"] = d.group  # type: ignore[assignment]  # not None: compact
            if d.rate is not None:
                arrays["demand.rate"] = d.rate
        if self.max_size is not None:
            arrays["max_size"] = self.max_size
        elif self.server_ptr is not None:  # from_reach: prefixes of per-server lists
            arrays.update(server_ptr=self.server_ptr, pair_len=self.pair_len, pair_users=self.pair_users)
        else:
            arrays.update(pair_ptr=self.pair_ptr, pair_len=self.pair_len, pair_users=self.pair_users)
        return save_arrays(path, "PlacementProblem", arrays, {"library": library_meta, "demand": d.kind})

    @classmethod
    def load(cls, path: str | Path) -> PlacementProblem:
        """Read a problem written by :meth:`save`; every array is validated again.

        Raises
        ------
        InstanceError
            Missing, truncated, corrupted, wrong-version or wrong-kind file, or invalid contents;
            the message names the file.
        """
        from trimcore.instance.io import library_from_parts, load_arrays

        arrays, meta = load_arrays(path, kind="PlacementProblem")
        library = library_from_parts(Path(path), arrays, meta.get("library"), "library.")
        try:
            pop = _stored_demand(arrays, meta.get("demand", "dense"))
            cap = _stored(arrays, "capacity", 1)
            if "max_size" in arrays:
                return cls.from_library(library, cap, pop, _stored(arrays, "max_size", 2))
            if "server_ptr" in arrays:
                demand = as_demand(pop, None, library.n_models)
                return cls._prefixes(library, _capacity(cap, cap.shape[0]), demand,
                                     _stored(arrays, "server_ptr", 1, integer=True),
                                     _stored(arrays, "pair_users", 1, integer=True),
                                     _stored(arrays, "pair_len", 1, integer=True))
            return cls._from_pairs(library, cap, pop, arrays)
        except InstanceError as exc:
            raise InstanceError(f"{path}: {exc}") from None

    @classmethod
    def _from_pairs(cls, library: ModelLibrary, capacity: np.ndarray, popularity: Any,
                    arrays: dict[str, np.ndarray]) -> PlacementProblem:
        """Rebuild explicit pair lists from a file: every extent and id is checked, none trusted."""
        pop_t = as_demand(popularity, None, library.n_models)
        n_users = pop_t.n_users
        cap = _capacity(capacity, capacity.shape[0])
        n_pairs = cap.shape[0] * library.n_models
        raw_users = _stored(arrays, "pair_users", 1, integer=True)
        users = index_array("pair_users", raw_users, n_users).astype(np.int32)
        # ptr in [0, size] and len in [0, min(size, K)] (a pair lists distinct users), so
        # ptr <= size - len below is exact int64 arithmetic: no crafted extent can overflow it
        ptr = index_array("pair_ptr", _stored(arrays, "pair_ptr", 1, integer=True), users.size + 1, shape=(n_pairs,))
        length = index_array("pair_len", _stored(arrays, "pair_len", 1, integer=True), min(users.size, n_users) + 1,
                             shape=(n_pairs,))
        outside = ptr > users.size - length
        if outside.any():
            p = int(np.flatnonzero(outside)[0])
            raise invalid("pair_ptr/pair_len", f"extents inside pair_users (size {users.size})",
                          f"pair {p} at {int(ptr[p])} of length {int(length[p])}")
        # every pair lists strictly increasing (so distinct) users, as from_arrays writes them: a
        # repeated user would be counted twice by the evaluators
        drops = np.concatenate(([0], np.cumsum(users[1:] <= users[:-1], dtype=np.int64)))
        several = length > 1
        first, last = np.where(several, ptr, 0), np.where(several, ptr + length - 1, 0)
        repeated = several & (drops[last] > drops[first])
        if repeated.any():
            p = int(np.flatnonzero(repeated)[0])
            raise invalid("pair_users", "strictly increasing user ids within each pair",
                          f"a repeated or unsorted user in pair {p}")
        return cls._frozen(library, cap, pop_t, ptr.copy(), length.copy(), users, None)


def _stored(arrays: dict[str, np.ndarray], name: str, ndim: int, *, integer: bool = False) -> np.ndarray:
    """Array ``name`` of a problem file: ``ndim``-d, of an integer dtype if asked (as ``save`` writes it)."""
    if name not in arrays:
        raise invalid(name, "an array in a PlacementProblem file", "a file without it")
    arr = arrays[name]
    if arr.ndim != ndim:
        raise invalid(name, f"a {ndim}-d array", f"shape {arr.shape}")
    if integer and arr.dtype.kind not in "iu":
        raise invalid(name, "an integer dtype", f"dtype {arr.dtype}")
    return arr


def _stored_demand(arrays: dict[str, np.ndarray], kind: str) -> Any:
    """The demand of a problem file: the dense [K, I] array, or the compact form it was saved in."""
    if kind == "dense":
        return _stored(arrays, "popularity_by_model", 2).T
    by_model = _stored(arrays, "demand.by_model", 2)
    group = _stored(arrays, "demand.group", 1, integer=True)
    rate = _stored(arrays, "demand.rate", 1) if "demand.rate" in arrays else None
    if kind == "ranked":
        if by_model.shape[1] != 1 or rate is None:
            raise invalid("demand.by_model", "one column and user rates for a ranked demand", f"shape {by_model.shape}")
        return RankedDemand(by_model[:, 0], rate)
    if kind != "groups":
        raise invalid("demand", "'dense', 'groups' or 'ranked'", kind)
    return UserGroups(by_model.T, group, rate)


def _capacity(capacity: Any, n_servers: int) -> np.ndarray:
    if np.ndim(capacity) == 0:  # one capacity for every server
        scalar = float_array("capacity", capacity, (), minimum=0.0)
        return float_array("capacity", np.full(n_servers, float(scalar)), minimum=0.0)
    return float_array("capacity", capacity, (n_servers,), minimum=0.0)
