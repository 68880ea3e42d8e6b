"""Compact demand forms (issue #15): the same instance given densely and compactly gives identical
decisions, hit weights and bounds on every tier; bad demand raises InstanceError naming the field."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import random_blocks

import trimcore as tc
from trimcore.errors import InstanceError
from trimcore.kernels import kernel, kernel_tiers

FORMS = ("groups", "groups_rate", "ranked")


def _tiers(name: str) -> list[str]:
    return list(kernel_tiers(name))


def compact_pair(seed: int, n_servers: int, n_users: int, n_models: int, n_blocks: int, compact: bool,
                 form: str) -> tuple[tc.PlacementProblem, tc.PlacementProblem]:
    """(dense, compact) problems of one instance: ``p = rate[:, None] * group_popularity[group]``."""
    rng = np.random.default_rng(seed)
    sizes, blocks = random_blocks(rng, n_models, n_blocks)
    capacity = rng.uniform(0.0, sizes.sum() * 0.6, n_servers)
    if form == "ranked":
        gp = rng.random((1, n_models)) + 0.01
        group = np.zeros(n_users, dtype=np.int64)
        rate = rng.random(n_users) * (rng.random(n_users) < 0.8)
        rate[0] += 0.5
        demand = tc.RankedDemand(gp[0], rate)
    else:
        n_groups = int(rng.integers(1, 4))
        gp = rng.random((n_groups, n_models)) * (rng.random((n_groups, n_models)) < 0.7)
        gp[:, 0] += 0.1
        group = rng.integers(0, n_groups, n_users)
        rate = rng.uniform(0.0, 3.0, n_users) if form == "groups_rate" else None
        demand = tc.UserGroups(gp, group, rate)
    dense_pop = gp[group] if rate is None else rate[:, None] * gp[group]
    if compact:
        library = tc.ModelLibrary.from_lists(sizes, blocks)
        smax = rng.uniform(0, library.model_sizes.max() * 1.2, (n_servers, n_users))
        smax[rng.random((n_servers, n_users)) < 0.2] = 0.0
        return (tc.PlacementProblem.from_library(library, capacity, dense_pop, smax),
                tc.PlacementProblem.from_library(library, capacity, demand, smax))
    eligible = rng.random((n_servers, n_users, n_models)) < 0.5
    return (tc.PlacementProblem.from_arrays(sizes, blocks, capacity, eligible, dense_pop),
            tc.PlacementProblem.from_arrays(sizes, blocks, capacity, eligible, demand))


@st.composite
def pairs(draw, max_servers: int = 5, max_users: int = 9, max_models: int = 8, max_blocks: int = 70):
    return compact_pair(draw(st.integers(0, 2**32 - 1)), draw(st.integers(1, max_servers)),
                        draw(st.integers(1, max_users)), draw(st.integers(1, max_models)),
                        draw(st.integers(1, max_blocks)), draw(st.booleans()), draw(st.sampled_from(FORMS)))


@settings(max_examples=40, deadline=None)
@given(pairs(), st.integers(0, 2**32 - 1))
def test_hit_weight_and_gains_identical_on_every_tier(pair, seed):
    dense, compact = pair
    assert not compact.demand.is_dense and dense.demand.is_dense
    np.testing.assert_array_equal(compact.popularity, dense.popularity)  # densifying gives the same matrix
    assert compact.total_popularity == pytest.approx(dense.total_popularity, rel=1e-13)
    x = np.random.default_rng(seed).random((dense.n_servers, dense.n_models)) < 0.4
    expected = dense.hit_weight(x, backend="reference")
    for tier in _tiers("placement.hit_weight"):
        assert dense.hit_weight(x, backend=tier) == expected, tier
        assert compact.hit_weight(x, backend=tier) == expected, tier
    gains = kernel("placement.placed_server_gains", "reference")(dense.coverage_view("reference"),
                                                                  dense.demand_args, x)
    for tier in _tiers("placement.placed_server_gains"):
        for problem in (dense, compact):
            got = kernel("placement.placed_server_gains", tier)(problem.coverage_view(tier), problem.demand_args, x)
            np.testing.assert_array_equal(got, gains, err_msg=tier)


@settings(max_examples=30, deadline=None)
@given(pairs(), st.sampled_from(["best_of_both", "ratio", "gain"]))
def test_gen_identical_decisions_and_bounds(pair, rule):
    dense, compact = pair
    ref = tc.trimcaching_gen(dense, rule, backend="reference")
    for tier in _tiers("placement.trimcaching_gen"):
        for problem in (dense, compact):
            r = tc.trimcaching_gen(problem, rule, backend=tier)
            np.testing.assert_array_equal(r.placement, ref.placement, err_msg=tier)
            assert r.options["chosen_rule"] == ref.options["chosen_rule"]
            assert problem.hit_weight(r.placement, backend=tier) == dense.hit_weight(ref.placement)
            # the bound's sums are identical; only the denominator's summation order may differ
            assert r.upper_bound == pytest.approx(ref.upper_bound, rel=1e-13, abs=0.0)
    for lazy in (False, True):
        x_d = tc.placement.greedy.greedy_placement(dense, "ratio", lazy=lazy, backend="cpp")
        x_c = tc.placement.greedy.greedy_placement(compact, "ratio", lazy=lazy, backend="cpp")
        np.testing.assert_array_equal(x_c, x_d)


def test_compact_storage_is_compact():
    users = 10_000
    demand = tc.UserGroups(np.full((3, 4), 0.25), np.arange(users) % 3)
    problem = tc.PlacementProblem.from_library(tc.ModelLibrary.from_lists([1.0, 2.0], [[0], [1], [0, 1], [1]]),
                                               3.0, demand, np.ones((2, users)) * 2.5)
    assert problem.demand.by_model.shape == (4, 3) and problem.demand.group.dtype == np.int32
    assert problem.n_users == users
    assert problem.total_popularity == pytest.approx(users)
    assert problem.demand.n_requests() == 4 * users


def test_ranked_demand_is_one_group():
    rate = np.array([1.0, 0.0, 2.5])
    pop = np.array([0.5, 0.3, 0.2])
    problem = tc.PlacementProblem.from_arrays([1.0], [[0], [0], [0]], 1.0, np.ones((1, 3, 3), bool),
                                              tc.RankedDemand(pop, rate))
    assert problem.demand.kind == "ranked" and problem.demand.n_groups == 1
    np.testing.assert_array_equal(problem.popularity, rate[:, None] * pop[None, :])
    assert problem.demand.n_requests() == 6


@pytest.mark.parametrize(("demand", "field"), [
    (tc.UserGroups(np.ones((2, 3)), [0, 2, 1]), "group"),
    (tc.UserGroups(np.ones((2, 3)), [0, 1]), "group"),
    (tc.UserGroups(np.ones((2, 2)), [0, 1, 1]), "group_popularity"),
    (tc.UserGroups(-np.ones((2, 3)), [0, 1, 1]), "group_popularity"),
    (tc.UserGroups(np.ones((2, 3)), [0, 1, 1], [1.0, -1.0, 1.0]), "rate"),
    (tc.UserGroups(np.ones((2, 3)), [0, 1, 1], [1.0, np.nan, 1.0]), "rate"),
    (tc.UserGroups(np.ones((2, 3)), [0.5, 1, 1]), "group"),
    (tc.UserGroups(np.zeros((2, 3)), [0, 1, 1]), "popularity"),
    (tc.RankedDemand(np.ones(2), np.ones(3)), "model_popularity"),
    (tc.RankedDemand(np.ones(3), np.ones(2)), "user_rate"),
    (tc.RankedDemand(np.ones(3), np.zeros(3)), "popularity"),
])
def test_bad_demand_names_the_field(demand, field):
    with pytest.raises(InstanceError, match=rf"^{field}\b"):
        tc.PlacementProblem.from_arrays([1.0], [[0], [0], [0]], 1.0, np.ones((1, 3, 3), bool), demand)


@pytest.mark.parametrize("form", FORMS)
def test_save_load_keeps_the_form(tmp_path, form):
    dense, compact = compact_pair(3, 3, 7, 5, 9, True, form)
    path = compact.save(tmp_path / "p.npz")
    back = tc.PlacementProblem.load(path)
    assert back.demand.kind == compact.demand.kind
    np.testing.assert_array_equal(back.demand.by_model, compact.demand.by_model)
    x = tc.trimcaching_gen(dense).placement
    assert back.hit_weight(x) == dense.hit_weight(x)


def test_pickle_keeps_the_form():
    import pickle

    _, compact = compact_pair(4, 3, 7, 5, 9, False, "groups_rate")
    back = pickle.loads(pickle.dumps(compact))
    assert not back.demand.is_dense
    x = tc.trimcaching_gen(compact).placement
    assert back.hit_weight(x) == compact.hit_weight(x)


def test_cpp_problem_rejects_bad_groups():
    from trimcore import _core

    lib = tc.ModelLibrary.from_lists([1.0], [[0], [0]])
    by_model = np.ones((2, 2))
    with pytest.raises(InstanceError, match="group"):
        _core.PlacementProblem.from_max_size(lib.block_sizes, lib.indptr, lib.indices, np.ones(1),
                                             (by_model, np.array([0, 5], dtype=np.int32), None), np.ones((1, 2)))
    with pytest.raises(InstanceError, match="rate"):
        _core.PlacementProblem.from_max_size(lib.block_sizes, lib.indptr, lib.indices, np.ones(1),
                                             (by_model, np.array([0, 1], dtype=np.int32), np.array([1.0, -2.0])),
                                             np.ones((1, 2)))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 5), st.integers(1, 12), st.integers(1, 6), st.sampled_from(FORMS))
def test_from_reach_equals_from_library(seed, n_servers, n_users, n_models, form):
    """The sparse max_size gives the pairs of the dense one, and the same Gen result on every tier."""
    dense, compact = compact_pair(seed, n_servers, n_users, n_models, 9, True, form)
    smax = compact.max_size
    rng = np.random.default_rng(seed)
    ptr, users, size = [0], [], []
    for m in range(n_servers):
        nz = np.flatnonzero(smax[m] > 0)
        nz = rng.permutation(nz)  # any order in a server's list
        users.extend(nz.tolist())
        size.extend(smax[m, nz].tolist())
        ptr.append(len(users))
    demand = tc.UserGroups(compact.demand.by_model.T, compact.demand.group, compact.demand.rate) \
        if form != "ranked" else tc.RankedDemand(compact.demand.by_model[:, 0], compact.demand.rate)
    reach = tc.PlacementProblem.from_reach(compact.library, compact.capacity, demand, np.array(ptr),
                                           np.array(users, dtype=np.int64), np.array(size))
    for m in range(n_servers):
        for i in range(n_models):
            np.testing.assert_array_equal(reach.users_of(m, i), compact.users_of(m, i))
    ref = tc.trimcaching_gen(dense, backend="reference")
    for tier in _tiers("placement.trimcaching_gen"):
        r = tc.trimcaching_gen(reach, backend=tier)
        np.testing.assert_array_equal(r.placement, ref.placement, err_msg=tier)
        assert r.upper_bound == pytest.approx(ref.upper_bound, rel=1e-13, abs=0.0)


def test_from_reach_checks_and_round_trips(tmp_path):
    lib = tc.ModelLibrary.from_lists([1.0, 2.0], [[0], [0, 1]])
    demand = tc.UserGroups(np.ones((1, 2)), [0, 0, 0])
    with pytest.raises(InstanceError, match="^reach_users"):
        tc.PlacementProblem.from_reach(lib, 3.0, demand, [0, 2], [1, 1], [5.0, 5.0])
    with pytest.raises(InstanceError, match="^reach_ptr"):
        tc.PlacementProblem.from_reach(lib, 3.0, demand, [0, 3], [1, 2], [5.0, 5.0])
    with pytest.raises(InstanceError, match="^reach_size"):
        tc.PlacementProblem.from_reach(lib, 3.0, demand, [0, 2], [1, 2], [5.0, -1.0])
    with pytest.raises(InstanceError, match="^reach_users"):
        tc.PlacementProblem.from_reach(lib, 3.0, demand, [0, 2], [1, 3], [5.0, 1.0])
    p = tc.PlacementProblem.from_reach(lib, [3.0, 3.0], demand, [0, 2, 3], [2, 0, 1], [1.5, 5.0, 3.0])
    np.testing.assert_array_equal(p.users_of(0, 0), [0, 2])
    np.testing.assert_array_equal(p.users_of(0, 1), [0])
    back = tc.PlacementProblem.load(p.save(tmp_path / "r.npz"))
    np.testing.assert_array_equal(back.server_ptr, p.server_ptr)
    x = tc.trimcaching_gen(p).placement
    assert back.hit_weight(x) == p.hit_weight(x)
    assert tc.trimcaching_gen(back).hit_ratio == tc.trimcaching_gen(p).hit_ratio


@settings(max_examples=15, deadline=None)
@given(pairs(max_blocks=12), st.sampled_from(["index", "demand"]))
def test_other_algorithms_identical_on_compact_demand(pair, server_order):
    """Spec, independent caching, the baselines and regions read the compact form and decide as on the dense one."""
    dense, compact = pair
    runs = [
        lambda p, t: tc.trimcaching_spec(p, server_order=server_order, backend=t),
        lambda p, t: tc.independent_caching(p, server_order=server_order, backend=t),
        lambda p, t: tc.popularity_caching(p, backend=t),
        lambda p, t: tc.random_caching(p, seed=1, backend=t),
    ]
    for run in runs:
        for tier in ("reference", "cpp"):
            d, c = run(dense, tier), run(compact, tier)
            np.testing.assert_array_equal(c.placement, d.placement)
            assert c.upper_bound == pytest.approx(d.upper_bound, rel=1e-13, abs=0.0)
    if dense.n_servers >= 2:
        d = tc.trimcaching_gen_regions(dense, 2, by="users", backend="cpp")
        c = tc.trimcaching_gen_regions(compact, 2, by="users", backend="cpp")
        np.testing.assert_array_equal(c.placement, d.placement)


def test_demand_rows_and_totals_match_the_dense_matrix():
    _, compact = compact_pair(5, 3, 11, 6, 9, False, "groups_rate")
    dense = compact.popularity
    users = np.array([3, 0, 7])
    np.testing.assert_array_equal(compact.demand.rows(users), dense[users])
    np.testing.assert_allclose(compact.demand.model_totals(), dense.sum(axis=0), rtol=1e-13)
    sub = compact.demand.take_users(users)
    np.testing.assert_array_equal(sub.dense_by_model(), dense[users].T)
