"""Loading results follow the shared protocol: relative gap, resolved backend, save/load, seeds."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import trimcore as tc
import trimcore.loading as pl
from trimcore.experiments.scenarios import make_loading_instance
from trimcore.instance.io import load_arrays, save_arrays
from trimcore.result import Result

DETERMINISTIC = ["partialloading_greedy", "partialloading_dp", "partialloading_dp_edf", "partialloading_optimal",
                 "fcfs_schedule", "grouping_schedule", "equal_bandwidth_schedule", "no_sharing_schedule"]
RANDOMIZED = ["edf_schedule", "random_schedule"]


def _problem():
    return make_loading_instance(12, 4, 2, seed=5)


@pytest.mark.parametrize("name", DETERMINISTIC + RANDOMIZED)
def test_every_algorithm_follows_the_protocol(name):
    fn = getattr(pl, name)
    assert ("seed" in inspect.signature(fn).parameters) == (name in RANDOMIZED)
    res = fn(_problem(), **({"seed": 1} if name in RANDOMIZED else {}))
    assert isinstance(res, Result) and res.algorithm == name
    assert res.options["backend"] in ("numba", "reference")
    assert res.served == res.objective == res.evaluation.served
    assert res.status in ("feasible", "optimal") and res.feasible
    assert "order=int64[" in repr(res) and len(repr(res)) < 300
    assert res.summary()["served"] == res.served


def test_gap_is_relative():
    problem = _problem()
    res = pl.partialloading_dp(problem)
    assert res.upper_bound is not None
    expected = 0.0 if res.upper_bound == 0 else 1.0 - res.served / res.upper_bound
    assert res.gap == pytest.approx(expected)


def test_explicit_backend_the_algorithm_lacks_names_its_tiers():
    with pytest.raises(tc.InstanceError, match=r"partialloading_greedy has \(numba, reference\)"):
        pl.partialloading_greedy(_problem(), backend="cpp")


def test_save_load_round_trip_keeps_evaluation_and_problem(tmp_path):
    res = pl.no_sharing_schedule(_problem(), scheduler="greedy")
    back = tc.LoadingResult.load(res.save(tmp_path / "r"))
    assert back.summary() == res.summary() and back.problem.loading == "full"
    np.testing.assert_array_equal(back.evaluation.finish, res.evaluation.finish)
    again = back.problem.evaluate(back.order, back.bandwidth)
    assert again.served == back.served


@pytest.mark.parametrize("change, match", [
    (lambda a, m: m["values"].__setitem__("objective", 99.0), "served count"),
    (lambda a, m: a.__setitem__("bandwidth", -a["bandwidth"] - 1.0), "bandwidth"),
    (lambda a, m: a.__setitem__("order", a["order"] + 1000), "order"),
    (lambda a, m: m["values"].__setitem__("status", "heuristic"), "status"),
])
def test_load_validates(tmp_path, change, match):
    path = pl.partialloading_greedy(_problem()).save(tmp_path / "r")
    arrays, meta = load_arrays(path, "LoadingResult")
    change(arrays, meta)
    save_arrays(path, "LoadingResult", arrays, meta)
    with pytest.raises(tc.InstanceError, match=match):
        tc.LoadingResult.load(path)
