"""The placement ILP of spec §6 and its LP relaxation (shared by the exact solver and the bounds).

Variables: ``x[m, i]`` (model i on server m, binary), ``y[m, j]`` (block j on server m) and
``z[k, i]`` (request (k, i) is a hit), one z per request with positive popularity that some
server can serve. Maximize ``sum p[k, i] z[k, i]`` subject to

* ``x[m, i] <= y[m, j]`` for every block j of model i (a model needs all its blocks),
* ``sum_j size_j y[m, j] <= Q_m`` (union-of-blocks storage, scaled by ``1 / Q_m``),
* ``z[k, i] <= sum_{m eligible} x[m, i]``, ``0 <= y, z <= 1``.

Only x needs integrality: with x integral, y = max x and z = min(1, sum x) are optimal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trimcore._tolerances import BOUND_SLACK
from trimcore.errors import SolverError
from trimcore.placement.problem import PlacementProblem

__all__ = ["PlacementIlp", "build_ilp", "lp_relaxation_bound", "lp_size", "BOUND_SLACK"]



def lp_size(problem: PlacementProblem) -> int:
    """Number of variables of the LP relaxation (x, y and z variables)."""
    return (problem.n_servers * (problem.n_models + problem.library.n_blocks)
            + problem.demand.n_requests())



@dataclass(frozen=True)
class PlacementIlp:
    """The ILP in SciPy's form: minimise ``cost @ v`` s.t. ``constraint``, ``0 <= v <= upper``; x first."""

    cost: np.ndarray  # minimize cost @ v
    constraint: Any  # scipy.optimize.LinearConstraint
    upper: np.ndarray
    n_x: int
    total: float

    @property
    def trivial(self) -> bool:
        """No request can be served by any server: the optimum is 0 (and HiGHS needs variables)."""
        return not (self.cost < 0).any()


def build_ilp(problem: PlacementProblem) -> PlacementIlp:
    """The ILP of spec §6 for ``problem`` (variables x, y, z; see the module doc)."""
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
    return PlacementIlp(cost, LinearConstraint(a, np.concatenate(lower), np.concatenate(upper_rows)), ub, n_x, total)


def lp_relaxation_bound(problem: PlacementProblem) -> float:
    """Optimal value of the ILP's LP relaxation: an upper bound on the optimal hit ratio."""
    from scipy.optimize import linprog

    ilp = build_ilp(problem)
    if ilp.trivial:
        return 0.0
    c = ilp.constraint
    res = linprog(ilp.cost, A_ub=c.A, b_ub=c.ub, bounds=np.column_stack([np.zeros_like(ilp.upper), ilp.upper]),
                  method="highs-ipm")
    if res.status != 0:
        raise SolverError(f"LP relaxation failed: {res.message}")
    return min(1.0, -res.fun + BOUND_SLACK)
