"""TrimCaching Gen: greedy placement for arbitrary block sharing (spec §5.2)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from trimcore._tolerances import ALGORITHM_RTOL
from trimcore.errors import invalid
from trimcore.kernels import kernel
from trimcore.placement.problem import PlacementProblem
from trimcore.placement.result import PlacementResult
from trimcore.placement.scoring import DEFAULT_BOUND, make_result, placement_backend

__all__ = ["trimcaching_gen", "greedy_placement", "GREEDY_RTOL", "RULES", "GEN_KERNELS"]

#: Storage tolerance inside the algorithms; tighter than the evaluator's so that every
#: placement an algorithm accepts is feasible for the evaluator too.
GREEDY_RTOL = ALGORITHM_RTOL
RULES = ("gain", "ratio", "best_of_both")
#: The kernels :func:`trimcaching_gen` runs (besides the scoring ones).
GEN_KERNELS = ("placement.gen_problem", "placement.trimcaching_gen")


def _candidates(problem: PlacementProblem) -> np.ndarray:
    """Pairs that can ever be placed: the model fits the empty server and serves somebody."""
    fits = problem.library.model_sizes[None, :] <= problem.capacity[:, None] * (1.0 + GREEDY_RTOL)
    serves = problem.pair_len.reshape(problem.n_servers, problem.n_models) > 0
    return np.flatnonzero((fits & serves).reshape(-1)).astype(np.int64)


def greedy_placement(problem: PlacementProblem, rule: str, *, lazy: bool = True, backend: str = "auto",
                     warm_start: np.ndarray | None = None) -> np.ndarray:
    """Run one greedy (``rule`` = ``"gain"`` or ``"ratio"``) and return the placement bool[M, I].

    Each step places the (server, model) pair with the best score among those that still fit:
    gain = popularity of the requests it newly serves; cost = size of its blocks not yet on that
    server. ``"gain"`` maximizes the gain, ``"ratio"`` gain per unit of incremental storage
    (ties: larger gain, then lower server, then lower model). ``lazy`` uses the exact
    priority-queue variant (same placement as the plain scan). ``warm_start`` (bool[M, I]) keeps
    its pairs first (in server, then model order), each that still fits and still serves somebody,
    and the greedy continues from there (see :func:`trimcaching_gen`).
    """
    if not isinstance(rule, str) or rule not in ("gain", "ratio"):
        raise invalid("rule", "'gain' or 'ratio'", rule)
    kept = (np.zeros(0, dtype=np.int64) if warm_start is None else
            np.flatnonzero(problem.check_placement(warm_start).reshape(-1)).astype(np.int64))
    lib = problem.library
    block_ptr, block_models = lib.block_models
    covered = np.zeros((problem.n_models, problem.n_users), dtype=np.uint8)
    chosen = kernel("placement.greedy_placement", backend)(
        problem.pair_ptr, problem.pair_len, problem.pair_users, problem.demand_args, lib.bitsets,
        lib.block_sizes, problem.capacity, block_ptr, block_models, _candidates(problem), covered, rule,
        bool(lazy), GREEDY_RTOL, kept)
    x = np.zeros(problem.n_servers * problem.n_models, dtype=bool)
    x[chosen] = True
    return x.reshape(problem.n_servers, problem.n_models)


def trimcaching_gen(problem: PlacementProblem, rule: str = "best_of_both", *, lazy: bool = True,
                    bound: str | None = DEFAULT_BOUND, backend: str = "auto",
                    warm_start: np.ndarray | None = None) -> PlacementResult:
    """TrimCaching Gen: sharing-aware greedy placement for the general case (spec §5.2).

    Parameters
    ----------
    problem : PlacementProblem
    rule : {"best_of_both", "ratio", "gain"}
        Greedy score: gain per incremental storage, pure gain, or both runs keeping the better
        placement (ties to ``"ratio"``). No constant-factor guarantee (spec §5.2).
    lazy : bool
        Exact lazy evaluation with a priority queue (same placement as the plain scan).
    bound : {"submodular", "lp", "auto"} or None
        Certified upper bound to attach (see :mod:`trimcore.placement.bounds`): the cheap
        submodular bound by default; ``"lp"`` solves the LP relaxation (slower, often tighter).
        Its time is ``bound_runtime_s``, apart from ``runtime_s``.
    backend : {"auto", "cpp", "reference"}
        Kernel tier; ``options["backend"]`` says which one ran.
    warm_start : ndarray of bool, shape (M, I), optional
        An earlier placement (e.g. the previous epoch's, before users moved): its pairs are kept
        first, in (server, model) order, each that still fits and still serves somebody; the
        greedy then fills what is left. Models already on a server need not be sent again, and
        the placement changes only where the demand moved. Without it, the greedy starts empty.

    Returns
    -------
    PlacementResult
        ``options["chosen_rule"]`` tells which greedy won under ``"best_of_both"``;
        ``options["kept"]`` how many pairs of ``warm_start`` the winner kept.
    """
    if not isinstance(rule, str) or rule not in RULES:
        raise invalid("rule", f"one of {RULES}", rule)
    backend = placement_backend(GEN_KERNELS, backend, bound, "trimcaching_gen")
    started = time.perf_counter()
    if warm_start is not None:
        warm_start = problem.check_placement(warm_start)
    # one call: candidate filtering, warm start, both greedy runs and best-of-both happen in the
    # kernel (in C++ on the cpp tier: trimcore::trimcaching_gen, the function C++ programs call)
    best_x, best_rule, kept = kernel("placement.trimcaching_gen", backend)(problem.gen_view(backend), rule,
                                                                         bool(lazy), warm_start)
    options: dict[str, Any] = {"rule": rule, "lazy": lazy, "chosen_rule": best_rule}
    if warm_start is not None:
        options["kept"] = kept
    return make_result(problem, best_x, "trimcaching_gen", options, started, bound=bound, backend=backend)
