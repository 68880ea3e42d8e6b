"""Pulling online: reference and Numba tiers decide identically; LinUCB agrees with MABWiser;
regret and penalties are consistent with the evaluator; options behave as documented."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pulling_helpers import tiny_problem

import trimcore as tc
from trimcore.errors import InstanceError
from trimcore.kernels import kernel, kernel_tiers
from trimcore.pulling.instances import paper_instance

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FAST = [b for b in ("numba",) if b in kernel_tiers("pulling.run_online")]


def test_tiers_registered():
    for name in ("pulling.run_online", "pulling.linucb_choices"):
        assert {"numba", "reference"} <= set(kernel_tiers(name))


@SETTINGS
@given(seed=st.integers(0, 10_000), policy=st.sampled_from(["ts", "mab", "adms"]),
       n=st.integers(1, 4), k=st.integers(1, 5), j=st.integers(1, 25), n_features=st.integers(1, 12),
       code=st.booleans(), problem_cache=st.booleans(), epsilon=st.sampled_from([0.0, 0.5]))
def test_identical_decisions_on_every_tier(seed, policy, n, k, j, n_features, code, problem_cache, epsilon):
    pp = tiny_problem(seed, n=n, k=k, j=j)
    opts = dict(n_features=n_features, initial_cache="problem" if problem_cache else "empty", epsilon=epsilon)
    if code:
        opts.update(baseline="code", beta_update="code", count_failures=False, context="code",
                    dc_fallback="empty", ucb_variant="code", mab_ties="random")
    ref = tc.pulling_online(pp, policy, seed, backend="reference", **opts)
    for backend in FAST:
        got = tc.pulling_online(pp, policy, seed, backend=backend, **opts)
        np.testing.assert_array_equal(got.model, ref.model)
        np.testing.assert_array_equal(got.shareable_source, ref.shareable_source)
        np.testing.assert_array_equal(got.remaining_source, ref.remaining_source)
        np.testing.assert_array_equal(got.features, ref.features)
        np.testing.assert_array_equal(got.penalty, ref.penalty)
        np.testing.assert_array_equal(got.regret, ref.regret)
        assert got.options["backend"] == backend


@pytest.mark.skipif(not FAST, reason="needs the Numba tier")
@SETTINGS
@given(seed=st.integers(0, 10_000), k=st.integers(1, 130), d=st.integers(1, 25), updates=st.integers(0, 30))
def test_ol_all_arm_scoring_is_bitwise_the_reference(seed, k, d, updates):
    # the Numba tier scores every arm at once (arms innermost); each arm's b^T B^-1 b and b . mu must be
    # bit for bit the reference's _quad and _dot, including arm counts that are no multiple of the SIMD width
    from trimcore.kernels.pulling import jit, reference

    rng = np.random.default_rng(seed)
    binv = np.tile(np.eye(d), (k, 1, 1))
    tmp = np.zeros(d)
    for _ in range(updates):
        reference._sherman_morrison(binv[rng.integers(k)], rng.uniform(-3, 3, d), d, tmp)
    mu = rng.normal(0, 5, (k, d))
    b = rng.uniform(0, 1, d) * rng.choice([1e-3, 1.0, 1e3], d)
    # the packed upper triangle stands for the full matrix only because Sherman-Morrison keeps it exactly symmetric
    assert binv.tobytes() == binv.transpose(0, 2, 1).tobytes()
    tri = jit._tri_index(d)
    pt = np.zeros((d * (d + 1) // 2, k))
    for i in range(d):
        for j in range(i, d):
            pt[tri[i, j]] = binv[:, i, j]
    mt = np.ascontiguousarray(mu.T)
    q, mean, w = np.zeros(k), np.zeros(k), np.zeros(k)
    jit._quad_all(pt, tri, mt, b, d, w, q, mean)
    want_q = np.array([reference._quad(binv[a], b, d, tmp) for a in range(k)])
    want_mean = np.array([reference._dot(b, mu[a], d) for a in range(k)])
    assert q.tobytes() == want_q.tobytes()
    assert mean.tobytes() == want_mean.tobytes()


@pytest.mark.skipif(not FAST, reason="needs the Numba tier")
@pytest.mark.parametrize("seed", range(2))
def test_ol_tiers_agree_on_a_longer_stream_with_many_arms(seed):
    # many arms (not a multiple of 4) and d = 20 over 120 rounds: the all-arm scoring path at its real size
    pp = paper_instance(6, 120, 37, 5, seed=seed)
    ref = tc.pulling_online(pp, "ts", seed, backend="reference")
    got = tc.pulling_online(pp, "ts", seed, backend="numba")
    assert ref.features.shape[1] == 20
    np.testing.assert_array_equal(got.model, ref.model)
    np.testing.assert_array_equal(got.features, ref.features)
    np.testing.assert_array_equal(got.penalty, ref.penalty)

@SETTINGS
@given(seed=st.integers(0, 10_000), t=st.integers(1, 60), d=st.integers(1, 6), k=st.integers(1, 6))
def test_linucb_kernel_tiers_agree(seed, t, d, k):
    rng = np.random.default_rng(seed)
    ctx, rew = rng.random((t, d)), rng.random((t, k))
    ref = kernel("pulling.linucb_choices", "reference")(ctx, rew, 0.3, 1.0)
    for backend in FAST:
        np.testing.assert_array_equal(kernel("pulling.linucb_choices", backend)(ctx, rew, 0.3, 1.0), ref)


@pytest.mark.parametrize("seed", range(5))
def test_linucb_agrees_with_mabwiser(seed):
    mabwiser = pytest.importorskip("mabwiser.mab")
    rng = np.random.default_rng(seed)
    t, d, k = 80, 4, 5
    ctx = rng.random((t, d))
    rew = rng.random((t, k)) + np.linspace(0, 0.5, k)[None, :]
    ours = kernel("pulling.linucb_choices", "reference")(ctx, rew, 0.3, 1.0)
    arms = list(range(k))
    mab = mabwiser.MAB(arms, mabwiser.LearningPolicy.LinUCB(alpha=0.3, l2_lambda=1.0), seed=seed)
    # warm start with no data is not allowed in MABWiser: feed round 0 with our first arm (both
    # start from identical all-zero estimates, so the first choice is arm 0 for both)
    assert ours[0] == 0
    mab.fit(decisions=[0], rewards=[rew[0, 0]], contexts=ctx[:1])
    for s in range(1, t):
        theirs = mab.predict(ctx[s:s + 1])
        assert theirs == ours[s], f"round {s}"
        mab.partial_fit(decisions=[theirs], rewards=[rew[s, theirs]], contexts=ctx[s:s + 1])


def test_online_result_is_scored_by_the_evaluator_and_regret_is_consistent():
    pp = paper_instance(20, 80, 10, seed=2)
    for policy in ("ts", "mab", "adms"):
        res = tc.pulling_online(pp, policy, seed=1)
        assert res.penalty.shape == res.regret.shape == (80,)
        assert (res.regret >= -1e-9).all()
        served = pp.with_options(cached=_final_cache(pp, res), dc_source=True)
        ev = served.evaluate(res.model, res.shareable_source, res.remaining_source)
        assert ev.total_delay == res.objective
        pen = 0.98 * -np.log(ev.accuracy) + 0.02 * ev.delay
        np.testing.assert_allclose(res.penalty, pen, rtol=1e-10)
        assert res.total_penalty == pytest.approx(res.penalty.sum())
        assert res.summary()["total_regret"] == pytest.approx(res.regret.sum())


def _final_cache(pp, res):
    final = np.zeros_like(pp.cached)
    final[pp.home, res.model] = True
    return final


def test_first_round_pulls_from_the_dc_and_sharing_helps_siblings():
    # two models of one family; after request 0 is served at cloudlet 0 with model 0, model 1's
    # shareable block is at cloudlet 0 for OL (family-wide update) but not for MAB/ADMS (CODE)
    pp = tiny_problem(1, n=2, k=2, j=2)
    pp = pp.with_options(family=[0, 0], home=[0, 0])
    res = tc.pulling_online(pp, "ts", 0)
    assert res.shareable_source[0] == pp.dc and res.remaining_source[0] == pp.dc
    if res.model[1] != res.model[0]:
        assert res.shareable_source[1] in (0, pp.dc)


def _oracle_penalties(pp, arms, family_wide, xi):
    """The per-round oracle written from the spec (independently of the kernel): before round t,
    a model's remaining block is at every home that served it, its shareable block at every home
    that served it (or, family-wide, any model of its family); the DC always holds both; nearest
    sources; the least penalty over all arms."""
    n, k = pp.n_cloudlets, pp.n_models
    sh_at = np.zeros((n, k), bool)
    re_at = np.zeros((n, k), bool)
    out = np.zeros(pp.n_requests)
    neglog = -np.log(pp.accuracy)
    for t, a in enumerate(arms):
        h = pp.home[t]
        to_dc = pp.path_delay[h, pp.dc]
        d_sh = np.array([min([to_dc] + [pp.path_delay[h, i] for i in np.flatnonzero(sh_at[:, m])]) for m in range(k)])
        d_re = np.array([min([to_dc] + [pp.path_delay[h, i] for i in np.flatnonzero(re_at[:, m])]) for m in range(k)])
        delay = np.maximum(pp.shareable_size * d_sh, pp.remaining_size * d_re) + pp.fixed_delay[t]
        out[t] = (xi * neglog[t] + (1 - xi) * delay).min()
        re_at[h, a] = True
        sh_at[h, pp.family_index == pp.family_index[a] if family_wide else a] = True
    return out


@pytest.mark.parametrize("policy", ["ts", "mab", "adms"])
def test_regret_is_against_the_per_round_oracle(policy):
    pp = paper_instance(8, 60, 6, 2, seed=7)
    for seed in range(3):
        res = tc.pulling_online(pp, policy, seed=seed, n_features=10, xi=0.5)
        oracle = _oracle_penalties(pp, res.model, policy == "ts", 0.5)
        np.testing.assert_allclose(res.regret, res.penalty - oracle, rtol=1e-9, atol=1e-9)


def _overlap(features):
    return np.mean([len(set(a) & set(b)) for a, b in zip(features[:-1], features[1:])])


def test_counted_failures_push_the_selection_away():
    # every round a failure: with failures counted, the features just observed lose Beta mass, so
    # consecutive rounds share fewer features than CODE's selection (failures never recorded,
    # so the selection stays uniform: expected overlap d^2 / N = 1.2)
    pp = paper_instance(10, 200, 10, seed=4)
    fail = tc.pulling_online(pp, "ts", seed=0, n_features=30, d=6, baseline=-1e9)
    code = tc.pulling_online(pp, "ts", seed=0, n_features=30, d=6, baseline=-1e9, count_failures=False)
    win = tc.pulling_online(pp, "ts", seed=0, n_features=30, d=6, baseline=1e9)   # every round a success
    assert _overlap(fail.features[:30]) < _overlap(code.features[:30]) < _overlap(win.features[:30])


def test_cumulative_regret_of_ol_below_random_policy():
    pp = paper_instance(20, 300, 10, seed=5)
    ol = tc.pulling_online(pp, "ts", seed=0)
    rnd = tc.pulling_online(pp, "mab", seed=0, epsilon=1.0)  # uniformly random arms
    assert ol.regret.sum() < rnd.regret.sum()


def test_mab_random_ties_pick_uniformly_in_a_greedy_first_round():
    # epsilon = 0: round 0 is greedy with every mean 0 (all arms tie); afterwards the played arm's
    # mean 1/penalty > 0 is the unique maximum, so the whole run repeats the first arm
    pp = paper_instance(10, 30, 5, seed=3)
    firsts = []
    for seed in range(60):
        low = tc.pulling_online(pp, "mab", seed=seed, epsilon=0.0)
        assert (low.model == 0).all()
        rnd = tc.pulling_online(pp, "mab", seed=seed, epsilon=0.0, mab_ties="random")
        assert (rnd.model == rnd.model[0]).all() and rnd.options["mab_ties"] == "random"
        firsts.append(int(rnd.model[0]))
    counts = np.bincount(firsts, minlength=5)
    assert (counts >= 3).all(), counts   # uniform over 5 arms: 12 expected each


def test_mab_random_ties_draw_only_on_ties():
    # with exploration in round 0 nothing ties later, no extra draw is taken and the runs coincide;
    # a greedy round 0 (lowest-index arm 0) draws the tie and shifts the stream
    pp = paper_instance(10, 40, 5, seed=6)
    same = differ = 0
    for seed in range(40):
        low = tc.pulling_online(pp, "mab", seed=seed)
        rnd = tc.pulling_online(pp, "mab", seed=seed, mab_ties="random")
        if low.model[0] != 0:
            np.testing.assert_array_equal(rnd.model, low.model)
            same += 1
        elif not np.array_equal(rnd.model, low.model):
            differ += 1
    assert same > 5 and differ > 5


def test_ema_is_bias_corrected():
    from trimcore.pulling import ema

    np.testing.assert_allclose(ema([5.0, 5.0, 5.0]), [5.0, 5.0, 5.0])
    assert ema([0.0, 10.0])[1] == pytest.approx(10 * 0.1 / (1 - 0.81))


def test_online_bad_options():
    pp = tiny_problem(0)
    for kw, field in [({"policy": "greedy"}, "policy"), ({"d": 0}, "d"), ({"beta_update": "x"}, "beta_update"),
                      ({"initial_cache": "x"}, "initial_cache"), ({"source": "x"}, "source"),
                      ({"mab_ties": "first"}, "mab_ties"),
                      ({"context": np.ones((5, 3))}, "context"), ({"xi": 2.0}, "xi"),
                      ({"backend": "cpp"}, "cpp")]:
        with pytest.raises(InstanceError, match=field):
            tc.pulling_online(pp, **kw)


def test_online_result_save_load(tmp_path):
    pp = tiny_problem(3, n=3, k=3, j=12)
    res = tc.pulling_online(pp, "ts", seed=2, n_features=8)
    back = tc.OnlineResult.load(res.save(tmp_path / "online.npz"))
    np.testing.assert_array_equal(back.regret, res.regret)
    np.testing.assert_array_equal(back.features, res.features)
    assert back.total_penalty == res.total_penalty and back.options["backend"] == res.options["backend"]
