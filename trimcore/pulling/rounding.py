"""Randomized rounding of the LP relaxation ("Appro", spec §6), its repair and derandomization.

Default (spec §6.1 and §11): solve the reduced LP, draw each request's model with probability
``x*[j, k]`` (sources: the nearest ones, which is what the reduced LP's implicit source variables
are), repeat ``repeats`` times, keep the best feasible draw, repair per request when none is
feasible. With ``formulation="full"`` the sources are drawn conditionally, ``y*[j, k, l] / x*[j, k]``.

``rounding="code"`` is the authors' draw (``Offline/App.py``): ``U ~ [0, 0.5)`` against the
½-scaled ``x*`` and the *unconditional* ½-scaled ``y*``, so the leftover mass ``1 - x*[j, k]``
of the source draw falls to the last source in the list (ascending node id: the data center when
it is a source). It needs the full LP (chosen automatically). ``repeats=1, repair=False``
reproduce CODE's draw; CODE walks its own list order (``lsh[k]``: a Python set's order,
``lre[k]``: ``random.sample``'s), which ``source_order`` gives (``scripts/compare_cck_code.py``
passes it: the same LP solution, the same uniforms and CODE's order reproduce CODE's decision).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from trimcore._tolerances import ALGORITHM_RTOL
from trimcore._validate import integer, make_rng
from trimcore.errors import invalid
from trimcore.pulling.exact import LpSolution, fallback_decision, pulling_optimal, solve_lp
from trimcore.pulling.problem import PullingProblem
from trimcore.pulling.result import PullingResult, make_result

__all__ = ["pulling_rounding", "repair_decision", "ROUNDINGS", "draw_index"]

#: ``rounding`` options: conditional draw (§6.1, default), the authors' unconditional one, or NBS's (§6.2).
ROUNDINGS = ("conditional", "code", "half")


def draw_index(u: float, weights: np.ndarray) -> int:
    """CODE's ``rand_pick``: the first index whose cumulative weight exceeds ``u``, else the last."""
    cum = np.cumsum(weights)
    hit = np.flatnonzero(u < cum)
    return int(hit[0]) if hit.size else int(weights.size - 1)


def _nearest_sources(pp: PullingProblem, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    idx = np.arange(pp.n_requests)
    s = pp.nearest["shareable_source"][idx, m]
    r = pp.nearest["remaining_source"][idx, m]
    return np.where(s < 0, pp.dc, s), np.where(r < 0, pp.dc, r)


def _source_lists(lp: LpSolution, key: str) -> dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]:
    assert lp.y is not None
    yj, yk, yl, val = lp.y[key]
    order = np.lexsort((yl, yk, yj))
    yj, yk, yl, val = yj[order], yk[order], yl[order], val[order]
    out: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    if yj.size == 0:
        return out
    start = np.flatnonzero(np.r_[True, (yj[1:] != yj[:-1]) | (yk[1:] != yk[:-1])])
    stop = np.r_[start[1:], yj.size]
    for a, b in zip(start, stop):
        out[(int(yj[a]), int(yk[a]))] = (yl[a:b], val[a:b])
    return out


def _order_ranks(pp: PullingProblem, source_order: Mapping[str, Sequence[Any]]) -> dict[str, np.ndarray]:
    """Validate ``source_order``; per block, ``rank[k, node]`` = the node's place in model k's order."""
    if not isinstance(source_order, Mapping):
        raise invalid("source_order", "a mapping of 'shareable' / 'remaining' to per-model node orders",
                      type(source_order).__name__)
    unknown = set(source_order) - {"shareable", "remaining"}
    if unknown:
        raise invalid("source_order", "keys among 'shareable' and 'remaining'", sorted(unknown))
    out = {}
    for key, orders in source_order.items():
        holds = pp.shareable_sources if key == "shareable" else pp.remaining_sources
        if len(orders) != pp.n_models:
            raise invalid(f"source_order[{key!r}]", f"one node sequence per model ({pp.n_models})", len(orders))
        ranks = np.full((pp.n_models, pp.dc + 1), -1, np.int64)
        for k, order in enumerate(orders):
            nodes = np.asarray(order).reshape(-1)
            if nodes.dtype.kind not in "iu" or np.sort(nodes).tolist() != np.flatnonzero(holds[k]).tolist():
                raise invalid(f"source_order[{key!r}][{k}]", "a permutation of the model's source node ids",
                              nodes.tolist())
            ranks[k, nodes] = np.arange(nodes.size)
        out[key] = ranks
    return out


def _order_lists(lists: dict[str, Any], ranks: dict[str, np.ndarray]) -> None:
    """Reorder each (request, model)'s source list (in place) by the ranks of ``_order_ranks``."""
    for key, rank in ranks.items():
        for (t, k), (nodes, val) in lists[key].items():
            perm = np.argsort(rank[k, nodes], kind="stable")
            lists[key][(t, k)] = (nodes[perm], val[perm])


def _draw(pp: PullingProblem, lp: LpSolution, rounding: str, rng: np.random.Generator,
          lists: dict[str, Any] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    j = pp.n_requests
    frac = lp.fraction
    if rounding == "conditional":
        cum = np.cumsum(frac, axis=1)
        cum /= np.maximum(cum[:, -1:], 1e-300)
        u = rng.random(j)
        m = np.minimum((u[:, None] >= cum).sum(axis=1), pp.n_models - 1)
        # never land on a zero-probability model through floating-point slack
        zero = frac[np.arange(j), m] <= 0
        if zero.any():
            m[zero] = frac[zero].argmax(axis=1)
        if lists is None:
            s, r = _nearest_sources(pp, m)
            return m.astype(np.int64), s, r
        srcs = []
        for key in ("shareable", "remaining"):
            out = np.empty(j, np.int64)
            for t in range(j):
                nodes, val = lists[key][(t, int(m[t]))]
                p = val / val.sum() if val.sum() > 0 else np.full(val.size, 1.0 / val.size)
                out[t] = nodes[draw_index(rng.random(), p)]
            srcs.append(out)
        return m.astype(np.int64), srcs[0], srcs[1]
    # "code" (U in [0, 0.5)) and "half" (U in [0, 1)) against the half-scaled fractions
    top = 0.5 if rounding == "code" else 1.0
    m = np.empty(j, np.int64)
    srcs = [np.empty(j, np.int64), np.empty(j, np.int64)]
    lists = lists if lists is not None else {"shareable": {}, "remaining": {}}
    for t in range(j):
        m[t] = draw_index(rng.uniform(0.0, top), frac[t] / 2.0)
        for i, key in enumerate(("shareable", "remaining")):
            got = lists[key].get((t, int(m[t])))
            if got is None:  # the model has no source variables (no source at all): the DC id
                srcs[i][t] = pp.dc
                continue
            nodes, val = got
            srcs[i][t] = nodes[draw_index(rng.uniform(0.0, top), val / 2.0)]
    return m, srcs[0], srcs[1]


def _memory_one(pp: PullingProblem, counts: np.ndarray) -> float:
    """Memory at one cloudlet given per-model served counts (the per_cloudlet rule)."""
    served = counts > 0
    fam = pp.family_index
    sh = np.zeros(pp.n_families)
    np.maximum.at(sh, fam[served], pp.shareable_size[served])
    return float(pp.alpha * (sh.sum() + pp.remaining_size[served].sum()))


def repair_decision(pp: PullingProblem, model: np.ndarray, *, ilp_time_limit: float = 10.0
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Make a decision feasible; returns (model, shareable_source, remaining_source, how).

    1. sources -> the nearest ones (never worse, source dominance);
    2. every request whose own constraints fail (accuracy, budget at its own pull, per-request
       memory) -> its least-delay allowed model;
    3. per-cloudlet memory: at each overloaded cloudlet, repeatedly move the request whose move to
       another allowed model frees the most memory (ties: least delay added) until it fits;
    4. still infeasible (coupled budgets under ``pull_delay="global"``, or a packing the greedy
       misses): the exact ILP with ``ilp_time_limit``; its answer is kept when feasible.

    ``how`` is ``"none"``, ``"greedy"``, ``"ilp"`` or ``"failed"`` (the instance may be infeasible).
    """
    m = np.array(model, dtype=np.int64, copy=True)
    s, r = _nearest_sources(pp, m)
    ev = pp.evaluate(m, s, r)
    if ev.feasible:
        return m, s, r, "none"
    delay = pp.fixed_delay + pp.nearest["pull"]
    cand = np.where(pp.allowed, delay, np.inf)
    idx = np.arange(pp.n_requests)
    own_bad = ~pp.allowed[idx, m]
    has = np.isfinite(cand).any(axis=1)
    fix = own_bad & has
    m[fix] = cand[fix].argmin(axis=1)
    if pp.capacity == "per_cloudlet":
        for i in np.unique(pp.home):
            reqs = np.flatnonzero(pp.home == i)
            counts = np.bincount(m[reqs], minlength=pp.n_models)
            used = _memory_one(pp, counts)
            for _ in range(4 * reqs.size + 4):
                if used <= pp.memory[i] * (1 + ALGORITHM_RTOL):
                    break
                best = (0.0, 0.0, -1, -1)  # (freed, -added delay, request, model)
                for t in reqs:
                    ks = np.flatnonzero(np.isfinite(cand[t]) & (np.arange(pp.n_models) != m[t]))
                    if ks.size == 0:
                        continue
                    base = counts.copy()
                    base[m[t]] -= 1
                    for k2 in ks:
                        base[k2] += 1
                        freed = used - _memory_one(pp, base)
                        base[k2] -= 1
                        key = (freed, -(cand[t, k2] - delay[t, m[t]]), int(t), int(k2))
                        if freed > ALGORITHM_RTOL * used and key[:2] > best[:2]:  # frees more than rounding
                            best = key
                if best[2] < 0:
                    # no single move frees memory (each family is shared by several requests):
                    # evict a whole family from the cloudlet, its requests to their best model
                    # of another family already served there, least added delay first
                    if not _evict_family(pp, reqs, m, counts, cand, delay):
                        break
                    used = _memory_one(pp, counts)
                    continue
                tt, kk = int(best[2]), int(best[3])
                counts[m[tt]] -= 1
                counts[kk] += 1
                m[tt] = kk
                used = _memory_one(pp, counts)
    s, r = _nearest_sources(pp, m)
    if pp.evaluate(m, s, r).feasible:
        return m, s, r, "greedy"
    exact = pulling_optimal(pp, time_limit=ilp_time_limit)
    if exact.feasible:
        return exact.model.copy(), exact.shareable_source.copy(), exact.remaining_source.copy(), "ilp"
    return m, s, r, "failed"


def _evict_family(pp: PullingProblem, reqs: np.ndarray, m: np.ndarray, counts: np.ndarray, cand: np.ndarray,
                  delay: np.ndarray) -> bool:
    """Move every request of one family at this cloudlet to another served family (in place)."""
    fam = pp.family_index
    served = np.unique(fam[m[reqs]])
    if served.size < 2:
        return False
    best: tuple[float, int, np.ndarray] | None = None
    for f in served:
        movers = reqs[fam[m[reqs]] == f]
        others = np.isin(fam, served[served != f])
        options = np.where(others[None, :], cand[movers], np.inf)
        if not np.isfinite(options).any(axis=1).all():
            continue
        target = options.argmin(axis=1)
        added = float((options[np.arange(movers.size), target] - delay[movers, m[movers]]).sum())
        if best is None or added < best[0]:
            best = (added, int(f), target)
    if best is None:
        return False
    movers = reqs[fam[m[reqs]] == best[1]]
    for t, k2 in zip(movers, best[2]):
        counts[m[t]] -= 1
        counts[k2] += 1
        m[t] = k2
    return True


def _derandomized(pp: PullingProblem, lp: LpSolution) -> np.ndarray:
    """Method of conditional expectations on the LP's independent per-request rounding.

    Requests are fixed in order; request j takes the model (LP support first, then any allowed
    model) minimising the expected objective given the choices so far, the others still drawn
    from ``x*``, among the models that keep the *fixed* requests within every cloudlet's memory
    (memory only grows as more requests are fixed, so the end result fits). Under
    ``pull_delay="per_request"`` the expectation is exact (linear); under ``"global"`` the
    expected network-wide max is replaced by the max of the two expected sums (a surrogate).
    """
    j_count, k_models = pp.n_requests, pp.n_models
    nr = pp.nearest
    frac = lp.fraction
    fixed = pp.fixed_delay
    cost = fixed + nr["pull"] if pp.pull_delay == "per_request" else fixed
    with np.errstate(invalid="ignore"):
        e_sh = np.where(frac > 0, frac * np.where(np.isfinite(nr["shareable_pull"]), nr["shareable_pull"], 0), 0)
        e_re = np.where(frac > 0, frac * np.where(np.isfinite(nr["remaining_pull"]), nr["remaining_pull"], 0), 0)
    rest_sh, rest_re = e_sh.sum(), e_re.sum()
    fix_sh = fix_re = 0.0
    counts = np.zeros((pp.n_cloudlets, k_models), np.int64)
    m = np.zeros(j_count, np.int64)
    for t in range(j_count):
        i = int(pp.home[t])
        rest_sh -= e_sh[t].sum()
        rest_re -= e_re[t].sum()
        support = np.flatnonzero(frac[t] > 0)
        others = np.flatnonzero(pp.allowed[t] & (frac[t] <= 0))
        chosen = -1
        for group in (support, others):
            best_val = np.inf
            for k in group:
                if pp.capacity == "per_cloudlet":
                    counts[i, k] += 1
                    mem = _memory_one(pp, counts[i])
                    counts[i, k] -= 1
                    if mem > pp.memory[i] * (1 + ALGORITHM_RTOL):
                        continue
                if pp.pull_delay == "per_request":
                    val = cost[t, k]
                else:
                    val = cost[t, k] + max(fix_sh + nr["shareable_pull"][t, k] + rest_sh,
                                           fix_re + nr["remaining_pull"][t, k] + rest_re)
                if val < best_val:
                    best_val, chosen = val, int(k)
            if chosen >= 0:
                break
        if chosen < 0:  # nothing fits: the LP's favourite, left to the repair
            chosen = int(frac[t].argmax())
        m[t] = chosen
        counts[i, chosen] += 1
        if np.isfinite(nr["pull"][t, chosen]):
            fix_sh += nr["shareable_pull"][t, chosen]
            fix_re += nr["remaining_pull"][t, chosen]
    return m


def pulling_rounding(pp: PullingProblem, repeats: int = 50, seed: Any = 0, *, rounding: str = "conditional",
                     formulation: str | None = None, repair: bool = True, derandomize: bool = False,
                     ilp_time_limit: float = 10.0, lp: LpSolution | None = None,
                     source_order: Mapping[str, Sequence[Any]] | None = None) -> PullingResult:
    """Randomized rounding of the LP relaxation (the paper's Appro), best feasible of ``repeats``.

    Parameters
    ----------
    pp : PullingProblem
    repeats : int
        Independent draws (>= 1); the best feasible one is kept (the least total delay; when none
        is feasible, the one with the fewest violations, then repaired).
    seed : int, Generator or None
    rounding : {"conditional", "code", "half"}
        The draw (module docstring); ``"half"`` is NBS's ``U ~ [0, 1)`` (spec §6.2).
    formulation : {"reduced", "full"} or None
        The LP rounded; None = ``"reduced"`` for the conditional draw, ``"full"`` otherwise.
    repair : bool
        Repair an infeasible best draw (:func:`repair_decision`): a feasible instance then never
        gets an infeasible answer (up to the ILP fallback's time limit).
    derandomize : bool
        Replace the draws by the method of conditional expectations (deterministic).
    ilp_time_limit : float
        Time of the repair's exact fallback.
    lp : LpSolution, optional
        A precomputed LP of the same formulation (experiments reuse one LP for several roundings).
    source_order : mapping, optional
        Full formulation only: ``{"shareable": [nodes of model 0, ...], "remaining": [...]}``,
        each a permutation of the model's sources of that block: the order the draws walk a
        model's sources (default ascending node id). It matters for ``"code"`` and ``"half"``,
        whose leftover mass falls to the *last* source; CODE's order is an artefact of its
        data structures.

    Returns
    -------
    PullingResult
        ``lower_bound`` is the LP value; ``options`` carry ``"ratio_lp"`` (ALG / LP), the
        number of feasible draws and how the repair went. ``runtime_s`` includes the LP.
    """
    if not isinstance(pp, PullingProblem):
        raise invalid("pp", "a PullingProblem", type(pp).__name__)
    reps = integer("repeats", repeats, minimum=1)
    if rounding not in ROUNDINGS:
        raise invalid("rounding", f"one of {ROUNDINGS}", rounding)
    form = formulation or ("reduced" if rounding == "conditional" else "full")
    if rounding != "conditional" and form != "full":
        raise invalid("formulation", "'full' for the CODE draws (they need source variables)", form)
    if source_order is not None and form != "full":
        raise invalid("source_order", "None with the reduced formulation (it has no source variables)",
                      "an order")
    ranks = _order_ranks(pp, source_order) if source_order is not None else None
    rng = make_rng(seed)
    started = time.perf_counter()
    if lp is None:
        lp = solve_lp(pp, form)
    opts: dict[str, Any] = {"repeats": reps, "rounding": rounding, "formulation": form, "repair": repair,
                            "derandomize": derandomize, "seed": seed if isinstance(seed, int | None) else "rng",
                            "source_order": "ascending" if ranks is None else "given"}
    if lp.status != "optimal":
        m, s, r = fallback_decision(pp)
        return make_result(pp, m, s, r, algorithm="pulling_rounding", options={**opts, "lp_status": lp.status},
                           started=started, status="infeasible", fraction=lp.fraction)
    lists = None
    if form == "full" and lp.y is not None:
        lists = {key: _source_lists(lp, key) for key in ("shareable", "remaining")}
        if ranks is not None:
            _order_lists(lists, ranks)
    best: tuple[Any, ...] | None = None
    n_feasible = 0
    if derandomize:
        m = _derandomized(pp, lp)
        s, r = _nearest_sources(pp, m)
        draws: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]] = [(m, s, r)]
    else:
        draws = (_draw(pp, lp, rounding, rng, lists) for _ in range(reps))
    for m, s, r in draws:
        ev = pp.evaluate(m, s, r)
        n_feasible += ev.feasible
        key = (0 if ev.feasible else 1, sum(v.size for v in ev.violations.values()), ev.total_delay)
        if best is None or key < best[0]:
            best = (key, m, s, r)
    assert best is not None
    _, m, s, r = best
    how = "none"
    if repair and best[0][0] == 1:
        m, s, r, how = repair_decision(pp, m, ilp_time_limit=ilp_time_limit)
    res = make_result(pp, m, s, r, algorithm="pulling_rounding", options=opts, started=started,
                      lower_bound=lp.value, bound_method="lp", bound_runtime_s=lp.runtime_s, fraction=lp.fraction)
    ratio = res.objective / lp.value if lp.value > 0 else (1.0 if res.objective == 0 else float("inf"))
    res.options.update(ratio_lp=ratio, feasible_draws=int(n_feasible), repair_used=how)
    return res
