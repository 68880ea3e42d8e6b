"""The examples run: the SimPy edge simulator drives trimcore's online caches."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import trimcore as tc

ROOT = Path(__file__).resolve().parent.parent


def _example(name: str):
    path = ROOT / "examples" / f"{name}.py"
    if not path.is_file():
        pytest.skip("the source tree's examples/ is not here")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif("cpp" not in tc.available_backends(), reason="OnlineCache steps the C++ tier")
def test_simpy_edge_example():
    pytest.importorskip("simpy")
    example = _example("simpy_edge")
    lc = example.simulate("lc", n_users=15, minutes=8.0, seed=2)
    assert lc == example.simulate("lc", n_users=15, minutes=8.0, seed=2)  # deterministic given the seed
    assert lc["requests"] > 100
    assert lc["hit_ratio"] + lc["share_substitute"] + lc["share_load"] + lc["share_cloud"] == pytest.approx(1.0)
    assert lc["hit_ratio"] > 0 and lc["share_load"] > 0
    cloud = example.simulate("cloud", n_users=15, minutes=8.0, seed=2)
    assert cloud["requests"] == lc["requests"] and cloud["share_cloud"] == 1.0 and cloud["hit_ratio"] == 0.0
