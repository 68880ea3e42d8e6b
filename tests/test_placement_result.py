"""Placement results follow the shared protocol: resolved backend, honest runtimes, cheap default bound."""

from __future__ import annotations

import numpy as np
import pytest
from strategies import random_problem

import trimcore as tc
from trimcore.instance.io import load_arrays, save_arrays
from trimcore.placement import brute_force_placement
from trimcore.placement.bounds import submodular_bound
from trimcore.result import Result

ALGORITHMS = [
    ("trimcaching_gen", {}),
    ("trimcaching_spec", {}),
    ("independent_caching", {}),
    ("popularity_caching", {}),
    ("random_caching", {"seed": 3}),
    ("optimal_placement", {}),
]


@pytest.mark.parametrize("name, kwargs", ALGORITHMS)
def test_every_algorithm_follows_the_protocol(name, kwargs):
    problem = random_problem(7, 3, 6, 8, 12, True)
    res = getattr(tc, name)(problem, **kwargs)
    assert isinstance(res, Result) and res.algorithm == name
    assert res.options["backend"] in tc.available_backends()
    assert res.status in ("feasible", "optimal") and res.feasible
    assert res.hit_ratio == res.objective == pytest.approx(problem.hit_ratio(res.placement))
    assert res.upper_bound is not None and res.upper_bound >= res.hit_ratio
    assert 0.0 <= res.gap <= 1.0
    text = repr(res)
    assert f"placement=bool[{problem.n_servers}, {problem.n_models}]" in text and len(text) < 300
    assert res.summary()["hit_ratio"] == res.hit_ratio


def test_default_bound_is_the_cheap_one_and_timed_apart():
    problem = random_problem(11, 3, 6, 8, 12, True)
    res = tc.trimcaching_gen(problem)
    assert res.bound_method == "submodular"
    assert res.upper_bound == pytest.approx(max(submodular_bound(problem, res.placement), res.hit_ratio))
    assert res.bound_runtime_s > 0.0
    lp = tc.trimcaching_gen(problem, bound="lp")
    assert lp.bound_method == "lp" and lp.upper_bound >= lp.hit_ratio
    none = tc.trimcaching_gen(problem, bound=None)
    assert none.upper_bound is None and none.gap is None and none.bound_runtime_s == 0.0
    np.testing.assert_array_equal(none.placement, res.placement)


def test_bad_bound_is_refused_before_any_work():
    problem = random_problem(1, 2, 3, 3, 5, False)
    with pytest.raises(tc.InstanceError, match="bound"):
        tc.trimcaching_gen(problem, bound="tight")


def test_exact_solver_reports_optimal():
    problem = random_problem(5, 2, 4, 5, 6, True)
    res = tc.optimal_placement(problem)
    assert res.status == "optimal" and res.bound_method == "milp"
    assert res.hit_ratio == pytest.approx(brute_force_placement(problem)[1])


def test_infeasible_placement_is_reported_as_such():
    from trimcore.placement.scoring import make_result

    problem = random_problem(2, 2, 4, 5, 6, True)
    x = np.ones((problem.n_servers, problem.n_models), dtype=bool)
    assert not problem.is_feasible(x)
    res = make_result(problem, x, "manual", {}, 0.0, backend="reference", bound=None)
    assert not res.feasible and res.status == "infeasible"


def test_save_load_round_trip(tmp_path):
    problem = random_problem(3, 3, 6, 8, 12, True)
    res = tc.trimcaching_gen(problem)
    back = tc.PlacementResult.load(res.save(tmp_path / "r"))
    np.testing.assert_array_equal(back.placement, res.placement)
    assert back.summary() == res.summary() and back.options == res.options


@pytest.mark.parametrize("field, value, match", [
    ("objective", "lots", "objective"),
    ("objective", 1.5, "hit ratio"),
    ("feasible", "maybe", "feasible"),
    ("status", "heuristic", "status"),
    ("placement", np.zeros((2, 3)), "placement"),
    ("storage_used", np.zeros(7), "storage_used"),
])
def test_load_validates_like_the_constructor(tmp_path, field, value, match):
    problem = random_problem(3, 3, 6, 8, 12, True)
    path = tc.trimcaching_gen(problem).save(tmp_path / "r")
    arrays, meta = load_arrays(path, "PlacementResult")
    if isinstance(value, np.ndarray):
        arrays[field] = value
    else:
        meta["values"][field] = value
    save_arrays(path, "PlacementResult", arrays, meta)
    with pytest.raises(tc.InstanceError, match=match):
        tc.PlacementResult.load(path)
