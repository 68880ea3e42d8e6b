"""TrimCaching Gen by regions: partition the servers, solve the regions apart, merge, repair.

Beyond one machine (issue #15, ``docs/scale.md``): the servers are split into regions, each
region's sub-problem (its servers and the users they reach, sliced from the pair CSR without
densifying) is solved by :func:`~trimcore.placement.greedy.trimcaching_gen` as a
dask.distributed task (or in process, one after the other, with the same result), and the
region placements are merged. Every server is in exactly one region, so the merged placement is
feasible. Users reached from several regions were counted by each region's greedy; the repair
pass re-places the servers that reach them against what all the other servers already serve and
keeps a change only when it raises the hit ratio. The result carries the certified bound of the
merged placement over the whole problem, as every placement result does.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from trimcore._tolerances import IMPROVEMENT_ATOL
from trimcore._validate import float_array, index_array, integer
from trimcore.errors import invalid
from trimcore.placement.greedy import RULES, greedy_placement, trimcaching_gen
from trimcore.placement.problem import PlacementProblem
from trimcore.placement.result import PlacementResult
from trimcore.placement.scoring import DEFAULT_BOUND, make_result, placement_backend

__all__ = ["trimcaching_gen_regions", "partition_servers", "region_problem", "PARTITIONS", "DENSE_SPECTRAL_LIMIT"]

#: What ``by=`` accepts: ``"auto"`` is ``"position"`` when positions are given, else ``"users"``.
PARTITIONS = ("auto", "position", "users")
#: Spectral bisection takes the Fiedler vector from a dense eigensolver up to this many servers
#: (exact and cheap there), above it from ARPACK in shift-invert mode on the sparse Laplacian (a
#: dense LAPACK call on a few hundred servers took seconds on a busy machine: BLAS threads).
DENSE_SPECTRAL_LIMIT = 32


# ---------------------------------------------------------------------------------- slicing
def _server_entries(problem: PlacementProblem) -> tuple[np.ndarray, np.ndarray]:
    """Per server, the positions of ``pair_users`` its pairs read: (int64[M + 1] ptr, int64 positions).

    The union of the server's pair extents, sorted: in the compact form the pairs of a server are
    prefixes of one list (the longest one), in the dense form one contiguous block; a file may
    hold any extents, so they are merged in general (never expanded pair by pair, which would
    cost the sum of all pair lengths).
    """
    n_models, size = problem.n_models, problem.pair_users.size
    server = np.repeat(np.arange(problem.n_servers, dtype=np.int64), n_models)
    live = problem.pair_len > 0
    server, start = server[live], problem.pair_ptr[live]
    end = start + problem.pair_len[live]
    # sort the extents by (server, start) and merge overlapping ones within each server: with the
    # server as the high part of one key, a running maximum of the ends never crosses servers
    span = size + 1
    order = np.lexsort((start, server))
    server, start, end = server[order], start[order], end[order]
    key_start, key_end = server * span + start, server * span + end
    reach = np.maximum.accumulate(key_end)
    new = np.ones(key_start.size, dtype=bool)
    new[1:] = key_start[1:] > reach[:-1]
    group = np.cumsum(new) - 1
    lo = start[new]
    hi = np.zeros(lo.size, dtype=np.int64)
    np.maximum.at(hi, group, end)
    owner = server[new]
    lengths = hi - lo
    positions = np.repeat(lo - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths) + np.arange(lengths.sum())
    counts = np.bincount(owner, weights=lengths, minlength=problem.n_servers).astype(np.int64)
    ptr = np.zeros(problem.n_servers + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    return ptr, positions.astype(np.int64)


def _region_parts(problem: PlacementProblem, servers: np.ndarray, entries: tuple[np.ndarray, np.ndarray]
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The region's users (sorted global ids) and its pair CSR in local user ids."""
    ptr, positions = entries
    parts = [positions[ptr[m]:ptr[m + 1]] for m in servers.tolist()]
    read = np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
    raw = problem.pair_users[read]
    users = np.unique(raw)
    # users keep their relative order (the map is increasing), so every pair's list keeps its order
    local_users = np.searchsorted(users, raw).astype(np.int32)
    n_models = problem.n_models
    pairs = (servers[:, None] * n_models + np.arange(n_models)).reshape(-1)
    pair_len = problem.pair_len[pairs].copy()
    # a pair reads a contiguous run of kept positions, so its new start is where its old one went
    pair_ptr = np.where(pair_len > 0, np.searchsorted(read, problem.pair_ptr[pairs]), 0).astype(np.int64)
    return users, pair_ptr, pair_len, local_users


def region_problem(problem: PlacementProblem, servers: Sequence[int] | np.ndarray,
                   popularity_by_model: np.ndarray | None = None) -> tuple[PlacementProblem, np.ndarray]:
    """The sub-problem of ``servers`` and the users they reach, and those users' global ids.

    Built by slicing the pair CSR (never densified): the sub-problem's pairs list the same users,
    in the same order, renumbered ``0..K_r-1`` in increasing global id; compact problems stay
    compact (``max_size`` restricted to the region, from which
    :meth:`PlacementProblem.from_library` would rebuild the same pair lists).

    Parameters
    ----------
    servers : array_like of int
        Distinct server ids, in the order the sub-problem numbers them.
    popularity_by_model : ndarray of float64, shape (I, K_r), optional
        Demand of the region's users to use instead of the problem's (the repair passes the
        demand no other server serves yet).

    Returns
    -------
    (PlacementProblem, ndarray of int64)
        The sub-problem (its total popularity may be 0 when its users request nothing) and the
        global ids of its users.
    """
    ids = index_array("servers", servers, problem.n_servers, shape=(None,))
    if np.unique(ids).size != ids.size:
        raise invalid("servers", "distinct server ids", "a repeated id")
    return _region_problem(problem, ids, _server_entries(problem), popularity_by_model)


def _region_problem(problem: PlacementProblem, servers: np.ndarray, entries: tuple[np.ndarray, np.ndarray],
                    popularity_by_model: np.ndarray | None = None) -> tuple[PlacementProblem, np.ndarray]:
    parts = _region_parts(problem, servers, entries)
    return _sub_from_parts(problem, servers, parts, popularity_by_model), parts[0]


def _sub_from_parts(problem: PlacementProblem, servers: np.ndarray,
                    parts: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
                    popularity_by_model: np.ndarray | None) -> PlacementProblem:
    users, pair_ptr, pair_len, local_users = parts
    pop: Any
    if popularity_by_model is None:  # the region's users' demand, in the problem's form (compact stays compact)
        pop = problem.demand.take_users(users)
    else:
        pop = np.ascontiguousarray(popularity_by_model, dtype=np.float64)
        if pop.shape != (problem.n_models, users.size):
            raise invalid("popularity_by_model", f"shape ({problem.n_models}, {users.size})", f"shape {pop.shape}")
        pop.setflags(write=False)
    capacity = problem.capacity[servers].copy()
    capacity.setflags(write=False)
    smax = None if problem.max_size is None else np.ascontiguousarray(problem.max_size[servers][:, users])
    return PlacementProblem._frozen(problem.library, capacity, pop, pair_ptr, pair_len, local_users, smax)


# ---------------------------------------------------------------------------------- partitions
def _positions(problem: PlacementProblem, positions: Any) -> np.ndarray:
    xy = getattr(positions, "server_xy", positions)  # a Topology or the coordinates themselves
    return float_array("positions", xy, (problem.n_servers, 2))


def _bisect(ids: np.ndarray, n_regions: int, order_of: Any) -> list[np.ndarray]:
    """Recursive bisection: split ``ids`` (in ``order_of``'s order) in proportion to the regions each side gets."""
    if n_regions == 1:
        return [np.sort(ids)]
    left = n_regions // 2
    n_left = int(round(ids.size * left / n_regions))
    n_left = min(max(n_left, left), ids.size - (n_regions - left))  # every region keeps a server
    ordered = order_of(ids)
    return _bisect(ordered[:n_left], left, order_of) + _bisect(ordered[n_left:], n_regions - left, order_of)


def _by_position(xy: np.ndarray) -> Any:
    def order_of(ids: np.ndarray) -> np.ndarray:
        pts = xy[ids]
        axis = int(np.argmax(np.ptp(pts, axis=0)))  # cut across the longer side: compact regions
        return ids[np.lexsort((ids, pts[:, axis]))]
    return order_of


def _shared_users(problem: PlacementProblem, entries: tuple[np.ndarray, np.ndarray]) -> Any:
    """Sparse M x M matrix: how many users two servers both reach (diagonal dropped)."""
    from scipy import sparse

    ptr, positions = entries
    rows = np.repeat(np.arange(problem.n_servers), np.diff(ptr))
    reach = sparse.csr_matrix((np.ones(rows.size), (rows, problem.pair_users[positions])),
                              shape=(problem.n_servers, problem.n_users))
    reach.data[:] = 1.0  # duplicates (a user listed by several pairs of a server) count once
    shared = (reach @ reach.T).tocsr()
    shared.setdiag(0.0)
    shared.eliminate_zeros()
    return shared


def _fiedler(weights: Any) -> np.ndarray:
    """Fiedler vector of the graph Laplacian (deterministic: fixed start vector, fixed sign)."""
    from scipy import sparse
    from scipy.sparse.csgraph import laplacian
    from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, eigsh

    lap = laplacian(weights.astype(np.float64))
    n = lap.shape[0]
    vector = None
    if n > DENSE_SPECTRAL_LIMIT:
        # shift-invert just below 0 (L is positive semi-definite, so L - sigma I is definite)
        scale = max(float(abs(lap).sum(axis=1).max()), 1.0)
        v0 = np.linspace(1.0, 2.0, n)
        try:
            values, vectors = eigsh(sparse.csc_matrix(lap), k=2, sigma=-1e-6 * scale, which="LM", v0=v0)
            vector = vectors[:, int(np.argsort(values)[1])]
        except (ArpackError, ArpackNoConvergence, RuntimeError):
            vector = None  # rare: fall back to the dense solver below
    if vector is None:
        _, vectors = np.linalg.eigh(lap.toarray())
        vector = vectors[:, 1]
    big = int(np.argmax(np.abs(vector)))
    return vector if vector[big] >= 0 else -vector


def _by_users(shared: Any) -> Any:
    from scipy.sparse.csgraph import connected_components

    def order_of(ids: np.ndarray) -> np.ndarray:
        sub = shared[ids][:, ids]
        n_parts, part = connected_components(sub, directed=False)
        if n_parts > 1:
            # no edge to cut between components: keep them whole (labelled in order of their
            # lowest server), at most one component is cut, by server id
            return ids[np.lexsort((ids, part))]
        return ids[np.lexsort((ids, _fiedler(sub)))]
    return order_of


def partition_servers(problem: PlacementProblem, n_regions: int, *, by: str = "auto",
                      positions: Any = None) -> np.ndarray:
    """Deterministic partition of the servers into ``n_regions`` non-empty regions, int64[M] labels.

    Parameters
    ----------
    n_regions : int
        1 <= n_regions <= M.
    by : {"auto", "position", "users"}
        ``"position"``: recursive coordinate bisection of ``positions`` (each cut across the
        longer side of the region's bounding box, at the server that splits the region's count
        in proportion to the regions on each side): compact regions, short boundaries.
        ``"users"``: recursive spectral bisection of the graph whose edge weights count the users
        two servers both reach (the Fiedler vector of its Laplacian, split at the same rank;
        a disconnected region is split between its components first). ``"auto"``: ``"position"``
        when ``positions`` is given, else ``"users"``.
    positions : ndarray of float, shape (M, 2), or Topology, optional
        Server coordinates (a :class:`~trimcore.instance.topology.Topology` gives its
        ``server_xy``); the problem itself carries none.

    Returns
    -------
    ndarray of int64, shape (M,)
        Region of every server; regions are numbered in bisection order and sizes differ by at most
        the rounding of the proportional cuts.
    """
    if not isinstance(problem, PlacementProblem):
        raise invalid("problem", "a PlacementProblem", type(problem).__name__)
    count = integer("regions", n_regions, 1, problem.n_servers)
    how = _method(by, positions)
    ids = np.arange(problem.n_servers, dtype=np.int64)
    if how == "position":
        order_of = _by_position(_positions(problem, positions))
    else:
        order_of = _by_users(_shared_users(problem, _server_entries(problem)))
    labels = np.empty(problem.n_servers, dtype=np.int64)
    for r, part in enumerate(_bisect(ids, count, order_of)):
        labels[part] = r
    return labels


def _method(by: Any, positions: Any) -> str:
    if not isinstance(by, str) or by not in PARTITIONS:
        raise invalid("by", f"one of {PARTITIONS}", by)
    if by == "auto":
        return "position" if positions is not None else "users"
    if by == "position" and positions is None:
        raise invalid("positions", "server coordinates (M, 2) or a Topology for by='position'", None)
    return by


def _labels(problem: PlacementProblem, regions: Any, by: Any, positions: Any) -> tuple[np.ndarray, str]:
    if not isinstance(by, str) or by not in PARTITIONS:
        raise invalid("by", f"one of {PARTITIONS}", by)
    if np.ndim(regions) == 0:
        return partition_servers(problem, regions, by=by, positions=positions), _method(by, positions)
    labels = index_array("regions", regions, problem.n_servers, shape=(problem.n_servers,))
    return labels, "labels"


# ---------------------------------------------------------------------------------- tasks
def solve_region(sub: PlacementProblem, rule: str, lazy: bool, backend: str
                 ) -> tuple[np.ndarray, float, float, str]:
    """One region's task: Gen on its sub-problem (no bound: the merged placement is bounded).

    Returns the placement bool[M_r, I], the seconds it took (wall clock and CPU time of the
    process running it: on a loaded machine the CPU time is the work) and the winning greedy rule.
    A region whose users request nothing gets the empty placement (every pair would gain 0).
    """
    started, cpu = time.perf_counter(), time.process_time()
    if not sub.total_popularity > 0.0:
        x, chosen = np.zeros((sub.n_servers, sub.n_models), dtype=bool), "none"
    else:
        res = trimcaching_gen(sub, rule, lazy=lazy, bound=None, backend=backend)
        x, chosen = res.placement, str(res.options["chosen_rule"])
    return x, time.perf_counter() - started, time.process_time() - cpu, chosen


def _check_client(client: Any) -> None:
    if client is not None and not all(callable(getattr(client, a, None)) for a in ("scatter", "map", "gather")):
        raise invalid("client", "a dask.distributed Client (scatter, map, gather) or None", type(client).__name__)


def _run(subs: list[PlacementProblem], client: Any, rule: str, lazy: bool, backend: str
         ) -> list[tuple[np.ndarray, float, float, str]]:
    if client is None:
        return [solve_region(s, rule, lazy, backend) for s in subs]
    # scatter ships each sub-problem once (pickled without its per-tier views); hash=False: no
    # tokenizing of large arrays, and pure=False: every call is its own task
    shipped = client.scatter(subs, hash=False)
    futures = client.map(solve_region, shipped, rule=rule, lazy=lazy, backend=backend, pure=False)
    return list(client.gather(futures))


# ---------------------------------------------------------------------------------- repair
def _coverage_counts(problem: PlacementProblem, x: np.ndarray) -> np.ndarray:
    """int32[K, I]: how many servers holding model i reach user k (by user: a server's users are rows)."""
    counts = np.zeros((problem.n_users, problem.n_models), dtype=np.int32)
    for m, i in zip(*np.nonzero(x)):
        counts[problem.users_of(int(m), int(i)), i] += 1
    return counts


def _repair(problem: PlacementProblem, x: np.ndarray, servers: np.ndarray, entries: tuple[np.ndarray, np.ndarray],
            rule: str, lazy: bool, backend: str) -> int:
    """Re-place each of ``servers`` (in order) against the demand nobody else serves; in place.

    Server m's residual problem is m alone with the demand of its users that no other server
    holding the model reaches. The hit weight is what the others serve plus what m adds there, so
    a row that adds more raises the hit weight. Candidates: the greedy of each rule of ``rule``
    on that residual problem, from empty (the region's greedy saw only its own region; a start
    from m's row was tried and almost never won); one is taken only when strictly better than m's
    row. Returns the number of servers changed.
    """
    counts = _coverage_counts(problem, x)
    runs = ("ratio", "gain") if rule == "best_of_both" else (rule,)
    slack = IMPROVEMENT_ATOL * problem.total_popularity  # weights scale with the popularity
    changed = 0
    for m in servers.tolist():
        one = np.array([m], dtype=np.int64)
        users, pair_ptr, pair_len, local = _region_parts(problem, one, entries)
        if users.size == 0:
            continue
        own = np.zeros((users.size, problem.n_models), dtype=np.int32)
        for i in np.flatnonzero(x[m]).tolist():
            own[local[pair_ptr[i]:pair_ptr[i] + pair_len[i]], i] = 1
        free = counts[users] == own  # nobody but m serves these requests (own is 0 or 1)
        # the server's users' rows only (|users| x I), never the K x I matrix of a compact demand
        residual = np.where(free, problem.demand.rows(users), 0.0).T
        if not residual.sum() > 0.0:
            continue  # every request m could serve is already served by another server
        sub = _sub_from_parts(problem, one, (users, pair_ptr, pair_len, local), residual)
        row = x[m:m + 1]
        best_row, best = row, sub.hit_weight(row, backend=backend)
        for r in runs:
            cand = greedy_placement(sub, r, lazy=lazy, backend=backend)
            value = sub.hit_weight(cand, backend=backend)
            if value - best > slack:
                best_row, best = cand, value
        if best_row is row:
            continue
        new = best_row[0]
        for i in np.flatnonzero(x[m] & ~new).tolist():
            counts[problem.users_of(m, i), i] -= 1
        for i in np.flatnonzero(new & ~x[m]).tolist():
            counts[problem.users_of(m, i), i] += 1
        x[m] = new
        changed += 1
    return changed


# ---------------------------------------------------------------------------------- algorithm
def trimcaching_gen_regions(problem: PlacementProblem, regions: int | Sequence[int] | np.ndarray = 2, *,
                            by: str = "auto", positions: Any = None, client: Any = None,
                            rule: str = "best_of_both", lazy: bool = True, bound: str | None = DEFAULT_BOUND,
                            repair: bool = True, backend: str = "auto") -> PlacementResult:
    """TrimCaching Gen region by region, as dask.distributed tasks, merged and repaired.

    Parameters
    ----------
    problem : PlacementProblem
    regions : int or array_like of int, shape (M,)
        A number of regions (1 <= regions <= M; see :func:`partition_servers` and ``by``) or
        explicit labels in ``[0, M)``, one per server (the distinct labels are the regions).
    by : {"auto", "position", "users"}
        How a number of regions is partitioned: ``"position"`` needs ``positions``; ``"auto"``
        takes it when ``positions`` is given, else ``"users"``. Ignored with explicit labels.
    positions : ndarray of float, shape (M, 2), or Topology, optional
        Server coordinates for ``by="position"``.
    client : dask.distributed.Client or None
        None: the regions are solved in this process, one after the other. A client: each region
        is one task (``client.scatter`` ships the sub-problems, ``client.map`` runs them); the
        workers need trimcore (same version, same tiers). Same placement either way.
    rule, lazy
        As for :func:`~trimcore.placement.greedy.trimcaching_gen`, in every region and in the repair.
    bound : {"submodular", "lp", "auto"} or None
        Certified upper bound on the optimum of the whole problem, around the merged placement.
    repair : bool
        Re-place the servers that reach users of several regions (see module doc); never lowers
        the hit ratio.
    backend : {"auto", "cpp", "reference"}
        Kernel tier, resolved here once and used by every task.

    Returns
    -------
    PlacementResult
        ``options``: ``regions`` (count), ``partition`` (``"position"``, ``"users"`` or
        ``"labels"``), ``region_servers``, ``region_users``, ``region_runtime_s`` and ``region_cpu_s``
        (each task's solve time, wall clock and CPU), ``solve_wall_s`` (shipping, tasks and
        gathering, wall clock), ``region_rules``,
        ``boundary_users``, ``boundary_servers``, ``merged_hit_ratio``, ``repaired_servers``,
        ``repair_gain`` (hit ratio after minus before the repair, >= 0), ``repair_runtime_s``,
        ``repair_cpu_s``, ``distributed``. ``runtime_s`` is the whole
        algorithm (partition, slicing, tasks, merge, repair).
    """
    if not isinstance(problem, PlacementProblem):
        raise invalid("problem", "a PlacementProblem", type(problem).__name__)
    if not isinstance(rule, str) or rule not in RULES:
        raise invalid("rule", f"one of {RULES}", rule)
    if not isinstance(repair, bool | np.bool_):
        raise invalid("repair", "True or False", repair)
    _check_client(client)
    backend = placement_backend(("placement.greedy_placement",), backend, bound, "trimcaching_gen_regions")
    started = time.perf_counter()
    labels, partition = _labels(problem, regions, by, positions)
    names, labels = np.unique(labels, return_inverse=True)
    members = [np.flatnonzero(labels == r) for r in range(names.size)]
    entries = _server_entries(problem)
    subs, region_users = [], []
    for servers in members:
        sub, users = _region_problem(problem, servers, entries)
        subs.append(sub)
        region_users.append(users)
    solve_started = time.perf_counter()
    solved = _run(subs, client, rule, bool(lazy), backend)
    solve_wall = time.perf_counter() - solve_started
    x = np.zeros((problem.n_servers, problem.n_models), dtype=bool)
    for servers, (part, *_) in zip(members, solved, strict=True):
        x[servers] = part
    # boundary: users reached from several regions, and the servers reaching them
    reached_by = np.bincount(np.concatenate(region_users), minlength=problem.n_users) if region_users else \
        np.zeros(problem.n_users, dtype=np.int64)
    boundary = reached_by > 1
    ptr, read = entries
    seen = np.concatenate(([0], np.cumsum(boundary[problem.pair_users[read]], dtype=np.int64)))
    boundary_servers = np.flatnonzero(seen[ptr[1:]] > seen[ptr[:-1]])
    merged_weight = final_weight = problem.hit_weight(x, backend=backend)
    repaired, repair_started, repair_cpu = 0, time.perf_counter(), time.process_time()
    if repair and boundary_servers.size:
        fixed = x.copy()
        repaired = _repair(problem, fixed, boundary_servers, entries, rule, bool(lazy), backend)
        # each accepted step raises the hit weight; the full re-evaluation guards against rounding
        weight = problem.hit_weight(fixed, backend=backend) if repaired else merged_weight
        if weight > merged_weight:
            x, final_weight = fixed, weight
        else:
            repaired = 0
    repair_runtime, repair_cpu = time.perf_counter() - repair_started, time.process_time() - repair_cpu
    merged_hit = merged_weight / problem.total_popularity
    options: dict[str, Any] = {
        "rule": rule, "lazy": bool(lazy), "regions": int(names.size), "partition": partition,
        "region_servers": [int(s.size) for s in members], "region_users": [int(u.size) for u in region_users],
        "region_runtime_s": [float(t) for _, t, _, _ in solved], "region_cpu_s": [float(c) for _, _, c, _ in solved],
        "solve_wall_s": float(solve_wall), "region_rules": [r for *_, r in solved],
        "boundary_users": int(boundary.sum()), "boundary_servers": int(boundary_servers.size),
        "repair": bool(repair), "merged_hit_ratio": float(merged_hit), "repaired_servers": int(repaired),
        "repair_gain": float(final_weight / problem.total_popularity - merged_hit),
        "repair_runtime_s": float(repair_runtime), "repair_cpu_s": float(repair_cpu),
        "distributed": client is not None,
    }
    return make_result(problem, x, "trimcaching_gen_regions", options, started, bound=bound, backend=backend)
