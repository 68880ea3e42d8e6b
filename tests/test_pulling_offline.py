"""Pulling offline: evaluator, exact ILP vs enumeration, LP bound, rounding, baselines, bad input."""

from __future__ import annotations

import itertools
from re import escape as re_escape

import numpy as np
import pytest
from pulling_helpers import tiny_problem

import trimcore as tc
from trimcore.errors import InstanceError
from trimcore.pulling import brute_force_pulling, solve_lp

VARIANTS = list(itertools.product(("per_request", "global"), ("per_cloudlet", "per_request"), (True, False)))


def _same_decision_value(pp, res):
    ev = pp.evaluate(res.model, res.shareable_source, res.remaining_source)
    assert ev.total_delay == res.objective == res.total_delay
    assert ev.feasible == res.feasible
    assert np.isclose(ev.mean_cost, res.mean_cost) and np.isclose(ev.mean_accuracy, res.mean_accuracy)
    return ev


# ------------------------------------------------------------------------------- evaluator
def _hand_problem(**kw):
    # 2 cloudlets + DC; models 0, 1 in family 7, model 2 alone; cloudlet 1 caches model 1.
    pd = np.array([[0.0, 1.0, 4.0], [1.0, 0.0, 3.0], [4.0, 3.0, 0.0]])
    args = dict(path_delay=pd, model_size=[3.0, 2.0, 1.0], shareable_size=[2.0, 1.0, 0.0], family=[7, 7, 3],
                cached=[[False, False, False], [False, True, False]], home=[0, 0, 1],
                infer_delay=np.full((3, 3), 0.5), queue_delay=[0.1, 0.2, 0.3], trans_delay=np.full((3, 3), 0.25),
                accuracy=[[0.9, 0.8, 0.5]] * 3, min_accuracy=[0.5, 0.85, 0.1], infer_cost=np.ones((3, 3)),
                trans_power=[2.0, 1.0], budget=[100.0, 100.0, 1.0], memory=[3.5, 10.0], alpha=1.0)
    args.update(kw)
    return tc.PullingProblem.from_arrays(**args)


def test_evaluate_by_hand():
    pp = _hand_problem()
    # request 0: model 0, shareable from cloudlet 1 (sibling copy), remaining from the DC
    # request 1: model 1, both from cloudlet 1; request 2: model 2 from the DC
    ev = pp.evaluate([0, 1, 2], [1, 1, 2], [2, 1, 2])
    np.testing.assert_allclose(ev.shareable_pull, [2.0 * 1.0, 1.0 * 1.0, 0.0])
    np.testing.assert_allclose(ev.remaining_pull, [1.0 * 4.0, 1.0 * 1.0, 1.0 * 3.0])
    np.testing.assert_allclose(ev.delay, [4.0 + 0.85, 1.0 + 0.95, 3.0 + 1.05])
    np.testing.assert_allclose(ev.cost, [1 + 2.0 * 4.25, 1 + 2.0 * 1.25, 1 + 1.0 * 3.25])
    assert ev.total_delay == pytest.approx(ev.delay.sum())
    np.testing.assert_array_equal(ev.violations["accuracy"], [1])       # 0.8 < 0.85
    np.testing.assert_array_equal(ev.violations["budget"], [2])         # 4.25 > 1
    # cloudlet 0 serves models 0 and 1 (family 7): max shareable 2 + remaining 1 + 1 = 4 > 3.5
    np.testing.assert_allclose(ev.memory_used, [4.0, 1.0])
    np.testing.assert_array_equal(ev.violations["capacity"], [0])
    assert not ev.feasible
    glob = pp.with_options(pull_delay="global").evaluate([0, 1, 2], [1, 1, 2], [2, 1, 2])
    assert glob.global_pull == pytest.approx(max(3.0, 8.0))
    assert glob.total_delay == pytest.approx(8.0 + 0.85 + 0.95 + 1.05)
    # a node that does not hold the block is a violation, not an error
    ev2 = pp.evaluate([2, 1, 2], [0, 1, 2], [0, 1, 2])
    np.testing.assert_array_equal(ev2.violations["shareable_source"], [0])
    np.testing.assert_array_equal(ev2.violations["remaining_source"], [0])
    no_dc = pp.with_options(dc_source=False).evaluate([0, 1, 2], [1, 1, 2], [2, 1, 2])
    np.testing.assert_array_equal(no_dc.violations["remaining_source"], [0, 2])


def test_per_request_capacity_counts_the_whole_model():
    pp = _hand_problem(capacity="per_request", memory=[2.5, 10.0])
    ev = pp.evaluate([0, 1, 2], [1, 1, 2], [2, 1, 2])
    np.testing.assert_array_equal(ev.violations["capacity"], [0])  # request 0: 3 GB > 2.5


def test_differing_shareable_sizes_count_the_largest_served():
    pp = _hand_problem(memory=[10.0, 10.0])
    assert pp.memory_used(np.array([1, 1, 2]))[0] == pytest.approx(1.0 + 1.0)    # model 1 only
    assert pp.memory_used(np.array([0, 1, 2]))[0] == pytest.approx(2.0 + 1.0 + 1.0)


# ------------------------------------------------------------------------------- exact vs enumeration
@pytest.mark.parametrize(("pull_delay", "capacity", "dc_source"), VARIANTS)
def test_ilp_equals_enumeration_and_full_formulation(pull_delay, capacity, dc_source):
    n_feasible = n_infeasible = 0
    for seed in range(200):
        pp = tiny_problem(seed, j=1 + seed % 3, pull_delay=pull_delay, capacity=capacity, dc_source=dc_source)
        best, arg = brute_force_pulling(pp)
        if arg is not None:  # the batch oracle agrees with the evaluator on its best decision
            ev = pp.evaluate(*arg)
            assert ev.feasible and ev.total_delay == pytest.approx(best, rel=1e-12)
        red = pulling = tc.pulling_optimal(pp)
        full = tc.pulling_optimal(pp, formulation="full")
        lp = tc.pulling_lp(pp)
        lp_full = tc.pulling_lp(pp, formulation="full")
        for res in (red, full, lp, lp_full):
            _same_decision_value(pp, res)
        if np.isfinite(best):
            n_feasible += 1
            assert pulling.status == full.status == "optimal"
            assert red.objective == pytest.approx(best, rel=1e-6, abs=1e-9)
            assert full.objective == pytest.approx(best, rel=1e-6, abs=1e-9)
            assert red.lower_bound <= best + 1e-6
            # LP <= ILP, and the reduced LP is at least as tight as the full one
            assert lp.lower_bound <= best * (1 + 1e-7) + 1e-9
            assert lp_full.lower_bound <= lp.lower_bound * (1 + 1e-7) + 1e-9
        else:
            n_infeasible += 1
            assert red.status == full.status == "infeasible"
            assert not red.feasible
    assert n_feasible >= 60 and n_infeasible >= 1


@pytest.mark.parametrize(("pull_delay", "capacity", "dc_source"), VARIANTS)
def test_reduced_formulation_is_smaller_by_the_source_variables(pull_delay, capacity, dc_source):
    from trimcore.pulling import formulation_size

    for seed in range(20):
        pp = tiny_problem(seed, n=3, k=3, j=4, pull_delay=pull_delay, capacity=capacity, dc_source=dc_source)
        red, full = formulation_size(pp), formulation_size(pp, "full")
        jj, kk = np.nonzero(pp.allowed)
        residency = red["variables"] - jj.size - (pull_delay == "global")
        assert residency == 0 if capacity == "per_request" else residency > 0
        assert red["integer"] == jj.size
        # full: one y per (request, allowed model, source) of each block, plus at least as many x
        n_sources = int(pp.shareable_sources.sum(axis=1)[kk].sum() + pp.remaining_sources.sum(axis=1)[kk].sum())
        assert full["integer"] >= red["integer"] + n_sources
        assert full["variables"] >= red["variables"] + n_sources


@pytest.mark.parametrize("capacity", ["per_cloudlet", "per_request"])
def test_decomposition_by_home_is_exact(capacity):
    for seed in range(40):
        pp = tiny_problem(seed, n=3, k=3, j=7, capacity=capacity, tight=1.5)
        whole = tc.pulling_optimal(pp, decompose=False)
        parts = tc.pulling_optimal(pp)
        assert whole.status == parts.status
        if whole.feasible:
            assert parts.objective == pytest.approx(whole.objective, rel=1e-6)
            assert parts.lower_bound == pytest.approx(whole.lower_bound, rel=1e-6)
        for form in ("reduced", "full"):
            a, b = solve_lp(pp, form, decompose=False), solve_lp(pp, form)
            assert a.status == b.status
            if a.status == "optimal":
                assert b.value == pytest.approx(a.value, rel=1e-7, abs=1e-9)


def test_per_request_variant_is_separable():
    for seed in range(60):
        pp = tiny_problem(seed, n=3, k=3, j=4, capacity="per_request")
        model, delay = pp.per_request_optima()
        res = tc.pulling_optimal(pp)
        if np.isfinite(delay).all():
            assert res.status == "optimal"
            assert res.objective == pytest.approx(delay.sum(), rel=1e-7)
            np.testing.assert_allclose(pp.evaluate(res.model, res.shareable_source, res.remaining_source).delay,
                                       delay, rtol=1e-7)
        else:
            assert res.status == "infeasible"
            assert (model[~np.isfinite(delay)] == -1).all()
    with pytest.raises(InstanceError, match="separable"):
        tiny_problem(0).per_request_optima()


def test_source_dominance_nearest_sources_never_worse():
    rng = np.random.default_rng(5)
    for seed in range(100):
        pp = tiny_problem(seed, n=3, k=3, j=3, pull_delay=("per_request", "global")[seed % 2])
        m = rng.integers(0, pp.n_models, pp.n_requests)
        near = pp.evaluate_nearest(m)
        for _ in range(5):
            s = np.array([rng.choice(np.flatnonzero(pp.shareable_sources[k])) for k in m])
            r = np.array([rng.choice(np.flatnonzero(pp.remaining_sources[k])) for k in m])
            other = pp.evaluate(m, s, r)
            assert near.total_delay <= other.total_delay + 1e-12
            assert (near.cost <= other.cost + 1e-12).all()
            assert near.feasible or not other.feasible


def test_time_limit_status_and_bound():
    from trimcore.pulling.instances import paper_instance

    pp = paper_instance(100, 300, 10, 1, seed=0, pull_delay="global")
    res = tc.pulling_optimal(pp, time_limit=1e-3, formulation="full")   # HiGHS stops before its root LP
    assert res.status == "time_limit" and res.feasible and res.options["solver_status"] == "time_limit"
    _same_decision_value(pp, res)
    assert res.lower_bound is None or res.lower_bound <= res.objective
    done = tc.pulling_optimal(pp, time_limit=60.0)
    assert done.status == "optimal" and done.objective <= res.objective + 1e-6
    assert done.lower_bound <= done.objective and done.gap is not None and done.gap < 1e-6


# ------------------------------------------------------------------------------- rounding and baselines
@pytest.mark.parametrize(("pull_delay", "capacity", "dc_source"), VARIANTS)
def test_rounding_feasible_whenever_the_instance_is(pull_delay, capacity, dc_source):
    for seed in range(25):
        pp = tiny_problem(seed, n=3, k=3, j=1 + seed % 5, pull_delay=pull_delay, capacity=capacity,
                          dc_source=dc_source, tight=0.7)
        opt = tc.pulling_optimal(pp)
        lp = solve_lp(pp)
        for res in (tc.pulling_rounding(pp, repeats=5, seed=seed), tc.pulling_rounding(pp, derandomize=True),
                    tc.pulling_rounding(pp, repeats=3, seed=seed, formulation="full"),
                    tc.pulling_rounding(pp, repeats=2, seed=seed, rounding="code")):
            _same_decision_value(pp, res)
            if opt.feasible:
                assert res.feasible, (seed, res.options)
                assert res.objective >= opt.objective * (1 - 1e-7) - 1e-9
                assert res.lower_bound <= opt.objective * (1 + 1e-7) + 1e-9
                if res.options["formulation"] == "reduced":
                    assert res.lower_bound == pytest.approx(min(lp.value, res.objective))
        for res in (tc.pulling_nbs(pp, seed=seed), tc.pulling_nonshare(pp), tc.pulling_cloud(pp)):
            _same_decision_value(pp, res)
            if res.feasible and opt.feasible:
                assert res.objective >= opt.objective * (1 - 1e-7) - 1e-9


@pytest.mark.parametrize("capacity", ["per_cloudlet", "per_request"])
def test_derandomized_rounding_is_no_worse_than_its_expectation(capacity):
    # per-request pull, loose memory: fixing requests one by one to the model of least conditional
    # expectation never exceeds the expected objective of rounding the given fractional solution
    # independently (here: uniform over each request's allowed models, so far from integral)
    from trimcore.pulling.exact import LpSolution

    strict = 0
    for seed in range(40):
        pp = tiny_problem(seed, n=3, k=4, j=6, capacity=capacity, tight=50.0)
        allowed = pp.allowed
        if not allowed.any(axis=1).all():
            continue
        frac = allowed / allowed.sum(axis=1, keepdims=True)
        expected = float((frac * np.where(allowed, pp.fixed_delay + pp.nearest["pull"], 0.0)).sum())
        res = tc.pulling_rounding(pp, derandomize=True, lp=LpSolution(expected, frac, None, "optimal", 0.0))
        assert res.feasible and res.objective <= expected * (1 + 1e-12)
        strict += res.objective < expected * (1 - 1e-6)
    assert strict >= 20


def test_rounding_is_reproducible_and_seeded():
    pp = tiny_problem(11, n=4, k=4, j=8, tight=2.0)
    a = tc.pulling_rounding(pp, repeats=4, seed=3)
    b = tc.pulling_rounding(pp, repeats=4, seed=3)
    np.testing.assert_array_equal(a.model, b.model)
    assert a.options["ratio_lp"] >= 1 - 1e-9


def test_code_draw_falls_to_the_last_source():
    # x* = 1 for a model with two sources and y* = (1, 0): U in [0, 0.5) against y/2 = (0.5, 0) always
    # picks the first; against the unconditional leftover of a fractional x it falls to the last.
    from trimcore.pulling.rounding import draw_index

    assert draw_index(0.49, np.array([0.5, 0.0])) == 0
    assert draw_index(0.3, np.array([0.2, 0.0, 0.05])) == 2     # mass 0.25 < 0.3: the last one
    assert draw_index(0.9, np.array([0.25, 0.25])) == 1         # NBS's U in [0, 1): falls through


class _Uniforms(np.random.Generator):
    """A Generator replaying given uniforms (CODE's draws are plain U[0, top) calls)."""

    def __init__(self, values):
        super().__init__(np.random.PCG64(0))
        self.values = list(values)

    def uniform(self, low=0.0, high=1.0, size=None):
        return self.values.pop(0)


def _order_problem_and_lp():
    # one request, two models of one family; cloudlet 0 caches model 0, cloudlet 1 model 1:
    # model 0's shareable sources are {0, 1, DC}, its remaining sources {0, DC}
    from trimcore.pulling.exact import LpSolution

    pp = tc.PullingProblem.from_arrays(
        np.array([[0.0, 1.0, 5.0], [1.0, 0.0, 5.0], [5.0, 5.0, 0.0]]), [3.0, 3.0], [2.0, 2.0], [0, 0],
        [[True, False], [False, True]], [0], np.ones((1, 2)), [0.0], np.zeros((1, 2)), [[0.9, 0.9]], [0.1],
        np.ones((1, 2)), [1.0, 1.0], [1e6], [100.0, 100.0], pull_delay="global", capacity="per_request")
    sh = (np.array([0, 0, 0, 0, 0, 0]), np.array([0, 0, 0, 1, 1, 1]), np.array([0, 1, 2, 0, 1, 2]),
          np.array([0.5, 0.0, 0.0, 0.0, 0.5, 0.0]))
    re = (np.array([0, 0, 0, 0]), np.array([0, 0, 1, 1]), np.array([0, 2, 1, 2]), np.array([0.5, 0.0, 0.5, 0.0]))
    return pp, LpSolution(1.0, np.array([[0.5, 0.5]]), {"shareable": sh, "remaining": re}, "optimal", 0.0)


def test_code_draw_walks_the_given_source_order():
    pp, lp = _order_problem_and_lp()
    # model draw u = 0.1 < 0.25: model 0; shareable u = 0.4 passes the mass 0.25: the leftover, the last
    # source; remaining u = 0.1: the source holding y* = 0.5 (cloudlet 0) in either order
    asc = tc.pulling_rounding(pp, 1, _Uniforms([0.1, 0.4, 0.1]), rounding="code", repair=False, lp=lp)
    assert (asc.model[0], asc.shareable_source[0], asc.remaining_source[0]) == (0, pp.dc, 0)
    order = {"shareable": [[2, 1, 0], [0, 2, 1]], "remaining": [[2, 0], [1, 2]]}
    rev = tc.pulling_rounding(pp, 1, _Uniforms([0.1, 0.4, 0.1]), rounding="code", repair=False, lp=lp,
                              source_order=order)
    assert (rev.model[0], rev.shareable_source[0], rev.remaining_source[0]) == (0, 0, 0)
    assert rev.options["source_order"] == "given" and asc.options["source_order"] == "ascending"
    # the remaining draw with u = 0.4: leftover to the last (DC ascending, cloudlet 0 reversed)
    asc2 = tc.pulling_rounding(pp, 1, _Uniforms([0.1, 0.1, 0.4]), rounding="code", repair=False, lp=lp)
    rev2 = tc.pulling_rounding(pp, 1, _Uniforms([0.1, 0.1, 0.4]), rounding="code", repair=False, lp=lp,
                               source_order=order)
    assert asc2.remaining_source[0] == pp.dc and rev2.remaining_source[0] == 0
    nbs = tc.pulling_rounding(pp, 1, _Uniforms([0.9, 0.9, 0.9]), rounding="half", repair=False, lp=lp,
                              source_order=order)
    assert (nbs.model[0], nbs.shareable_source[0], nbs.remaining_source[0]) == (1, 1, 2)  # last everywhere


def test_explicit_ascending_order_is_the_default():
    for seed in range(10):
        pp = tiny_problem(seed, n=3, k=3, j=4, pull_delay="global", capacity="per_request")
        lp = solve_lp(pp, "full")
        if lp.status != "optimal":
            continue
        order = {key: [np.flatnonzero(src[k]) for k in range(pp.n_models)]
                 for key, src in (("shareable", pp.shareable_sources), ("remaining", pp.remaining_sources))}
        for rounding in ("code", "half"):
            a = tc.pulling_rounding(pp, 3, seed, rounding=rounding, repair=False, lp=lp)
            b = tc.pulling_rounding(pp, 3, seed, rounding=rounding, repair=False, lp=lp, source_order=order)
            for f in ("model", "shareable_source", "remaining_source"):
                np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
        nbs = tc.pulling_nbs(pp, seed=seed, source_order=order)
        np.testing.assert_array_equal(nbs.model, tc.pulling_nbs(pp, seed=seed).model)


def test_source_order_is_validated():
    pp, lp = _order_problem_and_lp()
    good = [[0, 1, 2], [0, 1, 2]]
    bad = [
        ({"shareable": [[0, 1], [0, 1, 2]]}, "source_order['shareable'][0]"),       # misses the DC
        ({"shareable": good[:1]}, "source_order['shareable']"),                      # one model only
        ({"remaining": [[0, 2], [0, 2]]}, "source_order['remaining'][1]"),           # model 1 is at 1
        ({"shareable": [[0.0, 1.0, 2.0], [0, 1, 2]]}, "source_order['shareable'][0]"),  # not integers
        ({"other": good}, "source_order"),
        ([good, good], "source_order"),
    ]
    for order, name in bad:
        with pytest.raises(InstanceError, match=re_escape(name)):
            tc.pulling_rounding(pp, 1, 0, rounding="code", lp=lp, source_order=order)
    with pytest.raises(InstanceError, match="source_order"):
        tc.pulling_rounding(pp, 1, 0, source_order={"shareable": good})  # reduced formulation


def test_sc_pulls_everything_from_the_dc_and_nonshare_ignores_siblings():
    pp = _hand_problem(min_accuracy=[0.1, 0.1, 0.1], budget=[100.0] * 3)
    sc = tc.pulling_cloud(pp)
    assert (sc.shareable_source == pp.dc).all() and (sc.remaining_source == pp.dc).all()
    ns = tc.pulling_nonshare(pp)
    np.testing.assert_array_equal(ns.model, [0, 0, 0])  # the most accurate model
    assert (ns.shareable_source == pp.dc).all()          # model 0 is cached nowhere: no sibling pull
    rnd = tc.pulling_rounding(pp, repeats=3)
    assert rnd.objective <= ns.objective + 1e-9


def test_infeasible_instance_returns_status():
    pp = _hand_problem(min_accuracy=[0.95, 0.1, 0.1])
    for res in (tc.pulling_optimal(pp), tc.pulling_lp(pp), tc.pulling_rounding(pp, repeats=2)):
        assert res.status == "infeasible" and not res.feasible
        _same_decision_value(pp, res)
    assert tc.pulling_optimal(pp).options["solver_status"] == "infeasible"
    assert tc.pulling_optimal(_hand_problem(min_accuracy=[0.1] * 3, budget=[100.0] * 3,
                                            memory=[10.0, 10.0])).options["solver_status"] == "optimal"


def test_result_save_load_and_repr(tmp_path):
    pp = tiny_problem(4, n=3, k=3, j=4, tight=2.0)
    res = tc.pulling_rounding(pp, repeats=2)
    back = tc.PullingResult.load(res.save(tmp_path / "r.npz"))
    np.testing.assert_array_equal(back.model, res.model)
    assert back.objective == res.objective and "int64[4]" in repr(res)
    assert res.summary()["total_delay"] == res.objective
    pp2 = tc.PullingProblem.load(pp.save(tmp_path / "p.npz"))
    assert pp2.evaluate(res.model, res.shareable_source, res.remaining_source).total_delay == res.objective
    assert "K=3" in repr(pp)


# ------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(("change", "field"), [
    ({"home": [0, 0, 2]}, "home"),                       # node 2 is the data center
    ({"home": [0, 0, 5]}, "home"),
    ({"home": [0, -1, 1]}, "home"),
    ({"shareable_size": [4.0, 1.0, 0.0]}, "shareable_size"),
    ({"queue_delay": [0.1, -0.2, 0.3]}, "queue_delay"),
    ({"infer_delay": -np.ones((3, 3))}, "infer_delay"),
    ({"trans_delay": np.full((3, 2), 0.1)}, "trans_delay"),
    ({"accuracy": [[np.nan, 0.8, 0.5]] * 3}, "accuracy"),
    ({"path_delay": [[0, -1.0, 1], [1, 0, 1], [1, 1, 0]]}, "path_delay"),
    ({"path_delay": np.ones((3, 2))}, "path_delay"),
    ({"cached": [[False] * 3]}, "cached"),
    ({"family": [0, 1]}, "family"),
    ({"family": [0, -1, 2]}, "family"),                  # ids out of range
    ({"trans_delay": np.full((3, 3), -0.1)}, "trans_delay"),
    ({"path_delay": [[0, np.nan, 1], [1, 0, 1], [1, 1, 0]]}, "path_delay"),
    ({"budget": [1.0, np.nan, 2.0]}, "budget"),
    ({"cached": np.zeros((2, 2), bool)}, "cached"),
    ({"memory": [1.0]}, "memory"),
    ({"trans_power": [1.0, np.inf]}, "trans_power"),
    ({"budget": [1.0, 2.0]}, "budget"),
    ({"alpha": 0.0}, "alpha"),
    ({"pull_delay": "max"}, "pull_delay"),
    ({"capacity": "global"}, "capacity"),
    ({"dc_source": "yes"}, "dc_source"),
])
def test_bad_input_names_the_field(change, field):
    with pytest.raises(InstanceError, match=field):
        _hand_problem(**change)


def test_bad_decisions_and_options():
    pp = _hand_problem()
    with pytest.raises(InstanceError, match="model"):
        pp.evaluate([0, 1, 3], [0, 0, 0], [2, 2, 2])
    with pytest.raises(InstanceError, match="shareable_source"):
        pp.evaluate([0, 1, 2], [0, 0, 3], [2, 2, 2])
    with pytest.raises(InstanceError, match="remaining_source"):
        pp.evaluate([0, 1, 2], [0, 0, 0], [2, 2])
    with pytest.raises(InstanceError, match="time_limit"):
        tc.pulling_optimal(pp, time_limit=0)
    with pytest.raises(InstanceError, match="formulation"):
        tc.pulling_lp(pp, formulation="big")
    with pytest.raises(InstanceError, match="repeats"):
        tc.pulling_rounding(pp, repeats=0)
    with pytest.raises(InstanceError, match="rounding"):
        tc.pulling_rounding(pp, rounding="x")
    with pytest.raises(InstanceError, match="pp"):
        tc.pulling_nbs("not a problem")


def test_no_requests_is_a_trivial_optimum():
    pp = tiny_problem(0, j=2).subset_requests(np.zeros(0, np.int64))
    for res in (tc.pulling_optimal(pp), tc.pulling_lp(pp), tc.pulling_rounding(pp, repeats=2),
                tc.pulling_rounding(pp, derandomize=True), tc.pulling_nbs(pp), tc.pulling_nonshare(pp),
                tc.pulling_cloud(pp), tc.pulling_online(pp, "ts")):
        assert res.feasible and res.objective == 0.0 and res.model.shape == (0,)


def test_lp_fraction_is_a_distribution_and_bounds_every_algorithm():
    for seed in range(10):
        pp = tiny_problem(seed, n=4, k=4, j=10, tight=1.5)
        lp = tc.pulling_lp(pp)
        if lp.lower_bound is None:
            continue
        np.testing.assert_allclose(lp.fraction.sum(axis=1), 1.0, atol=1e-7)
        assert (lp.fraction[~pp.allowed] <= 1e-9).all()  # the reduced LP has no variable there
        for res in (tc.pulling_optimal(pp), tc.pulling_rounding(pp, repeats=3, seed=seed)):
            assert lp.lower_bound <= res.objective * (1 + 1e-7) + 1e-9


def test_subset_requests_keeps_the_network():
    pp = tiny_problem(2, n=3, k=3, j=6)
    sub = pp.subset_requests([4, 1])
    np.testing.assert_array_equal(sub.home, pp.home[[4, 1]])
    np.testing.assert_array_equal(sub.accuracy, pp.accuracy[[4, 1]])
    assert sub.path_delay is pp.path_delay or np.array_equal(sub.path_delay, pp.path_delay)
    with pytest.raises(InstanceError, match="requests"):
        pp.subset_requests([6])


def test_greedy_repair_evicts_a_family_when_no_single_move_frees_memory():
    # 24 GB GPUs hold one 7B base (alpha 1.2): the LP mixes bases at a cloudlet, every draw overflows,
    # and no single move frees memory while two requests share each base; evicting a base does
    from trimcore.pulling.instances import realistic_instance

    pp = realistic_instance(50, 400, 20, 4, seed=0)
    res = tc.pulling_rounding(pp, repeats=5, seed=0)
    assert res.options["feasible_draws"] == 0 and res.options["repair_used"] == "greedy"
    assert res.feasible
    opt = tc.pulling_optimal(pp)
    assert opt.objective <= res.objective <= opt.objective * 1.01
