"""PartialLoading algorithms against the exact optimum, the decoupling theorem and an independent simulator."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_loading_support import assert_valid, backbone_instance, general_instance, simulate, tree_instance

import trimcore.loading as pl
from trimcore.errors import InstanceError
from trimcore.experiments.scenarios import make_loading_instance
from trimcore.instance.zoo import frozen_backbone_library, nested_sharing_library, random_library
from trimcore.loading import LoadingProblem

HEURISTICS = {
    "dp_min": lambda p: pl.partialloading_dp(p, deadline="min"),
    "dp_min_drop": lambda p: pl.partialloading_dp(p, deadline="min", repair="drop"),
    "dp_edf": pl.partialloading_dp_edf,
    "dp_edf_drop": lambda p: pl.partialloading_dp_edf(p, repair="drop"),
    "greedy": pl.partialloading_greedy,
    "greedy_insert": lambda p: pl.partialloading_greedy(p, variant="insert"),
    "greedy_equal_spread": lambda p: pl.partialloading_greedy(p, spread="equal"),
    "no_sharing_greedy": lambda p: pl.no_sharing_schedule(p, scheduler="greedy"),
    "no_sharing_dp_edf": lambda p: pl.no_sharing_schedule(p, scheduler="dp_edf"),
    "fcfs": pl.fcfs_schedule,
    "edf": lambda p: pl.edf_schedule(p, seed=1),
    "grouping": pl.grouping_schedule,
    "random": lambda p: pl.random_schedule(p, seed=2),
    "equal_bandwidth": pl.equal_bandwidth_schedule,
}


# ---------------------------------------------------------------------------------------- DP = optimum
def test_dp_equals_exact_optimum_on_500_backbone_and_tree_instances():
    """Spec §5.6: DP-PL is optimal with laminar sharing, a common deadline and slack bandwidth."""
    kinds = {"backbone": 0, "tree": 0, "full": 0}
    for seed in range(500):
        if seed % 2 == 0:
            lp, kind = backbone_instance(seed, slack_bw=True), "backbone"
        else:
            kind = "full" if seed % 10 == 1 else "tree"
            lp = tree_instance(seed, slack_bw=True, loading="full" if kind == "full" else "partial")
        dp = pl.partialloading_dp(lp)
        opt = pl.partialloading_optimal(lp, method="brute_force")
        assert dp.served == opt.served, (seed, kind, dp.order, opt.order)
        assert dp.status == "optimal" and dp.upper_bound == opt.served and opt.status == "optimal"
        assert_valid(dp)
        assert_valid(opt)
        kinds[kind] += 1
    assert min(kinds.values()) >= 40


def test_dp_value_is_an_upper_bound_when_bandwidth_binds():
    for seed in range(120):
        lp = backbone_instance(seed, n_users=6, slack_bw=False) if seed % 2 else tree_instance(seed, slack_bw=False)
        dp = pl.partialloading_dp(lp)
        opt = pl.partialloading_optimal(lp)
        assert_valid(dp)
        assert dp.served <= opt.served <= dp.upper_bound
        if dp.options["repairs"] == 0:
            assert dp.served == opt.served and dp.status == "optimal"
        else:
            assert dp.status == "feasible"


# ---------------------------------------------------------------------------------------- feasibility
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.sampled_from(["tree", "backbone", "general"]), st.booleans(),
       st.booleans(), st.sampled_from(sorted(HEURISTICS)))
def test_every_schedule_passes_independent_simulation(seed, kind, common, slack, name):
    make = {"tree": tree_instance, "backbone": backbone_instance, "general": general_instance}[kind]
    lp = make(seed, common=common, slack_bw=slack)
    if name.startswith("dp_min") and not lp.is_laminar:
        lp = lp.with_options(loading="full")
    res = HEURISTICS[name](lp)
    assert_valid(res)
    assert res.runtime_s >= 0 and res.bandwidth.shape == (lp.n_users,)
    unscheduled = np.setdiff1d(np.arange(lp.n_users), res.order)
    assert (res.bandwidth[unscheduled] == 0).all() or name == "equal_bandwidth"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_greedy_and_dp_edf_always_feasible_general_sharing(seed, slack):
    lp = general_instance(seed, n_users=int(np.random.default_rng(seed).integers(1, 12)), slack_bw=slack)
    for res in (pl.partialloading_greedy(lp), pl.partialloading_dp_edf(lp),
                pl.partialloading_greedy(lp, variant="insert")):
        assert_valid(res)


def test_schedules_on_real_libraries_are_feasible():
    libs = [frozen_backbone_library(("resnet50", "vit_b16", "bert_base"), 10),
            nested_sharing_library(("resnet18", "vit_b16"), 6, seed=3),
            random_library(12, 20, 6, seed=4, size_range=(1e6, 1e8))]
    for i, lib in enumerate(libs):
        for bw in (2e6, 20e6):
            lp = LoadingProblem.from_random_cell(lib, 30, seed=i, bandwidth_hz=bw, deadline=np.full(30, 0.3))
            for name, algo in HEURISTICS.items():
                if name.startswith("dp_min") and not lp.is_laminar:
                    continue
                assert_valid(algo(lp))


# ---------------------------------------------------------------------------------------- decoupling theorem
def test_decoupling_theorem_both_ways():
    """beta(S^late) suffices; 1% less for any one user with beta > 0 makes some task late (spec §4, §5.6)."""
    checked = cut = 0
    for seed in range(400):
        rng = np.random.default_rng(seed)
        base = general_instance(seed, n_users=int(rng.integers(1, 7)), slack_bw=False)
        order = rng.permutation(base.n_users)[:int(rng.integers(1, base.n_users + 1))]
        fin = np.cumsum(base.load_times(order) + base.infer_time[order])
        deadline = base.deadline.copy()
        deadline[order] = fin + rng.uniform(0.05, 1.5, order.size)      # GPU chain feasible, some slack
        lp = base.with_options(deadline=deadline, gpu_memory=1e9, bandwidth_hz=1e12)
        ev = lp.evaluate(order, spread="none")
        if not np.isfinite(ev.total_min_bandwidth):
            continue
        checked += 1
        ok, _ = simulate(lp, order, ev.bandwidth)
        assert ok and ev.feasible, seed
        for u in order.tolist():
            if ev.min_bandwidth[u] == 0:
                continue
            less = ev.bandwidth.copy()
            less[u] *= 0.99
            late, _ = simulate(lp, order, less, strict=True)
            assert not late, (seed, u)
            assert not lp.evaluate(order, less).feasible
            cut += 1
    assert checked > 300 and cut > 800


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1))
def test_any_feasible_allocation_dominates_beta(seed):
    """Every allocation that meets the deadlines gives each user at least beta (minimality)."""
    rng = np.random.default_rng(seed)
    lp = general_instance(seed, n_users=5, slack_bw=False).with_options(bandwidth_hz=1e12, gpu_memory=1e9)
    order = rng.permutation(lp.n_users)
    ev = lp.evaluate(order, spread="none")
    if not ev.feasible:
        return
    for _ in range(20):
        b = ev.min_bandwidth * rng.uniform(0.9, 3.0, lp.n_users)
        ok, _ = simulate(lp, order, b, strict=True)
        if ok:
            assert (b >= ev.min_bandwidth * (1 - 1e-9)).all()


# ---------------------------------------------------------------------------------------- the optimum
def test_optimum_dominates_every_heuristic():
    for seed in range(40):
        lp = general_instance(seed, n_users=6, slack_bw=seed % 2 == 0, common=seed % 3 == 0)
        opt = pl.partialloading_optimal(lp)
        assert opt.status == "optimal" and opt.upper_bound == opt.served
        assert_valid(opt)
        for name, algo in HEURISTICS.items():
            if name.startswith(("dp_min", "no_sharing", "grouping")):
                continue   # DP needs a tree; B1/B4 live on the no-sharing problem
            assert algo(lp).served <= opt.served, name
        assert pl.no_sharing_schedule(lp, scheduler="greedy").served <= pl.partialloading_optimal(
            lp.with_options(loading="full")).served


def test_milp_matches_brute_force():
    for seed in range(24):
        lp = general_instance(seed, n_users=6, slack_bw=seed % 3 == 0, common=seed % 2 == 0)
        bf = pl.partialloading_optimal(lp, method="brute_force")
        mip = pl.partialloading_optimal(lp, method="milp", time_limit=60)
        assert mip.status == "optimal", mip.options
        assert mip.served == bf.served, seed
        assert_valid(mip)


def test_milp_beyond_brute_force_and_time_limit():
    lp = backbone_instance(5, n_users=12, slack_bw=False)
    auto = pl.partialloading_optimal(lp, time_limit=60)
    assert auto.options["method"] == "milp"
    assert_valid(auto)
    assert auto.served >= pl.partialloading_greedy(lp).served
    assert auto.upper_bound >= auto.served
    quick = pl.partialloading_optimal(make_loading_instance(60, 6, 2, seed=1), method="milp", time_limit=0.5)
    assert_valid(quick)
    assert quick.status in ("optimal", "time_limit") and quick.upper_bound >= quick.served
    with pytest.raises(InstanceError, match="brute force"):
        pl.brute_force_schedule(lp, limit=8)


def test_brute_force_against_itertools_enumeration():
    import itertools

    for seed in range(30):
        lp = general_instance(seed, n_users=4, slack_bw=seed % 2 == 0)
        best = 0
        for n in range(1, lp.n_users + 1):
            for perm in itertools.permutations(range(lp.n_users), n):
                if lp.evaluate(list(perm)).feasible:
                    best = max(best, n)
        assert pl.partialloading_optimal(lp).served == best


# ---------------------------------------------------------------------------------------- refusals and options
def test_dp_refuses_non_laminar_sharing_and_different_deadlines():
    crossing = LoadingProblem.from_arrays([1.0, 1.0, 1.0], [[0, 1], [1, 2], [2]], [0, 1, 2], 0.1, 5.0, 0.0, 1e9,
                                          1e9, 1.0, 10.0)
    with pytest.raises(InstanceError, match="model_blocks.*laminar"):
        pl.partialloading_dp(crossing)
    assert_valid(pl.no_sharing_schedule(crossing, scheduler="dp"))
    differ = backbone_instance(3, n_users=5, common=False)
    with pytest.raises(InstanceError, match="deadline.*common"):
        pl.partialloading_dp(differ)
    res = pl.partialloading_dp(differ, deadline="min")
    assert_valid(res)
    assert res.upper_bound is None and res.status == "feasible"
    assert res.options["deadline_used"] == differ.deadline[differ.schedulable].min()


@pytest.mark.parametrize(("call", "field"), [
    (lambda p: pl.partialloading_dp(p, repair="x"), "repair"),
    (lambda p: pl.partialloading_dp(p, deadline="max"), "deadline"),
    (lambda p: pl.partialloading_dp(p, spread="x"), "spread"),
    (lambda p: pl.partialloading_dp_edf(p, repair="x"), "repair"),
    (lambda p: pl.partialloading_greedy(p, variant="x"), "variant"),
    (lambda p: pl.partialloading_greedy(p, spread="x"), "spread"),
    (lambda p: pl.partialloading_optimal(p, method="x"), "method"),
    (lambda p: pl.partialloading_optimal(p, time_limit=0), "time_limit"),
    (lambda p: pl.partialloading_optimal(p, brute_force_limit=11), "brute_force_limit"),
    (lambda p: pl.no_sharing_schedule(p, scheduler="x"), "scheduler"),
    (lambda p: pl.fcfs_schedule(p, spread="x"), "spread"),
    (lambda p: pl.partialloading_dp(p, backend="fortran"), "backend"),
])
def test_bad_options_raise(call, field):
    with pytest.raises(InstanceError, match=field):
        call(backbone_instance(1, n_users=3))


def test_repair_keeps_dp_feasible_and_records_it():
    lib = frozen_backbone_library(("resnet50", "vit_b16", "bert_base"), 10)
    repaired = 0
    for seed in range(10):
        lp = LoadingProblem.from_random_cell(lib, 30, seed=seed, bandwidth_hz=2e6)
        for repair in ("rerun", "drop"):
            res = pl.partialloading_dp(lp, repair=repair)
            assert_valid(res)
            assert res.served <= res.upper_bound == res.options["dp_value"]
            repaired += res.options["repairs"] > 0
    assert repaired >= 10


# ---------------------------------------------------------------------------------------- baselines
def test_baseline_definitions():
    lib = frozen_backbone_library(("resnet50", "vit_b16", "bert_base"), 10)
    lp = LoadingProblem.from_random_cell(lib, 40, seed=3, deadline=np.random.default_rng(0).uniform(0.2, 0.6, 40))
    fcfs = pl.fcfs_schedule(lp)
    assert (np.diff(fcfs.order) > 0).all()
    edf = pl.edf_schedule(lp, seed=0)
    assert (np.diff(lp.deadline[edf.order]) >= 0).all()
    grouped = pl.grouping_schedule(lp)
    assert grouped.problem.loading == "full"
    models = lp.user_model[grouped.order]
    assert len(set(models.tolist())) == 1 + int((np.diff(models) != 0).sum())     # each model one run
    eq = pl.equal_bandwidth_schedule(lp)
    assert np.allclose(eq.bandwidth[eq.order], lp.bandwidth_hz / eq.order.size)
    np.testing.assert_array_equal(pl.random_schedule(lp, seed=5).order, pl.random_schedule(lp, seed=5).order)
    b1 = pl.no_sharing_schedule(lp, scheduler="greedy")
    full = pl.partialloading_greedy(lp.with_options(loading="full"))
    np.testing.assert_array_equal(b1.order, full.order)
    assert b1.algorithm == "no_sharing_schedule" and b1.options["scheduler"] == "greedy"
    assert b1.problem.loading == "full"


def test_sharing_beats_no_sharing_on_backbone_libraries():
    """Spec §8 expected shape: partial loading serves more than full reloads (with the same DP)."""
    lib = frozen_backbone_library(("resnet50", "vit_b16", "bert_base"), 10)
    part, full = [], []
    for seed in range(15):
        lp = LoadingProblem.from_random_cell(lib, 30, seed=seed, bandwidth_hz=100e6)
        part.append(pl.partialloading_dp(lp).served)
        full.append(pl.no_sharing_schedule(lp, scheduler="dp").served)
    assert all(a >= b for a, b in zip(part, full)) and sum(part) > sum(full)


def test_initial_model_is_used():
    lp = backbone_instance(11, n_users=6, initial=False)
    for i0 in range(lp.n_models):
        warm = lp.with_options(initial_model=i0)
        assert pl.partialloading_dp(warm).served >= pl.partialloading_dp(lp).served
        assert pl.partialloading_dp(warm).served == pl.partialloading_optimal(warm).served


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.sampled_from(["tree", "backbone"]), st.booleans(), st.booleans())
def test_preorder_dp_finds_the_merge_dps_optimum(seed, kind, slack, ties):
    """Issue #15: DP-PL's depth-first pass (default) and the spec's bottom-up merges agree.

    Same DP value (optimal GPU-only count) on every instance; without a repair both results are
    that optimum. With ``ties`` all inference times are 3 or 6 ms: thousands of exact ties, where
    the two tie rules may pick other users (so a repair may then drop other users).
    """
    make = tree_instance if kind == "tree" else backbone_instance
    lp = make(seed, slack_bw=slack)
    if ties:
        lp = lp.with_options(infer_time=np.random.default_rng(seed).choice([0.003, 0.006], lp.n_users))
    new = pl.partialloading_dp(lp, deadline="min")
    old = pl.partialloading_dp(lp, deadline="min", method="merge")
    assert new.options["dp_value"] == old.options["dp_value"]
    assert new.options["method"] == "preorder" and old.options["method"] == "merge"
    if new.options["repairs"] == 0 and old.options["repairs"] == 0:
        assert new.served == old.served == new.options["dp_value"]
    assert_valid(new, lp)


def test_preorder_dp_at_scale_matches_merges():
    """Thousands of tied inference times (6 ms for everybody): same count, both methods, both tiers."""
    lp = make_loading_instance(3000, 30, 4, seed=5)
    old = pl.partialloading_dp(lp, method="merge")
    for b in ("numba", "reference"):
        new = pl.partialloading_dp(lp, backend=b)
        assert new.options["dp_value"] == old.options["dp_value"] > 1000
        assert new.served == old.served


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.booleans(), st.booleans())
def test_dp_edf_by_runs_finds_the_per_user_optimum(seed, common, slack):
    """Issue #15: DP-EDF by runs (default) and by users find the same count; with no repair both
    results serve it; every result is feasible."""
    lp = general_instance(seed, common=common, slack_bw=slack)
    new = pl.partialloading_dp_edf(lp)
    old = pl.partialloading_dp_edf(lp, method="users")
    assert new.options["method"] == "runs" and old.options["method"] == "users"
    if new.options["repairs"] == 0 and old.options["repairs"] == 0:
        assert new.served == old.served
    assert_valid(new, lp)


def test_dp_edf_by_runs_at_scale_matches_users():
    lp = make_loading_instance(1500, 20, 4, seed=3)
    old = pl.partialloading_dp_edf(lp, method="users")
    for b in ("numba", "reference"):
        assert pl.partialloading_dp_edf(lp, backend=b).served == old.served > 500


# ------------------------------------------------------------------ Greedy-PL fast path (issue #15)
def _greedy_pair(lp):
    from trimcore.loading.greedy import _greedy_append, _greedy_append_fast

    ref = _greedy_append(lp, "reference")
    fast, stats = _greedy_append_fast(lp)
    return ref, fast, stats


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.sampled_from(["tree", "backbone", "general"]), st.booleans(), st.booleans())
def test_fast_greedy_decides_like_the_reference(seed, kind, common, slack):
    """The Numba greedy (bounds on sum beta, candidates kept ordered) appends exactly the
    reference's users, on small instances where the budget binds (exact trials) or not."""
    make = {"tree": tree_instance, "backbone": backbone_instance, "general": general_instance}[kind]
    lp = make(seed, common=common, slack_bw=slack)
    if seed % 3 == 0:
        lp = lp.with_options(rate_model="fixed_psd")
    ref, fast, _ = _greedy_pair(lp)
    np.testing.assert_array_equal(fast, ref)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.floats(0.03, 1.0), st.floats(0.2, 1.2), st.sampled_from(["common", "per_user",
                                                                                                "ties"]))
def test_fast_greedy_on_cells_like_the_reference(seed, bw_factor, fraction, kind):
    """Cell instances of 20-300 users, budgets from binding to ample; ``ties``: inference times 6 ms
    and 6 ms plus one ulp (``L + t`` then often rounds to equal keys with different ``t``)."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(20, 300))
    lp = make_loading_instance(k, int(rng.integers(1, 12)), int(rng.integers(1, 4)), seed=seed % 1000,
                               bandwidth_hz=bw_factor * 20e6 * k / 30, served_fraction=fraction)
    if kind == "ties":
        lp = lp.with_options(infer_time=rng.choice([0.006, np.nextafter(0.006, 1.0)], k))
    elif kind == "per_user":
        lp = lp.with_options(deadline=rng.uniform(0.2, 1.0, k) * lp.deadline)
    ref, fast, _ = _greedy_pair(lp)
    np.testing.assert_array_equal(fast, ref)


def test_fast_greedy_asks_the_evaluator_only_near_the_budget():
    """Far from the budget every trial is decided by the bounds; with the budget set to the final
    order's own sum beta (plus 1e-9) the last trials are the evaluator's, and still identical."""
    lp = make_loading_instance(1500, 20, 4, seed=7)
    ref, fast, stats = _greedy_pair(lp)
    np.testing.assert_array_equal(fast, ref)
    assert stats["exact_trials"] <= 2 and stats["bound_refreshes"] < 50 and len(ref) > 500
    ev = lp.evaluate(ref[:len(ref) // 2])
    tight = lp.with_options(bandwidth_hz=ev.total_min_bandwidth * (1 + 1e-9))
    ref, fast, stats = _greedy_pair(tight)
    np.testing.assert_array_equal(fast, ref)
    assert stats["exact_trials"] >= 1


def test_fast_greedy_beta_matches_the_evaluator():
    """The Newton root of the fast path against ``radio.min_bandwidth`` for c from 1e-300 to 0.99."""
    from trimcore.instance import radio
    from trimcore.kernels.loading.jit import _beta_approx

    c = np.logspace(-300, np.log10(0.989), 2000)
    alpha = 3e9
    rate = c * alpha / np.log(2.0)
    ref = radio.min_bandwidth(rate, np.full_like(rate, alpha))
    got = np.array([_beta_approx(r, alpha, 1.0, False) for r in rate])
    assert (got[:, 1] == 0).all()
    np.testing.assert_allclose(got[:, 0], ref, rtol=1e-12)
    assert _beta_approx(1.0, alpha, 0.0, False)[1] == 2          # no time left to upload
    assert _beta_approx(2.0 * alpha, alpha, 1.0, False)[1] == 2  # rate above alpha / ln 2
    assert _beta_approx(0.995 * alpha / np.log(2.0), alpha, 1.0, False)[1] == 1   # ill-conditioned: evaluator


def test_dp_edf_checkpoints_when_the_records_exceed_the_budget():
    """A record budget below the table: checkpointed back-tracking, the same schedule, both tiers."""
    lp = make_loading_instance(1200, 20, 4, seed=3)
    lp = lp.with_options(deadline=np.random.default_rng(0).uniform(0.3, 1.0, lp.n_users) * lp.deadline)
    whole = pl.partialloading_dp_edf(lp)
    assert whole.options["segments"] == 1
    for b in ("numba", "reference"):
        cut = pl.partialloading_dp_edf(lp, record_budget=20_000, backend=b)
        assert cut.options["segments"] > 10
        np.testing.assert_array_equal(cut.order, whole.order)
    with pytest.raises(InstanceError, match="record_budget"):
        pl.partialloading_dp_edf(lp, record_budget=0)
