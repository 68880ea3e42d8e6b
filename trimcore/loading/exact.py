"""Exact reference (spec §6 B7): brute force over ordered subsets, or a MILP beyond that.

Brute force (:func:`brute_force_schedule`). The kernel ``loading_enumerate`` lists every ordered
subset of the schedulable users whose GPU-only chain meets the deadlines (condition (a) of the
decoupling theorem; an infeasible prefix is pruned since appending never changes it) with the
latest starts of all its positions. The minimum bandwidths of all of them are computed in one
vectorised call and the longest sequence with ``sum beta <= B`` (the first in depth-first order,
users ascending) is the optimum. Exponential: at most ``brute_force_limit`` users.

MILP. Single-machine selection and sequencing with sequence-dependent setups (the loading
times): binaries ``x_k`` (served) and ``y_jk`` (``j`` immediately before ``k``, ``j`` possibly
the initial state), start times ``S_k``, MTZ positions, and bandwidths ``b_k``:

* ``S_k >= S_j + t_j + L(m_j -> m_k) - M (1 - y_jk)``, ``S_k >= L(i_0 -> m_k) - M (1 - y_0k)``;
* ``S_k + t_k <= T_k`` and ``S_k >= s_k / r_k(B)`` (the upload with the whole band) if served;
* the busy time ``sum_k t_k x_k + sum_jk L(m_j -> m_k) y_jk`` is at most the latest deadline;
* ``sum_k b_k <= B`` and ``b_k >= beta_k(S_k)``: ``beta_k`` is convex and decreasing, so the
  constraint is imposed by tangent cuts (outer approximation), added at the solution's start
  times until the solution's order passes :meth:`LoadingProblem.evaluate`.

The MILP is a relaxation of P0 until then, so its optimum (or HiGHS' dual bound under a time
limit) is a certified upper bound, and an order that achieves it and is feasible is optimal.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from trimcore._solver import solver_stdout_silenced
from trimcore._tolerances import ALGO_BANDWIDTH_RTOL, CUT_SHRINK, INTEGER_BOUND_SLACK
from trimcore._validate import integer, positive_scalar
from trimcore.errors import SolverError, invalid
from trimcore.kernels import kernel
from trimcore.loading.problem import SPREADS, LoadingProblem
from trimcore.loading.result import LoadingResult, loading_backend, make_result
from trimcore.result import Status

__all__ = ["partialloading_optimal", "brute_force_schedule", "BRUTE_FORCE_MAX", "EXACT_METHODS"]

#: Largest ``brute_force_limit`` accepted (10 users can mean ~10^7 sequences).
BRUTE_FORCE_MAX = 10
#: ``method`` options of :func:`partialloading_optimal`.
EXACT_METHODS = ("auto", "brute_force", "milp")
_MAX_ROUNDS = 200
_MAX_COEF = 1e9        # HiGHS treats |coefficients| >= 1e15 as infinite; stay far below


def brute_force_schedule(problem: LoadingProblem, *, limit: int = 8, backend: str = "auto") -> tuple[np.ndarray, int]:
    """An optimal order by enumeration of ordered subsets of the schedulable users.

    Parameters
    ----------
    problem : LoadingProblem
    limit : int, default 8
        Refuse more schedulable users than this (at most :data:`BRUTE_FORCE_MAX`).
    backend : {"auto", "numba", "reference"}
        Tier of the enumeration kernel.

    Returns
    -------
    order : ndarray of int64
        A feasible order of maximum length (the first in depth-first order).
    n_sequences : int
        Number of GPU-feasible sequences enumerated.

    Raises
    ------
    InstanceError
        If there are more than ``limit`` schedulable users.
    """
    limit = integer("brute_force_limit", limit, 0, BRUTE_FORCE_MAX)
    users = np.flatnonzero(problem.schedulable)
    if users.size > limit:
        raise invalid("problem", f"at most {limit} schedulable users for brute force", f"{users.size} users")
    if users.size == 0:
        return np.zeros(0, dtype=np.int64), 0
    ptr, local, latest = kernel("loading.enumerate", backend)(
        problem.switch_matrix(backend), problem.user_model[users], problem.infer_time[users],
        problem.deadline[users], problem.deadline_limit[users], problem.start_state())
    n_seq = ptr.shape[0] - 1
    if n_seq == 0:
        return np.zeros(0, dtype=np.int64), 0
    seq_users = users[local]
    beta = problem.min_bandwidth(seq_users, latest)
    with np.errstate(invalid="ignore"):
        sums = np.add.reduceat(beta, ptr[:-1])
    lengths = np.diff(ptr)
    ok = np.isfinite(sums) & (sums <= problem.bandwidth_limit * (1.0 + ALGO_BANDWIDTH_RTOL))
    rank = np.lexsort((np.arange(n_seq), -lengths))   # longest first, then depth-first order
    for s in rank[ok[rank]].tolist():
        order = seq_users[ptr[s]:ptr[s + 1]]
        if problem.evaluate(order, backend=backend).feasible:
            return order.copy(), n_seq
    return np.zeros(0, dtype=np.int64), n_seq


def _beta_and_slope(problem: LoadingProblem, users: np.ndarray, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``beta_k(tau)`` (radio closed form) and its derivative in ``tau`` (both finite, tau > tau_min)."""
    beta = problem.min_bandwidth(users, tau)
    s = problem.input_bits[users]
    if problem.rate_model == "fixed_psd":
        return beta, -beta / tau
    alpha = problem.snr_bw[users]
    with np.errstate(divide="ignore", invalid="ignore"):
        x = alpha / beta
        dr = (np.log1p(x) - x / (1.0 + x)) / math.log(2.0)   # d/db of b log2(1 + alpha / b) at b = beta
        slope = -(s / tau ** 2) / dr
    return beta, np.where(beta > 0, slope, 0.0)


class _Milp:
    """The MILP of the module docstring over the schedulable users, with a growing set of cuts."""

    def __init__(self, problem: LoadingProblem, users: np.ndarray, backend: str) -> None:
        p = problem
        self.p, self.users = p, users
        n = users.size
        self.n = n
        mat = p.switch_matrix(backend)
        models = p.user_model[users]
        t = p.infer_time[users]
        last = p.deadline_limit[users] - t                      # latest start when served
        self.s_max = float(max(last.max(), 0.0))
        setup = mat[models[:, None], models[None, :]]           # L(m_j -> m_k)
        first = mat[p.start_state(), models]
        # a served user holds at most B, so its upload (and start) is not before s_k / r_k(B)
        tau_min = p.upload_time(users, np.full(n, p.bandwidth_hz))
        self.tau_min = tau_min
        self.last = last
        # variable layout: x | y (src->k, then j->k for j != k) | S | pos | b (normalised by B)
        pairs = [(-1, k) for k in range(n)] + [(j, k) for j in range(n) for k in range(n) if j != k]
        self.pairs = pairs
        ny = len(pairs)
        self.ix = np.arange(n)
        self.iy = n + np.arange(ny)
        self.i_s = n + ny + np.arange(n)
        self.ip = n + ny + n + np.arange(n)
        self.ib = n + ny + 2 * n + np.arange(n)
        self.n_var = n + ny + 3 * n
        # S_k lives in [0, last_k] whether served or not, so no deadline rows are needed and the
        # big-M of pair (j, k) is last_j + t_j + L_jk; successions that cannot meet k's deadline are fixed to 0
        self.upper = np.ones(self.n_var)
        self.upper[self.i_s] = last
        self.upper[self.ip] = float(n)
        rows: list[tuple[dict[int, float], float, float]] = []
        rows.append(({int(self.iy[e]): 1.0 for e in range(n)}, -np.inf, 1.0))
        into: list[dict[int, float]] = [{int(self.ix[k]): -1.0} for k in range(n)]
        out: list[dict[int, float]] = [{int(self.ix[j]): -1.0} for j in range(n)]
        busy: dict[int, float] = {int(self.ix[k]): float(t[k]) for k in range(n)}
        for e, (j, k) in enumerate(pairs):
            ye = int(self.iy[e])
            into[k][ye] = 1.0
            load = float(first[k]) if j < 0 else float(setup[j, k])
            gap = load if j < 0 else float(t[j]) + load            # S_k - S_j >= gap if y_jk = 1
            earliest = 0.0 if j < 0 else float(tau_min[j])
            if earliest + gap > last[k] or (j >= 0 and tau_min[j] > last[j]):
                self.upper[ye] = 0.0
            if load > 0:
                busy[ye] = load
            if j < 0:   # S_k >= L0 y
                rows.append(({int(self.i_s[k]): 1.0, ye: -gap}, 0.0, np.inf))
                continue
            out[j][ye] = 1.0
            big = float(last[j]) + gap
            rows.append(({int(self.i_s[k]): 1.0, int(self.i_s[j]): -1.0, ye: -big}, gap - big, np.inf))
            rows.append(({int(self.ip[k]): 1.0, int(self.ip[j]): -1.0, ye: -(n + 1.0)}, 1.0 - (n + 1.0), np.inf))
        rows += [(r, 0.0, 0.0) for r in into]
        rows += [(r, -np.inf, 0.0) for r in out]
        # busy time: inference of the served plus the loads of the chosen successions fit before the last deadline
        rows.append((busy, -np.inf, float(p.deadline_limit[users].max())))
        for k in range(n):
            sk, xk = int(self.i_s[k]), int(self.ix[k])
            rows.append(({sk: 1.0, xk: -float(tau_min[k])}, 0.0, np.inf))   # S_k >= s_k / r_k(B) if served
            rows.append(({int(self.ip[k]): 1.0, xk: -1.0}, 0.0, np.inf))
            rows.append(({int(self.ib[k]): 1.0, xk: -1.0}, -np.inf, 0.0))    # b_k <= B x_k
        rows.append(({int(i): 1.0 for i in self.ib}, -np.inf, 1.0))       # sum b <= B
        self.rows = rows
        self.cuts: list[tuple[dict[int, float], float, float]] = []
        self.cut_points: set[tuple[int, float]] = set()

    def add_cuts(self, local: np.ndarray, tau: np.ndarray) -> int:
        """Tangent cuts ``b_k >= beta_k(tau) + beta_k'(tau) (S_k - tau)`` for served ``k`` (normalised by B)."""
        keep = [(int(k), float(s)) for k, s in zip(local.tolist(), tau.tolist())
                if self.p.input_bits[self.users[k]] > 0 and s >= self.tau_min[k] and (int(k), float(s)) not in
                self.cut_points]
        if not keep:
            return 0
        ks = np.array([k for k, _ in keep], dtype=np.int64)
        ss = np.array([s for _, s in keep])
        beta, slope = _beta_and_slope(self.p, self.users[ks], ss)
        added = 0
        b_tot = self.p.bandwidth_hz
        for k, s, bv, dv in zip(ks.tolist(), ss.tolist(), beta.tolist(), slope.tolist()):
            self.cut_points.add((k, s))
            if not (np.isfinite(bv) and np.isfinite(dv)):
                continue
            c = CUT_SHRINK / b_tot
            intercept = bv - dv * s                                  # value of the tangent at S = 0
            if max(abs(c * dv), c * intercept) > _MAX_COEF:          # optional cut, numerically useless
                continue
            self.cuts.append(({int(self.ib[k]): 1.0, int(self.i_s[k]): -c * dv, int(self.ix[k]): -c * intercept},
                              0.0, np.inf))
            added += 1
        return added

    def initial_cuts(self, points: int = 4) -> None:
        for k in range(self.n):
            hi = float(self.last[k])
            lo = float(self.tau_min[k])
            if not 0.0 < lo < hi:
                continue
            taus = np.geomspace(lo, hi, points)
            self.add_cuts(np.full(points, k, dtype=np.int64), taus)

    def solve(self, time_limit: float) -> Any:
        all_rows = self.rows + self.cuts
        data, ri, ci, lo, hi = [], [], [], [], []
        for r, (coef, lb, ub) in enumerate(all_rows):
            for c, v in coef.items():
                ri.append(r)
                ci.append(c)
                data.append(v)
            lo.append(lb)
            hi.append(ub)
        from scipy import sparse
        from scipy.optimize import Bounds, LinearConstraint, milp

        a = sparse.csr_array((data, (ri, ci)), shape=(len(all_rows), self.n_var))
        cost = np.zeros(self.n_var)
        cost[self.ix] = -1.0
        integrality = np.zeros(self.n_var)
        integrality[self.ix] = 1
        integrality[self.iy] = 1
        with solver_stdout_silenced():
            return milp(cost, constraints=LinearConstraint(a, lo, hi), integrality=integrality,
                        bounds=Bounds(np.zeros(self.n_var), self.upper),
                        options={"time_limit": max(time_limit, 1e-3), "mip_rel_gap": 0.0, "disp": False})

    def order_of(self, sol: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Local indices of the served users in the solution's order, and their start times."""
        served = np.flatnonzero(sol[self.ix] > 0.5)
        starts = sol[self.i_s]
        pos = sol[self.ip]
        seq = served[np.lexsort((served, starts[served], pos[served]))]
        return seq, starts[seq]


def partialloading_optimal(
    problem: LoadingProblem,
    *,
    method: str = "auto",
    time_limit: float = 60.0,
    brute_force_limit: int = 8,
    spread: str = "proportional",
    backend: str = "auto",
) -> LoadingResult:
    """Exact optimum of P0: the most users served by their deadlines (spec §6 B7).

    Parameters
    ----------
    problem : LoadingProblem
    method : {"auto", "brute_force", "milp"}
        ``"auto"``: brute force with at most ``brute_force_limit`` schedulable users, else MILP.
    time_limit : float, default 60
        Seconds for the MILP (all outer-approximation rounds together).
    brute_force_limit : int, default 8
        At most :data:`BRUTE_FORCE_MAX`.
    spread : {"proportional", "equal", "none"}
        Leftover bandwidth rule of the returned allocation.
    backend : {"auto", "numba", "reference"}

    Returns
    -------
    LoadingResult
        ``status="optimal"`` (proved) or ``"time_limit"`` (then the best feasible order found,
        at worst the greedy's, with ``upper_bound`` from HiGHS' dual bound). ``options`` records
        the method, and for the MILP the number of rounds and cuts.

    Raises
    ------
    InstanceError
        Unknown method, or brute force asked for too many users.
    SolverError
        If HiGHS fails for a reason other than the time limit.
    """
    if not isinstance(method, str) or method not in EXACT_METHODS:
        raise invalid("method", f"one of {EXACT_METHODS}", method)
    if not isinstance(spread, str) or spread not in SPREADS:
        raise invalid("spread", f"one of {SPREADS}", spread)
    time_limit = positive_scalar("time_limit", time_limit)
    limit = integer("brute_force_limit", brute_force_limit, 0, BRUTE_FORCE_MAX)
    backend = loading_backend(backend, "partialloading_optimal", ("loading.enumerate",))
    started = time.perf_counter()
    users = np.flatnonzero(problem.schedulable)
    if method == "brute_force" or (method == "auto" and users.size <= limit):
        bf_limit = BRUTE_FORCE_MAX if method == "brute_force" else limit
        order, n_seq = brute_force_schedule(problem, limit=bf_limit, backend=backend)
        return make_result(problem, order, "partialloading_optimal",
                           {"method": "brute_force", "sequences": n_seq, "spread": spread}, started, spread=spread,
                           status="optimal", upper_bound=int(order.size), backend=backend)
    return _optimal_milp(problem, users, time_limit, spread, started, backend)


def _optimal_milp(problem: LoadingProblem, users: np.ndarray, time_limit: float, spread: str, started: float,
                  backend: str) -> LoadingResult:
    from trimcore.loading.greedy import partialloading_greedy

    best = partialloading_greedy(problem, spread=spread, backend=backend).order
    if users.size == 0:
        return make_result(problem, best, "partialloading_optimal", {"method": "milp", "rounds": 0}, started,
                           spread=spread, status="optimal", upper_bound=0, backend=backend)
    model = _Milp(problem, users, backend)
    model.initial_cuts()
    status: Status = "time_limit"
    bound, rounds, stalled = int(users.size), 0, False
    while rounds < _MAX_ROUNDS:
        remaining = time_limit - (time.perf_counter() - started)
        if remaining <= 0:
            break
        rounds += 1
        res = model.solve(remaining)
        if res.status not in (0, 1):
            raise SolverError(f"HiGHS failed on the PartialLoading MILP: {res.message}")
        dual = getattr(res, "mip_dual_bound", None)
        if dual is not None and np.isfinite(dual):
            bound = min(bound, int(math.floor(-dual + INTEGER_BOUND_SLACK)))
        if res.x is None:
            break
        local, starts = model.order_of(res.x)
        order = users[local]
        ev = problem.evaluate(order, backend=backend)
        if ev.feasible and order.size > best.size:
            best = order
        if res.status == 0:
            value = int(round(-res.fun))
            bound = min(bound, value)
            if ev.feasible and order.size == value:
                status = "optimal"
                break
        if best.size >= bound:
            status = "optimal"
            break
        added = model.add_cuts(local, starts) + model.add_cuts(local, ev.latest_start)
        if res.status == 1 or added == 0:
            stalled = added == 0 and res.status == 0
            break
    options = {"method": "milp", "rounds": rounds, "cuts": len(model.cuts), "time_limit": time_limit,
               "stalled": stalled, "spread": spread}
    return make_result(problem, best, "partialloading_optimal", options, started, spread=spread, status=status,
                       upper_bound=max(bound, int(best.size)), backend=backend)

