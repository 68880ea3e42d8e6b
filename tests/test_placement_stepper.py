"""EdgePlacer: TrimCaching stepped by a simulator, warm-started from the previous epoch."""

from __future__ import annotations

import numpy as np
import pytest

import trimcore as tc
from trimcore.experiments.scenarios import build_placement, scenario
from trimcore.placement.stepper import EdgePlacer


@pytest.fixture(scope="module")
def parts():
    return build_placement(scenario("uniform-small", seed=3), with_parts=True)[1]


def _placer(p, **kwargs):
    return EdgePlacer(p["library"], p["capacity"], p["popularity"], p["latency_limit"], **p["radio"], **kwargs)


def test_first_epoch_is_cold_gen_and_later_ones_warm_start(parts):
    p = parts
    placer = _placer(p)
    first = placer.place(p["topology"])
    problem = tc.PlacementProblem.from_topology(p["library"], p["topology"], p["popularity"], p["capacity"],
                                                p["latency_limit"], **p["radio"])
    np.testing.assert_array_equal(first.placement, tc.trimcaching_gen(problem, bound=None).placement)
    walk = p["topology"].random_walk(3.0, 30.0, 4, seed=1)
    previous = first.placement
    differs = 0
    for t in range(1, 5):
        moved = p["topology"].with_users(walk[t])
        res = placer.place(moved)
        q = tc.PlacementProblem.from_topology(p["library"], moved, p["popularity"], p["capacity"],
                                              p["latency_limit"], **p["radio"])
        want = tc.trimcaching_gen(q, bound=None, warm_start=previous)
        np.testing.assert_array_equal(res.placement, want.placement)
        assert res.feasible and res.options["kept"] == int((res.placement & previous).sum()) > 0
        cold = tc.trimcaching_gen(q, bound=None).placement
        # the warm start moves fewer models than a cold start would
        assert (res.placement != previous).sum() <= (cold != previous).sum()
        differs += int((res.placement != cold).any())
        previous = res.placement
    assert differs > 0  # the warm start is not the cold greedy
    assert placer.epochs == 5 and "epochs=5" in repr(placer)


def test_warm_start_keeps_what_still_fits_and_serves(parts):
    p = parts
    problem = tc.PlacementProblem.from_topology(p["library"], p["topology"], p["popularity"], p["capacity"],
                                                p["latency_limit"], **p["radio"])
    cold = tc.trimcaching_gen(problem, bound=None)
    again = tc.trimcaching_gen(problem, bound=None, warm_start=cold.placement)
    assert again.feasible and again.options["kept"] > 0
    assert set(zip(*np.nonzero(again.placement & cold.placement))) <= set(zip(*np.nonzero(cold.placement)))
    for backend in tc.available_backends():
        if backend != "numba":  # Gen has no Numba tier
            alt = tc.trimcaching_gen(problem, bound=None, warm_start=cold.placement, backend=backend)
            np.testing.assert_array_equal(alt.placement, again.placement)
    # an infeasible warm start is cut to what fits: the result is always feasible
    everything = np.ones_like(cold.placement)
    assert tc.trimcaching_gen(problem, bound=None, warm_start=everything).feasible


def test_update_is_an_exponential_average(parts):
    p = parts
    placer = _placer(p, smoothing=0.25)
    before = placer.popularity.copy()
    users, models = np.array([0, 0, 1]), np.array([2, 2, 0])
    placer.update(users, models)
    observed = np.zeros_like(before)
    np.add.at(observed, (users, models), 1.0)
    observed *= before.sum() / observed.sum()
    np.testing.assert_allclose(placer.popularity, 0.75 * before + 0.25 * observed)
    placer.update(np.zeros(0, np.int64), np.zeros(0, np.int64))  # nothing observed: unchanged
    np.testing.assert_allclose(placer.popularity, 0.75 * before + 0.25 * observed)


def test_bad_input_is_refused(parts):
    p = parts
    with pytest.raises(tc.InstanceError, match="rule"):
        _placer(p, rule="best")
    with pytest.raises(tc.InstanceError, match="smoothing"):
        _placer(p, smoothing=0.0)
    placer = _placer(p)
    with pytest.raises(tc.InstanceError, match="models"):
        placer.update([0], [p["library"].n_models])
    with pytest.raises(tc.InstanceError, match="topology"):
        placer.place(p["topology"].with_users(np.zeros((1, 2))))
    with pytest.raises(tc.InstanceError, match="placement"):
        tc.trimcaching_gen(tc.PlacementProblem.from_topology(p["library"], p["topology"], p["popularity"],
                                                            p["capacity"], p["latency_limit"], **p["radio"]),
                           warm_start=np.ones((1, 1), bool))
