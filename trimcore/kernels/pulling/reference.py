"""Reference tier of the pulling online kernels: plain Python loops over NumPy arrays.

The oracle for :mod:`trimcore.kernels.pulling.jit`, which performs the same floating-point
operations in the same order, so both tiers make identical decisions. Randomness comes from a
SplitMix64 stream implemented identically in both tiers (uniforms -> polar-method
normals -> Marsaglia-Tsang gammas -> betas), seeded by one 64-bit integer.

Kernels (see :func:`run_online` for the arguments):

* ``run_online`` — one pass of OL / MAB / ADMS over a request stream (spec §7);
* ``linucb_choices`` — LinUCB arm choices on given contexts and per-arm rewards (for the
  comparison with MABWiser).

Matrix inverses are never formed: every arm keeps ``B^-1`` and applies the Sherman-Morrison
rank-1 update after each observation (O(d^2) per round).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["KERNELS", "run_online", "linucb_choices", "POLICY_IDS", "PARAM_F", "PARAM_I"]

MASK = (1 << 64) - 1
#: Policy codes of ``run_online``.
POLICY_IDS = {"ts": 0, "mab": 1, "adms": 2}
#: Order of the float parameters of ``run_online``.
PARAM_F = ("xi", "v", "tau", "baseline_value", "epsilon", "ucb_alpha", "ucb_delta", "explore")
#: Order of the integer parameters of ``run_online``.
PARAM_I = ("d", "baseline_median", "beta_code", "count_failures", "cache_family", "source_last",
           "dc_always", "ucb_code", "mab_random_ties")


class _Rng:
    """SplitMix64; ``uniform`` in [0, 1) with 53 bits."""

    def __init__(self, seed: int) -> None:
        self.s = seed & MASK
        self.has_spare = False
        self.spare = 0.0

    def next(self) -> int:
        self.s = (self.s + 0x9E3779B97F4A7C15) & MASK
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def uniform(self) -> float:
        return (self.next() >> 11) * (1.0 / 9007199254740992.0)

    def normal(self) -> float:
        # Marsaglia's polar method; the second normal of each pair is kept for the next call
        if self.has_spare:
            self.has_spare = False
            return self.spare
        while True:
            u = 2.0 * self.uniform() - 1.0
            v = 2.0 * self.uniform() - 1.0
            s = u * u + v * v
            if 0.0 < s < 1.0:
                break
        m = math.sqrt(-2.0 * math.log(s) / s)
        self.spare = v * m
        self.has_spare = True
        return u * m

    def gamma(self, a: float) -> float:
        # shape 1 is the exponential; otherwise Marsaglia-Tsang (every shape here is >= 1)
        if a == 1.0:
            return -math.log(1.0 - self.uniform())
        d = a - 1.0 / 3.0
        c = 1.0 / math.sqrt(9.0 * d)
        while True:
            x = self.normal()
            v = 1.0 + c * x
            if v <= 0.0:
                continue
            v = v * v * v
            u = self.uniform()
            if u < 1.0 - 0.0331 * (x * x) * (x * x):
                return d * v
            if math.log(u) < 0.5 * x * x + d * (1.0 - v + math.log(v)):
                return d * v

    def beta(self, a: float, b: float) -> float:
        x = self.gamma(a)
        y = self.gamma(b)
        return x / (x + y)

    def below(self, m: int) -> int:
        """Uniform integer in [0, m)."""
        k = int(self.uniform() * m)
        return k if k < m else m - 1


def _quad(binv: np.ndarray, b: np.ndarray, d: int, w: np.ndarray) -> float:
    """``b^T binv b`` as ``w = binv^T b`` (row by row, so the inner loop vectorises), then ``b . w``."""
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


def _dot(x: np.ndarray, y: np.ndarray, d: int) -> float:
    s = 0.0
    for i in range(d):
        s += x[i] * y[i]
    return s


def _matvec(binv: np.ndarray, g: np.ndarray, d: int, out: np.ndarray) -> None:
    for i in range(d):
        s = 0.0
        for j in range(d):
            s += binv[i, j] * g[j]
        out[i] = s


def _sherman_morrison(binv: np.ndarray, b: np.ndarray, d: int, tmp: np.ndarray) -> None:
    """binv <- (B + b b^T)^-1 from binv = B^-1 (B symmetric)."""
    _matvec(binv, b, d, tmp)
    den = 1.0 + _dot(b, tmp, d)
    for i in range(d):
        for j in range(d):
            binv[i, j] -= tmp[i] * tmp[j] / den


def _median(hist: list[float]) -> float:
    h = sorted(hist)
    m = len(h)
    return h[m // 2] if m % 2 else 0.5 * (h[m // 2 - 1] + h[m // 2])


def _add_source(best: np.ndarray, arg: np.ndarray, path: np.ndarray, k: int, node: int, n: int) -> None:
    for h in range(n):
        if path[h, node] < best[h, k]:
            best[h, k] = path[h, node]
            arg[h, k] = node


def run_online(policy: int, home: np.ndarray, path: np.ndarray, sh_size: np.ndarray, re_size: np.ndarray,
               family: np.ndarray, fixed: np.ndarray, neglog: np.ndarray, ctx: np.ndarray, init_cached: np.ndarray,
               pf: np.ndarray, pi: np.ndarray, seed: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One online pass.

    Parameters
    ----------
    policy : int
        0 = OL (Thompson sampling with restricted context), 1 = MAB (epsilon-greedy),
        2 = ADMS (LinUCB on d random features).
    home : int64[T]; path : float64[n+1, n+1] (node n = data center)
    sh_size, re_size : float64[K]; family : int64[K] (dense family ids)
    fixed : float64[T, K]
        Inference + queue + transmission delay of request t with model k.
    neglog : float64[T, K]
        ``-ln accuracy``.
    ctx : float64[T, N]
        Context features.
    init_cached : bool[n, K]
        Initial copies (both blocks).
    pf, pi : float64[8], int64[9]
        Parameters in the order :data:`PARAM_F` / :data:`PARAM_I`. ``mab_random_ties = 1``: MAB's
        greedy step picks uniformly (one ``below(ties)`` draw, the m-th tied arm in ascending
        order) among the arms of maximal mean reward when more than one ties (CODE's
        ``random.choice``); 0: the lowest index, no draw.
    seed : int
        64-bit seed of the SplitMix64 stream.

    Returns
    -------
    arms, sh_src, re_src : int64[T]
    penalty, regret : float64[T]
    features : int64[T, d]
        Observed features per round (all -1 for MAB).
    """
    xi, v, tau, base_val, eps, ucb_a, ucb_d, explore = (float(x) for x in pf)
    d, base_med, beta_code, count_fail, cache_fam, src_last, dc_always, ucb_code, mab_rand = (int(x) for x in pi)
    t_count, k_models = fixed.shape
    n = path.shape[0] - 1
    n_feat = ctx.shape[1]
    dc = n
    rng = _Rng(seed)
    # cache state: per (home, model) the nearest cloudlet source of each block (inf: none)
    best_sh = np.full((n, k_models), np.inf)
    arg_sh = np.full((n, k_models), -1, np.int64)
    best_re = np.full((n, k_models), np.inf)
    arg_re = np.full((n, k_models), -1, np.int64)
    last_sh = np.full(k_models, -1, np.int64)
    last_re = np.full(k_models, -1, np.int64)
    for i in range(n):
        for k in range(k_models):
            if init_cached[i, k]:
                _add_source(best_re, arg_re, path, k, i, n)
                last_re[k] = i
                for k2 in range(k_models):
                    if k2 == k or (cache_fam == 1 and family[k2] == family[k]):
                        _add_source(best_sh, arg_sh, path, k2, i, n)
                        last_sh[k2] = i
    # learners
    binv = np.zeros((k_models, d, d))
    for k in range(k_models):
        for i in range(d):
            binv[k, i, i] = 1.0 / ucb_d if policy == 2 and ucb_code == 0 else 1.0
    binv_c = np.zeros((k_models, d, d))   # ADMS "code": confidence from (delta I + A)^-1
    if policy == 2 and ucb_code == 1:
        for k in range(k_models):
            for i in range(d):
                binv_c[k, i, i] = 1.0 / (1.0 + ucb_d)
    g = np.zeros((k_models, d))
    mu = np.zeros((k_models, d))
    s_cnt = np.ones(n_feat)
    f_cnt = np.ones(n_feat)
    n_obs = np.zeros(n_feat)
    r_obs = np.zeros(n_feat)
    mab_sum = np.zeros(k_models)
    mab_cnt = np.zeros(k_models)
    theta = np.zeros(n_feat)
    b = np.zeros(d)
    tmp = np.zeros(d)
    perm = np.arange(n_feat)
    hist: list[float] = []
    arms = np.zeros(t_count, np.int64)
    sh_src = np.zeros(t_count, np.int64)
    re_src = np.zeros(t_count, np.int64)
    penalty = np.zeros(t_count)
    regret = np.zeros(t_count)
    feats = np.full((t_count, d), -1, np.int64)
    for t in range(t_count):
        h = int(home[t])
        dcd = path[h, dc]
        # oracle: nearest sources under the current cache
        opt = np.inf
        for k in range(k_models):
            ds = best_sh[h, k]
            dr = best_re[h, k]
            if dc_always == 1:
                ds = min(ds, dcd)
                dr = min(dr, dcd)
            else:
                ds = dcd if ds == np.inf else ds
                dr = dcd if dr == np.inf else dr
            p = xi * neglog[t, k] + (1.0 - xi) * (max(sh_size[k] * ds, re_size[k] * dr) + fixed[t, k])
            if p < opt:
                opt = p
        # ---- choose an arm
        chosen = 0
        if policy == 0:
            for i in range(n_feat):
                if beta_code == 1:
                    s_cnt[i] = s_cnt[i] + r_obs[i]
                    f_cnt[i] = f_cnt[i] + n_obs[i] - r_obs[i]
                    theta[i] = rng.beta(s_cnt[i], f_cnt[i])
                else:
                    theta[i] = rng.beta(1.0 + r_obs[i], 1.0 + n_obs[i] - r_obs[i])
            order = np.argsort(-theta, kind="mergesort")
            for i in range(d):
                feats[t, i] = order[i]
                b[i] = ctx[t, order[i]]
            best_val = np.inf
            for k in range(k_models):
                mean = _dot(b, mu[k], d)
                q = _quad(binv[k], b, d, tmp)
                z = rng.normal()
                val = mean + v * math.sqrt(max(q, 0.0)) * z
                if val < best_val:
                    best_val = val
                    chosen = k
        elif policy == 1:
            if rng.uniform() < eps:
                chosen = rng.below(k_models)
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
                    m = rng.below(ties)
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
                j = i + rng.below(n_feat - i)
                a = perm[i]
                perm[i] = perm[j]
                perm[j] = a
                feats[t, i] = perm[i]
                b[i] = ctx[t, perm[i]]
            if rng.uniform() < explore:
                chosen = rng.below(k_models)
            else:
                best_val = -np.inf
                for k in range(k_models):
                    conf = binv_c[k] if ucb_code == 1 else binv[k]
                    val = _dot(b, mu[k], d) + ucb_a * math.sqrt(max(_quad(conf, b, d, tmp), 0.0))
                    if val > best_val:
                        best_val = val
                        chosen = k
        # ---- serve
        k = chosen
        if src_last == 1:
            ls = int(last_sh[k])
            lr = int(last_re[k])
            s_node = dc if ls < 0 else ls
            r_node = dc if lr < 0 else lr
        else:
            s_node = int(arg_sh[h, k])
            r_node = int(arg_re[h, k])
            if dc_always == 1:
                if s_node < 0 or dcd < best_sh[h, k]:
                    s_node = dc
                if r_node < 0 or dcd < best_re[h, k]:
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
        # ---- cache update
        _add_source(best_re, arg_re, path, k, h, n)
        last_re[k] = h
        for k2 in range(k_models):
            if k2 == k or (cache_fam == 1 and family[k2] == family[k]):
                _add_source(best_sh, arg_sh, path, k2, h, n)
                last_sh[k2] = h
        # ---- learn
        if policy == 0:
            _sherman_morrison(binv[k], b, d, tmp)
            for i in range(d):
                g[k, i] += b[i] * pen
            _matvec(binv[k], g[k], d, mu[k])
            base = base_val
            if base_med == 1:
                base = _median(hist) if hist else np.inf
            success = pen <= base + tau
            for i in range(d):
                f = feats[t, i]
                if success:
                    n_obs[f] += 1.0
                    r_obs[f] += 1.0
                elif count_fail == 1:
                    n_obs[f] += 1.0
            hist.append(pen)
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


def linucb_choices(ctx: np.ndarray, rewards: np.ndarray, alpha: float, l2: float) -> np.ndarray:
    """LinUCB (ridge ``l2``) arm choices: round t plays the argmax UCB on ``ctx[t]`` (first on
    ties) and observes ``rewards[t, arm]``; ``A^-1`` by Sherman-Morrison."""
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
