"""Turn an algorithm's placement into a :class:`PlacementResult`: score it, then bound it.

Every placement algorithm ends here, so every result is scored by the problem's own evaluator on
the tier the algorithm ran on, and the bound's cost is timed apart from the algorithm's.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from trimcore.errors import invalid
from trimcore.kernels import choose_backend
from trimcore.placement.bounds import BOUND_KERNELS, BOUND_METHODS, certified_upper_bound
from trimcore.placement.problem import PlacementProblem
from trimcore.placement.result import PlacementResult
from trimcore.result import Status

__all__ = ["make_result", "placement_backend", "DEFAULT_BOUND", "SCORING_KERNELS", "BOUND_KERNELS"]

#: The bound every algorithm attaches unless asked otherwise: the cheap certified one
#: (submodularity + fractional knapsack, milliseconds). ``bound="lp"`` or ``"auto"`` ask for the LP.
DEFAULT_BOUND = "submodular"
#: Kernels every result is scored with, and those the certified bound adds.
SCORING_KERNELS = ("placement.hit_weight", "placement.storage_used")


def placement_backend(kernels: tuple[str, ...], backend: str, bound: str | None, algorithm: str) -> str:
    """The one tier that runs an algorithm's ``kernels``, its scoring and its bound (never "auto").

    Also checks ``bound`` before any work is done.

    Raises
    ------
    InstanceError
        ``bound`` is not one of :data:`~trimcore.placement.bounds.BOUND_METHODS` or None, or an
        explicit ``backend`` lacks one of the kernels (the message names the tiers they have).
    """
    if bound is not None and (not isinstance(bound, str) or bound not in BOUND_METHODS):
        raise invalid("bound", f"one of {BOUND_METHODS} or None", bound)
    needed = (*kernels, *SCORING_KERNELS, *(BOUND_KERNELS if bound is not None else ()))
    return choose_backend(needed, backend, algorithm=algorithm)


def make_result(problem: PlacementProblem, placement: np.ndarray, algorithm: str, options: dict[str, Any],
                started: float, *, backend: str, bound: str | None = DEFAULT_BOUND, status: Status = "feasible",
                upper_bound: float | None = None, bound_method: str | None = None) -> PlacementResult:
    """Score ``placement`` with the problem's evaluator and attach a certified bound.

    Parameters
    ----------
    started : float
        ``time.perf_counter()`` at the algorithm's start: ``runtime_s`` is the algorithm alone.
    backend : str
        The tier the algorithm resolved (never ``"auto"``); recorded as ``options["backend"]``.
    bound : {"submodular", "lp", "auto"} or None
        See :func:`trimcore.placement.bounds.certified_upper_bound`; its time is ``bound_runtime_s``.
    status : Status
        What the algorithm proved; an infeasible placement is reported as ``"infeasible"``.
    upper_bound, bound_method
        A bound the algorithm already has (a solver's dual bound), kept when tighter.
    """
    runtime = time.perf_counter() - started
    x = problem.check_placement(placement)
    hit = problem.hit_ratio(x, backend=backend)
    bound_started = time.perf_counter()
    if bound is not None:
        value, method = certified_upper_bound(problem, x, method=bound, backend=backend)
        if upper_bound is None or value < upper_bound:
            upper_bound, bound_method = value, method
    bound_runtime = time.perf_counter() - bound_started if bound is not None else 0.0
    if upper_bound is not None:
        upper_bound = max(upper_bound, hit)  # a solver's bound can sit a hair below its own value
    used = problem.storage_used(x, backend=backend)
    feasible = problem.storage_fits(used)  # the storage once, not again inside is_feasible
    return PlacementResult(placement=x, storage_used=used, objective=hit,
                           feasible=feasible, status=status if feasible else "infeasible", runtime_s=runtime,
                           algorithm=algorithm, options={**options, "backend": backend}, upper_bound=upper_bound,
                           bound_method=bound_method, bound_runtime_s=bound_runtime)
