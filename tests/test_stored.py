"""Every problem and instance kind saves, loads (validated) and has a short repr."""

from __future__ import annotations

import numpy as np
import pytest
from strategies import random_problem

import trimcore as tc
from trimcore.experiments.scenarios import make_loading_instance
from trimcore.instance.io import load_arrays, save_arrays
from trimcore.instance.topology import Topology
from trimcore.instance.zoo import frozen_backbone_library


def _objects():
    loading = make_loading_instance(300, 20, 4, seed=3)
    return {
        "PlacementProblem": random_problem(3, 3, 6, 8, 12, True),
        "LoadingProblem": loading,
        "Evaluation": loading.evaluate(np.arange(loading.n_users)),
        "Topology": Topology.uniform(5, 200, seed=1),
        "ModelLibrary": frozen_backbone_library(),
    }


@pytest.mark.parametrize("kind", list(_objects()))
def test_round_trip_and_short_repr(tmp_path, kind):
    obj = _objects()[kind]
    back = type(obj).load(obj.save(tmp_path / kind))
    assert repr(back) == repr(obj)
    assert len(repr(obj)) < 400 and "\n" not in repr(obj)
    for name, value in vars(obj).items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(getattr(back, name), value)


def test_topology_repr_has_no_coordinates():
    topo = Topology.uniform(50, 5000, seed=1)
    assert repr(topo) == "Topology(n_servers=50, n_users=5000, width=1000, height=1000)"


def test_loading_problem_load_validates(tmp_path):
    problem = make_loading_instance(300, 20, 4, seed=3)
    path = problem.save(tmp_path / "p")
    arrays, meta = load_arrays(path, "LoadingProblem")
    arrays["deadline"] = -arrays["deadline"]
    save_arrays(path, "LoadingProblem", arrays, meta)
    with pytest.raises(tc.InstanceError, match="deadline"):
        tc.LoadingProblem.load(path)


def test_loading_a_file_of_another_kind_is_refused(tmp_path):
    path = Topology.uniform(5, 20, seed=1).save(tmp_path / "t")
    with pytest.raises(tc.InstanceError, match="kind"):
        tc.LoadingProblem.load(path)


def test_online_and_pulling_problems_round_trip(tmp_path):
    from trimcore.online.builder import make_caching_instance
    from trimcore.pulling.instances import paper_instance

    cp = make_caching_instance(2, n_slots=40, seed=3)
    back = tc.CachingProblem.load(cp.save(tmp_path / "cp"))
    assert repr(back) == repr(cp) and back.library.model_names == cp.library.model_names
    a, b = tc.simulate_caching(cp, policy="lc"), tc.simulate_caching(back, policy="lc")
    np.testing.assert_array_equal(a.served_by, b.served_by)
    assert a.cost == b.cost
    pp = paper_instance(6, 12, 4, 2, seed=1)
    again = tc.PullingProblem.load(pp.save(tmp_path / "pp"))
    assert tc.pulling_optimal(again).total_delay == tc.pulling_optimal(pp).total_delay


def test_a_loaded_online_problem_is_validated(tmp_path):
    from trimcore.online.builder import make_caching_instance

    path = make_caching_instance(2, n_slots=20, seed=3).save(tmp_path / "cp")
    arrays, meta = load_arrays(path, "CachingProblem")
    arrays["slot"] = arrays["slot"][::-1].copy()  # decreasing slots
    save_arrays(path, "CachingProblem", arrays, meta)
    with pytest.raises(tc.InstanceError, match="slot"):
        tc.CachingProblem.load(path)
