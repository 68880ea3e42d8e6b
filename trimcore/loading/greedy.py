"""Greedy-PL for general sharing (spec §5.4) and the machinery of sequential admission.

:class:`Timeline` keeps, for an order built by appending, the no-stall finish, the suffix
minimum of the slack and the minimum bandwidths of the decoupling theorem, so that checking one
more user costs one vectorised ``beta`` evaluation over the order instead of a full
:meth:`~trimcore.loading.problem.LoadingProblem.evaluate`. Its arithmetic is the evaluator's
(same sums in the same order), and it accepts only orders whose ``sum beta`` is within the
algorithms' tighter tolerance, so every order it accepts is feasible for the evaluator.
"""

from __future__ import annotations

import bisect
import time

import numpy as np

from trimcore._tolerances import FILTER_SLACK
from trimcore.errors import invalid
from trimcore.loading.problem import ALGO_BANDWIDTH_RTOL, SPREADS, LoadingProblem
from trimcore.loading.result import LoadingResult, loading_backend, make_result

__all__ = ["partialloading_greedy", "Timeline", "sequential_admission", "GREEDY_VARIANTS"]

#: ``variant`` options of :func:`partialloading_greedy`.
GREEDY_VARIANTS = ("append", "insert")


class Timeline:
    """An order under construction by appending, with its decoupling-theorem state.

    Parameters
    ----------
    problem : LoadingProblem
    backend : str
        Kernel tier of the switching-time rows.
    """

    def __init__(self, problem: LoadingProblem, backend: str = "auto") -> None:
        k = problem.n_users
        self.problem = problem
        self.backend = backend
        self.users = np.empty(k, dtype=np.int64)
        self.base = np.empty(k)   # F~_n - t_n
        self.smin = np.empty(k)   # min_{m >= n} (T_m - F~_m)
        self.n = 0
        self.fin = 0.0            # F~ of the last position
        self.total = 0.0          # sum of beta
        self.resident = problem.initial_model
        self.bcap = problem.bandwidth_hz * (1.0 + ALGO_BANDWIDTH_RTOL)
        self._rows: dict[int, np.ndarray] = {}

    @property
    def order(self) -> np.ndarray:
        """The users appended so far."""
        return self.users[:self.n].copy()

    def row(self) -> np.ndarray:
        """Loading times from the resident model to every model (cached per resident model)."""
        r = self.resident
        if r not in self._rows:
            self._rows[r] = self.problem.switch_row(r, self.backend)
        return self._rows[r]

    def trial(self, user: int, lam: float) -> tuple[bool, float, np.ndarray | None, float]:
        """Would appending ``user`` (loading time ``lam``) keep the order feasible?

        Returns
        -------
        ok : bool
        fin : float
            The user's no-stall finish.
        beta : ndarray or None
            Minimum bandwidths of the extended order (None if the GPU check failed).
        total : float
            Their sum (``inf`` if some user cannot upload in time).
        """
        p = self.problem
        t_k = float(p.infer_time[user])
        fin = self.fin + (lam + t_k)
        if not fin <= p.deadline_limit[user]:
            return False, fin, None, np.inf
        n = self.n
        sigma = float(p.deadline[user]) - fin
        late = np.empty(n + 1)
        np.add(self.base[:n], np.minimum(self.smin[:n], sigma), out=late[:n])
        late[n] = (fin - t_k) + sigma
        users = self.users[:n + 1].copy()
        users[n] = user
        beta = p.min_bandwidth(users, late)
        total = float(np.sum(beta))
        ok = bool(np.isfinite(total) and total <= self.bcap)
        return ok, fin, beta, total

    def append(self, user: int, fin: float, total: float) -> None:
        """Append ``user`` after a successful :meth:`trial` (its ``fin`` and ``total``)."""
        p = self.problem
        n = self.n
        sigma = float(p.deadline[user]) - fin
        np.minimum(self.smin[:n], sigma, out=self.smin[:n])
        self.users[n] = user
        self.base[n] = fin - float(p.infer_time[user])
        self.smin[n] = sigma
        self.fin = fin
        self.total = total
        self.n = n + 1
        self.resident = int(p.user_model[user])

    def try_append(self, user: int) -> bool:
        """Append ``user`` if the order stays feasible; return whether it did."""
        lam = float(self.row()[self.problem.user_model[user]])
        ok, fin, _, total = self.trial(user, lam)
        if ok:
            self.append(user, fin, total)
        return ok


def sequential_admission(problem: LoadingProblem, candidates: np.ndarray, backend: str = "auto") -> np.ndarray:
    """Walk ``candidates`` once, appending each user that keeps the order feasible (spec §6 B2).

    Users that cannot be served at all (:attr:`LoadingProblem.schedulable`) are skipped.
    """
    tl = Timeline(problem, backend)
    ok = problem.schedulable
    for k in np.asarray(candidates, dtype=np.int64).tolist():
        if ok[k]:
            tl.try_append(k)
    return tl.order


def _greedy_append(problem: LoadingProblem, backend: str) -> np.ndarray:
    p = problem
    tl = Timeline(p, backend)
    active = np.flatnonzero(p.schedulable)
    own = p.own_min_bandwidth
    limit = p.deadline_limit
    while active.size:
        # drop users that can never be appended again: F~ and sum(beta) only grow
        keep = (tl.fin + p.infer_time[active] <= limit[active]) & (tl.total + own[active] <= tl.bcap * FILTER_SLACK)
        active = active[keep]
        if not active.size:
            break
        lam = tl.row()[p.user_model[active]]
        delta = lam + p.infer_time[active]
        fin = tl.fin + delta
        gpu = fin <= limit[active]
        key = np.lexsort((active, p.upload_demand[active], p.deadline[active], delta))
        key = key[gpu[key]]
        sigmas: list[float] = []   # memo of this round: sum of the old users' beta at slack sigma,
        loads: list[float] = []    # non-increasing in sigma (a necessary-condition filter)
        chosen = -1
        for idx in key.tolist():
            k = int(active[idx])
            sigma = float(p.deadline[k]) - float(fin[idx])
            r = bisect.bisect_left(sigmas, sigma)
            if r < len(sigmas) and loads[r] + own[k] > tl.bcap * FILTER_SLACK:
                continue
            ok, f_k, beta, total = tl.trial(k, float(lam[idx]))
            if ok:
                tl.append(k, f_k, total)
                chosen = idx
                break
            if beta is not None:
                old = float(np.sum(beta[:-1]))
                r = bisect.bisect_left(sigmas, sigma)
                sigmas.insert(r, sigma)
                loads.insert(r, old)
        if chosen < 0:
            break
        active = np.delete(active, chosen)
    return tl.order


def _greedy_append_fast(problem: LoadingProblem) -> tuple[np.ndarray, dict[str, int]]:
    """:func:`_greedy_append` with its rounds in Numba (issue #15): the same decisions, O(K log K)-ish.

    * Candidates stay ordered: per model the users sorted by ``(t, T, demand, index)``; within a
      round a model's users come in that order, so its key ``(L(resident -> m) + t, T, demand,
      index)`` is non-decreasing (users whose ``L + t`` round to the same value but whose ``t``
      differ are compared by ``(T, demand, index)``, as the reference's sort does). A round takes
      the least key over the models' first open users: O(I) per candidate instead of a sort of
      all active users. A model whose first open user misses the latest deadline left in its
      list is done for the round (every later user finishes later).
    * The bandwidth sum is incremental: ``U`` bounds ``sum beta`` from above at a slack floor
      below the current one (``beta`` falls with the latest start, and appending only lowers the
      latest starts down to the newest slack), so while the slack stays above the floor a trial
      costs one ``beta``; ``LB`` (the sum at a past slack) bounds it from below. ``beta`` here
      is a Newton root accurate to ~1e-13 (not the evaluator's bits), so a trial is decided in
      Numba only when the bound is further than ``GREEDY_MARGIN = 1e-6`` (relative) from the
      budget; otherwise, or when a root is ill-conditioned (``c > 0.99``), the trial is the
      reference's own (:meth:`Timeline.trial` arithmetic: the evaluator's ``beta`` and ``np.sum``).
      Every decision is therefore the reference's.
    """
    from trimcore.kernels.loading.jit import NEED_EXACT, loading_greedy_steps
    p = problem
    k_all = p.n_users
    cand = np.flatnonzero(p.schedulable)
    key = np.lexsort((cand, p.upload_demand[cand], p.deadline[cand], p.infer_time[cand], p.user_model[cand]))
    users = np.ascontiguousarray(cand[key], dtype=np.int64)
    total = users.shape[0]
    models = p.user_model[users]
    ptr = np.searchsorted(models, np.arange(p.n_models + 1)).astype(np.int64)
    t_sorted = p.infer_time[users]
    run_end = np.empty(total, dtype=np.int64)   # end of each stretch of equal (model, t)
    sufmax = np.empty(total)                     # latest deadline from here to the model's end
    lim = p.deadline_limit[users]
    for q in range(p.n_models):
        a, b = int(ptr[q]), int(ptr[q + 1])
        if b > a:
            sufmax[a:b] = np.maximum.accumulate(lim[a:b][::-1])[::-1]
            brk = np.flatnonzero(t_sorted[a + 1:b] != t_sorted[a:b - 1]) + a + 1
            ends = np.concatenate((brk, [b]))
            starts = np.concatenate(([a], brk))
            run_end[a:b] = np.repeat(ends, ends - starts)
    rank = np.empty(k_all, dtype=np.int64)
    rank[np.lexsort((np.arange(k_all), p.upload_demand, p.deadline))] = np.arange(k_all)
    fixed = p.rate_model == "fixed_psd"
    bcap = p.bandwidth_hz * (1.0 + ALGO_BANDWIDTH_RTOL)
    order = np.empty(max(total, 1), dtype=np.int64)
    base = np.empty(max(total, 1))
    sig = np.empty(max(total, 1))
    nx = np.arange(total + 1, dtype=np.int64)
    rej = np.zeros(total + 1, dtype=np.int64)
    cur = np.zeros(p.n_models, dtype=np.int64)
    lam = np.zeros(p.n_models)
    done = np.zeros(p.n_models, dtype=np.bool_)
    st_i = np.array([0, p.start_state(), 0, 0, -1, -1, -1, 0, 0, 0], dtype=np.int64)
    st_f = np.zeros(8)
    st_f[7] = -np.inf
    smin = np.empty(max(total, 1))
    args = (ptr, users, run_end, sufmax, rank, p.user_model, p.infer_time, p.deadline, p.deadline_limit,
            p.input_bits, p.snr_bw, fixed, p.switch_matrix("numba"), bcap, order, base, sig, nx, rej, cur, lam,
            done, st_i, st_f, smin)
    exact = 0
    while loading_greedy_steps(*args) == NEED_EXACT:
        exact += 1
        # the reference's trial (Timeline.trial) on the same state: exact bits of beta and the sum
        n, k, fin, sigma = int(st_i[0]), int(st_i[4]), float(st_f[5]), float(st_f[6])
        smin_n = np.minimum.accumulate(sig[:n][::-1])[::-1] if n else sig[:0]
        late = np.empty(n + 1)
        np.add(base[:n], np.minimum(smin_n, sigma), out=late[:n])
        late[n] = (fin - float(p.infer_time[k])) + sigma
        trial_users = np.append(order[:n], k)
        beta_sum = float(np.sum(p.min_bandwidth(trial_users, late)))
        st_i[6] = int(bool(np.isfinite(beta_sum) and beta_sum <= bcap))
    return order[:int(st_i[0])].copy(), {"exact_trials": exact, "bound_refreshes": int(st_i[9])}


def _greedy_insert(problem: LoadingProblem, backend: str) -> np.ndarray:
    p = problem
    mat = p.switch_matrix(backend)
    empty = p.n_models
    start = p.start_state()
    limit = p.deadline_limit
    order: list[int] = []
    active = np.flatnonzero(p.schedulable)
    own = p.own_min_bandwidth
    bcap = p.bandwidth_hz * (1.0 + ALGO_BANDWIDTH_RTOL)
    total = 0.0
    while active.size:
        # inserting never lowers anybody's beta, so sum(beta) + beta_k(T_k - t_k) must fit
        active = active[total + own[active] <= bcap * FILTER_SLACK]
        if not active.size:
            break
        n = len(order)
        seq = np.asarray(order, dtype=np.int64)
        models = p.user_model[seq]
        lam = mat[np.concatenate(([start], models[:-1])).astype(np.int64), models] if n else np.zeros(0)
        fin = np.cumsum(lam + p.infer_time[seq])
        fin_before = np.concatenate(([0.0], fin))                     # F~ before position q
        room = np.minimum.accumulate((limit[seq] - fin)[::-1])[::-1] if n else np.zeros(0)
        room = np.concatenate((room, [np.inf]))                       # how far positions >= q may shift
        prev = np.concatenate(([start], models)).astype(np.int64)    # state before position q
        nxt = np.concatenate((models, [empty])).astype(np.int64)     # model at position q (none at the end)
        m_a = p.user_model[active]
        into = mat[prev[:, None], m_a[None, :]]                       # (n + 1, |A|)
        to_next = mat[m_a[None, :], np.minimum(nxt, empty - 1)[:, None]]
        out_of = np.where((nxt == empty)[:, None], 0.0, to_next)
        old = np.concatenate((lam, [0.0]))[:, None]
        t_a = p.infer_time[active][None, :]
        delta = into + t_a + out_of - old
        fin_k = fin_before[:, None] + (into + t_a)
        gpu = (fin_k <= limit[active][None, :]) & (delta <= room[:, None])
        q_idx, a_idx = np.nonzero(gpu)
        if q_idx.size == 0:
            break
        key = np.lexsort((q_idx, active[a_idx], p.upload_demand[active][a_idx], p.deadline[active][a_idx],
                          delta[q_idx, a_idx]))
        chosen = None
        for c in key.tolist():
            q, a = int(q_idx[c]), int(a_idx[c])
            trial = order[:q] + [int(active[a])] + order[q:]
            ev = p.evaluate(trial, backend=backend)
            if ev.feasible and ev.total_min_bandwidth <= bcap:
                chosen = (a, trial)
                total = ev.total_min_bandwidth
                break
        if chosen is None:
            break
        order = chosen[1]
        active = np.delete(active, chosen[0])
    return np.asarray(order, dtype=np.int64)


def partialloading_greedy(
    problem: LoadingProblem,
    *,
    variant: str = "append",
    spread: str = "proportional",
    backend: str = "auto",
) -> LoadingResult:
    """Greedy-PL: sharing-aware greedy scheduling for any sharing and per-user deadlines (spec §5.4).

    ``variant="append"``: every round appends, among the candidates in increasing order of
    ``(L(resident -> m_k) + t_k, T_k, upload demand, k)``, the first whose appending keeps the
    order feasible (decoupling theorem), and stops when none does.
    ``variant="insert"`` (Greedy-Insert): every round tries every candidate at every position
    and keeps the feasible ``(k, position)`` with the least makespan increase (ties: deadline,
    upload demand, user, position). O(K^4) in the worst case.

    Parameters
    ----------
    problem : LoadingProblem
    variant : {"append", "insert"}
    spread : {"proportional", "equal", "none"}
        Leftover bandwidth rule (see :meth:`LoadingProblem.evaluate`).
    backend : {"auto", "numba", "reference"}
        Tier of the switching-time kernels (identical decisions on every tier);
        ``options["backend"]`` says which one ran.

    Returns
    -------
    LoadingResult
        Always feasible.
    """
    if not isinstance(variant, str) or variant not in GREEDY_VARIANTS:
        raise invalid("variant", f"one of {GREEDY_VARIANTS}", variant)
    if not isinstance(spread, str) or spread not in SPREADS:
        raise invalid("spread", f"one of {SPREADS}", spread)
    backend = loading_backend(backend, "partialloading_greedy")
    started = time.perf_counter()
    if variant == "insert":
        order = _greedy_insert(problem, backend)
    options: dict[str, object] = {"variant": variant, "spread": spread}
    if variant == "append" and backend == "numba":
        order, stats = _greedy_append_fast(problem)
        options.update(stats)
    elif variant == "append":
        order = _greedy_append(problem, backend)
    return make_result(problem, order, "partialloading_greedy", options, started, spread=spread, backend=backend)

