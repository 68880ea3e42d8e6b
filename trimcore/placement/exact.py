"""Exact placement: the ILP of spec §6 with HiGHS (``scipy.optimize.milp``) and brute force.

Variables: ``x[m, i]`` (model i on server m, binary), ``y[m, j]`` (block j on server m) and
``z[k, i]`` (request (k, i) is a hit), one z per request with positive popularity that some
server can serve. Maximize ``sum p[k, i] z[k, i]`` subject to

* ``x[m, i] <= y[m, j]`` for every block j of model i (a model needs all its blocks),
* ``sum_j size_j y[m, j] <= Q_m`` (union-of-blocks storage, scaled by ``1 / Q_m``),
* ``z[k, i] <= sum_{m eligible} x[m, i]``, ``0 <= y, z <= 1``.

Only x needs integrality: with x integral, y = max x and z = min(1, sum x) are optimal.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from trimcore._solver import solver_stdout_silenced
from trimcore.errors import SolverError, invalid
from trimcore.placement.bounds import BOUND_SLACK
from trimcore.placement.problem import PlacementProblem
from trimcore.placement.result import PlacementResult, make_result

__all__ = ["optimal_placement", "lp_relaxation_bound", "brute_force_placement", "BRUTE_FORCE_LIMIT"]

#: brute_force_placement refuses instances with more (server, model) pairs than this.
BRUTE_FORCE_LIMIT = 20


@dataclass(frozen=True)
class _Ilp:
    cost: np.ndarray  # minimize cost @ v
    constraint: Any  # scipy.optimize.LinearConstraint
    upper: np.ndarray
    n_x: int
    total: float

    @property
    def trivial(self) -> bool:
        """No request can be served by any server: the optimum is 0 (and HiGHS needs variables)."""
        return not (self.cost < 0).any()


def _build_ilp(problem: PlacementProblem) -> _Ilp:
    from scipy import sparse
    from scipy.optimize import LinearConstraint

    lib = problem.library
    n_s, n_i, n_j = problem.n_servers, problem.n_models, lib.n_blocks
    n_x, n_y = n_s * n_i, n_s * n_j
    pop = problem.popularity_by_model  # (I, K)
    # requests that count: positive popularity and at least one eligible server
    servable = np.zeros(pop.shape, dtype=bool)
    for m in range(n_s):
        for i in range(n_i):
            servable[i, problem.users_of(m, i)] = True
    req_i, req_k = np.nonzero(servable & (pop > 0))
    n_z = req_i.size
    z_of = np.full(pop.shape, -1, dtype=np.int64)
    z_of[req_i, req_k] = np.arange(n_z)
    total = problem.total_popularity

    rows, cols, vals = [], [], []
    lower, upper_rows = [], []
    r = 0
    # x[m,i] - y[m,j] <= 0
    model_of = np.repeat(np.arange(n_i), np.diff(lib.indptr))
    for m in range(n_s):
        idx = np.arange(lib.indices.size)
        rows += [r + idx, r + idx]
        cols += [m * n_i + model_of, n_x + m * n_j + lib.indices]
        vals += [np.ones(idx.size), -np.ones(idx.size)]
        r += idx.size
    lower.append(np.full(r, -np.inf))
    upper_rows.append(np.zeros(r))
    # capacity rows, scaled by 1 / Q_m (servers with Q_m = 0 get zero upper bounds instead)
    ub = np.ones(n_x + n_y + n_z)
    for m in range(n_s):
        q = problem.capacity[m]
        if q <= 0.0:
            ub[m * n_i:(m + 1) * n_i] = 0.0
            ub[n_x + m * n_j:n_x + (m + 1) * n_j] = 0.0
            continue
        rows.append(np.full(n_j, r))
        cols.append(n_x + m * n_j + np.arange(n_j))
        vals.append(lib.block_sizes / q)
        lower.append(np.array([-np.inf]))
        upper_rows.append(np.array([1.0]))
        r += 1
    # z[k,i] - sum_m x[m,i] <= 0
    z_rows = r + np.arange(n_z)
    rows.append(z_rows)
    cols.append(n_x + n_y + np.arange(n_z))
    vals.append(np.ones(n_z))
    for m in range(n_s):
        for i in range(n_i):
            users = problem.users_of(m, i)
            zs = z_of[i, users]
            zs = zs[zs >= 0]
            rows.append(r + zs)
            cols.append(np.full(zs.size, m * n_i + i))
            vals.append(-np.ones(zs.size))
    lower.append(np.full(n_z, -np.inf))
    upper_rows.append(np.zeros(n_z))
    r += n_z
    a = sparse.csr_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(r, n_x + n_y + n_z))
    cost = np.zeros(n_x + n_y + n_z)
    cost[n_x + n_y:] = -pop[req_i, req_k] / total
    return _Ilp(cost, LinearConstraint(a, np.concatenate(lower), np.concatenate(upper_rows)), ub, n_x, total)


def lp_relaxation_bound(problem: PlacementProblem) -> float:
    """Optimal value of the ILP's LP relaxation: an upper bound on the optimal hit ratio."""
    from scipy.optimize import linprog

    ilp = _build_ilp(problem)
    if ilp.trivial:
        return 0.0
    c = ilp.constraint
    res = linprog(ilp.cost, A_ub=c.A, b_ub=c.ub, bounds=np.column_stack([np.zeros_like(ilp.upper), ilp.upper]),
                  method="highs-ipm")
    if res.status != 0:
        raise SolverError(f"LP relaxation failed: {res.message}")
    return min(1.0, -res.fun + BOUND_SLACK)


def optimal_placement(problem: PlacementProblem, time_limit: float = 60.0, *, mip_rel_gap: float = 0.0,
                      backend: str = "auto") -> PlacementResult:
    """Exact placement by the ILP of spec §6 solved with HiGHS.

    Parameters
    ----------
    problem : PlacementProblem
    time_limit : float
        Seconds before HiGHS stops; the result then has ``status="time_limit"``, the best
        placement found and the solver's dual bound as ``upper_bound``.
    mip_rel_gap : float
        Relative gap at which HiGHS may stop (0 proves optimality).

    Returns
    -------
    PlacementResult
        ``status`` is ``"optimal"`` or ``"time_limit"``; ``upper_bound`` is the solver's dual
        bound (plus a 1e-7 tolerance), never below the optimum.
    """
    if not (np.isfinite(time_limit) and time_limit > 0):
        raise invalid("time_limit", "a finite number of seconds > 0", time_limit)
    from scipy.optimize import Bounds, milp

    started = time.perf_counter()
    ilp = _build_ilp(problem)
    options = {"time_limit": time_limit, "mip_rel_gap": mip_rel_gap}
    if ilp.trivial:
        empty = np.zeros((problem.n_servers, problem.n_models), dtype=bool)
        return make_result(problem, empty, "optimal_placement", options, started, bound=None, status="optimal",
                           upper_bound=0.0, bound_method="milp", backend=backend)
    integrality = np.zeros(ilp.cost.size)
    integrality[:ilp.n_x] = 1
    with solver_stdout_silenced():
        res = milp(ilp.cost, constraints=ilp.constraint, integrality=integrality, bounds=Bounds(0.0, ilp.upper),
                   options={"time_limit": float(time_limit), "mip_rel_gap": float(mip_rel_gap)})
    if res.x is None:
        if res.status == 1:  # time limit before any incumbent: nothing placed is still feasible
            x = np.zeros((problem.n_servers, problem.n_models), dtype=bool)
        else:
            raise SolverError(f"HiGHS failed on the placement ILP: {res.message}")
    else:
        x = (res.x[:ilp.n_x] > 0.5).reshape(problem.n_servers, problem.n_models)
    status = "optimal" if res.status == 0 else "time_limit"
    dual = getattr(res, "mip_dual_bound", None)
    if dual is None or not np.isfinite(dual):
        dual = res.fun if res.status == 0 else -1.0
    bound = min(1.0, -float(dual) + BOUND_SLACK)
    return make_result(problem, x, "optimal_placement", options, started, bound=None, status=status,
                       upper_bound=bound, bound_method="milp",
                       backend=backend)


def brute_force_placement(problem: PlacementProblem) -> tuple[np.ndarray, float]:
    """Best feasible placement by enumerating all ``2^(M I)`` placements (tiny instances only).

    Returns the placement (first best in enumeration order) and its hit ratio.
    """
    n_pairs = problem.n_servers * problem.n_models
    if n_pairs > BRUTE_FORCE_LIMIT:
        raise invalid("problem", f"at most {BRUTE_FORCE_LIMIT} (server, model) pairs for brute force", n_pairs)
    best_x = np.zeros((problem.n_servers, problem.n_models), dtype=bool)
    best = problem.hit_ratio(best_x)
    for bits in itertools.product((False, True), repeat=n_pairs):
        x = np.array(bits).reshape(problem.n_servers, problem.n_models)
        if not problem.is_feasible(x):
            continue
        value = problem.hit_ratio(x)
        if value > best + 1e-12:
            best, best_x = value, x
    return best_x, best
