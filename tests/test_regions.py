"""Gen by regions (issue #15): slicing, partitions, merge, repair, the global bound, dask tasks.

Oracles: the sub-problem against the dense eligibility of the whole problem; one region against
``trimcaching_gen``; the merge against each region solved on its own; the bound against brute force;
the repair against an instance whose optimum it must reach; a 2-worker cluster against the
in-process run.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import problems, random_problem

import trimcore as tc
from trimcore.errors import InstanceError
from trimcore.experiments.scenarios import large_placement_instance
from trimcore.instance.topology import Topology
from trimcore.placement import brute_force_placement, partition_servers, region_problem
from trimcore.placement.bounds import submodular_bound

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FAST = [b for b in ("cpp",) if b in tc.available_backends()]


def _labels(problem, seed: int, n_regions: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, min(n_regions, problem.n_servers), problem.n_servers)


# ------------------------------------------------------------------------------- slicing
@SETTINGS
@given(problems(max_servers=6, max_users=10, max_models=6), st.integers(0, 2**31))
def test_region_problem_is_the_restriction(problem, seed):
    rng = np.random.default_rng(seed)
    servers = rng.permutation(problem.n_servers)[:int(rng.integers(1, problem.n_servers + 1))]
    sub, users = region_problem(problem, servers)
    dense = problem.eligible()[servers]
    np.testing.assert_array_equal(users, np.flatnonzero(dense.any(axis=(0, 2))))  # exactly the users reached
    np.testing.assert_array_equal(sub.eligible(), dense[:, users])
    np.testing.assert_array_equal(sub.popularity, problem.popularity[users])
    np.testing.assert_array_equal(sub.capacity, problem.capacity[servers])
    assert sub.is_compact == problem.is_compact
    for s, m in enumerate(servers.tolist()):  # same users in the same order, renumbered
        for i in range(problem.n_models):
            np.testing.assert_array_equal(users[sub.users_of(s, i)], problem.users_of(m, i))
    if problem.is_compact and users.size:  # the kept max_size rebuilds the same pair lists
        ones = np.ones_like(sub.popularity)  # the pair lists do not depend on the demand (which may be all 0)
        again = tc.PlacementProblem.from_library(problem.library, sub.capacity, ones, sub.max_size)
        np.testing.assert_array_equal(again.pair_len, sub.pair_len)
        for p in range(sub.pair_len.size):
            s, i = divmod(p, sub.n_models)
            np.testing.assert_array_equal(again.users_of(s, i), sub.users_of(s, i))


def test_region_problem_from_a_file_with_overlapping_extents(tmp_path):
    """Pairs of a loaded file may share entries across servers; the slice still lists the right users."""
    problem = random_problem(3, 3, 6, 3, 8, compact=False)
    path = problem.save(tmp_path / "p.npz")
    loaded = tc.PlacementProblem.load(path)
    for servers in ([0], [2, 1], [0, 1, 2]):
        sub, users = region_problem(loaded, servers)
        np.testing.assert_array_equal(sub.eligible(), problem.eligible()[servers][:, users])


def test_problem_pickles_without_its_views():
    problem = large_placement_instance(12, 150, 20)
    want = tc.trimcaching_gen(problem)  # builds the native view, which cannot be pickled
    assert problem._views
    again = pickle.loads(pickle.dumps(problem))
    assert again._views == {}
    for name in ("pair_ptr", "pair_len", "pair_users", "popularity_by_model"):
        np.testing.assert_array_equal(getattr(again, name), getattr(problem, name))
        assert getattr(problem, name).flags.writeable is False
        assert getattr(again, name).flags.writeable is False, name  # pickle alone would lose the flag
    got = tc.trimcaching_gen(again)
    np.testing.assert_array_equal(got.placement, want.placement)
    assert got.upper_bound == want.upper_bound


# ------------------------------------------------------------------------------- partitions
@SETTINGS
@given(problems(max_servers=9, max_users=10, max_models=4), st.integers(1, 9), st.sampled_from(["users", "position"]),
       st.integers(0, 2**31))
def test_partition_is_balanced_and_deterministic(problem, n_regions, by, seed):
    n_regions = min(n_regions, problem.n_servers)
    xy = np.random.default_rng(seed).uniform(0, 100, (problem.n_servers, 2)) if by == "position" else None
    labels = partition_servers(problem, n_regions, by=by, positions=xy)
    assert labels.shape == (problem.n_servers,)
    sizes = np.bincount(labels, minlength=n_regions)
    assert sizes.size == n_regions and sizes.min() >= 1  # every region non-empty, labels 0..R-1
    assert sizes.max() - sizes.min() <= max(1, int(np.ceil(np.log2(n_regions))))  # proportional cuts
    np.testing.assert_array_equal(partition_servers(problem, n_regions, by=by, positions=xy), labels)


def test_position_partition_cuts_a_grid_into_quadrants():
    problem = random_problem(0, 16, 5, 2, 4, compact=True)
    xy = np.array([(x, y) for x in range(4) for y in range(4)], dtype=float)
    labels = partition_servers(problem, 4, by="position", positions=xy)
    for r in range(4):
        pts = xy[labels == r]
        assert len(pts) == 4 and np.ptp(pts, axis=0).max() == 1  # a 2 x 2 block
    topo = Topology(xy, np.zeros((5, 2)), 3.0, 3.0)  # a Topology gives its server positions
    np.testing.assert_array_equal(partition_servers(problem, 4, positions=topo), labels)


def _two_groups(weak_link: bool) -> tc.PlacementProblem:
    """Servers {0, 2, 4} reach users 0-4 and {1, 3, 5} users 5-9 (interleaved ids); optionally one
    user is reached by a server of each group."""
    eligible = np.zeros((6, 10, 1), dtype=bool)
    for m in range(6):
        eligible[m, (m % 2) * 5 + np.arange(5), 0] = True
    if weak_link:
        eligible[0, 5, 0] = True
    return tc.PlacementProblem.from_arrays([1.0], [[0]], 1.0, eligible, np.ones((10, 1)))


@pytest.mark.parametrize("weak_link", [False, True])
def test_users_partition_follows_shared_users(weak_link):
    labels = partition_servers(_two_groups(weak_link), 2, by="users")
    assert len(set(labels[[0, 2, 4]])) == 1 and len(set(labels[[1, 3, 5]])) == 1 and labels[0] != labels[1]


def test_users_partition_spectral_path_on_a_large_graph():
    """Above the dense limit the Fiedler vector comes from ARPACK: two blocks joined weakly are found."""
    from trimcore.placement import regions

    half = regions.DENSE_SPECTRAL_LIMIT + 10
    n = 2 * half
    users = 3 * n
    eligible = np.zeros((n, users, 1), dtype=bool)
    rng = np.random.default_rng(1)
    order = rng.permutation(n)  # group membership unrelated to server ids
    for rank, m in enumerate(order.tolist()):
        group = rank // half
        base = group * (users // 2)
        eligible[m, base + rng.choice(users // 2, 6, replace=False), 0] = True  # users of its own group
    eligible[order[0], users - 1, 0] = True  # one weak link between the groups
    problem = tc.PlacementProblem.from_arrays([1.0], [[0]], 1.0, eligible, np.ones((users, 1)))
    labels = partition_servers(problem, 2, by="users")
    first = labels[order[:half]]
    assert (first == first[0]).all() and (labels[order[half:]] != first[0]).all()


# ------------------------------------------------------------------------------- the algorithm
@SETTINGS
@given(problems(max_servers=6, max_users=10, max_models=6), st.sampled_from(["best_of_both", "ratio", "gain"]))
def test_one_region_is_trimcaching_gen(problem, rule):
    want = tc.trimcaching_gen(problem, rule)
    for regions in (1, np.full(problem.n_servers, problem.n_servers - 1)):
        got = tc.trimcaching_gen_regions(problem, regions, rule=rule)
        np.testing.assert_array_equal(got.placement, want.placement)
        assert got.hit_ratio == want.hit_ratio and got.upper_bound == want.upper_bound
        assert got.options["regions"] == 1 and got.options["boundary_users"] == 0
        assert got.options["repair_gain"] == 0.0 and got.algorithm == "trimcaching_gen_regions"


@SETTINGS
@given(problems(max_servers=7, max_users=10, max_models=6), st.integers(2, 4), st.integers(0, 2**31))
def test_merge_feasible_repair_monotone_bound_global(problem, n_regions, seed):
    labels = _labels(problem, seed, n_regions)
    plain = tc.trimcaching_gen_regions(problem, labels, repair=False)
    # the merge is each region solved on its own, put side by side
    merged = np.zeros_like(plain.placement)
    for r in np.unique(labels):
        servers = np.flatnonzero(labels == r)
        sub, _ = region_problem(problem, servers)
        if sub.total_popularity > 0:
            merged[servers] = tc.trimcaching_gen(sub, bound=None).placement
    np.testing.assert_array_equal(plain.placement, merged)
    assert plain.feasible and problem.is_feasible(plain.placement)
    assert plain.hit_ratio == pytest.approx(plain.options["merged_hit_ratio"], abs=1e-12)
    fixed = tc.trimcaching_gen_regions(problem, labels)
    assert fixed.feasible and fixed.status == "feasible"
    assert fixed.options["merged_hit_ratio"] == plain.options["merged_hit_ratio"]
    assert fixed.hit_ratio >= plain.hit_ratio and fixed.options["repair_gain"] >= 0.0
    # only servers reaching users of several regions are repaired
    assert (fixed.placement != plain.placement).any(axis=1).sum() <= fixed.options["repaired_servers"]
    assert fixed.options["repaired_servers"] <= fixed.options["boundary_servers"]
    # the bound is the certified bound of the final placement over the whole problem
    assert fixed.upper_bound == max(submodular_bound(problem, fixed.placement), fixed.hit_ratio)
    assert fixed.upper_bound >= fixed.hit_ratio


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**31), st.integers(2, 4), st.integers(1, 4), st.booleans(), st.integers(2, 3))
def test_bound_is_certified_against_brute_force(seed, n_servers, n_models, compact, n_regions):
    n_models = min(n_models, 20 // n_servers)
    problem = random_problem(seed, n_servers, 6, n_models, 8, compact)
    _, best = brute_force_placement(problem)
    res = tc.trimcaching_gen_regions(problem, _labels(problem, seed, n_regions))
    assert res.hit_ratio <= best + 1e-12
    assert res.upper_bound >= best - 1e-12


def test_repair_recovers_a_doubly_served_user_group():
    """Two servers in two regions reach the same users and hold one model each: both regions pick
    the more popular model; the repair moves one server to the other model (the optimum)."""
    eligible = np.ones((2, 4, 2), dtype=bool)
    pop = np.tile([0.6, 0.4], (4, 1))
    problem = tc.PlacementProblem.from_arrays([1.0, 1.0], [[0], [1]], 1.0, eligible, pop)
    plain = tc.trimcaching_gen_regions(problem, [0, 1], repair=False)
    np.testing.assert_array_equal(plain.placement, [[True, False], [True, False]])
    assert plain.hit_ratio == pytest.approx(0.6)
    res = tc.trimcaching_gen_regions(problem, [0, 1])
    assert res.options["boundary_users"] == 4 and res.options["boundary_servers"] == 2
    assert res.options["repaired_servers"] == 1 and res.options["repair_gain"] == pytest.approx(0.4)
    np.testing.assert_array_equal(res.placement, [[False, True], [True, False]])  # server 0 re-placed first
    assert res.hit_ratio == pytest.approx(brute_force_placement(problem)[1]) == pytest.approx(1.0)


@pytest.mark.skipif(not FAST, reason="no compiled tier")
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_servers=6, max_users=8, max_models=5), st.integers(0, 2**31))
def test_tiers_identical(problem, seed):
    labels = _labels(problem, seed, 3)
    want = tc.trimcaching_gen_regions(problem, labels, backend="reference")
    for backend in FAST:
        got = tc.trimcaching_gen_regions(problem, labels, backend=backend)
        np.testing.assert_array_equal(got.placement, want.placement, err_msg=backend)
        assert got.options["backend"] == backend and want.options["backend"] == "reference"


def test_options_and_result_protocol(tmp_path):
    problem = large_placement_instance(40, 400, 30)
    res = tc.trimcaching_gen_regions(problem, 4)
    o = res.options
    assert o["regions"] == 4 and o["partition"] == "users" and sum(o["region_servers"]) == 40
    assert len(o["region_runtime_s"]) == len(o["region_users"]) == len(o["region_rules"]) == 4
    assert o["distributed"] is False and o["backend"] in tc.available_backends()
    assert res.runtime_s >= o["repair_runtime_s"]
    assert res.bound_method == "submodular" and 0 <= res.gap <= 1
    again = tc.PlacementResult.load(res.save(tmp_path / "r"))
    np.testing.assert_array_equal(again.placement, res.placement)
    assert again.options == o


# ------------------------------------------------------------------------------- dask
def test_two_worker_cluster_gives_the_in_process_placement():
    distributed = pytest.importorskip("dask.distributed")
    problem = large_placement_instance(60, 600, 40)
    want = tc.trimcaching_gen_regions(problem, 4)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") \
            as cluster, distributed.Client(cluster) as client:
        got = tc.trimcaching_gen_regions(problem, 4, client=client)
        workers = {w for w in client.run(lambda: 1)}  # noqa: C416 - the addresses of the 2 workers
    assert len(workers) == 2
    assert got.options["distributed"] is True and want.options["distributed"] is False
    np.testing.assert_array_equal(got.placement, want.placement)
    assert got.hit_ratio == want.hit_ratio and got.upper_bound == want.upper_bound
    assert got.options["region_rules"] == want.options["region_rules"]


# ------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, field", [
    (lambda p: tc.trimcaching_gen_regions(p, 0), "regions"),
    (lambda p: tc.trimcaching_gen_regions(p, 7), "regions"),
    (lambda p: tc.trimcaching_gen_regions(p, 2.5), "regions"),
    (lambda p: tc.trimcaching_gen_regions(p, "two"), "regions"),
    (lambda p: tc.trimcaching_gen_regions(p, [0, 1]), "regions"),
    (lambda p: tc.trimcaching_gen_regions(p, [0, 1, 2, 3, 4, -1]), "regions"),
    (lambda p: tc.trimcaching_gen_regions(p, [0, 1, 2, 3, 4, 6]), "regions"),
    (lambda p: tc.trimcaching_gen_regions(p, 2, by="kmeans"), "by"),
    (lambda p: tc.trimcaching_gen_regions(p, [0] * 6, by="kmeans"), "by"),
    (lambda p: tc.trimcaching_gen_regions(p, 2, by="position"), "positions"),
    (lambda p: tc.trimcaching_gen_regions(p, 2, positions=np.zeros((5, 2))), "positions"),
    (lambda p: tc.trimcaching_gen_regions(p, 2, positions=np.full((6, 2), np.nan)), "positions"),
    (lambda p: tc.trimcaching_gen_regions(p, 2, client=object()), "client"),
    (lambda p: tc.trimcaching_gen_regions(p, 2, rule="best"), "rule"),
    (lambda p: tc.trimcaching_gen_regions(p, 2, repair="yes"), "repair"),
    (lambda p: tc.trimcaching_gen_regions(p, 2, bound="tight"), "bound"),
    (lambda p: tc.trimcaching_gen_regions(p, 2, backend="gpu"), "backend"),
    (lambda p: tc.trimcaching_gen_regions("problem", 2), "problem"),
    (lambda p: region_problem(p, [0, 0]), "servers"),
    (lambda p: region_problem(p, [6]), "servers"),
    (lambda p: partition_servers(p, 2, by=None), "by"),
])
def test_bad_input_is_an_instance_error(call, field):
    problem = random_problem(0, 6, 5, 3, 6, compact=True)
    with pytest.raises(InstanceError, match=field):
        call(problem)
