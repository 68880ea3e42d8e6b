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

import numpy as np

from trimcore._solver import solver_stdout_silenced
from trimcore._tolerances import IMPROVEMENT_ATOL
from trimcore.errors import SolverError, invalid
from trimcore.placement.ilp import BOUND_SLACK, build_ilp, lp_relaxation_bound
from trimcore.placement.problem import PlacementProblem
from trimcore.placement.result import PlacementResult
from trimcore.placement.scoring import make_result, placement_backend
from trimcore.result import Status

__all__ = ["optimal_placement", "lp_relaxation_bound", "brute_force_placement", "BRUTE_FORCE_LIMIT"]

#: brute_force_placement refuses instances with more (server, model) pairs than this.
BRUTE_FORCE_LIMIT = 20


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

    backend = placement_backend((), backend, None, "optimal_placement")
    started = time.perf_counter()
    ilp = build_ilp(problem)
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
    status: Status = "optimal" if res.status == 0 else "time_limit"
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
        if value > best + IMPROVEMENT_ATOL:
            best, best_x = value, x
    return best_x, best
