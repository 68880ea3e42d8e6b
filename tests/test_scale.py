"""City scale (issue #15): the fast paths decide exactly as the paths they replaced.

* Per-server gains read the problem's validated coverage view (validated once per problem and
  tier), and the bound takes every server's gains from one call: the values are, to the bit,
  those of the per-call-validated binding and of the per-server formula the bound used before.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import problems, random_placement, random_problem

from trimcore._numeric import fractional_knapsack
from trimcore._tolerances import BOUND_RTOL
from trimcore.errors import InstanceError
from trimcore.kernels import kernel, kernel_tiers
from trimcore.placement.bounds import covered_requests, submodular_bound

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GAIN_TIERS = kernel_tiers("placement.all_server_gains")


def _covered(problem, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((problem.n_models, problem.n_users)) < 0.3).astype(np.uint8)


def _old_bound(problem, placement: np.ndarray) -> float:
    """The submodular bound as it was computed before issue #15: one raw, validated call per server."""
    from trimcore import _core

    x = problem.check_placement(placement)
    covered = covered_requests(problem, x)
    lib = problem.library
    rows = np.repeat(np.arange(lib.n_models), np.diff(lib.indptr))
    extra = 0.0
    for m in range(problem.n_servers):
        gains = _core.server_gains(m, problem.pair_ptr, problem.pair_len, problem.pair_users,
                                   problem.popularity_by_model, covered)
        positive = gains > 0.0
        if not positive.any():
            continue
        sharers = np.bincount(lib.indices[positive[rows]], minlength=lib.n_blocks)
        share = np.zeros(lib.n_blocks)
        np.divide(lib.block_sizes, sharers, out=share, where=sharers > 0)
        weights = np.add.reduceat(share[lib.indices], lib.indptr[:-1])[positive]
        extra += fractional_knapsack(gains[positive], weights, float(problem.capacity[m]))
    base = problem.hit_weight(x, backend="cpp")
    return min(1.0, (base + extra) / problem.total_popularity * (1.0 + BOUND_RTOL))


@pytest.mark.skipif("cpp" not in GAIN_TIERS, reason="needs the compiled extension")
@SETTINGS
@given(problem=problems(max_servers=6), seed=st.integers(0, 2**31 - 1))
def test_indexed_gains_equal_the_validated_binding(problem, seed):
    from trimcore import _core

    covered = _covered(problem, seed)
    index = problem.coverage_view("cpp")
    raw = np.array([_core.server_gains(m, problem.pair_ptr, problem.pair_len, problem.pair_users,
                                       problem.popularity_by_model, covered) for m in range(problem.n_servers)])
    per_server = np.array([kernel("placement.server_gains", "cpp")(m, index, problem.popularity_by_model, covered)
                           for m in range(problem.n_servers)])
    assert np.array_equal(per_server, raw)
    assert np.array_equal(kernel("placement.all_server_gains", "cpp")(index, problem.popularity_by_model, covered), raw)


@pytest.mark.skipif("cpp" not in GAIN_TIERS, reason="needs the compiled extension")
@SETTINGS
@given(problem=problems(max_servers=6), seed=st.integers(0, 2**31 - 1))
def test_bound_is_the_one_computed_before_on_every_tier(problem, seed):
    x = random_placement(problem, seed)
    before = _old_bound(problem, x)
    for tier in GAIN_TIERS:
        assert submodular_bound(problem, x, backend=tier) == before, tier


@pytest.mark.skipif("cpp" not in GAIN_TIERS, reason="needs the compiled extension")
def test_indexed_gains_refuse_bad_input_naming_the_field():
    from trimcore import _core

    problem = random_problem(3, 3, 5, 4, 6, True)
    index = problem.coverage_view("cpp")
    pop, covered = problem.popularity_by_model, _covered(problem, 0)
    for server in (-1, 3, 2**40):
        with pytest.raises(InstanceError, match="server"):
            _core.server_gains_indexed(server, index, pop, covered)
    for bad in (pop[:, :-1].copy(), pop.astype(np.float32), np.asfortranarray(pop), pop.ravel(), [[0.0]]):
        with pytest.raises(InstanceError, match="popularity_by_model"):
            _core.server_gains_indexed(0, index, bad, covered)
        with pytest.raises(InstanceError, match="popularity_by_model"):
            _core.all_server_gains_indexed(index, bad, covered)
    for bad in (covered[:-1].copy(), covered.astype(bool), covered.astype(np.int64), covered.T):
        with pytest.raises(InstanceError, match="covered"):
            _core.server_gains_indexed(0, index, pop, bad)
        with pytest.raises(InstanceError, match="covered"):
            _core.all_server_gains_indexed(index, pop, bad)
    with pytest.raises(TypeError):  # not an index: pybind11 refuses the argument, nothing is read
        _core.all_server_gains_indexed((problem.pair_ptr, problem.pair_len, problem.pair_users), pop, covered)


def test_every_tier_of_the_gains_reads_the_view_it_keeps():
    problem = random_problem(5, 4, 6, 5, 8, False)
    covered = _covered(problem, 1)
    expected = kernel("placement.all_server_gains", "reference")(problem.coverage_view("reference"),
                                                                 problem.popularity_by_model, covered)
    assert expected.shape == (problem.n_servers, problem.n_models) and expected.any()
    for tier in GAIN_TIERS:
        view = problem.coverage_view(tier)
        assert problem.coverage_view(tier) is view  # kept, not rebuilt
        got = kernel("placement.all_server_gains", tier)(view, problem.popularity_by_model, covered)
        assert np.array_equal(got, expected), tier


# ------------------------------------------------------------------------------------- DP-EDF
def test_the_predecessor_table_is_the_narrowest_signed_type_holding_every_state():
    from trimcore.kernels.loading.reference import edf_pred_dtype

    assert [edf_pred_dtype(n) for n in (1, 127, 128, 32767, 32768, 2**31 - 1, 2**31)] == \
        [np.int8, np.int8, np.int16, np.int16, np.int32, np.int32, np.int64]


@pytest.mark.skipif("numba" not in kernel_tiers("loading.edf_dp"), reason="needs Numba")
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), n_users=st.integers(1, 40), n_models=st.sampled_from([1, 3, 20, 130]))
def test_dp_edf_with_the_compact_table_serves_whom_the_int64_table_served(seed, n_users, n_models):
    """The table's width is all that changed: both tiers serve exactly whom the old int64 table served."""
    from trimcore.experiments.scenarios import make_loading_instance
    from trimcore.kernels.loading import jit
    from trimcore.loading.dp import _served_cap, edf_order

    lp = make_loading_instance(n_users, n_models, min(n_models, 3), seed=seed)
    users = edf_order(lp, np.flatnonzero(lp.schedulable))
    switch = lp.switch_matrix("reference")
    args = (lp.user_model[users].astype(np.int64), lp.infer_time[users], lp.deadline_limit[users], switch,
            lp.start_state(), _served_cap(lp, users))
    wide = np.full((users.size, args[5] + 1), -1, dtype=np.int64)
    before = jit._edf_dp(*args, wide)
    for tier in ("numba", "reference"):
        assert np.array_equal(kernel("loading.edf_dp", tier)(*args), before), tier


# ------------------------------------------------------------------------------- compact build
def _old_compact_arrays(problem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``from_library``'s coverage arrays before issue #15: every user of every server, M x K temporaries."""
    smax = problem.max_size
    order = np.argsort(-smax, axis=1, kind="stable")
    sorted_desc = np.take_along_axis(smax, order, axis=1)
    sizes = problem.library.model_sizes
    pair_len = np.array([np.searchsorted(-sorted_desc[m], -sizes, side="right") for m in range(smax.shape[0])],
                        dtype=np.int64).reshape(-1)
    pair_ptr = np.repeat(np.arange(smax.shape[0], dtype=np.int64) * smax.shape[1], problem.n_models)
    return pair_ptr, pair_len, order.astype(np.int32).reshape(-1)


@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), n_servers=st.integers(1, 6), n_users=st.integers(1, 12),
       n_models=st.integers(1, 8), unreachable=st.floats(0.0, 1.0))
def test_the_compact_build_keeps_every_pair_and_every_decision(seed, n_servers, n_users, n_models, unreachable):
    import trimcore as tc
    from trimcore.placement.problem import PlacementProblem

    rng = np.random.default_rng(seed)
    problem = random_problem(seed, n_servers, n_users, n_models, 10, True)
    # many users out of everybody's reach (max_size 0 or below the smallest model), ties in max_size
    smax = rng.choice([0.0, 0.5, float(problem.library.model_sizes.min()), 3.0, 8.0, 20.0, np.inf],
                      (n_servers, n_users))
    smax[rng.random(smax.shape) < unreachable] = 0.0
    problem = PlacementProblem.from_library(problem.library, problem.capacity, problem.popularity_by_model.T, smax)
    ptr, length, users = _old_compact_arrays(problem)
    assert np.array_equal(problem.pair_len, length)
    assert problem.pair_users.size <= users.size
    for p in range(ptr.size):
        assert np.array_equal(problem.users_of(*divmod(p, problem.n_models)), users[ptr[p]:ptr[p] + length[p]])
    old = PlacementProblem._frozen(problem.library, problem.capacity, problem.popularity_by_model, ptr, length,
                                   users, problem.max_size)
    for algorithm in (tc.trimcaching_gen, tc.independent_caching):
        a, b = algorithm(problem), algorithm(old)
        assert np.array_equal(a.placement, b.placement) and a.hit_ratio == b.hit_ratio
        assert a.upper_bound == b.upper_bound


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), n_servers=st.integers(1, 8), reach=st.floats(0.5, 9.0))
def test_the_scenario_generator_partitions_to_the_value_the_full_sort_gave(seed, n_servers, reach):
    """``large_placement_instance`` takes its reach-th largest rate by a partition; with the full sort
    it used before (``sort(a)[M - r]`` is ``sort(a)[::-1][r - 1]``) it builds the very same problem."""
    import types

    from trimcore.experiments import scenarios

    new = scenarios.large_placement_instance(n_servers, 30, 6, seed=seed, reach_servers=reach, n_families=2)
    sorting = types.SimpleNamespace(**{k: getattr(np, k) for k in dir(np) if not k.startswith("__")})
    sorting.partition = lambda a, kth, axis: np.sort(a, axis=axis)
    saved = scenarios.np
    try:
        scenarios.np = sorting
        old = scenarios.large_placement_instance(n_servers, 30, 6, seed=seed, reach_servers=reach, n_families=2)
    finally:
        scenarios.np = saved
    assert np.array_equal(new.max_size, old.max_size)
    assert np.array_equal(new.pair_len, old.pair_len) and np.array_equal(new.pair_users, old.pair_users)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), n_servers=st.integers(1, 11), n_users=st.integers(1, 9),
       block=st.integers(1, 4), per_server_power=st.booleans())
def test_downlink_rates_by_server_blocks_are_the_whole_matrix_computation(seed, n_servers, n_users, block,
                                                                          per_server_power):
    from trimcore.instance import radio, topology

    rng = np.random.default_rng(seed)
    topo = topology.Topology.uniform(n_servers, n_users, 500.0, 300.0, seed=seed)
    power = rng.choice([-np.inf, 10.0, 30.0, 43.0], n_servers) if per_server_power else 30.0
    p_dbm = np.broadcast_to(np.asarray(power, dtype=float), (n_servers,))
    gain = radio.channel_gain(topo.distances(), min_distance_m=1.0)  # the pre-#15 whole-matrix formula
    before = np.asarray(radio.shannon_rate(20e6, radio.snr_bandwidth(
        np.asarray(radio.dbm_to_watt(p_dbm))[:, None], gain, radio.noise_psd_w_per_hz(-174.0))), dtype=np.float64)
    saved = topology.RATE_BLOCK
    try:
        topology.RATE_BLOCK = block
        got = topology.downlink_rates(topo, tx_power_dbm=power, bandwidth_hz=20e6, noise_dbm_per_hz=-174.0)
    finally:
        topology.RATE_BLOCK = saved
    assert got.shape == (n_servers, n_users) and got.dtype == np.float64
    assert np.array_equal(got, before.reshape(n_servers, n_users))
