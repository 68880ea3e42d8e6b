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
