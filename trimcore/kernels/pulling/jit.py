"""Numba tier of the pulling online kernels (see :mod:`trimcore.kernels.pulling.reference`).

The same floating-point operations in the same order as the reference, and the same SplitMix64
stream (uint64 arithmetic wraps like the reference's masked Python integers), so decisions are
identical. The running median uses two heaps instead of sorting the history (the median of a
multiset is unique, so the value is the same). Compiled code is cached next to this file, or in
``NUMBA_CACHE_DIR`` when set.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["KERNELS", "run_online", "linucb_choices"]

_GOLD = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@njit(cache=True, nogil=True)
def _next(state):  # pragma: no cover - compiled
    state[0] = state[0] + _GOLD
    z = state[0]
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def _uniform(state):  # pragma: no cover - compiled
    return np.float64(_next(state) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, nogil=True, inline='always')
def _normal(state, spare):  # pragma: no cover - compiled
    # spare[0] = 1.0 when spare[1] holds the second normal of the last polar-method pair
    if spare[0] == 1.0:
        spare[0] = 0.0
        return spare[1]
    while True:
        u = 2.0 * _uniform(state) - 1.0
        v = 2.0 * _uniform(state) - 1.0
        s = u * u + v * v
        if 0.0 < s < 1.0:
            break
    m = math.sqrt(-2.0 * math.log(s) / s)
    spare[1] = v * m
    spare[0] = 1.0
    return u * m


@njit(cache=True, nogil=True, inline='always')
def _gamma(state, spare, a, d, c):  # pragma: no cover - compiled
    """Gamma(a); ``d = a - 1/3`` and ``c = 1 / sqrt(9 d)`` are passed in (cached per feature)."""
    if a == 1.0:
        return -math.log(1.0 - _uniform(state))
    while True:
        x = _normal(state, spare)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = _uniform(state)
        if u < 1.0 - 0.0331 * (x * x) * (x * x):
            return d * v
        if math.log(u) < 0.5 * x * x + d * (1.0 - v + math.log(v)):
            return d * v


@njit(cache=True, nogil=True)
def _gamma_consts(a):  # pragma: no cover - compiled
    d = a - 1.0 / 3.0
    return d, 1.0 / math.sqrt(9.0 * d)


@njit(cache=True, nogil=True)
def _beta(state, spare, a, b):  # pragma: no cover - compiled
    da, ca = _gamma_consts(a)
    db, cb = _gamma_consts(b)
    x = _gamma(state, spare, a, da, ca)
    y = _gamma(state, spare, b, db, cb)
    return x / (x + y)


@njit(cache=True, nogil=True)
def _top(theta, d, sel, val):  # pragma: no cover - compiled
    """The d largest of theta in descending order, ties to the lower index (= a stable argsort of -theta)."""
    m = 0
    for i in range(theta.shape[0]):
        x = theta[i]
        if m < d:
            pos = m
            m += 1
        elif x > val[d - 1]:
            pos = d - 1
        else:
            continue
        while pos > 0 and val[pos - 1] < x:
            val[pos] = val[pos - 1]
            sel[pos] = sel[pos - 1]
            pos -= 1
        val[pos] = x
        sel[pos] = i


@njit(cache=True, nogil=True)
def _below(state, m):  # pragma: no cover - compiled
    k = int(_uniform(state) * m)
    return k if k < m else m - 1


@njit(cache=True, nogil=True)
def _quad(binv, b, d, w):  # pragma: no cover - compiled
    for j in range(d):
        w[j] = binv[0, j] * b[0]
    for i in range(1, d):
        bi = b[i]
        row = binv[i]
        for j in range(d):
            w[j] = w[j] + row[j] * bi
    q = 0.0
    for j in range(d):
        q += b[j] * w[j]
    return q


@njit(cache=True, nogil=True)
def _tri_index(d):  # pragma: no cover - compiled
    """``tri[i, j] = tri[j, i]``: the row of pair ``{i, j}`` in a packed upper triangle (d (d + 1) / 2 rows)."""
    tri = np.zeros((d, d), np.int64)
    p = 0
    for i in range(d):
        for j in range(i, d):
            tri[i, j] = p
            tri[j, i] = p
            p += 1
    return tri


@njit(cache=True, nogil=True)
def _quad_all(pt, tri, mt, b, d, w, q, mean):  # pragma: no cover - compiled
    """``q[k] = b^T binv_k b`` and ``mean[k] = b . mu_k`` of every arm at once.

    ``pt[tri[i, j], k] = binv_k[i, j]`` stores each arm's (exactly symmetric, see
    :func:`_sherman_morrison`) inverse once per unordered pair ``i <= j`` -- half the memory
    traffic of the full matrix -- and ``mt[i, k] = mu_k[i]``; the arms are contiguous, so each
    inner loop over the arms is an element-wise update that vectorises (SIMD) without
    reassociating: every arm sees exactly the operations of :func:`_quad` and :func:`_dot` in
    their order (``binv_k[j, i]`` read for ``binv_k[i, j]``, which is the same value), so the
    values are identical.
    """
    k_models = q.shape[0]
    for k in range(k_models):
        q[k] = 0.0
        mean[k] = 0.0
    for i in range(d):
        bi = b[i]
        row = mt[i]
        for k in range(k_models):
            mean[k] += bi * row[k]
    for j in range(d):
        # w[k] = binv_k[0, j] b[0] + binv_k[1, j] b[1] + ... left to right; four rows per pass over
        # the arms (one load and store of w per four products instead of per product), each
        # element still sees the same operations in the same order
        b0 = b[0]
        r0 = pt[tri[0, j]]
        i = 1
        if d >= 4:
            b1, b2, b3 = b[1], b[2], b[3]
            r1, r2, r3 = pt[tri[1, j]], pt[tri[2, j]], pt[tri[3, j]]
            for k in range(k_models):
                w[k] = ((r0[k] * b0 + r1[k] * b1) + r2[k] * b2) + r3[k] * b3
            i = 4
        else:
            for k in range(k_models):
                w[k] = r0[k] * b0
        while i + 4 <= d:
            b0, b1, b2, b3 = b[i], b[i + 1], b[i + 2], b[i + 3]
            r0, r1, r2, r3 = pt[tri[i, j]], pt[tri[i + 1, j]], pt[tri[i + 2, j]], pt[tri[i + 3, j]]
            for k in range(k_models):
                w[k] = (((w[k] + r0[k] * b0) + r1[k] * b1) + r2[k] * b2) + r3[k] * b3
            i += 4
        while i < d:
            bi = b[i]
            row = pt[tri[i, j]]
            for k in range(k_models):
                w[k] = w[k] + row[k] * bi
            i += 1
        bj = b[j]
        for k in range(k_models):
            q[k] += bj * w[k]


@njit(cache=True, nogil=True)
def _dot(x, y, d):  # pragma: no cover - compiled
    s = 0.0
    for i in range(d):
        s += x[i] * y[i]
    return s


@njit(cache=True, nogil=True)
def _matvec(binv, g, d, out):  # pragma: no cover - compiled
    for i in range(d):
        s = 0.0
        for j in range(d):
            s += binv[i, j] * g[j]
        out[i] = s


@njit(cache=True, nogil=True)
def _sherman_morrison(binv, b, d, tmp):  # pragma: no cover - compiled
    # tmp[i] * tmp[j] == tmp[j] * tmp[i] bit for bit, so a symmetric binv stays exactly symmetric
    _matvec(binv, b, d, tmp)
    den = 1.0 + _dot(b, tmp, d)
    for i in range(d):
        for j in range(d):
            binv[i, j] -= tmp[i] * tmp[j] / den


@njit(cache=True, nogil=True)
def _heap_push(heap, size, value):  # pragma: no cover - compiled
    """Min-heap push; returns the new size."""
    i = size
    heap[i] = value
    while i > 0:
        p = (i - 1) // 2
        if heap[p] <= heap[i]:
            break
        heap[p], heap[i] = heap[i], heap[p]
        i = p
    return size + 1


@njit(cache=True, nogil=True)
def _heap_pop(heap, size):  # pragma: no cover - compiled
    """Min-heap pop of the top; returns (value, new size)."""
    top = heap[0]
    size -= 1
    heap[0] = heap[size]
    i = 0
    while True:
        a = 2 * i + 1
        b = a + 1
        m = i
        if a < size and heap[a] < heap[m]:
            m = a
        if b < size and heap[b] < heap[m]:
            m = b
        if m == i:
            break
        heap[m], heap[i] = heap[i], heap[m]
        i = m
    return top, size


@njit(cache=True, nogil=True)
def _add_source(best, arg, path_t, k, node, n):  # pragma: no cover - compiled
    """Node ``node`` now holds a copy of arm ``k``: ``best[k, h]`` / ``arg[k, h]`` (arm-major, so one
    contiguous row) take its distance ``path_t[node, h] = path[h, node]`` where it is closer."""
    src = path_t[node]
    bk = best[k]
    ak = arg[k]
    for h in range(n):
        x = src[h]
        if x < bk[h]:
            bk[h] = x
            ak[h] = node


@njit(cache=True, nogil=True)
def run_online(policy, home, path, sh_size, re_size, family, fixed, neglog, ctx, init_cached, pf, pi,
               seed):  # pragma: no cover - compiled
    """Numba twin of :func:`trimcore.kernels.pulling.reference.run_online`."""
    xi, v, tau, base_val, eps, ucb_a, ucb_d, explore = pf[0], pf[1], pf[2], pf[3], pf[4], pf[5], pf[6], pf[7]
    d, base_med, beta_code, count_fail = pi[0], pi[1], pi[2], pi[3]
    cache_fam, src_last, dc_always, ucb_code, mab_rand = pi[4], pi[5], pi[6], pi[7], pi[8]
    t_count, k_models = fixed.shape
    n = path.shape[0] - 1
    n_feat = ctx.shape[1]
    dc = n
    state = np.zeros(1, np.uint64)
    state[0] = np.uint64(seed)
    spare = np.zeros(2)
    # nearest copy of each arm per home node, arm-major (best_sh[k, h]); path_t[node, h] = path[h, node]
    best_sh = np.full((k_models, n), np.inf)
    arg_sh = np.full((k_models, n), -1, np.int64)
    best_re = np.full((k_models, n), np.inf)
    arg_re = np.full((k_models, n), -1, np.int64)
    path_t = np.ascontiguousarray(path.T)
    last_sh = np.full(k_models, -1, np.int64)
    last_re = np.full(k_models, -1, np.int64)
    for i in range(n):
        for k in range(k_models):
            if init_cached[i, k]:
                _add_source(best_re, arg_re, path_t, k, i, n)
                last_re[k] = i
                for k2 in range(k_models):
                    if k2 == k or (cache_fam == 1 and family[k2] == family[k]):
                        _add_source(best_sh, arg_sh, path_t, k2, i, n)
                        last_sh[k2] = i
    binv = np.zeros((k_models, d, d))
    for k in range(k_models):
        for i in range(d):
            binv[k, i, i] = 1.0 / ucb_d if policy == 2 and ucb_code == 0 else 1.0
    binv_c = np.zeros((k_models, d, d))
    if policy == 2 and ucb_code == 1:
        for k in range(k_models):
            for i in range(d):
                binv_c[k, i, i] = 1.0 / (1.0 + ucb_d)
    g = np.zeros((k_models, d))
    mu = np.zeros((k_models, d))
    # OL: binv and mu again with the arms innermost: binv's upper triangle packed,
    # pt[tri[i, j], k] = binv[k, i, j] (tri symmetric), and mt[i, k] = mu[k, i]
    nt = k_models if policy == 0 else 1
    tri = _tri_index(d)
    pt = np.zeros((d * (d + 1) // 2, nt))
    for k in range(nt):
        for i in range(d):
            pt[tri[i, i], k] = binv[k, i, i]
    mt = np.zeros((d, nt))
    wk = np.zeros(nt)
    qk = np.zeros(nt)
    mk = np.zeros(nt)
    s_cnt = np.ones(n_feat)
    f_cnt = np.ones(n_feat)
    n_obs = np.zeros(n_feat)
    r_obs = np.zeros(n_feat)
    mab_sum = np.zeros(k_models)
    mab_cnt = np.zeros(k_models)
    theta = np.zeros(n_feat)
    # Marsaglia-Tsang constants of Beta(1 + r, 1 + n - r) per feature, refreshed when its counts move
    cst = np.zeros((n_feat, 4))
    for i in range(n_feat):
        cst[i, 0], cst[i, 1] = _gamma_consts(1.0)
        cst[i, 2], cst[i, 3] = _gamma_consts(1.0)
    sel = np.zeros(d, np.int64)
    sval = np.zeros(d)
    b = np.zeros(d)
    tmp = np.zeros(d)
    perm = np.arange(n_feat)
    lo = np.zeros(t_count + 1)   # max-heap of the lower half, stored negated
    hi = np.zeros(t_count + 1)   # min-heap of the upper half
    n_lo = 0
    n_hi = 0
    arms = np.zeros(t_count, np.int64)
    sh_src = np.zeros(t_count, np.int64)
    re_src = np.zeros(t_count, np.int64)
    penalty = np.zeros(t_count)
    regret = np.zeros(t_count)
    feats = np.full((t_count, d), -1, np.int64)
    for t in range(t_count):
        h = home[t]
        dcd = path[h, dc]
        opt = np.inf
        for k in range(k_models):
            ds = best_sh[k, h]
            dr = best_re[k, h]
            if dc_always == 1:
                ds = min(ds, dcd)
                dr = min(dr, dcd)
            else:
                ds = dcd if ds == np.inf else ds
                dr = dcd if dr == np.inf else dr
            p = xi * neglog[t, k] + (1.0 - xi) * (max(sh_size[k] * ds, re_size[k] * dr) + fixed[t, k])
            if p < opt:
                opt = p
        chosen = 0
        if policy == 0:
            for i in range(n_feat):
                if beta_code == 1:
                    s_cnt[i] = s_cnt[i] + r_obs[i]
                    f_cnt[i] = f_cnt[i] + n_obs[i] - r_obs[i]
                    theta[i] = _beta(state, spare, s_cnt[i], f_cnt[i])
                else:
                    a1 = 1.0 + r_obs[i]
                    b1 = 1.0 + n_obs[i] - r_obs[i]
                    x1 = _gamma(state, spare, a1, cst[i, 0], cst[i, 1])
                    y1 = _gamma(state, spare, b1, cst[i, 2], cst[i, 3])
                    theta[i] = x1 / (x1 + y1)
            _top(theta, d, sel, sval)
            for i in range(d):
                feats[t, i] = sel[i]
                b[i] = ctx[t, sel[i]]
            best_val = np.inf
            _quad_all(pt, tri, mt, b, d, wk, qk, mk)
            for k in range(k_models):
                z = _normal(state, spare)
                val = mk[k] + v * math.sqrt(max(qk[k], 0.0)) * z
                if val < best_val:
                    best_val = val
                    chosen = k
        elif policy == 1:
            if _uniform(state) < eps:
                chosen = _below(state, k_models)
            else:
                best_val = -np.inf
                ties = 0
                for k in range(k_models):
                    val = mab_sum[k] / mab_cnt[k] if mab_cnt[k] > 0 else 0.0
                    if val > best_val:
                        best_val = val
                        chosen = k
                        ties = 1
                    elif val == best_val:
                        ties += 1
                if mab_rand == 1 and ties > 1:
                    m = _below(state, ties)
                    for k in range(k_models):
                        val = mab_sum[k] / mab_cnt[k] if mab_cnt[k] > 0 else 0.0
                        if val == best_val:
                            if m == 0:
                                chosen = k
                                break
                            m -= 1
        else:
            for i in range(n_feat):
                perm[i] = i
            for i in range(d):
                j = i + _below(state, n_feat - i)
                a = perm[i]
                perm[i] = perm[j]
                perm[j] = a
                feats[t, i] = perm[i]
                b[i] = ctx[t, perm[i]]
            if _uniform(state) < explore:
                chosen = _below(state, k_models)
            else:
                best_val = -np.inf
                for k in range(k_models):
                    if ucb_code == 1:
                        qq = _quad(binv_c[k], b, d, tmp)
                    else:
                        qq = _quad(binv[k], b, d, tmp)
                    val = _dot(b, mu[k], d) + ucb_a * math.sqrt(max(qq, 0.0))
                    if val > best_val:
                        best_val = val
                        chosen = k
        k = chosen
        if src_last == 1:
            ls = last_sh[k]
            lr = last_re[k]
            s_node = dc if ls < 0 else ls
            r_node = dc if lr < 0 else lr
        else:
            s_node = arg_sh[k, h]
            r_node = arg_re[k, h]
            if dc_always == 1:
                if s_node < 0 or dcd < best_sh[k, h]:
                    s_node = dc
                if r_node < 0 or dcd < best_re[k, h]:
                    r_node = dc
            else:
                s_node = dc if s_node < 0 else s_node
                r_node = dc if r_node < 0 else r_node
        pen = xi * neglog[t, k] + (1.0 - xi) * (max(sh_size[k] * path[h, s_node], re_size[k] * path[h, r_node])
                                                + fixed[t, k])
        arms[t] = k
        sh_src[t] = s_node
        re_src[t] = r_node
        penalty[t] = pen
        regret[t] = pen - opt
        _add_source(best_re, arg_re, path_t, k, h, n)
        last_re[k] = h
        for k2 in range(k_models):
            if k2 == k or (cache_fam == 1 and family[k2] == family[k]):
                _add_source(best_sh, arg_sh, path_t, k2, h, n)
                last_sh[k2] = h
        if policy == 0:
            _sherman_morrison(binv[k], b, d, tmp)
            for i in range(d):
                g[k, i] += b[i] * pen
            _matvec(binv[k], g[k], d, mu[k])
            for i in range(d):
                mt[i, k] = mu[k, i]
                for j in range(i, d):
                    pt[tri[i, j], k] = binv[k, i, j]
            base = base_val
            if base_med == 1:
                if n_lo + n_hi == 0:
                    base = np.inf
                elif n_lo == n_hi:
                    base = 0.5 * (-lo[0] + hi[0])
                elif n_lo > n_hi:
                    base = -lo[0]
                else:
                    base = hi[0]
            success = pen <= base + tau
            for i in range(d):
                f = feats[t, i]
                if success:
                    n_obs[f] += 1.0
                    r_obs[f] += 1.0
                elif count_fail == 1:
                    n_obs[f] += 1.0
                cst[f, 0], cst[f, 1] = _gamma_consts(1.0 + r_obs[f])
                cst[f, 2], cst[f, 3] = _gamma_consts(1.0 + n_obs[f] - r_obs[f])
            # insert pen into the two heaps, keeping |n_lo - n_hi| <= 1
            if n_lo == 0 or pen <= -lo[0]:
                n_lo = _heap_push(lo, n_lo, -pen)
            else:
                n_hi = _heap_push(hi, n_hi, pen)
            if n_lo > n_hi + 1:
                val, n_lo = _heap_pop(lo, n_lo)
                n_hi = _heap_push(hi, n_hi, -val)
            elif n_hi > n_lo + 1:
                val, n_hi = _heap_pop(hi, n_hi)
                n_lo = _heap_push(lo, n_lo, -val)
        elif policy == 1:
            mab_sum[k] += 1.0 / pen
            mab_cnt[k] += 1.0
        else:
            rew = 1.0 / pen
            _sherman_morrison(binv[k], b, d, tmp)
            if ucb_code == 1:
                _sherman_morrison(binv_c[k], b, d, tmp)
            for i in range(d):
                g[k, i] += b[i] * rew
            _matvec(binv[k], g[k], d, mu[k])
    return arms, sh_src, re_src, penalty, regret, feats


@njit(cache=True, nogil=True)
def linucb_choices(ctx, rewards, alpha, l2):  # pragma: no cover - compiled
    """Numba twin of :func:`trimcore.kernels.pulling.reference.linucb_choices`."""
    t_count, d = ctx.shape
    k_models = rewards.shape[1]
    binv = np.zeros((k_models, d, d))
    for k in range(k_models):
        for i in range(d):
            binv[k, i, i] = 1.0 / l2
    g = np.zeros((k_models, d))
    mu = np.zeros((k_models, d))
    tmp = np.zeros(d)
    out = np.zeros(t_count, np.int64)
    for t in range(t_count):
        b = ctx[t]
        best_val = -np.inf
        chosen = 0
        for k in range(k_models):
            val = _dot(b, mu[k], d) + alpha * math.sqrt(max(_quad(binv[k], b, d, tmp), 0.0))
            if val > best_val:
                best_val = val
                chosen = k
        out[t] = chosen
        _sherman_morrison(binv[chosen], b, d, tmp)
        for i in range(d):
            g[chosen, i] += b[i] * rewards[t, chosen]
        _matvec(binv[chosen], g[chosen], d, mu[chosen])
    return out


KERNELS = {"run_online": run_online, "linucb_choices": linucb_choices}
