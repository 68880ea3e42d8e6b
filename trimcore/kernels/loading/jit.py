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
def _tree_dp(cost, end, leaf_ptr, prefix, cap, width, table, src, choice, leaf_of):  # pragma: no cover
    n_pos = cost.shape[0]
    length = np.zeros(n_pos + 1, dtype=np.int64)
    table[0, 0] = 0.0
    length[0] = 1
    work = np.empty(width)
    x = np.empty(width)
    arg = np.empty(width, dtype=np.int64)
    stack = np.empty((2 * 64 + 8, 4), dtype=np.int64)
    for p in range(n_pos):
        lx = length[p]
        if lx == 0:
            continue
        for n in range(lx):
            x[n] = table[p, n]
        a = leaf_ptr[p]
        b = leaf_ptr[p + 1]
        if b > a:
            rows = min(lx + b - a - 1, width)
            _monotone_minplus(x, lx, prefix[a:b], rows, work, arg, stack)
            rows = _cut(work, rows, cap)
            leaf = leaf_of[p]
            q = p + 1
            for n in range(rows):
                choice[leaf, n] = n - arg[n]
                if work[n] < table[q, n]:
                    table[q, n] = work[n]
                    src[q, n] = p
            length[q] = max(length[q], rows)
        else:
            q = end[p]
            for n in range(lx):
                if x[n] < table[q, n]:
                    table[q, n] = x[n]
                    src[q, n] = p
            length[q] = max(length[q], lx)
            for n in range(lx):
                work[n] = x[n] + cost[p]
            rows = _cut(work, lx, cap)
            q = p + 1
            for n in range(rows):
                if work[n] < table[q, n]:
                    table[q, n] = work[n]
                    src[q, n] = p
            length[q] = max(length[q], rows)
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
    # the positions are at most a few hundred: int32 source/choice tables halve the memory
    table = np.full((n_pos + 1, width), np.inf)
    src = np.full((n_pos + 1, width), -1, dtype=np.int32)
    choice = np.zeros((n_leaves, width), dtype=np.int32)
    return _tree_dp(np.ascontiguousarray(cost, dtype=np.float64), np.ascontiguousarray(end, dtype=np.int64),
                    np.ascontiguousarray(leaf_ptr, dtype=np.int64), np.ascontiguousarray(prefix, dtype=np.float64),
                    float(cap), width, table, src, choice, leaf_of.astype(np.int64))


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
    state = 0
    best = np.inf
    for i in range(n_states):
        if f[n, i] < best:
            best = f[n, i]
            state = i
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
def _edf_runs_dp(seq_models, infer, limit, switch, start_state, cap, runs, code):  # pragma: no cover - compiled
    n_states = switch.shape[0]
    n_runs = runs.shape[0] - 1
    f = np.full((cap + 1, n_states), np.inf)
    f[0, start_state] = 0.0
    top = 0
    g = np.empty(cap + 1)
    gi = np.empty(cap + 1, dtype=np.int64)
    out = np.empty(cap + 1)
    arg = np.empty(cap + 1, dtype=np.int64)
    stack = np.empty((2 * 64 + 8, 4), dtype=np.int64)
    for r in range(n_runs):
        a = runs[r]
        b = runs[r + 1]
        q = seq_models[a]
        rows = min(top + b - a, cap)
        if rows <= 0:
            continue
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
                code[r, n] = (n - j - 1) * n_states + gi[j]
                if n > top:
                    top = n
    n = top
    state = 0
    best = np.inf
    for i in range(n_states):
        if f[n, i] < best:
            best = f[n, i]
            state = i
    served = np.empty(n, dtype=np.int64)
    r = n_runs - 1
    while n > 0:
        while not (seq_models[runs[r]] == state and code[r, n] >= 0):
            r -= 1
        c = np.int64(code[r, n])
        m = c // n_states + 1
        for u in range(m):
            served[n - m + u] = runs[r] + u
        state = c % n_states
        n -= m
        r -= 1
    return served


def loading_edf_runs_dp(seq_models: np.ndarray, infer: np.ndarray, limit: np.ndarray, switch: np.ndarray,
                        start_state: int, cap: int) -> np.ndarray:
    """See :func:`trimcore.kernels.loading.reference.loading_edf_runs_dp`."""
    seq_models = np.ascontiguousarray(seq_models, dtype=np.int64)
    infer = np.ascontiguousarray(infer, dtype=np.float64)
    limit = np.ascontiguousarray(limit, dtype=np.float64)
    runs = edf_runs(seq_models, infer, limit)
    n_runs = runs.shape[0] - 1
    longest = int(np.max(np.diff(runs))) if n_runs else 1
    code = np.full((max(n_runs, 1), int(cap) + 1), -1, dtype=edf_code_dtype(switch.shape[0], longest))
    return _edf_runs_dp(seq_models, infer, limit, np.ascontiguousarray(switch, dtype=np.float64), int(start_state),
                        int(cap), runs, code)


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
