"""Online model selection and pulling (spec §7): OL, MAB and ADMS over a request stream.

The requests of a :class:`PullingProblem` arrive one by one in index order; the policy picks the
serving model (arm) of each without knowing its accuracy or delay beforehand, observes the
penalty ``pi = xi * (-ln a) + (1 - xi) * delay`` and updates. The cache starts empty (CODE;
``initial_cache="problem"`` starts from ``pp.cached``) and grows with every served request.

* ``policy="ts"`` (OL): Beta Thompson sampling picks ``d`` of the ``N`` context features, linear
  Thompson sampling on the penalty picks the arm (argmin), the served model's shareable block
  becomes a source for the whole family (parameter sharing), nearest sources.
* ``policy="mab"``: epsilon-greedy on the reward ``1 / pi``, no context; CODE's cache handling
  (only the chosen model is cached, pulled from the *last* location cached).
* ``policy="adms"``: LinUCB on ``d`` random features with random exploration; CODE's cache handling.

Regret is against the per-round oracle (the least penalty over all arms under the policy's
current cache, nearest sources), as CODE computes it. The kernels are
``kernel("pulling.run_online", backend)`` (reference and Numba tiers, identical decisions).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from trimcore._validate import float_array, integer, make_rng, real
from trimcore.errors import invalid
from trimcore.kernels import choose_backend, kernel
from trimcore.pulling.problem import PullingProblem
from trimcore.pulling.result import OnlineResult, make_result

__all__ = ["pulling_online", "make_context", "POLICIES", "CONTEXTS", "ema"]

POLICIES = ("ts", "mab", "adms")
CONTEXTS = ("signal", "code")


def make_context(pp: PullingProblem, n_features: int = 100, kind: str = "signal", seed: Any = 0) -> np.ndarray:
    """Context vectors ``float[J, N]`` of the requests.

    ``"signal"`` (spec §11, INFERRED default): features that carry information about the
    request, normalised to [0, 1]: a bias, queue delay, accuracy requirement, budget, mean
    transmission delay, per-GB distance of the home to the data center, each model's fixed
    (inference + queue + transmission) delay, the home as one-hot; truncated to ``N`` or padded
    with ``U(0, 1)`` noise features. ``"code"`` (CODE ``Test/context.py``): one base vector
    ``U(0, 100)^N`` multiplied by ``j + 1``.
    """
    n_feat = integer("n_features", n_features, 1)
    rng = make_rng(seed)
    j = pp.n_requests
    if kind == "code":
        base = rng.uniform(0, 100, n_feat)
        return base[None, :] * (np.arange(j) + 1.0)[:, None]
    if kind != "signal":
        raise invalid("context", f"one of {CONTEXTS} or an array", kind)

    def norm(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        lo, hi = (x.min(), x.max()) if x.size else (0.0, 1.0)
        return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)

    cols = [np.ones(j), norm(pp.queue_delay), norm(pp.min_accuracy), norm(pp.budget),
            norm(pp.trans_delay.mean(axis=1)), norm(pp.path_delay[pp.home, pp.dc])]
    parts = [np.column_stack(cols), norm(pp.fixed_delay), np.eye(pp.n_cloudlets)[pp.home]]
    feats = np.hstack(parts)[:, :n_feat]
    if feats.shape[1] < n_feat:
        feats = np.hstack([feats, rng.uniform(0, 1, (j, n_feat - feats.shape[1]))])
    return np.ascontiguousarray(feats)


def ema(values: Any, beta: float = 0.9) -> np.ndarray:
    """Bias-corrected exponential moving average (CODE ``Plot/regret.py``, beta 0.9)."""
    x = np.asarray(values, dtype=np.float64)
    out = np.empty_like(x)
    m = 0.0
    for t in range(x.size):
        m = beta * m + (1 - beta) * x[t]
        out[t] = m / (1 - beta ** (t + 1))
    return out


def pulling_online(pp: PullingProblem, policy: str = "ts", seed: Any = 0, *, n_features: int = 100,
                   d: int | None = None, xi: float = 0.98, v: float = 3.0, context: Any = "signal",
                   baseline: str | float = "median", tau: float | None = None, beta_update: str = "posterior",
                   count_failures: bool = True, initial_cache: str = "empty", cache_update: str | None = None,
                   source: str | None = None, dc_fallback: str = "always", epsilon: float = 0.5,
                   mab_ties: str = "lowest", ucb_alpha: float = 0.3, ucb_delta: float = 1.0,
                   ucb_variant: str = "standard", explore: float = 0.7, backend: str = "auto") -> OnlineResult:
    """Serve the requests of ``pp`` online with OL (``"ts"``), MAB or ADMS (spec §7).

    Parameters
    ----------
    pp : PullingProblem
    policy : {"ts", "mab", "adms"}
    seed : int, Generator or None
        Seeds the context noise and the kernel's SplitMix64 stream.
    n_features, d : int
        Context size N (100) and observed features per round d (default N // 5).
    xi : float
        Accuracy weight of the penalty (0.98).
    v : float
        Posterior scale of the linear Thompson sampling (3).
    context : {"signal", "code"} or array_like float[J, N]
        See :func:`make_context`.
    baseline : "median", "code" or float
        Feature-feedback baseline: running median of past penalties (INFERRED default), CODE's
        ``U(100, 300)`` draw, or a given value. A round is a success iff ``pi <= baseline + tau``.
    tau : float, optional
        Threshold; default 0 with the median, 20 (CODE) otherwise.
    beta_update : {"posterior", "code"}
        ``Beta(1 + r_i, 1 + n_i - r_i)`` (default) or CODE's folding of the counts into the
        parameters every round (double counting).
    count_failures : bool
        Record failures (INFERRED fix, default); CODE only records successes.
    initial_cache : {"empty", "problem"}
        Start with nothing cached (CODE) or with ``pp.cached``.
    cache_update : {"family", "model"}, optional
        Whom a served request caches the shareable block for: the whole family (OL default) or
        the chosen model only (MAB / ADMS default, CODE).
    source : {"nearest", "last"}, optional
        Pull from the nearest cached copy (OL default) or the last location cached (MAB / ADMS
        default, CODE).
    dc_fallback : {"always", "empty"}
        The data center is always a source (default) or only when nothing is cached (CODE).
    epsilon : float
        MAB exploration probability (0.5).
    mab_ties : {"lowest", "random"}
        How MAB's greedy step breaks ties between arms of equal mean reward: the lowest index
        (default) or uniformly at random from the seeded stream (CODE's ``random.choice``). Ties
        only occur while every arm's mean is still 0, i.e. when round 0 is a greedy round.
    ucb_alpha, ucb_delta : float
        LinUCB width (0.3) and ridge (1).
    ucb_variant : {"standard", "code"}
        Standard LinUCB, ``A = delta I + sum b b^T`` for both the estimate and the width
        (default, as MABWiser), or CODE's: estimate from ``I + sum b b^T``, width from
        ``(delta I + I + sum b b^T)^-1``.
    explore : float
        ADMS's probability of a uniformly random arm (CODE: 0.7).
    backend : {"auto", "numba", "reference"}

    Returns
    -------
    OnlineResult
        The served decisions scored by :meth:`PullingProblem.evaluate` on the problem whose cache
        is the final online cache (every source used was cached when used), plus ``penalty``,
        ``regret`` and ``features``. ``status`` reflects that evaluation's feasibility (online
        policies do not enforce the constraints, as in CODE).
    """
    if not isinstance(pp, PullingProblem):
        raise invalid("pp", "a PullingProblem", type(pp).__name__)
    if policy not in POLICIES:
        raise invalid("policy", f"one of {POLICIES}", policy)
    rng = make_rng(seed)
    if isinstance(context, str):
        n_feat = integer("n_features", n_features, 1)
        ctx = make_context(pp, n_feat, context, rng)
    else:
        ctx = float_array("context", context, (pp.n_requests, None))
        n_feat = ctx.shape[1]
    dd = integer("d", d if d is not None else max(1, n_feat // 5), 1, n_feat)
    if policy == "mab":
        dd = 1  # no context; keeps the kernel's arrays non-empty
    if beta_update not in ("posterior", "code"):
        raise invalid("beta_update", "'posterior' or 'code'", beta_update)
    if initial_cache not in ("empty", "problem"):
        raise invalid("initial_cache", "'empty' or 'problem'", initial_cache)
    cu = cache_update or ("family" if policy == "ts" else "model")
    if cu not in ("family", "model"):
        raise invalid("cache_update", "'family' or 'model'", cu)
    src = source or ("nearest" if policy == "ts" else "last")
    if src not in ("nearest", "last"):
        raise invalid("source", "'nearest' or 'last'", src)
    if dc_fallback not in ("always", "empty"):
        raise invalid("dc_fallback", "'always' or 'empty'", dc_fallback)
    if mab_ties not in ("lowest", "random"):
        raise invalid("mab_ties", "'lowest' or 'random'", mab_ties)
    if ucb_variant not in ("standard", "code"):
        raise invalid("ucb_variant", "'standard' or 'code'", ucb_variant)
    if baseline == "median":
        base_med, base_val = 1, 0.0
    elif baseline == "code":
        base_med, base_val = 0, float(rng.uniform(100, 300))
    else:
        base_med, base_val = 0, real("baseline", baseline)
    t = real("tau", tau if tau is not None else (0.0 if baseline == "median" else 20.0))
    pf = np.array([real("xi", xi, low=0.0, high=1.0), real("v", v, low=0.0), t, base_val,
                   real("epsilon", epsilon, low=0.0, high=1.0), real("ucb_alpha", ucb_alpha, low=0.0),
                   real("ucb_delta", ucb_delta, low=0.0, low_open=True), real("explore", explore, low=0.0, high=1.0)])
    pi = np.array([dd, base_med, int(beta_update == "code"), int(bool(count_failures)), int(cu == "family"),
                   int(src == "last"), int(dc_fallback == "always"), int(ucb_variant == "code"),
                   int(mab_ties == "random")], dtype=np.int64)
    if (pp.accuracy <= 0).any():
        raise invalid("pp.accuracy", "values > 0 (the penalty takes -ln a)", float(pp.accuracy.min()))
    tier = choose_backend(["pulling.run_online"], backend)
    fn = kernel("pulling.run_online", tier)
    kseed = int(rng.integers(0, 2 ** 63 - 1))
    init = pp.cached if initial_cache == "problem" else np.zeros_like(pp.cached)
    started = time.perf_counter()
    arms, s, r, pen, reg, feats = fn(POLICY_CODE[policy], pp.home, pp.path_delay, pp.shareable_size,
                                     pp.remaining_size, pp.family_index, np.ascontiguousarray(pp.fixed_delay),
                                     np.ascontiguousarray(-np.log(pp.accuracy)), np.ascontiguousarray(ctx),
                                     np.ascontiguousarray(init), pf, pi, kseed)
    runtime = time.perf_counter() - started
    # the problem as served: every cloudlet that ever held a block is a source of it
    final = init.copy()
    final[pp.home, arms] = True
    served = pp.with_options(cached=final, dc_source=True)
    opts = {"policy": policy, "n_features": n_feat, "d": dd, "xi": xi, "v": v, "baseline": baseline, "tau": t,
            "beta_update": beta_update, "count_failures": count_failures, "initial_cache": initial_cache,
            "cache_update": cu, "source": src, "dc_fallback": dc_fallback, "epsilon": epsilon, "mab_ties": mab_ties,
            "ucb_alpha": ucb_alpha, "ucb_delta": ucb_delta, "ucb_variant": ucb_variant, "explore": explore,
            "backend": tier, "evaluated_on": "final online cache"}
    if policy == "mab":
        feats = np.zeros((pp.n_requests, 0), np.int64)
    res = make_result(served, arms, s, r, algorithm="pulling_online", options=opts, started=started,
                      runtime_s=runtime, cls=OnlineResult, penalty=pen, regret=reg, features=feats)
    assert isinstance(res, OnlineResult)
    return res


POLICY_CODE = {"ts": 0, "mab": 1, "adms": 2}
