"""CachingProblem: validation (InstanceError naming the field), defaults, options, the lower bound."""

from __future__ import annotations

import numpy as np
import pytest

import trimcore as tc

GB = 1e9
BASE = dict(block_sizes=[1 * GB, 2 * GB], model_blocks=[[0], [0, 1]], memory=[3 * GB, 1 * GB],
            slot=[0, 0, 1], server=[0, 1, 1], model=[0, 1, 0])


def build(**changes: object) -> tc.CachingProblem:
    kw = {**BASE, **changes}
    return tc.CachingProblem.from_arrays(**kw)  # type: ignore[arg-type]


def test_defaults() -> None:
    cp = build()
    assert (cp.n_servers, cp.n_models, cp.n_tasks, cp.n_requests) == (2, 2, 2, 3)
    assert cp.task.tolist() == [0, 1, 0] and cp.model_tasks.tolist() == [[True, False], [False, True]]
    assert cp.tokens_in.tolist() == [144.0] * 3 and cp.nu == 0.9 and cp.block_sharing
    assert cp.model_size.tolist() == [1 * GB, 3 * GB]
    o = cp.options
    assert o["window"].tolist() == [32, 32] and o["kappa"].tolist() == [0.25, 0.25]
    assert o["flops_per_token"].tolist() == [1 * GB, 3 * GB]  # 2 P_i with s_i = 2 P_i bytes
    assert o["task_relevance"].tolist() == [[1.0, 0.2], [0.2, 1.0]]
    assert cp.next_use.tolist() == [3, 3, 3]
    assert "CachingProblem(" in repr(cp)


@pytest.mark.parametrize("field, changes", [
    ("model", dict(model=[0, 2, 0])),
    ("model", dict(model=[0, -1, 0])),
    ("server", dict(server=[0, 2, 1])),
    ("task", dict(task=[0, 5, 0])),
    ("slot", dict(slot=[0, 2, 1])),
    ("slot", dict(slot=[-1, 0, 0])),
    ("block_sizes", dict(block_sizes=[1 * GB, -2.0])),
    ("block_sizes", dict(block_sizes=[np.nan, 1.0])),
    ("memory", dict(memory=[3 * GB, -1.0])),
    ("memory", dict(memory=[np.nan, 1.0])),
    ("tokens_in", dict(tokens_in=[1.0, -2.0, 3.0])),
    ("tokens_out", dict(tokens_out=[1.0, np.nan, 3.0])),
    ("tokens_in", dict(tokens_in=[1.0, 2.0])),
    ("server", dict(server=[0, 1])),
    ("model", dict(model=[0, 1, 0, 1])),
    ("task", dict(task=[0, 1])),
    ("model_blocks[1]", dict(model_blocks=[[0], [0, 4]])),
    ("model_tasks", dict(model_tasks=np.ones((3, 2), dtype=bool))),
    ("nu", dict(nu=1.5)),
    ("nu", dict(nu=float("nan"))),
    ("window", dict(window=-1)),
    ("accuracy_curve", dict(accuracy_curve="linear")),
    ("acc_max", dict(acc_zero=0.7, acc_max=0.6)),
    ("kappa", dict(kappa=[0.1, 0.2, 0.3])),
    ("edge_flops", dict(edge_flops=0.0)),
    ("options", dict(wrong_option=1)),
    ("block_sharing", dict(block_sharing="yes")),
])
def test_bad_input_names_the_field(field: str, changes: dict[str, object]) -> None:
    with pytest.raises(tc.InstanceError, match=field.replace("[", r"\[").replace("]", r"\]")):
        build(**changes)


def test_bad_simulate_arguments() -> None:
    cp = build()
    for kwargs, field in ((dict(policy="lrux"), "policy"), (dict(policy=3), "policy"),
                          (dict(lc_order="max"), "lc_order"), (dict(lc_grace_slots=-1), "lc_grace_slots"),
                          (dict(admission_horizon=0.5), "admission_horizon"), (dict(backend="gpu"), "backend"),
                          (dict(greedy_admission=1), "greedy_admission"), (dict(seed=-3), "seed")):
        with pytest.raises(tc.InstanceError, match=field):
            tc.simulate_caching(cp, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(tc.InstanceError, match="cp"):
        tc.simulate_caching("not a problem")  # type: ignore[arg-type]


def test_scalar_memory_and_task_without_model_tasks() -> None:
    cp = build(memory=2 * GB)
    assert cp.memory.tolist() == [2 * GB, 2 * GB]
    with pytest.raises(tc.InstanceError, match="task"):
        build(model_tasks=np.ones((2, 3), dtype=bool))  # M != I needs explicit tasks
    cp = build(model_tasks=np.ones((2, 3), dtype=bool), task=[0, 2, 1])
    assert cp.n_tasks == 3


def test_with_options_revalidates() -> None:
    cp = build()
    cp2 = cp.with_options(nu=0.5, block_sharing=False, window=4)
    assert cp2.nu == 0.5 and not cp2.block_sharing and cp2.options["window"].tolist() == [4, 4]
    with pytest.raises(tc.InstanceError, match="nu"):
        cp.with_options(nu=2.0)
    assert cp.with_options(rho_cross=0.5).options["task_relevance"].tolist() == [[1.0, 0.5], [0.5, 1.0]]


def test_lower_bound_is_the_cheapest_option_per_request() -> None:
    # one request, one model: the bound is min(cloud, edge at the best K in [0, W])
    cp = tc.CachingProblem.from_arrays([1 * GB], [[0]], [1 * GB], [0], [0], [0], window=3)
    tok = 288.0
    cloud = 0.010 + 0.100 + 1e9 * tok / 1e15 + 10 * (1 - 0.40) + 0.01
    edge = min(0.010 + 1e9 * (tok + k * 64) / 100e12 + 10 * (1 - (0.62 - 0.22 * np.exp(-0.25 * k)))
               for k in range(4))
    assert cp.lower_bound() == pytest.approx(min(cloud, edge), rel=1e-12)
    res = tc.simulate_caching(cp, policy="lru", greedy_admission=True)
    assert res.lower_bound == pytest.approx(min(cloud, edge)) and res.gap > 0


def test_result_protocol() -> None:
    cp = build()
    res = tc.simulate_caching(cp, policy="lru", greedy_admission=True)
    assert isinstance(res, tc.CachingResult) and isinstance(res, tc.result.Result)
    assert res.objective_name == "cost" and res.sense == "min" and res.cost == res.objective
    row = res.summary()
    assert row["policy"] == "lru" and row["cost"] == res.cost and "cost_switching" in row
    assert "bool[3]" in repr(res) or "int8[3]" in repr(res)


def test_save_load_roundtrip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cp = build()
    res = tc.simulate_caching(cp, policy="lc", greedy_admission=True)
    path = res.save(tmp_path / "r")
    back = tc.CachingResult.load(path)
    assert np.array_equal(back.served_by, res.served_by) and back.cost == res.cost
    assert back.components == res.components


def test_popularity_drift_option() -> None:
    """popularity_period redraws each server's rank order per period; None (and a period covering the
    trace) leaves the stationary trace unchanged; a bad period names the field."""
    from trimcore.online.builder import make_caching_instance

    base = make_caching_instance(2, n_slots=40, seed=4)
    same = make_caching_instance(2, n_slots=40, seed=4, popularity_period=40)
    np.testing.assert_array_equal(base.model, same.model)
    drift = make_caching_instance(2, n_slots=40, seed=4, popularity_period=10)
    np.testing.assert_array_equal(base.slot, drift.slot)
    np.testing.assert_array_equal(base.server, drift.server)
    assert not np.array_equal(base.model, drift.model)
    # the most requested model of server 0 changes between periods of a long trace
    long = make_caching_instance(1, n_slots=400, arrival_rate=20.0, zipf=1.2, seed=1, popularity_period=100)
    tops = {int(np.bincount(long.model[long.slot // 100 == e], minlength=8).argmax()) for e in range(4)}
    assert len(tops) > 1
    with pytest.raises(tc.InstanceError, match="popularity_period"):
        make_caching_instance(2, n_slots=10, seed=0, popularity_period=0)
