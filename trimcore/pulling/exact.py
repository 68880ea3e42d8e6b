"""Exact ILP and LP relaxation of the pulling problem (spec §5), HiGHS via ``scipy.optimize.milp``.

Two formulations (``formulation=``):

* ``"reduced"`` (default, source dominance; proof in ``docs/pulling.md``): every block is pulled
  from its nearest source, so the only decisions are the model choices ``x[j, k]`` (one
  variable per *allowed* pair, :attr:`PullingProblem.allowed`), plus, under
  ``capacity="per_cloudlet"``, residency variables ``v[i, k]`` (k served at i) and ``w[i, f]``
  (GB of family f's shareable block resident at i). With one model per request the pull delay
  ``max(sh, re)`` of the chosen model is linear in x: ``sum_k x[j, k] max(sh_jk, re_jk)``.
  ``pull_delay="global"`` adds one variable ``P >= sum sh x``, ``P >= sum re x``.
* ``"full"`` (spec §5.2 with per-request epigraph variables, or CODE's single one under
  ``pull_delay="global"``): also ``ysh[j, k, l]`` / ``yre[j, k, l]`` for every source ``l`` of
  every block, ``sum_l y = x`` and ``D_j >= sum y d`` (the McCormick products ``z, q`` are
  dropped: ``sum_l y = x`` already gives ``x y = y`` for binaries, spec §5.2).

Both have the same integer optimum (tested on hundreds of instances); the reduced one is smaller
by the number of sources and its LP relaxation is at least as tight.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from trimcore._solver import solver_stdout_silenced
from trimcore._tolerances import FEASIBILITY_RTOL
from trimcore._validate import real
from trimcore.errors import invalid
from trimcore.pulling.problem import PullingProblem
from trimcore.pulling.result import PullingResult, make_result
from trimcore.result import Status

__all__ = ["pulling_optimal", "pulling_lp", "brute_force_pulling", "FORMULATIONS", "LpSolution", "solve_lp",
           "formulation_size"]

#: ``formulation`` options.
FORMULATIONS = ("reduced", "full")
#: brute_force_pulling refuses more full decisions than this.
BRUTE_FORCE_LIMIT = 2_000_000


@dataclass
class _Model:
    c: np.ndarray
    a: Any  # scipy sparse csr
    lo: np.ndarray
    hi: np.ndarray
    ub: np.ndarray
    integrality: np.ndarray
    x_pairs: tuple[np.ndarray, np.ndarray]   # (j, k) of each x column (columns 0..len-1)
    y_cols: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] | None  # col, j, k, l (full)
    constant: float                           # objective constant (none so far)
    empty_request: bool                       # a request without any candidate: infeasible
    groups: dict[str, list[tuple[int, int]]] | None = None  # row ranges per constraint group
    d_cols: np.ndarray | None = None          # full formulation: the pull-delay epigraph columns

    def without(self, *names: str) -> _Model:
        """The same model without the rows of the named groups."""
        keep = np.ones(self.a.shape[0], bool)
        for name in names:
            for lo, hi in (self.groups or {}).get(name, []):
                keep[lo:hi] = False
        return _Model(c=self.c.copy(), a=self.a[keep], lo=self.lo[keep], hi=self.hi[keep], ub=self.ub,
                      integrality=self.integrality, x_pairs=self.x_pairs, y_cols=self.y_cols,
                      constant=self.constant, empty_request=self.empty_request, groups=None, d_cols=self.d_cols)


class _Rows:
    def __init__(self) -> None:
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.lo: list[np.ndarray] = []
        self.hi: list[np.ndarray] = []
        self.n = 0
        self.groups: dict[str, list[tuple[int, int]]] = {}

    def add(self, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n_rows: int, lo: Any, hi: Any,
            group: str = "") -> None:
        self.groups.setdefault(group, []).append((self.n, self.n + n_rows))
        self.r.append(np.asarray(rows, np.int64) + self.n)
        self.c.append(np.asarray(cols, np.int64))
        self.v.append(np.asarray(vals, np.float64))
        self.lo.append(np.broadcast_to(np.asarray(lo, np.float64), (n_rows,)))
        self.hi.append(np.broadcast_to(np.asarray(hi, np.float64), (n_rows,)))
        self.n += n_rows

    def matrix(self, n_cols: int) -> tuple[Any, np.ndarray, np.ndarray]:
        from scipy import sparse

        if not self.r:
            return sparse.csr_matrix((0, n_cols)), np.zeros(0), np.zeros(0)
        a = sparse.csr_matrix((np.concatenate(self.v), (np.concatenate(self.r), np.concatenate(self.c))),
                              shape=(self.n, n_cols))
        return a, np.concatenate(self.lo), np.concatenate(self.hi)


def _residency(pp: PullingProblem, rows: _Rows, xj: np.ndarray, xk: np.ndarray, start: int
               ) -> tuple[int, list[np.ndarray]]:
    """Per-cloudlet capacity rows: x <= v[h, k], sh_k v[h, k] <= w[h, f], sum re v + sum w <= C / alpha."""
    n, k_models, f_count = pp.n_cloudlets, pp.n_models, pp.n_families
    h = pp.home[xj]
    ik = np.unique(h * k_models + xk)               # (i, k) pairs that occur
    v_col = np.full(n * k_models, -1, np.int64)
    v_col[ik] = start + np.arange(ik.size)
    vi, vk = ik // k_models, ik % k_models
    vf = pp.family_index[vk]
    if_ = np.unique(vi * f_count + vf)
    w_col = np.full(n * f_count, -1, np.int64)
    w_col[if_] = start + ik.size + np.arange(if_.size)
    wi = if_ // f_count
    m = xj.size
    # x[j, k] - v[h, k] <= 0
    rows.add(np.repeat(np.arange(m), 2), np.column_stack([np.arange(m), v_col[h * k_models + xk]]).ravel(),
             np.tile([1.0, -1.0], m), m, -np.inf, 0.0)
    # sh_k v[i, k] - w[i, f] <= 0 (only when sh_k > 0)
    pos = pp.shareable_size[vk] > 0
    q = int(pos.sum())
    rows.add(np.repeat(np.arange(q), 2),
             np.column_stack([v_col[ik[pos]], w_col[vi[pos] * f_count + vf[pos]]]).ravel(),
             np.column_stack([pp.shareable_size[vk[pos]], -np.ones(q)]).ravel(), q, -np.inf, 0.0)
    # sum_k re_k v[i, k] + sum_f w[i, f] <= C_i / alpha, for every cloudlet with a residency variable
    cl = np.unique(vi)
    cl_row = np.full(n, -1, np.int64)
    cl_row[cl] = np.arange(cl.size)
    rows.add(np.concatenate([cl_row[vi], cl_row[wi]]), np.concatenate([v_col[ik], w_col[if_]]),
             np.concatenate([pp.remaining_size[vk], np.ones(if_.size)]), cl.size, -np.inf,
             pp.memory[cl] / pp.alpha)
    ub_v = np.ones(ik.size)
    ub_w = np.full(if_.size, np.inf)
    return ik.size + if_.size, [ub_v, ub_w]


def _build(pp: PullingProblem, formulation: str) -> _Model:
    j_count = pp.n_requests
    nr = pp.nearest
    hp = pp.trans_power[pp.home]
    rows = _Rows()
    if formulation == "reduced":
        xj, xk = np.nonzero(pp.allowed)
    else:
        has = np.isfinite(nr["pull"])  # a model without any source of a block cannot be chosen
        xj, xk = np.nonzero(has)
    m = xj.size
    empty = bool(j_count and np.bincount(xj, minlength=j_count).min() == 0)
    fixed = pp.fixed_delay[xj, xk]
    c_parts: list[np.ndarray] = []
    ub_parts: list[np.ndarray] = [np.ones(m)]
    int_parts: list[np.ndarray] = [np.ones(m)]
    n_cols = m
    y_cols = None
    # one model per request
    rows.add(xj, np.arange(m), np.ones(m), j_count, 1.0, 1.0)
    if formulation == "reduced":
        if pp.pull_delay == "per_request":
            c_parts.append(fixed + nr["pull"][xj, xk])
        else:
            c_parts.append(fixed)
            p_col = n_cols
            n_cols += 1
            c_parts.append(np.ones(1))
            ub_parts.append(np.full(1, np.inf))
            int_parts.append(np.zeros(1))
            for key in ("shareable_pull", "remaining_pull"):
                rows.add(np.zeros(m + 1, np.int64), np.append(np.arange(m), p_col),
                         np.append(nr[key][xj, xk], -1.0), 1, -np.inf, 0.0)
            # budget with the global pull: sum_k x (infc + p tr) + p P <= B
            rows.add(np.append(xj, np.arange(j_count)), np.append(np.arange(m), np.full(j_count, p_col)),
                     np.append(pp.infer_cost[xj, xk] + hp[xj] * pp.trans_delay[xj, xk], hp), j_count,
                     -np.inf, pp.budget)
    else:
        c_parts.append(fixed)
        ycol: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        for key, src, size in (("shareable", pp.shareable_sources, pp.shareable_size),
                               ("remaining", pp.remaining_sources, pp.remaining_size)):
            counts = src.sum(axis=1)[xk]
            pair = np.repeat(np.arange(m), counts)
            yk = xk[pair]
            yj = xj[pair]
            # sources of each pair's model in ascending node order
            yl = np.concatenate([np.flatnonzero(src[k]) for k in xk]) if m else np.zeros(0, np.int64)
            cols = n_cols + np.arange(pair.size)
            ycol[key] = (cols, yj, yk, yl.astype(np.int64))
            n_cols += pair.size
            c_parts.append(np.zeros(pair.size))
            ub_parts.append(np.ones(pair.size))
            int_parts.append(np.ones(pair.size))
            # sum_l y[j,k,l] - x[j,k] = 0
            rows.add(np.concatenate([pair, np.arange(m)]), np.concatenate([cols, np.arange(m)]),
                     np.concatenate([np.ones(pair.size), -np.ones(m)]), m, 0.0, 0.0)
            d = size[yk] * pp.path_delay[pp.home[yj], yl]
            ycol[key + "_delay"] = (cols, yj, d, yl)
        y_cols = ycol
        n_d = j_count if pp.pull_delay == "per_request" else 1
        d_col = n_cols + np.arange(n_d)
        n_cols += n_d
        c_parts.append(np.ones(n_d))
        ub_parts.append(np.full(n_d, np.inf))
        int_parts.append(np.zeros(n_d))
        for key in ("shareable", "remaining"):
            cols, yj, d, _ = ycol[key + "_delay"]
            target = yj if n_d == j_count else np.zeros(yj.size, np.int64)
            rows.add(np.concatenate([target, np.arange(n_d)]), np.concatenate([cols, d_col]),
                     np.concatenate([d, -np.ones(n_d)]), n_d, -np.inf, 0.0)
        dj = d_col if n_d == j_count else np.full(j_count, d_col[0])
        # budget: sum_k x (infc + p tr) + p D_j <= B_j
        rows.add(np.append(xj, np.arange(j_count)), np.append(np.arange(m), dj),
                 np.append(pp.infer_cost[xj, xk] + hp[xj] * pp.trans_delay[xj, xk], hp), j_count,
                 -np.inf, pp.budget, group="budget")
        # accuracy: sum_k x a >= A
        rows.add(xj, np.arange(m), pp.accuracy[xj, xk], j_count, pp.min_accuracy, np.inf, group="accuracy")
        if pp.capacity == "per_request":
            rows.add(xj, np.arange(m), pp.alpha * pp.model_size[xk], j_count, -np.inf, pp.memory[pp.home])
    if pp.capacity == "per_cloudlet" and m:
        added, ubs = _residency(pp, rows, xj, xk, n_cols)
        n_cols += added
        c_parts.append(np.zeros(added))
        ub_parts.extend(ubs)
        int_parts.append(np.zeros(added))
    a, lo, hi = rows.matrix(n_cols)
    return _Model(c=np.concatenate(c_parts), a=a, lo=lo, hi=hi, ub=np.concatenate(ub_parts),
                  integrality=np.concatenate(int_parts), x_pairs=(xj, xk), y_cols=y_cols, constant=0.0,
                  empty_request=empty, groups=rows.groups,
                  d_cols=d_col if formulation == "full" else None)


def _solve(model: _Model, integral: bool, time_limit: float, mip_rel_gap: float) -> Any:
    from scipy.optimize import Bounds, LinearConstraint, milp

    cons = [LinearConstraint(model.a, model.lo, model.hi)] if model.a.shape[0] else []
    opts: dict[str, Any] = {"time_limit": time_limit, "disp": False}
    if integral:
        opts["mip_rel_gap"] = mip_rel_gap
    with solver_stdout_silenced():
        return milp(model.c, constraints=cons, bounds=Bounds(np.zeros(model.c.size), model.ub),
                    integrality=model.integrality if integral else None, options=opts)


def _decode(pp: PullingProblem, model: _Model, x: np.ndarray, formulation: str
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Largest x per request -> model; sources: nearest (reduced) or the largest y (full)."""
    xj, xk = model.x_pairs
    frac = np.zeros((pp.n_requests, pp.n_models))
    frac[xj, xk] = np.clip(x[:xj.size], 0.0, 1.0)
    chosen = frac.argmax(axis=1) if pp.n_requests else np.zeros(0, np.int64)
    idx = np.arange(pp.n_requests)
    if formulation == "full" and model.y_cols is not None:
        out = []
        for key in ("shareable", "remaining"):
            cols, yj, yk, yl = model.y_cols[key]
            pick = yk == chosen[yj]
            best = np.full(pp.n_requests, -1.0)
            src = np.full(pp.n_requests, pp.dc, np.int64)
            vals = x[cols[pick]]
            order = np.lexsort((-vals, yj[pick]))  # per request, largest y first (ties: smallest node)
            first = np.ones(order.size, bool)
            first[1:] = yj[pick][order][1:] != yj[pick][order][:-1]
            sel = order[first]
            src[yj[pick][sel]] = yl[pick][sel]
            best[yj[pick][sel]] = vals[sel]
            out.append(src)
        return chosen.astype(np.int64), out[0], out[1], frac
    s = pp.nearest["shareable_source"][idx, chosen]
    r = pp.nearest["remaining_source"][idx, chosen]
    return chosen.astype(np.int64), np.where(s < 0, pp.dc, s), np.where(r < 0, pp.dc, r), frac


def fallback_decision(pp: PullingProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A decision for every request when no solver answer exists: its least-delay allowed model
    (any model when none is allowed) at the nearest sources."""
    c = np.where(pp.allowed, pp.fixed_delay + pp.nearest["pull"], np.inf)
    c2 = np.where(np.isfinite(pp.nearest["pull"]), pp.fixed_delay + pp.nearest["pull"], np.inf)
    best = np.where(np.isfinite(c).any(axis=1), c.argmin(axis=1), c2.argmin(axis=1)) if pp.n_requests \
        else np.zeros(0, np.int64)
    idx = np.arange(pp.n_requests)
    s = pp.nearest["shareable_source"][idx, best]
    r = pp.nearest["remaining_source"][idx, best]
    return best.astype(np.int64), np.where(s < 0, pp.dc, s), np.where(r < 0, pp.dc, r)


def _check_formulation(formulation: str) -> None:
    if formulation not in FORMULATIONS:
        raise invalid("formulation", f"one of {FORMULATIONS}", formulation)


def _check_problem(pp: Any) -> None:
    if not isinstance(pp, PullingProblem):
        raise invalid("pp", "a PullingProblem", type(pp).__name__)


def _components(pp: PullingProblem, decompose: bool) -> list[np.ndarray]:
    """Independent request groups: under ``pull_delay="per_request"`` requests interact only
    through their home's memory, so each home cloudlet is a separate problem (exact)."""
    if not decompose or pp.pull_delay != "per_request":
        return [np.arange(pp.n_requests)]
    order = np.argsort(pp.home, kind="stable")
    cuts = np.flatnonzero(np.diff(pp.home[order])) + 1
    return [g for g in np.split(order, cuts) if g.size]


def _separable(pp: PullingProblem, formulation: str) -> bool:
    return formulation == "reduced" and pp.pull_delay == "per_request" and pp.capacity == "per_request"


def _ilp_part(pp: PullingProblem, formulation: str, limit: float, gap: float
              ) -> tuple[str, np.ndarray, np.ndarray, np.ndarray, float | None, str]:
    """(status, model, shareable_source, remaining_source, dual bound, message) of one component."""
    if _separable(pp, formulation):
        model_, delay = pp.per_request_optima()
        if (model_ < 0).any():
            m, s, r = fallback_decision(pp)
            return "infeasible", m, s, r, None, "a request without a feasible model"
        idx = np.arange(pp.n_requests)
        s = pp.nearest["shareable_source"][idx, model_]
        r = pp.nearest["remaining_source"][idx, model_]
        return "optimal", model_, s, r, float(delay.sum()), "closed form (separable)"
    model = _build(pp, formulation)
    if model.empty_request:
        m, s, r = fallback_decision(pp)
        return "infeasible", m, s, r, None, "a request without a candidate model"
    res = _solve(model, True, limit, gap)
    if res.status == 2 or (res.x is None and res.status != 1):
        m, s, r = fallback_decision(pp)
        return "infeasible", m, s, r, None, str(res.message)
    bound = getattr(res, "mip_dual_bound", None)
    bound = None if bound is None or not np.isfinite(bound) else float(bound)
    if res.x is None:
        m, s, r = fallback_decision(pp)
        return "time_limit", m, s, r, bound, str(res.message)
    m, s, r, _ = _decode(pp, model, np.round(res.x), formulation)
    status = "optimal" if res.status == 0 else "time_limit"
    if status == "optimal" and bound is None:
        bound = float(res.fun)
    return status, m, s, r, bound, str(res.message)


def formulation_size(pp: PullingProblem, formulation: str = "reduced") -> dict[str, int]:
    """Size of the (undecomposed) ILP of ``pp`` in a formulation, as built for HiGHS.

    Returns
    -------
    dict
        ``variables`` (columns), ``integer`` (integer columns), ``constraints`` (rows) and
        ``nonzeros`` of the constraint matrix. The full formulation has, on top of the reduced
        one, one ``y`` column per (request, candidate model, source) of each block, so it is
        larger by about the number of sources per model (``docs/pulling.md``).
    """
    _check_problem(pp)
    _check_formulation(formulation)
    model = _build(pp, formulation)
    return {"variables": int(model.c.size), "integer": int(np.count_nonzero(model.integrality)),
            "constraints": int(model.a.shape[0]), "nonzeros": int(model.a.nnz)}


def pulling_optimal(pp: PullingProblem, time_limit: float = 60.0, *, formulation: str = "reduced",
                    mip_rel_gap: float = 1e-7, decompose: bool = True) -> PullingResult:
    """Exact ILP (spec §5.2) solved with HiGHS.

    Parameters
    ----------
    pp : PullingProblem
    time_limit : float
        Seconds given to HiGHS in total (> 0).
    formulation : {"reduced", "full"}
        The source-dominance model (default) or the full one with source variables.
    mip_rel_gap : float
        HiGHS's relative gap at which it declares optimality.
    decompose : bool
        Under ``pull_delay="per_request"`` solve each home cloudlet's requests separately (they
        share nothing else; exact). The separable variant (``capacity="per_request"`` too, reduced
        formulation) is solved in closed form (:meth:`PullingProblem.per_request_optima`).

    Returns
    -------
    PullingResult
        ``status`` ``"optimal"``, ``"time_limit"`` (incumbent, or the fallback decision when HiGHS
        found none) or ``"infeasible"`` (proved; the decision is then the fallback one, and no
        exception is raised). ``lower_bound`` is HiGHS's dual bound (summed over components).
        ``options["solver_status"]`` is what HiGHS established ("optimal", "time_limit" or
        "infeasible"): it differs from ``status`` only when a time-limited run's fallback decision
        violates a constraint (then ``status`` is "infeasible", as for any infeasible decision).
    """
    _check_problem(pp)
    _check_formulation(formulation)
    limit = real("time_limit", time_limit, low=0.0, low_open=True)
    gap = real("mip_rel_gap", mip_rel_gap, low=0.0)
    started = time.perf_counter()
    opts: dict[str, Any] = {"time_limit": limit, "formulation": formulation, "mip_rel_gap": gap,
                            "decompose": decompose}
    if pp.n_requests == 0:
        return make_result(pp, [], [], [], algorithm="pulling_optimal", options=opts, started=started,
                           status="optimal", lower_bound=0.0, bound_method="milp")
    parts = _components(pp, decompose)
    m = np.zeros(pp.n_requests, np.int64)
    s = np.zeros(pp.n_requests, np.int64)
    r = np.zeros(pp.n_requests, np.int64)
    statuses, bounds = [], []
    for group in parts:
        sub = pp if len(parts) == 1 else pp.subset_requests(group)
        left = max(1e-3, limit - (time.perf_counter() - started))
        st, gm, gs, gr, bound, msg = _ilp_part(sub, formulation, left, gap)
        m[group], s[group], r[group] = gm, gs, gr
        statuses.append(st)
        bounds.append(bound)
        if st == "infeasible":
            opts["proof"] = msg
            break
    if "infeasible" in statuses:
        fm, fs, fr = fallback_decision(pp)
        opts["solver_status"] = "infeasible"
        return make_result(pp, fm, fs, fr, algorithm="pulling_optimal", options=opts, started=started,
                           status="infeasible")
    status: Status = "optimal" if all(x == "optimal" for x in statuses) else "time_limit"
    total = None if any(b is None for b in bounds) else float(sum(b for b in bounds if b is not None))
    opts["components"] = len(parts)
    # what the solver proved; ``status`` becomes "infeasible" when a time-limited fallback decision
    # violates a constraint (house protocol) although infeasibility was not proved
    opts["solver_status"] = status
    return make_result(pp, m, s, r, algorithm="pulling_optimal", options=opts, started=started, status=status,
                       lower_bound=total, bound_method="milp")


@dataclass(frozen=True)
class LpSolution:
    """The LP relaxation's solution.

    Attributes
    ----------
    value : float
        The LP optimum (a lower bound on the ILP), ``inf`` when the LP is infeasible.
    fraction : ndarray of float64, shape (J, K)
        Fractional model choice.
    y : dict or None
        Full formulation only: ``{"shareable": (j, k, l, value), "remaining": ...}`` arrays.
    status : str
        ``"optimal"``, ``"infeasible"`` or ``"time_limit"``.
    runtime_s : float
    """

    value: float
    fraction: np.ndarray
    y: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] | None
    status: str
    runtime_s: float


def _lp_part(pp: PullingProblem, formulation: str, time_limit: float) -> LpSolution:
    started = time.perf_counter()
    j, k = pp.n_requests, pp.n_models
    if _separable(pp, formulation):  # the LP's optimum is the integral per-request minimum
        model_, delay = pp.per_request_optima()
        if (model_ < 0).any():
            return LpSolution(float("inf"), np.zeros((j, k)), None, "infeasible", time.perf_counter() - started)
        frac = np.zeros((j, k))
        frac[np.arange(j), model_] = 1.0
        return LpSolution(float(delay.sum()), frac, None, "optimal", time.perf_counter() - started)
    model = _build(pp, formulation)
    if model.empty_request:
        return LpSolution(float("inf"), np.zeros((j, k)), None, "infeasible", time.perf_counter() - started)
    res = _solve(model, False, time_limit, 0.0)
    if res.x is None:
        status = "time_limit" if res.status == 1 else "infeasible"
        return LpSolution(float("inf"), np.zeros((j, k)), None, status, time.perf_counter() - started)
    x = res.x
    xj, xk = model.x_pairs
    frac = np.zeros((j, k))
    frac[xj, xk] = np.clip(x[:xj.size], 0.0, 1.0)
    y = None
    if model.y_cols is not None:
        y = {key: (model.y_cols[key][1], model.y_cols[key][2], model.y_cols[key][3],
                   np.clip(x[model.y_cols[key][0]], 0.0, 1.0)) for key in ("shareable", "remaining")}
    return LpSolution(float(res.fun), frac, y, "optimal", time.perf_counter() - started)


def solve_lp(pp: PullingProblem, formulation: str = "reduced", time_limit: float = 600.0, *,
             decompose: bool = True) -> LpSolution:
    """Solve the LP relaxation (every variable in [0, 1]); see :func:`pulling_lp`.

    With ``decompose`` (and ``pull_delay="per_request"``) one LP per home cloudlet, summed: the
    same LP, since the components share no constraint.
    """
    _check_problem(pp)
    _check_formulation(formulation)
    started = time.perf_counter()
    j, k = pp.n_requests, pp.n_models
    if j == 0:
        return LpSolution(0.0, np.zeros((0, k)), None, "optimal", time.perf_counter() - started)
    parts = _components(pp, decompose)
    if len(parts) == 1:
        return _lp_part(pp, formulation, time_limit)
    frac = np.zeros((j, k))
    value = 0.0
    ys: dict[str, list[tuple[np.ndarray, ...]]] = {"shareable": [], "remaining": []}
    for group in parts:
        part = _lp_part(pp.subset_requests(group), formulation, time_limit)
        if part.status != "optimal":
            return LpSolution(float("inf"), np.zeros((j, k)), None, part.status, time.perf_counter() - started)
        frac[group] = part.fraction
        value += part.value
        if part.y is not None:
            for key in ys:
                yj, yk, yl, val = part.y[key]
                ys[key].append((group[yj], yk, yl, val))
    y: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] | None = None
    if formulation == "full":
        y = {}
        for key in ys:
            cat = [np.concatenate([p[t] for p in ys[key]]) for t in range(4)]
            y[key] = (cat[0], cat[1], cat[2], cat[3])
    return LpSolution(value, frac, y, "optimal", time.perf_counter() - started)


def pulling_lp(pp: PullingProblem, *, formulation: str = "reduced") -> PullingResult:
    """LP relaxation of the ILP (the plotted "LP" curve, a lower bound on the optimum).

    The result's decision is the LP's largest-fraction model per request at the nearest sources
    (full formulation: the largest-fraction sources), scored by the evaluator like every result;
    ``lower_bound`` is the LP value and ``fraction`` the fractional model choice. An infeasible
    LP (then the ILP is infeasible too) gives status ``"infeasible"`` and no bound.
    """
    started = time.perf_counter()
    lp = solve_lp(pp, formulation)
    opts = {"formulation": formulation, "lp_status": lp.status}
    if lp.status != "optimal":
        m, s, r = fallback_decision(pp)
        return make_result(pp, m, s, r, algorithm="pulling_lp", options=opts, started=started,
                           status="infeasible", fraction=lp.fraction)
    m = lp.fraction.argmax(axis=1) if pp.n_requests else np.zeros(0, np.int64)
    if formulation == "full" and lp.y is not None:
        srcs = []
        for key in ("shareable", "remaining"):
            yj, yk, yl, val = lp.y[key]
            src = np.full(pp.n_requests, pp.dc, np.int64)
            score = np.full(pp.n_requests, -1.0)
            for t in np.flatnonzero(yk == m[yj]):
                if val[t] > score[yj[t]]:
                    score[yj[t]], src[yj[t]] = val[t], yl[t]
            srcs.append(src)
        s, r = srcs
    else:
        idx = np.arange(pp.n_requests)
        s = pp.nearest["shareable_source"][idx, m]
        r = pp.nearest["remaining_source"][idx, m]
        s, r = np.where(s < 0, pp.dc, s), np.where(r < 0, pp.dc, r)
    return make_result(pp, m, s, r, algorithm="pulling_lp", options=opts, started=started,
                       lower_bound=lp.value, bound_method="lp", fraction=lp.fraction)


def _batch_total(pp: PullingProblem, m: np.ndarray, s: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Total delay of C decisions at once (rows of m, s, r), ``inf`` where infeasible.

    Written independently of :meth:`PullingProblem.evaluate` (the tests compare the two).
    """
    h = pp.home[None, :]
    jj = np.arange(pp.n_requests)[None, :]
    sp = pp.shareable_size[m] * pp.path_delay[h, s]
    rp = pp.remaining_size[m] * pp.path_delay[h, r]
    rest = pp.infer_delay[jj, m] + pp.queue_delay[None, :] + pp.trans_delay[jj, m]
    if pp.pull_delay == "per_request":
        pull_charged = np.maximum(sp, rp)
        total = (pull_charged + rest).sum(axis=1)
    else:
        g = np.maximum(sp.sum(axis=1), rp.sum(axis=1))
        pull_charged = np.broadcast_to(g[:, None], sp.shape)
        total = g + rest.sum(axis=1)
    tol = FEASIBILITY_RTOL  # the evaluator's tolerance, so enumeration agrees with evaluate
    ok = (pp.accuracy[jj, m] >= pp.min_accuracy[None, :] - tol * np.maximum(1, np.abs(pp.min_accuracy))).all(1)
    charged = pp.infer_cost[jj, m] + pp.trans_power[h] * (pull_charged + pp.trans_delay[jj, m])
    ok &= (charged <= pp.budget + tol * np.maximum(1, np.abs(pp.budget))).all(axis=1)
    ok &= pp.shareable_sources[m, s].all(axis=1) & pp.remaining_sources[m, r].all(axis=1)
    if pp.capacity == "per_request":
        mem = pp.memory[pp.home]
        ok &= (pp.alpha * pp.model_size[m] <= mem + tol * np.maximum(1, mem)).all(axis=1)
    else:
        for i in range(pp.n_cloudlets):
            at = pp.home == i
            used = np.zeros(m.shape[0])
            for f in range(pp.n_families):
                members = np.flatnonzero(pp.family_index == f)
                sh = np.zeros(m.shape[0])
                for k in members:
                    hit = (m[:, at] == k).any(axis=1)
                    sh = np.maximum(sh, np.where(hit, pp.shareable_size[k], 0.0))
                    used += np.where(hit, pp.remaining_size[k], 0.0)
                used += sh
            ok &= pp.alpha * used <= pp.memory[i] + tol * max(1.0, pp.memory[i])
    return np.where(ok, total, np.inf)


def brute_force_pulling(pp: PullingProblem) -> tuple[float, tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
    """Exhaustive search over every (model, shareable source, remaining source) of every request.

    Returns the optimal total delay (``inf`` when infeasible) and a best decision (None when
    infeasible). For tiny instances only (refuses more than ``BRUTE_FORCE_LIMIT`` decisions).
    """
    import itertools

    _check_problem(pp)
    opts = [(k, a, b) for k in range(pp.n_models) for a in np.flatnonzero(pp.shareable_sources[k])
            for b in np.flatnonzero(pp.remaining_sources[k])]
    count = len(opts) ** pp.n_requests
    if count > BRUTE_FORCE_LIMIT:
        raise invalid("pp", f"at most {BRUTE_FORCE_LIMIT} decisions", count)
    if pp.n_requests == 0:
        return 0.0, (np.zeros(0, np.int64),) * 3
    if not opts:
        return float("inf"), None
    table = np.array(opts, dtype=np.int64)
    combos = np.array(list(itertools.product(range(len(opts)), repeat=pp.n_requests)), dtype=np.int64)
    best, arg = float("inf"), None
    for lo in range(0, combos.shape[0], 20000):
        chunk = table[combos[lo:lo + 20000]]                 # (C, J, 3)
        totals = _batch_total(pp, chunk[:, :, 0], chunk[:, :, 1], chunk[:, :, 2])
        t = int(np.argmin(totals))
        if totals[t] < best:
            best = float(totals[t])
            arg = (chunk[t, :, 0].copy(), chunk[t, :, 1].copy(), chunk[t, :, 2].copy())
    return best, arg
