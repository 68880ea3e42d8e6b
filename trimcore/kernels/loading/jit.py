"""Numba tier of the PartialLoading kernels (see :mod:`trimcore.kernels.loading.reference`).

Every kernel is a module-level ``@njit`` (disk-cached) function that performs the same
floating-point operations in the same order as its reference twin, so decisions are identical.
Compiled code is cached next to this file, or in ``NUMBA_CACHE_DIR`` when that is set.
"""

from __future__ import annotations

import numpy as np

from trimcore.kernels._jit import njit
from trimcore.kernels.loading.reference import edf_code_dtype, edf_pred_dtype, edf_runs


@njit(nogil=True)
def _switch_into(prev, full, indptr, indices, block_sizes, load_rate, stamp, tag, q):  # pragma: no cover
    """Loading time prev -> q; the blocks of ``prev`` must carry ``stamp == tag``."""
    if q == prev:
        return 0.0
    total = 0.0
    for t in range(indptr[q], indptr[q + 1]):
        j = indices[t]
        if full or prev < 0 or stamp[j] != tag:
            total += block_sizes[j]
    return total / load_rate


@njit(nogil=True)
def _mark(prev, indptr, indices, stamp, tag):  # pragma: no cover - compiled
    if prev >= 0:
        for t in range(indptr[prev], indptr[prev + 1]):
            stamp[indices[t]] = tag


@njit(nogil=True)
def _order_times(seq_models, initial, full, indptr, indices, block_sizes, load_rate, out):  # pragma: no cover
    stamp = np.full(block_sizes.shape[0], -1, dtype=np.int64)
    prev = initial
    for p in range(seq_models.shape[0]):
        q = seq_models[p]
        if q != prev:
            _mark(prev, indptr, indices, stamp, p)
        out[p] = _switch_into(prev, full, indptr, indices, block_sizes, load_rate, stamp, p, q)
        prev = q


def loading_order_times(seq_models: np.ndarray, initial: int, full: bool, indptr: np.ndarray,
                        indices: np.ndarray, block_sizes: np.ndarray, load_rate: float) -> np.ndarray:
    """See :func:`trimcore.kernels.loading.reference.loading_order_times`."""
    out = np.zeros(seq_models.shape[0])
    _order_times(np.ascontiguousarray(seq_models, dtype=np.int64), int(initial), bool(full), indptr, indices,
                 block_sizes, float(load_rate), out)
    return out


@njit(nogil=True)
def _switch_rows(prevs, full, indptr, indices, block_sizes, load_rate, out):  # pragma: no cover - compiled
    n_models = indptr.shape[0] - 1
    stamp = np.full(block_sizes.shape[0], -1, dtype=np.int64)
    for r in range(prevs.shape[0]):
        prev = prevs[r]
        _mark(prev, indptr, indices, stamp, r)
        for q in range(n_models):
            out[r, q] = _switch_into(prev, full, indptr, indices, block_sizes, load_rate, stamp, r, q)


def loading_switch_row(prev: int, full: bool, indptr: np.ndarray, indices: np.ndarray,
                       block_sizes: np.ndarray, load_rate: float) -> np.ndarray:
    """See :func:`trimcore.kernels.loading.reference.loading_switch_row`."""
    out = np.zeros((1, indptr.shape[0] - 1))
    _switch_rows(np.array([prev], dtype=np.int64), bool(full), indptr, indices, block_sizes, float(load_rate), out)
    return out[0]


def loading_switch_matrix(full: bool, indptr: np.ndarray, indices: np.ndarray, block_sizes: np.ndarray,
                          load_rate: float) -> np.ndarray:
    """See :func:`trimcore.kernels.loading.reference.loading_switch_matrix`."""
    n_models = indptr.shape[0] - 1
    prevs = np.arange(n_models + 1, dtype=np.int64)
    prevs[n_models] = -1
    out = np.zeros((n_models + 1, n_models))
    _switch_rows(prevs, bool(full), indptr, indices, block_sizes, float(load_rate), out)
    return out


@njit(nogil=True)
def _simulate(lam, upload, infer, start, finish):  # pragma: no cover - compiled
    f = 0.0
    for p in range(lam.shape[0]):
        s = max(f + lam[p], upload[p])
        start[p] = s
        f = s + infer[p]
        finish[p] = f


def loading_simulate(lam: np.ndarray, upload: np.ndarray, infer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """See :func:`trimcore.kernels.loading.reference.loading_simulate`."""
    start = np.zeros(lam.shape[0])
    finish = np.zeros(lam.shape[0])
    _simulate(lam, upload, infer, start, finish)
    return start, finish


@njit(nogil=True)
def _minplus(h_left, h_right, cap, out, choice):  # pragma: no cover - compiled
    a = h_left.shape[0]
    b = h_right.shape[0]
    length = 0
    for n in range(a + b - 1):
        lo = max(0, n - a + 1)
        hi = min(n, b - 1)
        best = h_left[n - lo] + h_right[lo]
        arg = lo
        for m in range(lo + 1, hi + 1):
            v = h_left[n - m] + h_right[m]
            if v < best:
                best = v
                arg = m
        if best > cap:
            break
        out[n] = best
        choice[n] = arg
        length = n + 1
    return length


def loading_minplus(h_left: np.ndarray, h_right: np.ndarray, cap: float) -> tuple[np.ndarray, np.ndarray]:
    """See :func:`trimcore.kernels.loading.reference.loading_minplus`."""
    size = h_left.shape[0] + h_right.shape[0] - 1
    out = np.zeros(size)
    choice = np.zeros(size, dtype=np.int64)
    length = _minplus(h_left, h_right, float(cap), out, choice)
    return out[:length].copy(), choice[:length].copy()


@njit(nogil=True)
def _monotone_minplus(x, lx, prefix, rows, out, arg, stack):  # pragma: no cover - compiled
    """See :func:`trimcore.kernels.loading.reference._monotone_minplus` (same rows, same order)."""
    k = prefix.shape[0] - 1
    top = 0
    stack[0, 0] = 0
    stack[0, 1] = rows - 1
    stack[0, 2] = 0
    stack[0, 3] = lx - 1
    top = 1
    while top > 0:
        top -= 1
        r_lo = stack[top, 0]
        r_hi = stack[top, 1]
        o_lo = stack[top, 2]
        o_hi = stack[top, 3]
        if r_lo > r_hi:
            continue
        mid = (r_lo + r_hi) // 2
        lo = max(o_lo, mid - k, 0)
        hi = min(o_hi, mid, lx - 1)
        best = x[lo] + prefix[mid - lo]
        j_best = lo
        for j in range(lo + 1, hi + 1):
            v = x[j] + prefix[mid - j]
            if v <= best:
                best = v
                j_best = j
        out[mid] = best
        arg[mid] = j_best
        stack[top, 0] = mid + 1
        stack[top, 1] = r_hi
        stack[top, 2] = j_best
        stack[top, 3] = o_hi
        stack[top + 1, 0] = r_lo
        stack[top + 1, 1] = mid - 1
        stack[top + 1, 2] = o_lo
        stack[top + 1, 3] = j_best
        top += 2


@njit(nogil=True)
def _cut(values, length, cap):  # pragma: no cover - compiled
    for n in range(length):
        if values[n] > cap:
            return n
    return length


@njit(nogil=True)
def _contribute(table, length, slot_of, free, n_free, src, q, values, count, p):  # pragma: no cover - compiled
    """Fold ``values[:count]`` from position ``p`` into ``T_q`` (a slot is taken on the first fold)."""
    s = slot_of[q]
    if s < 0:
        n_free -= 1
        s = free[n_free]
        slot_of[q] = s
    have = length[q]
    for n in range(count):
        if n >= have or values[n] < table[s, n]:
            table[s, n] = values[n]
            src[q, n] = p
    if count > have:
        length[q] = count
    return n_free


@njit(nogil=True)
def _tree_dp(cost, end, leaf_ptr, prefix, cap, width, src, choice, leaf_of):  # pragma: no cover - compiled
    n_pos = cost.shape[0]
    # only the tables of positions still to come that something reached are kept: the flow target
    # and the ends of the open ancestors, at most depth + 2 at once
    depth = 0
    ends = np.empty(n_pos + 1, dtype=np.int64)
    top = 0
    for p in range(n_pos):
        while top > 0 and ends[top - 1] <= p:
            top -= 1
        if leaf_ptr[p + 1] == leaf_ptr[p]:
            ends[top] = end[p]
            top += 1
        depth = max(depth, top)
    n_slots = depth + 2
    table = np.empty((n_slots, width))
    free = np.arange(n_slots)
    n_free = n_slots
    slot_of = np.full(n_pos + 1, -1, dtype=np.int64)
    length = np.zeros(n_pos + 1, dtype=np.int64)
    zero = np.zeros(1)
    n_free = _contribute(table, length, slot_of, free, n_free, src, 0, zero, 1, -1)
    work = np.empty(width)
    x = np.empty(width)
    arg = np.empty(width, dtype=np.int64)
    stack = np.empty((2 * 64 + 8, 4), dtype=np.int64)
    for p in range(n_pos):
        lx = length[p]
        s = slot_of[p]
        if s >= 0:
            for n in range(lx):
                x[n] = table[s, n]
            free[n_free] = s  # this position's table is consumed now
            n_free += 1
            slot_of[p] = -1
        if lx == 0:
            continue
        a = leaf_ptr[p]
        b = leaf_ptr[p + 1]
        if b > a:
            rows = min(lx + b - a - 1, width)
            _monotone_minplus(x, lx, prefix[a:b], rows, work, arg, stack)
            rows = _cut(work, rows, cap)
            leaf = leaf_of[p]
            for n in range(rows):
                choice[leaf, n] = n - arg[n]
            n_free = _contribute(table, length, slot_of, free, n_free, src, p + 1, work, rows, p)
        else:
            n_free = _contribute(table, length, slot_of, free, n_free, src, end[p], x, lx, p)
            for n in range(lx):
                work[n] = x[n] + cost[p]
            rows = _cut(work, lx, cap)
            n_free = _contribute(table, length, slot_of, free, n_free, src, p + 1, work, rows, p)
    served = np.zeros(n_pos, dtype=np.int64)
    q = n_pos
    n = length[q] - 1
    while q > 0:
        p = src[q, n]
        if leaf_ptr[p + 1] > leaf_ptr[p]:
            m = choice[leaf_of[p], n]
            served[p] = m
            n -= m
        q = p
    return served


def loading_tree_dp(cost: np.ndarray, end: np.ndarray, leaf_ptr: np.ndarray, prefix: np.ndarray, cap: float,
                    n_cap: int) -> np.ndarray:
    """See :func:`trimcore.kernels.loading.reference.loading_tree_dp`."""
    n_pos = cost.shape[0]
    width = int(n_cap) + 1
    leaf_of = np.cumsum(leaf_ptr[1:] > leaf_ptr[:-1]) - 1
    n_leaves = max(int(leaf_of[-1]) + 1, 1) if n_pos else 1
    # back-pointers in the narrowest type holding a position; np.empty: only the entries the DP
    # writes are ever read (and touched in memory)
    src = np.empty((n_pos + 1, width), dtype=edf_pred_dtype(n_pos + 1))
    choice = np.empty((n_leaves, width), dtype=np.int32)
    return _tree_dp(np.ascontiguousarray(cost, dtype=np.float64), np.ascontiguousarray(end, dtype=np.int64),
                    np.ascontiguousarray(leaf_ptr, dtype=np.int64), np.ascontiguousarray(prefix, dtype=np.float64),
                    float(cap), width, src, choice, leaf_of.astype(np.int64))


@njit(nogil=True)
def _cheapest_state(f, n, n_states):  # pragma: no cover - compiled
    """The state of the cheapest finite makespan in row ``n`` of the DP (lowest index on ties)."""
    state = 0
    best = np.inf
    for i in range(n_states):
        if f[n, i] < best:
            best = f[n, i]
            state = i
    return state


@njit(nogil=True)
def _edf_dp(seq_models, infer, limit, switch, start_state, cap, pred):  # pragma: no cover - compiled
    k_users = seq_models.shape[0]
    n_states = switch.shape[0]
    f = np.full((cap + 1, n_states), np.inf)
    f[0, start_state] = 0.0
    for k in range(k_users):
        q = seq_models[k]
        tk = infer[k]
        for n in range(min(k + 1, cap), 0, -1):
            best = np.inf
            arg = -1
            for i in range(n_states):
                v = f[n - 1, i]
                if v < np.inf:
                    c = v + (switch[i, q] + tk)
                    if c < best:
                        best = c
                        arg = i
            if arg >= 0 and best <= limit[k] and best < f[n, q]:
                f[n, q] = best
                pred[k, n] = arg
    # back-tracking
    n = 0
    for r in range(cap + 1):
        for i in range(n_states):
            if f[r, i] < np.inf:
                n = r
                break
    state = _cheapest_state(f, n, n_states)
    served = np.empty(n, dtype=np.int64)
    k = k_users - 1
    while n > 0:
        while not (seq_models[k] == state and pred[k, n] >= 0):
            k -= 1
        served[n - 1] = k
        state = pred[k, n]
        n -= 1
        k -= 1
    return served


def loading_edf_dp(seq_models: np.ndarray, infer: np.ndarray, limit: np.ndarray, switch: np.ndarray,
                   start_state: int, cap: int) -> np.ndarray:
    """See :func:`trimcore.kernels.loading.reference.loading_edf_dp`."""
    # the predecessor table in the narrowest type that holds the states (reference.edf_pred_dtype)
    pred: np.ndarray = np.full((seq_models.shape[0], int(cap) + 1), -1, dtype=edf_pred_dtype(switch.shape[0]))
    return _edf_dp(np.ascontiguousarray(seq_models, dtype=np.int64), infer, limit, switch, int(start_state),
                   int(cap), pred)


@njit(nogil=True)
def _edf_run_step(r, runs, seq_models, infer, limit, switch, cap, f, top, code, code_row, write, g, gi, out, arg,
                  stack):  # pragma: no cover - compiled
    """See :func:`trimcore.kernels.loading.reference._edf_run_step` (records go to ``code[code_row]``)."""
    n_states = switch.shape[0]
    a = runs[r]
    b = runs[r + 1]
    q = seq_models[a]
    rows = min(top + b - a, cap)
    if rows <= 0:
        return top
    for n in range(top + 1):
        best = f[n, 0] + switch[0, q]
        i_best = 0
        for i in range(1, n_states):
            v = f[n, i] + switch[i, q]
            if v < best:
                best = v
                i_best = i
        g[n] = best
        gi[n] = i_best
    _monotone_minplus(g, top + 1, np.cumsum(infer[a:b]), rows, out, arg, stack)
    lim = limit[a]
    for row in range(rows):
        n = row + 1
        if out[row] <= lim and out[row] < f[n, q]:
            f[n, q] = out[row]
            j = arg[row]
            if write:
                code[code_row, n] = (n - j - 1) * n_states + gi[j]
            if n > top:
                top = n
    return top


@njit(nogil=True)
def _edf_runs_dp(seq_models, infer, limit, switch, start_state, cap, runs, code, size, ckpt,
                 ckpt_top):  # pragma: no cover - compiled
    n_states = switch.shape[0]
    n_runs = runs.shape[0] - 1
    n_seg = ckpt_top.shape[0]
    f = np.full((cap + 1, n_states), np.inf)
    f[0, start_state] = 0.0
    top = 0
    g = np.empty(cap + 1)
    gi = np.empty(cap + 1, dtype=np.int64)
    out = np.empty(cap + 1)
    arg = np.empty(cap + 1, dtype=np.int64)
    stack = np.empty((2 * 64 + 8, 4), dtype=np.int64)
    for r in range(n_runs):
        if n_seg > 1 and r % size == 0:
            ckpt[r // size] = f
            ckpt_top[r // size] = top
        top = _edf_run_step(r, runs, seq_models, infer, limit, switch, cap, f, top, code, r, n_seg == 1, g, gi,
                            out, arg, stack)
    n = top
    state = _cheapest_state(f, n, n_states)
    served = np.empty(n, dtype=np.int64)
    r = n_runs - 1
    seg = 0 if n_seg == 1 else n_seg
    while n > 0:
        while True:
            if r // size != seg:  # recompute this segment's records from its checkpoint
                seg = r // size
                f[:, :] = ckpt[seg]
                t = ckpt_top[seg]
                code[:, :] = -1
                for rr in range(seg * size, min((seg + 1) * size, n_runs)):
                    t = _edf_run_step(rr, runs, seq_models, infer, limit, switch, cap, f, t, code, rr - seg * size,
                                      True, g, gi, out, arg, stack)
            if seq_models[runs[r]] == state and code[r - seg * size, n] >= 0:
                break
            r -= 1
        c = np.int64(code[r - seg * size, n])
        m = c // n_states + 1
        for u in range(m):
            served[n - m + u] = runs[r] + u
        state = c % n_states
        n -= m
        r -= 1
    return served


def loading_edf_runs_dp(seq_models: np.ndarray, infer: np.ndarray, limit: np.ndarray, switch: np.ndarray,
                        start_state: int, cap: int, segment: int = 0) -> np.ndarray:
    """See :func:`trimcore.kernels.loading.reference.loading_edf_runs_dp`."""
    seq_models = np.ascontiguousarray(seq_models, dtype=np.int64)
    infer = np.ascontiguousarray(infer, dtype=np.float64)
    limit = np.ascontiguousarray(limit, dtype=np.float64)
    switch = np.ascontiguousarray(switch, dtype=np.float64)
    runs = edf_runs(seq_models, infer, limit)
    n_runs = runs.shape[0] - 1
    longest = int(np.max(np.diff(runs))) if n_runs else 1
    size = max(n_runs if segment <= 0 else min(int(segment), n_runs), 1)
    n_seg = max(-(-n_runs // size), 1)
    n_states = switch.shape[0]
    code = np.full((size, int(cap) + 1), -1, dtype=edf_code_dtype(n_states, longest))
    ckpt = np.empty((n_seg if n_seg > 1 else 0, int(cap) + 1, n_states))
    ckpt_top = np.zeros(n_seg, dtype=np.int64)
    return _edf_runs_dp(seq_models, infer, limit, switch, int(start_state), int(cap), runs, code, size, ckpt,
                        ckpt_top)

@njit(nogil=True)
def _enumerate(switch, models, infer, deadline, limit, start_state, fill, ptr, users, latest):  # pragma: no cover
    k_users = models.shape[0]
    used = np.zeros(k_users, dtype=np.bool_)
    seq = np.empty(k_users, dtype=np.int64)
    fin = np.empty(k_users, dtype=np.float64)
    state = np.empty(k_users + 1, dtype=np.int64)
    cursor = np.zeros(k_users + 1, dtype=np.int64)
    smin = np.empty(k_users, dtype=np.float64)
    state[0] = start_state
    depth = 0
    n_seq = 0
    pos = 0
    while depth >= 0:
        k = cursor[depth]
        if k >= k_users:
            depth -= 1
            if depth >= 0:
                used[seq[depth]] = False
                cursor[depth] += 1
            continue
        if used[k]:
            cursor[depth] += 1
            continue
        prev_f = fin[depth - 1] if depth > 0 else 0.0
        f_new = prev_f + (switch[state[depth], models[k]] + infer[k])
        if not f_new <= limit[k]:
            cursor[depth] += 1
            continue
        seq[depth] = k
        fin[depth] = f_new
        used[k] = True
        length = depth + 1
        if fill:
            run = np.inf
            for p in range(length - 1, -1, -1):
                s = deadline[seq[p]] - fin[p]
                if s < run:
                    run = s
                smin[p] = run
            for p in range(length):
                users[pos + p] = seq[p]
                latest[pos + p] = (fin[p] - infer[seq[p]]) + smin[p]
            ptr[n_seq + 1] = pos + length
        n_seq += 1
        pos += length
        state[depth + 1] = models[k]
        cursor[depth + 1] = 0
        depth += 1
    return n_seq, pos


def loading_enumerate(switch: np.ndarray, models: np.ndarray, infer: np.ndarray, deadline: np.ndarray,
                      limit: np.ndarray, start_state: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """See :func:`trimcore.kernels.loading.reference.loading_enumerate`."""
    models = np.ascontiguousarray(models, dtype=np.int64)
    empty_i = np.zeros(1, dtype=np.int64)
    empty_f = np.zeros(1)
    n_seq, total = _enumerate(switch, models, infer, deadline, limit, int(start_state), False, empty_i, empty_i,
                              empty_f)
    ptr = np.zeros(n_seq + 1, dtype=np.int64)
    users = np.zeros(total, dtype=np.int64)
    latest = np.zeros(total)
    _enumerate(switch, models, infer, deadline, limit, int(start_state), True, ptr, users, latest)
    return ptr, users, latest


# ------------------------------------------------------------------------------- Greedy-PL (issue #15)
_LN2 = 0.6931471805599453
_LOG_LN2 = -0.36651292058166435
_LOG_C_SURE = -0.01005033585350145   # log(0.99): below it the root is well conditioned (error <= 100 ulps)
#: Relative margin between the approximate sums and the budget: far above the error of either
#: side (reference and approximation are both within ~1e-13 of the true root where c <= 0.99).
GREEDY_MARGIN = 1e-6
_SURE, _UNSURE, _INFINITE = 0, 1, 2
DONE, NEED_EXACT = 0, 1


@njit(nogil=True)
def _beta_approx(s, alpha, tau, fixed):  # pragma: no cover - compiled
    """``beta`` (spec §5.2) to ~1e-13 relative and how sure it is: finite, unsure or certainly infinite.

    Not bit-identical to :func:`trimcore.instance.radio.min_bandwidth`; the greedy only acts on
    it when the sum is further than :data:`GREEDY_MARGIN` from the budget.
    """
    if s == 0.0:
        return 0.0, _SURE
    if not tau > 0.0:
        return np.inf, _INFINITE
    rate = s / tau
    if fixed:
        eta = np.log1p(alpha) / _LN2
        if eta == 0.0 or rate == np.inf:
            return np.inf, _INFINITE
        return rate / eta, _SURE
    if alpha == 0.0 or rate == np.inf:
        return np.inf, _INFINITE
    log_c = np.log(rate) - np.log(alpha) + _LOG_LN2
    if log_c > 1e-9:
        return np.inf, _INFINITE
    if log_c > _LOG_C_SURE:
        return np.inf, _UNSURE
    c = np.exp(log_c)
    # y = 1 + alpha / b solves ln y = c (y - 1); in u = ln y: phi(u) = c expm1(u) - u = 0, u > 0.
    # phi is convex, so Newton from any u >= root decreases monotonically to it: start at
    # L + ln L + 1 (L = -ln c, near the root when c is small) if phi >= 0 there, else at -2 ln c.
    big = -log_c
    u = big + np.log(big) + 1.0 if big > 1.0 else -2.0 * log_c
    if not (u > big and c * np.expm1(u) - u >= 0.0):
        u = -2.0 * log_c
    for _ in range(200):
        e = np.exp(u)
        step = (c * (e - 1.0) - u) / (c * e - 1.0)
        if not step > 1e-16 * u:
            break
        u -= step
    return alpha / np.expm1(u), _SURE


@njit(nogil=True)
def _find(nx, pos):  # pragma: no cover - compiled
    """First alive position >= pos (path halving)."""
    while nx[pos] != pos:
        nx[pos] = nx[nx[pos]]
        pos = nx[pos]
    return pos


@njit(nogil=True)
def _open_pos(nx, rej, rnd, pos, stop):  # pragma: no cover - compiled
    """First alive position in [pos, stop) not rejected in round ``rnd``; ``stop`` if none."""
    pos = _find(nx, pos)
    while pos < stop and rej[pos] == rnd:
        pos = _find(nx, pos + 1)
    return pos if pos < stop else stop


#: Slack floors tried at a refresh, as fractions of the slack below it: the lowest floor whose
#: bound still fits the budget is kept, so refreshes stay rare until the budget nearly binds.
_FLOOR_GAPS = np.array([0.5, 0.2, 0.05, 0.01, 0.002])


@njit(nogil=True)
def _refresh(order, base, sig, n, sigma, s_bits, alpha, fixed, smin, low, low_flag):  # pragma: no cover
    """Sums of the old users' beta at slack ``sigma`` and at the floors ``sigma - gap |sigma|``.

    Returns ``(sum, sum of the certain terms, flag)`` at ``sigma``; fills ``low`` / ``low_flag``
    per floor (flag: the least certain term).
    """
    run = np.inf
    for p in range(n - 1, -1, -1):
        if sig[p] < run:
            run = sig[p]
        smin[p] = run
    at = 0.0
    at_sure = 0.0
    at_flag = _SURE
    n_floor = _FLOOR_GAPS.shape[0]
    for j in range(n_floor):
        low[j] = 0.0
        low_flag[j] = _SURE
    for p in range(n):
        u = order[p]
        b, f = _beta_approx(s_bits[u], alpha[u], base[p] + min(smin[p], sigma), fixed)
        if f == _SURE:
            at_sure += b
        at += b
        at_flag = max(at_flag, f)
        for j in range(n_floor):
            if low_flag[j] != _SURE:
                continue
            b, f = _beta_approx(s_bits[u], alpha[u], base[p] + min(smin[p], sigma - _FLOOR_GAPS[j] * abs(sigma)),
                                fixed)
            low[j] += b
            low_flag[j] = f
    return at, at_sure, at_flag


@njit(nogil=True)
def _greedy_steps(ptr, users, run_end, sufmax, rank, user_model, infer, deadline, limit, s_bits, alpha, fixed,
                  switch, bcap, order, base, sig, nx, rej, cur, lam, done, st_i, st_f, smin):  # pragma: no cover
    """Greedy-PL rounds until done or until a trial needs the exact evaluator (see ``greedy.py``).

    ``st_i = [n, state, round, in_round, pending user, pending position, answer, u_valid, lb_valid,
    refreshes]``
    ``st_f = [fin, U, floor, LB, LB sigma, pending fin, pending sigma, slack at and below which an old
    user's beta is certainly infinite]``.
    """
    n_models = ptr.shape[0] - 1
    margin = GREEDY_MARGIN
    low = np.zeros(_FLOOR_GAPS.shape[0])
    low_flag = np.zeros(_FLOOR_GAPS.shape[0], dtype=np.int64)
    while True:
        if st_i[3] == 0:  # a new round: loading times from the resident model, cursors at the heads
            st_i[2] += 1
            for q in range(n_models):
                lam[q] = switch[st_i[1], q]
                cur[q] = ptr[q]
                done[q] = False
            st_i[3] = 1
        rnd = st_i[2]
        accept = -1
        if st_i[6] >= 0:  # the exact evaluator's answer on the pending candidate
            accept = st_i[6]
            st_i[6] = -1
            k = st_i[4]
            pos = st_i[5]
            fin_k = st_f[5]
            sigma = st_f[6]
            st_i[7] = 0
        else:
            # the next candidate: least (L + t, rank) over the models' first open users
            k = -1
            pos = -1
            best_d = np.inf
            best_r = 0
            for q in range(n_models):
                if done[q]:
                    continue
                stop = ptr[q + 1]
                c = _open_pos(nx, rej, rnd, cur[q], stop)
                cur[q] = c
                if c >= stop:
                    done[q] = True
                    continue
                d0 = lam[q] + infer[users[c]]
                cand = c
                j = run_end[c]
                while j < stop and lam[q] + infer[users[j]] == d0:  # equal L + t, other t: order by rank
                    c2 = _open_pos(nx, rej, rnd, j, run_end[j])
                    if c2 < run_end[j] and rank[users[c2]] < rank[users[cand]]:
                        cand = c2
                    j = run_end[j]
                r = rank[users[cand]]
                if k < 0 or d0 < best_d or (d0 == best_d and r < best_r):
                    k = users[cand]
                    pos = cand
                    best_d = d0
                    best_r = r
            if k < 0:
                return DONE
            q = user_model[k]
            fin_k = st_f[0] + best_d
            if not fin_k <= limit[k]:
                c = cur[q]
                if st_f[0] + (lam[q] + infer[users[c]]) > sufmax[c]:
                    done[q] = True  # every later user of this model finishes later still
                else:
                    rej[pos] = rnd
                continue
            sigma = deadline[k] - fin_k
            late_k = (fin_k - infer[k]) + sigma
            bk, fk = _beta_approx(s_bits[k], alpha[k], late_k, fixed)
            n = st_i[0]
            if fk == _INFINITE or sigma <= st_f[7]:
                accept = 0
            elif fk == _SURE and st_i[8] == 1 and sigma <= st_f[4] and (st_f[3] + bk) * (1.0 - margin) > bcap:
                accept = 0
            elif fk == _SURE and st_i[7] == 1 and sigma >= st_f[2] and (st_f[1] + bk) * (1.0 + margin) <= bcap:
                accept = 1
            else:
                at, at_sure, at_flag = _refresh(order, base, sig, n, sigma, s_bits, alpha, fixed, smin, low, low_flag)
                st_i[9] += 1
                pick = -1
                if fk == _SURE:
                    for j in range(low.shape[0]):
                        if low_flag[j] == _SURE and (low[j] + bk) * (1.0 + margin) <= bcap:
                            pick = j
                            break
                st_f[3] = at_sure
                st_f[4] = sigma
                st_i[8] = 1
                if at_flag == _INFINITE:
                    accept = 0
                    st_f[7] = max(st_f[7], sigma)  # some old beta is infinite at this slack and below
                elif fk == _SURE and (at_sure + bk) * (1.0 - margin) > bcap:
                    accept = 0
                elif pick >= 0:
                    accept = 1
                    st_f[1] = low[pick]
                    st_f[2] = sigma - _FLOOR_GAPS[pick] * abs(sigma)
                    st_i[7] = 1
                elif fk == _SURE and at_flag == _SURE and (at + bk) * (1.0 + margin) <= bcap:
                    accept = 1
                    st_f[1] = at
                    st_f[2] = sigma
                    st_i[7] = 1
                else:
                    st_i[4] = k
                    st_i[5] = pos
                    st_f[5] = fin_k
                    st_f[6] = sigma
                    return NEED_EXACT
        if accept == 1:
            n = st_i[0]
            order[n] = k
            base[n] = fin_k - infer[k]
            sig[n] = sigma
            st_i[0] = n + 1
            st_f[0] = fin_k
            st_i[1] = user_model[k]
            nx[pos] = pos + 1
            if st_i[7] == 1:
                if sigma >= st_f[2]:
                    b, f = _beta_approx(s_bits[k], alpha[k], base[n] + min(sigma, st_f[2]), fixed)
                    if f == _SURE:
                        st_f[1] += b
                    else:
                        st_i[7] = 0
                else:
                    st_i[7] = 0
            st_i[3] = 0
        else:
            rej[pos] = rnd


def loading_greedy_steps(*args: np.ndarray | float | bool) -> int:
    """Greedy-PL rounds in Numba until done (0) or until a trial needs the exact evaluator (1).

    The state lives in the arrays passed (see :func:`trimcore.loading.greedy._greedy_append_fast`);
    not a registered kernel: its oracle is the whole reference greedy, not a twin kernel.
    """
    return int(_greedy_steps(*args))


KERNELS = {
    "order_times": loading_order_times,
    "switch_row": loading_switch_row,
    "switch_matrix": loading_switch_matrix,
    "simulate": loading_simulate,
    "minplus": loading_minplus,
    "tree_dp": loading_tree_dp,
    "edf_dp": loading_edf_dp,
    "edf_runs_dp": loading_edf_runs_dp,
    "enumerate": loading_enumerate,
}
