"""The baselines of spec §8: NBS (Nash-bargaining LP + ½-scaled rounding), NonShare and SC."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from trimcore._validate import real
from trimcore.errors import invalid
from trimcore.pulling.exact import LpSolution, _build, _solve
from trimcore.pulling.problem import PullingProblem
from trimcore.pulling.result import PullingResult, make_result
from trimcore.pulling.rounding import pulling_rounding, repair_decision

__all__ = ["pulling_nbs", "pulling_nonshare", "pulling_cloud", "nbs_lp"]


def _check(pp: Any) -> None:
    if not isinstance(pp, PullingProblem):
        raise invalid("pp", "a PullingProblem", type(pp).__name__)


def nbs_lp(pp: PullingProblem, xi: float = 1e-4) -> LpSolution:
    """The NBS LP (CODE ``Offline/NBSILP.py``): maximise
    ``xi (sum B - sum inference cost - sum trans_power (D + transmission)) + (sum accuracy - sum A)``
    over the full formulation's constraints without the budget and accuracy rows (CODE drops
    them; the bargaining objective stands in). ``D`` is the problem's pull-delay epigraph
    (per request, or CODE's single global one); memory follows the problem's ``capacity``.
    """
    _check(pp)
    w = real("xi", xi, low=0.0)
    started = time.perf_counter()
    j, k = pp.n_requests, pp.n_models
    if j == 0:
        return LpSolution(0.0, np.zeros((0, k)), None, "optimal", 0.0)
    model = _build(pp, "full").without("budget", "accuracy")
    if model.empty_request:
        return LpSolution(float("inf"), np.zeros((j, k)), None, "infeasible", time.perf_counter() - started)
    xj, xk = model.x_pairs
    hp = pp.trans_power[pp.home]
    c = np.zeros_like(model.c)
    # minimise the negated bargaining objective (constants dropped)
    c[:xj.size] = w * (pp.infer_cost[xj, xk] + hp[xj] * pp.trans_delay[xj, xk]) - pp.accuracy[xj, xk]
    assert model.d_cols is not None
    c[model.d_cols] = w * (hp if model.d_cols.size == j else np.array([hp.sum()]))
    model.c = c
    res = _solve(model, False, 600.0, 0.0)
    if res.x is None:
        return LpSolution(float("inf"), np.zeros((j, k)), None, "infeasible", time.perf_counter() - started)
    frac = np.zeros((j, k))
    frac[xj, xk] = np.clip(res.x[:xj.size], 0.0, 1.0)
    assert model.y_cols is not None
    y = {key: (model.y_cols[key][1], model.y_cols[key][2], model.y_cols[key][3],
               np.clip(res.x[model.y_cols[key][0]], 0.0, 1.0)) for key in ("shareable", "remaining")}
    return LpSolution(float(res.fun), frac, y, "optimal", time.perf_counter() - started)


def pulling_nbs(pp: PullingProblem, seed: Any = 0, *, xi: float = 1e-4, rounding: str = "half",
                repeats: int = 1, repair: bool = False,
                source_order: Mapping[str, Sequence[Any]] | None = None) -> PullingResult:
    """NBS baseline: the Nash-bargaining LP (:func:`nbs_lp`) rounded as CODE does (spec §6.2).

    ``rounding="half"`` (CODE ``Offline/NBSRound.py``): ``U ~ [0, 1)`` against the ½-scaled
    fractions, so about half the draws fall through to the last model and the last source.
    ``repeats`` / ``repair`` / ``source_order`` as in :func:`pulling_rounding` (CODE: one draw,
    no repair, its own list order).
    The runtime includes the LP (as CODE's NBS does).
    """
    _check(pp)
    started = time.perf_counter()
    lp = nbs_lp(pp, xi)
    res = pulling_rounding(pp, repeats, seed, rounding=rounding, formulation="full", repair=repair, lp=lp,
                           source_order=source_order)
    opts = {**res.options, "xi": xi}
    return make_result(pp, res.model, res.shareable_source, res.remaining_source, algorithm="pulling_nbs",
                       options=opts, started=started, fraction=lp.fraction)


def _best_accuracy(pp: PullingProblem, feasible_only: bool) -> np.ndarray:
    acc = pp.accuracy
    if feasible_only:
        acc = np.where(pp.allowed, acc, -np.inf)
        none = np.asarray(~pp.allowed.any(axis=1))
        acc = np.where(none[:, None], pp.accuracy, acc)
    return acc.argmax(axis=1).astype(np.int64) if pp.n_requests else np.zeros(0, np.int64)


def pulling_nonshare(pp: PullingProblem, *, feasible_only: bool = False, repair: bool = False) -> PullingResult:
    """NonShare: the highest-accuracy model, each block from the nearest copy of *that* model
    (no sharing: a sibling's copy is not a source), else the data center (CODE).

    ``feasible_only`` restricts the choice to allowed models; ``repair`` repairs the answer.
    """
    _check(pp)
    started = time.perf_counter()
    m = _best_accuracy(pp, feasible_only)
    own: np.ndarray = pp.cached.T[m]                                   # (J, n): copies of the chosen model
    dist = pp.path_delay[pp.home][:, :-1]
    near = np.where(own, dist, np.inf)
    if pp.n_requests:
        src = np.where(own.any(axis=1), near.argmin(axis=1), pp.dc).astype(np.int64)
    else:
        src = np.zeros(0, np.int64)
    s = r = src
    how = "none"
    if repair and not pp.evaluate(m, s, r).feasible:
        m, s, r, how = repair_decision(pp, m)
    return make_result(pp, m, s, r, algorithm="pulling_nonshare",
                       options={"feasible_only": feasible_only, "repair": repair, "repair_used": how},
                       started=started)


def pulling_cloud(pp: PullingProblem, *, feasible_only: bool = False) -> PullingResult:
    """SC: the highest-accuracy model with both blocks pulled from the data center."""
    _check(pp)
    started = time.perf_counter()
    m = _best_accuracy(pp, feasible_only)
    dc = np.full(pp.n_requests, pp.dc, np.int64)
    return make_result(pp, m, dc, dc, algorithm="pulling_cloud", options={"feasible_only": feasible_only},
                       started=started)



