"""Mobility: a fixed placement scored while users random-walk (spec §5.3)."""

from __future__ import annotations

import numpy as np
import pytest

import trimcore as tc
from trimcore.experiments.scenarios import build_placement, scenario
from trimcore.placement.mobility import mobility_hit_ratio


@pytest.fixture(scope="module")
def parts():
    spec = scenario("uniform-small", seed=3)
    return build_placement(spec, with_parts=True)


def run(parts, **kwargs):
    problem, p = parts
    return mobility_hit_ratio(p["library"], p["topology"], p["popularity"], p["capacity"], p["latency_limit"],
                              lambda q: tc.trimcaching_gen(q, bound=None), radio=p["radio"], **kwargs)


def test_standing_users_keep_the_hit_ratio(parts):
    problem, _ = parts
    trace = run(parts, speed_mps=0.0, n_slots=5, seed=1)
    assert trace.hit_ratio == pytest.approx(np.full(6, tc.trimcaching_gen(problem).hit_ratio))
    assert trace.replaced.tolist() == [True] + [False] * 5


def test_slots_are_scored_on_the_walked_positions(parts):
    problem, p = parts
    trace = run(parts, speed_mps=20.0, n_slots=6, seed=7)
    placement = tc.trimcaching_gen(problem, bound=None).placement
    walk = p["topology"].random_walk(20.0, 1.0, 6, seed=7)
    for t in (0, 3, 6):
        moved = tc.PlacementProblem.from_topology(p["library"], p["topology"].with_users(walk[t]), p["popularity"],
                                          p["capacity"], p["latency_limit"], **p["radio"])
        assert trace.hit_ratio[t] == pytest.approx(moved.hit_ratio(placement))
    assert trace.time_s.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


def test_replacement_every_tau_slots(parts):
    fixed = run(parts, speed_mps=30.0, n_slots=8, seed=2)
    replaced = run(parts, speed_mps=30.0, n_slots=8, seed=2, replace_every=4)
    assert replaced.replaced.nonzero()[0].tolist() == [0, 4, 8]
    assert replaced.hit_ratio[0] == fixed.hit_ratio[0]
    _, p = parts
    walk = p["topology"].random_walk(30.0, 1.0, 8, seed=2)
    for t in (4, 8):  # a re-placement is the algorithm's placement for the users where they are now
        moved = tc.PlacementProblem.from_topology(p["library"], p["topology"].with_users(walk[t]), p["popularity"],
                                          p["capacity"], p["latency_limit"], **p["radio"])
        assert replaced.hit_ratio[t] == pytest.approx(tc.trimcaching_gen(moved, bound=None).hit_ratio)
    with pytest.raises(tc.InstanceError, match="replace_every"):
        run(parts, replace_every=0)
