"""LoadingProblem: validation, builders, the sharing tree and the evaluator (spec §3-§5.2)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_loading_support import general_instance, simulate, tree_instance

from trimcore.errors import InstanceError
from trimcore.experiments.scenarios import make_loading_instance
from trimcore.instance import radio
from trimcore.instance.zoo import frozen_backbone_library, llm_lora_library, nested_sharing_library
from trimcore.loading import LoadingProblem, sharing_tree

ARGS = dict(block_sizes=[4.0, 1.0, 2.0, 3.0], model_blocks=[[0, 1], [0, 2], [3]], user_model=[0, 1, 0, 2],
            infer_time=1.0, deadline=20.0, input_bits=[11.0, 30.0, 0.0, 19.0], snr_bw=1.0, bandwidth=8.0,
            load_rate=1.0, gpu_memory=100.0)


def toy(**changes) -> LoadingProblem:
    """Backbone block 0 shared by models 0 and 1; model 2 alone. Fixed PSD with log2(1 + snr) = 1."""
    kw = {**ARGS, **changes}
    extra = {k: kw.pop(k) for k in ("loading", "rate_model", "act_memory", "initial_model") if k in kw}
    extra.setdefault("rate_model", "fixed_psd")
    return LoadingProblem.from_arrays(**kw, **extra)


# ---------------------------------------------------------------------------------------- validation
@pytest.mark.parametrize(("field", "value", "needle"), [
    ("user_model", [0, 1, 0, 3], "user_model"),
    ("user_model", [], "user_model"),
    ("infer_time", [1.0, -1.0, 1.0, 1.0], "infer_time"),
    ("infer_time", [1.0, 1.0], "infer_time"),
    ("deadline", np.inf, "deadline"),
    ("deadline", [1.0, np.nan, 1.0, 1.0], "deadline"),
    ("input_bits", -1.0, "input_bits"),
    ("snr_bw", [1.0, 1.0, 1.0, -2.0], "snr_bw"),
    ("bandwidth", 0.0, "bandwidth"),
    ("load_rate", -1.0, "load_rate"),
    ("gpu_memory", np.inf, "gpu_memory"),
    ("initial_model", 3, "initial_model"),
    ("initial_model", -2, "initial_model"),
    ("act_memory", [1.0, 1.0, -1.0, 0.0], "act_memory"),
    ("loading", "lazy", "loading"),
    ("rate_model", "awgn", "rate_model"),
    ("model_blocks", [[0, 1], [], [3]], "model_blocks"),
])
def test_validation_names_the_field(field, value, needle):
    with pytest.raises(InstanceError, match=needle):
        toy(**{field: value})


def test_constructor_validates_and_is_frozen():
    lp = toy()
    with pytest.raises(InstanceError, match="library"):
        LoadingProblem("not a library", [0], 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
    with pytest.raises(AttributeError):
        lp.bandwidth_hz = 3.0
    assert not lp.deadline.flags.writeable
    with pytest.raises(InstanceError, match="changes"):
        lp.with_options(nonsense=1)
    assert lp.with_options(loading="full").loading == "full"


@pytest.mark.parametrize("order", [[0, 0], [5], [[0, 1]], [0.5], 3])
def test_bad_orders_are_refused(order):
    with pytest.raises(InstanceError, match="order"):
        toy().evaluate(order)


# ---------------------------------------------------------------------------------------- evaluator by hand
def test_evaluate_hand_example():
    """lambda = [5, 0, 2, 3], F~ = [6, 7, 10, 14], slack min 6, S^late = [11, 12, 15, 19] by position.

    Users 0, 2, 1, 3 sit at positions 1..4, so beta = s / S^late = [11/11, 30/15, 0, 19/19] by user.
    """
    lp = toy()
    ev = lp.evaluate([0, 2, 1, 3], spread="none")
    np.testing.assert_allclose(ev.load_time, [5, 0, 2, 3])
    np.testing.assert_allclose(ev.gpu_finish, [6, 7, 10, 14])
    np.testing.assert_allclose(ev.latest_start, [11, 12, 15, 19])
    np.testing.assert_allclose(ev.min_bandwidth, [1, 2, 0, 1])
    np.testing.assert_allclose(ev.finish, [12, 13, 16, 20])     # with b = beta the chain is tight
    assert ev.feasible and ev.served == 4 and ev.total_min_bandwidth == pytest.approx(4)
    prop = lp.evaluate([0, 2, 1, 3])                            # leftover 4 spread in proportion: b = 2 beta
    np.testing.assert_allclose(prop.bandwidth, [2, 4, 0, 2])
    np.testing.assert_allclose(prop.finish, [6.5, 7.5, 10.5, 14.5])
    eq = lp.evaluate([0, 2, 1, 3], spread="equal")
    np.testing.assert_allclose(eq.bandwidth, [2, 3, 1, 2])
    assert prop.makespan == pytest.approx(14.5) and eq.feasible


def test_evaluate_full_loading_and_initial_model():
    np.testing.assert_allclose(toy(loading="full").evaluate([0, 2, 1, 3]).load_time, [5, 0, 6, 3])
    np.testing.assert_allclose(toy(initial_model=0).evaluate([0, 2, 1, 3]).load_time, [0, 0, 2, 3])
    np.testing.assert_allclose(toy(initial_model=1).evaluate([0, 1]).load_time, [1, 2])
    assert toy().evaluate([]).feasible and toy().evaluate([]).served == 0


def test_evaluate_failure_reasons():
    assert toy(bandwidth=3.0).evaluate([0, 2, 1, 3]).reason == "bandwidth"
    ev = toy(bandwidth=3.0).evaluate([0, 2, 1, 3])
    np.testing.assert_allclose(ev.bandwidth, [0.75, 1.5, 0, 0.75])   # beta scaled into B
    assert ev.served < 4 and not ev.feasible
    assert toy(deadline=13.0).evaluate([0, 2, 1, 3]).reason == "deadline"
    assert not toy(deadline=13.0).evaluate([0, 2, 1, 3]).gpu_feasible
    assert toy(gpu_memory=5.0).evaluate([0, 2, 1, 3]).reason == "memory"     # model 1 needs 6 bytes
    assert toy(gpu_memory=5.0).evaluate([0, 2, 1, 3]).served == 3
    assert toy(act_memory=[0, 0, 0, 3.0], gpu_memory=5.5).evaluate([3]).reason == "memory"
    assert toy(snr_bw=[1.0, 0.0, 1.0, 1.0]).evaluate([1]).reason == "upload"
    lp = toy()
    assert lp.evaluate([0, 2, 1, 3], [1, 2, 0, 0.99]).reason == "late"
    over = lp.evaluate([0, 2, 1, 3], [5, 5, 0, 1])
    assert over.reason == "bandwidth" and over.served == 0
    with pytest.raises(InstanceError, match="bandwidth"):
        lp.evaluate([0], [1.0, 2.0])
    with pytest.raises(InstanceError, match="spread"):
        lp.evaluate([0], spread="all")


def test_memory_filter_and_schedulable():
    lp = toy(gpu_memory=5.0, deadline=[20.0, 20.0, 0.5, 20.0])
    np.testing.assert_array_equal(lp.fits_memory, [True, False, True, True])
    np.testing.assert_array_equal(lp.schedulable, [True, False, False, True])   # user 2: t > T
    assert lp.common_deadline is None and toy().common_deadline == 20.0


# ---------------------------------------------------------------------------------------- radio
def test_min_bandwidth_closed_form_matches_bisection():
    rng = np.random.default_rng(3)
    k = 400
    lp = LoadingProblem.from_arrays([1.0], [[0]], np.zeros(k, dtype=int), 0.01, 1.0, rng.uniform(1e3, 2e6, k),
                                    10 ** rng.uniform(5, 9, k), 2e7, 1e9, 1e9)
    tau = rng.uniform(1e-3, 1.0, k)
    users = np.arange(k)
    a = lp.min_bandwidth(users, tau)
    b = lp.with_options(bw_method="bisection").min_bandwidth(users, tau)
    finite = np.isfinite(b)
    assert finite.sum() > 200 and (~finite).sum() > 20
    np.testing.assert_array_equal(np.isfinite(a), finite)
    np.testing.assert_allclose(a[finite], b[finite], rtol=1e-6)
    # the closed form really is the least bandwidth: the rate at beta meets s / tau, 1% less does not
    rate = lp.input_bits / tau
    got = np.asarray(radio.shannon_rate(a[finite], lp.snr_bw[finite]))
    assert (got >= rate[finite] * (1 - 1e-12)).all()
    assert (np.asarray(radio.shannon_rate(0.99 * a[finite], lp.snr_bw[finite])) < rate[finite]).all()
    # unattainable rate (above alpha / ln 2) or no time: infinite
    assert np.isinf(lp.min_bandwidth([0], [0.0])).all()
    big = lp.with_options(input_bits=1e12)
    assert np.isinf(big.min_bandwidth([0], [1.0])).all()


def test_fixed_psd_variant():
    lp = toy(rate_model="fixed_psd", snr_bw=3.0)                 # log2(1 + 3) = 2 bit/s/Hz
    np.testing.assert_allclose(lp.min_bandwidth([0, 1], [2.0, 4.0]), [11 / 4, 30 / 8])
    np.testing.assert_allclose(lp.upload_time([0, 1], [1.0, 2.0]), [5.5, 7.5])
    np.testing.assert_allclose(lp.upload_demand, [5.5, 15, 0, 9.5])


# ---------------------------------------------------------------------------------------- sharing tree
def test_sharing_tree_backbone_and_nested():
    lib = frozen_backbone_library(("resnet18", "resnet50"), 3)
    tree = sharing_tree(lib)
    for i in range(lib.n_models):
        path = tree.path(i)
        assert path[-1] == tree.root and tree.leaf_model[path[0]] == i
        assert tree.node_bytes[path].sum() == pytest.approx(lib.model_sizes[i])
    nested = nested_sharing_library(("resnet50", "vit_b16"), 4, seed=1)
    tree = sharing_tree(nested)
    blocks = [set(nested.blocks_of(i).tolist()) for i in range(nested.n_models)]
    for i in range(nested.n_models):
        for j in range(nested.n_models):     # L(i -> j) = nodes on j's path not on i's path
            mine, theirs = set(tree.path(i)), tree.path(j)
            want = sum(nested.block_sizes[b] for b in blocks[j] - blocks[i]) if i != j else 0.0
            got = sum(tree.node_bytes[v] for v in theirs if v not in mine) if i != j else 0.0
            assert got == pytest.approx(want)
    assert sharing_tree(llm_lora_library(6, n_bases=2, seed=0)).n_nodes == 2 + 6 + 6 + 1


def test_sharing_tree_refuses_crossing_sets():
    lp = LoadingProblem.from_arrays([1.0, 1.0, 1.0], [[0, 1], [1, 2], [2]], [0, 1, 2], 0.1, 5.0, 0.0, 1e9, 1e9, 1.0,
                                    10.0)
    assert not lp.is_laminar
    with pytest.raises(InstanceError, match="laminar"):
        lp.sharing_tree  # noqa: B018
    # the same library under full reloads is a (flat) tree
    assert lp.with_options(loading="full").is_laminar
    with pytest.raises(InstanceError, match="loading"):
        sharing_tree(lp.library, "lazy")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1))
def test_tree_path_costs_equal_block_costs(seed):
    lp = tree_instance(seed)
    tree = lp.sharing_tree
    mat = lp.switch_matrix()
    for i in range(lp.n_models):
        for j in range(lp.n_models):
            got = 0.0 if i == j else sum(tree.node_bytes[v] for v in tree.path(j) if v not in set(tree.path(i)))
            assert got / lp.load_rate == pytest.approx(mat[i, j], abs=1e-12)


# ---------------------------------------------------------------------------------------- evaluator = simulator
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.sampled_from(["proportional", "equal", "none"]))
def test_evaluate_agrees_with_independent_simulation(seed, spread):
    lp = general_instance(seed)
    rng = np.random.default_rng(seed)
    order = rng.permutation(lp.n_users)[:int(rng.integers(0, lp.n_users + 1))]
    ev = lp.evaluate(order, spread=spread)
    ok, fin = simulate(lp, order, ev.bandwidth)
    np.testing.assert_allclose(ev.finish, fin, rtol=1e-9)
    assert ok == ev.feasible
    on_time = [f <= lim and fit for f, lim, fit in zip(fin, lp.deadline_limit[order], lp.fits_memory[order])]
    assert ev.served == (sum(on_time) if ev.bandwidth.sum() <= lp.bandwidth_limit else 0)


# ---------------------------------------------------------------------------------------- builders
def test_build_cell_scenario():
    lib = frozen_backbone_library(("resnet50", "vit_b16", "bert_base"), 10)
    lp = LoadingProblem.from_random_cell(lib, 200, seed=5)
    assert lp.n_users == 200 and lp.common_deadline == 0.3 and lp.bandwidth_hz == 20e6
    again = LoadingProblem.from_random_cell(lib, 200, seed=5)
    np.testing.assert_array_equal(lp.user_model, again.user_model)
    np.testing.assert_array_equal(lp.snr_bw, again.snr_bw)
    # Zipf: the most popular model gets a clear share
    assert np.bincount(lp.user_model).max() > 200 / 30 * 2
    # vision users upload an image, BERT users 128 tokens; inference times per architecture
    fam = lib.model_family[lp.user_model]
    assert set(lp.input_bits[fam == 2]) == {4096.0} and set(lp.input_bits[fam == 0]) == {1_204_224.0}
    assert set(lp.infer_time[fam == 1]) == {0.008}
    # alpha of 23 dBm at 20..250 m with -174 dBm/Hz, no fading: between the two extremes
    flat = LoadingProblem.from_random_cell(lib, 50, seed=1, fading="none")
    p_w = radio.dbm_to_watt(23.0)
    lo = radio.snr_bandwidth(p_w, radio.channel_gain(250.0), radio.noise_psd_w_per_hz(-174))
    hi = radio.snr_bandwidth(p_w, radio.channel_gain(20.0), radio.noise_psd_w_per_hz(-174))
    assert (flat.snr_bw >= lo * (1 - 1e-9)).all() and (flat.snr_bw <= hi * (1 + 1e-9)).all()
    psd = LoadingProblem.from_random_cell(lib, 50, seed=1, fading="none", rate_model="fixed_psd")
    np.testing.assert_allclose(psd.snr_bw, flat.snr_bw / 20e6)
    custom = LoadingProblem.from_random_cell(lib, 10, seed=1, infer_time={"resnet50": 0.1}, input_bits=8.0,
                                  deadline=np.linspace(0.1, 1.0, 10))
    assert custom.common_deadline is None and (custom.input_bits == 8.0).all()
    assert set(custom.infer_time[lib.model_family[custom.user_model] == 0]) <= {0.1}
    with pytest.raises(InstanceError, match="min_distance_m"):
        LoadingProblem.from_random_cell(lib, 10, radius_m=10.0, min_distance_m=20.0)
    with pytest.raises(InstanceError, match="infer_time"):
        LoadingProblem.from_random_cell(lib, 10, infer_time=[0.1, 0.2])


def test_make_loading_instance_is_seeded():
    a = make_loading_instance(300, 20, 4, seed=3)
    b = make_loading_instance(300, 20, 4, seed=3)
    np.testing.assert_array_equal(a.user_model, b.user_model)
    assert a.common_deadline == b.common_deadline > 0
    assert a.library.n_models == 20 and a.is_laminar
    assert make_loading_instance(300, 20, 4, seed=4).common_deadline != a.common_deadline


def test_gpu_condition_is_reported_separately():
    assert toy(gpu_memory=5.0).evaluate([0, 2, 1, 3]).gpu_feasible      # memory fails, chain is fine
    assert not toy(deadline=13.0).evaluate([0, 2, 1, 3]).gpu_feasible


def test_backend_override_falls_back_for_loading_kernels(monkeypatch):
    """TRIMCORE_BACKEND naming a tier without loading kernels (cpp) falls back; a real tier is obeyed."""
    import trimcore.loading as pl

    lp = tree_instance(3)
    want = pl.partialloading_dp(lp, backend="reference").order
    for env in ("cpp", "numba", "reference"):
        monkeypatch.setenv("TRIMCORE_BACKEND", env)
        np.testing.assert_array_equal(pl.partialloading_dp(lp).order, want)
    from trimcore.kernels import kernel

    monkeypatch.setenv("TRIMCORE_BACKEND", "reference")
    assert kernel("loading.minplus").__module__ == "trimcore.kernels.loading.reference"


def test_unknown_backend_override_is_refused(monkeypatch):
    monkeypatch.setenv("TRIMCORE_BACKEND", "fortran")
    with pytest.raises(InstanceError, match="TRIMCORE_BACKEND"):
        from trimcore.kernels import kernel

        kernel("loading.minplus")
