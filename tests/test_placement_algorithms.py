"""Placement algorithms: tiers agree, guarantees hold against the exact optimum, bounds are valid."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import problems, random_problem

import trimcore as tc
from trimcore.kernels import kernel
from trimcore.placement import brute_force_placement
from trimcore.placement.greedy import greedy_placement

FAST = [b for b in ("cpp",) if b in tc.available_backends()]


def special_case_problem(seed: int, n_servers: int, n_users: int, n_families: int, per_family: int):
    """A special-case instance: one shared block per family plus one private block per model."""
    rng = np.random.default_rng(seed)
    sizes, blocks = [], []
    for _ in range(n_families):
        sizes.append(float(rng.integers(1, 8)))
        shared = len(sizes) - 1
        for _ in range(per_family):
            sizes.append(float(rng.integers(1, 6)) if rng.random() < 0.9 else float(rng.uniform(0.5, 5)))
            blocks.append([shared, len(sizes) - 1] if rng.random() < 0.85 else [len(sizes) - 1])
    n_models = len(blocks)
    pop = rng.random((n_users, n_models)) ** 3
    eligible = rng.random((n_servers, n_users, n_models)) < 0.6
    capacity = rng.uniform(3, 18, n_servers).round(1)
    return tc.PlacementProblem.from_arrays(sizes, blocks, capacity, eligible, pop)


# ------------------------------------------------------------------------------- tiers agree
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_servers=4, max_users=8, max_models=8, max_blocks=70))
def test_greedy_tiers_and_lazy_identical(problem):
    for rule in ("gain", "ratio"):
        want = greedy_placement(problem, rule, backend="reference")
        for backend in FAST:
            for lazy in (True, False):
                got = greedy_placement(problem, rule, lazy=lazy, backend=backend)
                np.testing.assert_array_equal(got, want, err_msg=f"{rule} lazy={lazy} {backend}")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**31), st.integers(1, 3), st.integers(1, 6), st.integers(1, 3), st.integers(1, 4),
       st.sampled_from([0.05, 0.1, 0.3, 0.7]), st.sampled_from(["auto", "fptas", "grid"]))
def test_spec_tiers_identical(seed, n_servers, n_users, n_families, per_family, eps, knapsack):
    problem = special_case_problem(seed, n_servers, n_users, n_families, per_family)
    results = {b: tc.trimcaching_spec(problem, eps, knapsack=knapsack, backend=b, bound=None)
               for b in ("reference", *FAST)}
    ref = results["reference"]
    for backend, res in results.items():
        np.testing.assert_array_equal(res.placement, ref.placement, err_msg=backend)
        assert res.hit_ratio == pytest.approx(ref.hit_ratio, abs=1e-9)
    for backend in ("reference", *FAST):
        ind = tc.independent_caching(problem, eps, backend=backend, bound=None)
        np.testing.assert_array_equal(ind.placement, tc.independent_caching(problem, eps, bound=None).placement)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 12), st.sampled_from([0.01, 0.1, 0.5]), st.booleans())
def test_knapsack_kernels(seed, n, eps, integral):
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.01, 10, n)
    weights = rng.integers(0, 20, n).astype(float) if integral else rng.uniform(0, 20, n)
    capacity = float(rng.uniform(0, 40))
    best = max((values[list(s)].sum() for r in range(n + 1) for s in itertools.combinations(range(n), r)
                if weights[list(s)].sum() <= capacity), default=0.0)
    fits = weights <= capacity
    v, w = values[fits], weights[fits]
    chosen = {}
    for backend in ("reference", *FAST):
        picked = kernel("knapsack.knapsack_fptas", backend)(v, w, capacity, eps)
        assert w[picked].sum() <= capacity
        assert v[picked].sum() >= (1 - eps) * best - 1e-12
        chosen[backend] = picked.tolist()
        if integral:
            exact = kernel("knapsack.knapsack_grid", backend)(v, w.astype(np.int64), int(capacity))
            assert v[exact].sum() == pytest.approx(best, rel=1e-12)
            chosen[backend + "-grid"] = exact.tolist()
    assert chosen["reference"] == chosen.get("cpp", chosen["reference"])
    if integral:
        assert chosen["reference-grid"] == chosen.get("cpp-grid", chosen["reference-grid"])


# ------------------------------------------------------------------------------- exactness and guarantees
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**31), st.integers(1, 2), st.integers(1, 5), st.integers(1, 5), st.booleans())
def test_optimal_placement_equals_brute_force(seed, n_servers, n_users, n_models, compact):
    problem = random_problem(seed, n_servers, n_users, n_models, 8, compact)
    _, best = brute_force_placement(problem)
    res = tc.optimal_placement(problem, time_limit=30)
    assert res.status == "optimal"
    assert res.feasible
    assert res.hit_ratio == pytest.approx(best, abs=1e-9)
    assert res.upper_bound >= best - 1e-12


def test_spec_guarantee_on_500_special_case_instances():
    rng = np.random.default_rng(2024)
    worst = np.inf
    for trial in range(500):
        eps = float(rng.choice([0.05, 0.1, 0.3, 0.6, 0.9]))
        problem = special_case_problem(int(rng.integers(2**31)), int(rng.integers(1, 4)), int(rng.integers(1, 7)),
                                       int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        opt = tc.optimal_placement(problem, time_limit=30)
        assert opt.status == "optimal"
        spec = tc.trimcaching_spec(problem, eps, knapsack="fptas" if trial % 2 else "auto", bound=None)
        assert spec.feasible
        assert spec.hit_ratio >= (1 - eps) / 2 * opt.hit_ratio - 1e-12, trial
        if opt.hit_ratio > 0:
            worst = min(worst, spec.hit_ratio / opt.hit_ratio)
    assert worst > 0.0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**31), st.integers(1, 3), st.integers(1, 5), st.integers(1, 5), st.booleans())
def test_every_result_feasible_scored_and_bounded(seed, n_servers, n_users, n_models, compact):
    problem = random_problem(seed, n_servers, n_users, n_models, 10, compact)
    opt = tc.optimal_placement(problem, time_limit=30)
    assert opt.status == "optimal"
    results = [tc.trimcaching_gen(problem, rule) for rule in ("gain", "ratio", "best_of_both")]
    results += [tc.trimcaching_gen(problem, bound="submodular"), tc.trimcaching_gen(problem, bound="lp"),
                tc.independent_caching(problem), tc.popularity_caching(problem),
                tc.random_caching(problem, seed=seed), tc.popularity_caching(problem, sharing_aware=False)]
    try:
        results.append(tc.trimcaching_spec(problem))
    except tc.InstanceError:
        pass  # too many shared-block combinations for Spec is a legitimate refusal
    for res in results:
        assert res.feasible, res.algorithm
        assert res.hit_ratio == pytest.approx(problem.hit_ratio(res.placement), abs=1e-12)
        np.testing.assert_allclose(res.storage_used, problem.storage_used(res.placement))
        assert res.hit_ratio <= opt.hit_ratio + 1e-9
        assert res.upper_bound >= opt.hit_ratio - 1e-12, (res.algorithm, res.bound_method)
        assert 0.0 <= res.gap <= 1.0


def test_best_of_both_is_the_better_rule():
    for seed in range(30):
        problem = random_problem(seed, 3, 6, 6, 12, seed % 2 == 0)
        both = tc.trimcaching_gen(problem, bound=None).hit_ratio
        each = [tc.trimcaching_gen(problem, r, bound=None).hit_ratio for r in ("gain", "ratio")]
        assert both == pytest.approx(max(each), abs=1e-12)


def test_hand_example_independent_vs_sharing_aware():
    # spec §8: independent caching 0.4, sharing-aware 0.8
    problem = tc.PlacementProblem.from_arrays([6, 2, 2, 5], [[0, 1], [0, 2], [3]], [10.0],
                                              np.ones((1, 1, 3), bool), [[0.4, 0.4, 0.2]])
    assert tc.independent_caching(problem).hit_ratio == pytest.approx(0.4)
    for eps in (0.01, 0.1, 0.5, 0.99):
        assert tc.trimcaching_spec(problem, eps).hit_ratio == pytest.approx(0.8)
    for rule in ("gain", "ratio", "best_of_both"):
        assert tc.trimcaching_gen(problem, rule).hit_ratio == pytest.approx(0.8)
    assert tc.optimal_placement(problem).hit_ratio == pytest.approx(0.8)


def test_spec_refuses_too_much_sharing():
    rng = np.random.default_rng(0)
    n_models = 14
    blocks = [[i, (i + 1) % n_models] for i in range(n_models)]  # a ring: every block shared by two models
    problem = tc.PlacementProblem.from_arrays(np.ones(n_models), blocks, [100.0],
                                              np.ones((1, 3, n_models), bool), rng.random((3, n_models)))
    with pytest.raises(tc.InstanceError, match="trimcaching_gen"):
        tc.trimcaching_spec(problem, max_combinations=64)
    assert tc.trimcaching_spec(problem, max_combinations=1 << 15).feasible


@pytest.mark.parametrize("call, field", [
    (lambda p: tc.trimcaching_gen(p, rule="best"), "rule"),
    (lambda p: tc.trimcaching_spec(p, eps=0.0), "eps"),
    (lambda p: tc.trimcaching_spec(p, eps=1.5), "eps"),
    (lambda p: tc.trimcaching_spec(p, knapsack="greedy"), "knapsack"),
    (lambda p: tc.trimcaching_spec(p, server_order="random"), "server_order"),
    (lambda p: tc.trimcaching_gen(p, bound="tight"), "bound"),
    (lambda p: tc.optimal_placement(p, time_limit=-1), "time_limit"),
    (lambda p: tc.trimcaching_gen(p, backend="gpu"), "backend"),
])
def test_bad_options(call, field):
    problem = random_problem(1, 2, 3, 3, 5, False)
    with pytest.raises(tc.InstanceError, match=field):
        call(problem)


def test_numba_has_no_greedy_tier():
    problem = random_problem(1, 2, 3, 3, 5, False)
    with pytest.raises(tc.InstanceError, match=r"trimcaching_gen has \(cpp, reference\)"):
        tc.trimcaching_gen(problem, backend="numba")


@pytest.mark.parametrize("n_servers, capacity, eligible", [(0, [], True), (1, [0.0], True), (2, [5.0, 5.0], False)])
def test_degenerate_instances(n_servers, capacity, eligible):
    """No server, no storage, or nobody reachable: hit ratio 0, a zero bound, nothing placed by the gain-driven
    algorithms (popularity and random filling ignore reachability by design)."""
    problem = tc.PlacementProblem.from_arrays([1.0, 2.0], [[0], [0, 1]], np.array(capacity, dtype=float),
                                              np.full((n_servers, 3, 2), eligible), np.ones((3, 2)))
    for algorithm in (tc.trimcaching_gen, tc.trimcaching_spec, tc.independent_caching, tc.optimal_placement,
                      tc.popularity_caching, tc.random_caching):
        res = algorithm(problem)
        assert res.hit_ratio == 0.0 and res.feasible, algorithm.__name__
        if algorithm not in (tc.popularity_caching, tc.random_caching):
            assert res.placement.sum() == 0, algorithm.__name__
        assert res.upper_bound == pytest.approx(0.0, abs=1e-6)


def test_knapsack_auto_falls_back_to_the_grid_on_huge_tables(monkeypatch):
    import trimcore.placement.spec as spec

    problem = random_problem(5, 2, 6, 6, 10, False)  # sizes with decimals: no exact integer grid
    assert tc.trimcaching_spec(problem, 0.1).options["guaranteed"]
    monkeypatch.setattr(spec, "FPTAS_TABLE_LIMIT", 1)
    res = tc.trimcaching_spec(problem, 0.1, grid_cells=64)
    assert res.feasible and res.options["knapsack_grid"] > 0 and not res.options["guaranteed"]
    monkeypatch.setattr(spec, "FPTAS_HARD_LIMIT", 1)
    with pytest.raises(tc.InstanceError, match="FPTAS table"):
        tc.trimcaching_spec(problem, 0.1, knapsack="fptas")
