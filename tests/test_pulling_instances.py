"""Pulling instance builders: shapes, CODE ranges, shortest paths, options."""

from __future__ import annotations

import numpy as np
import pytest

import trimcore as tc
from trimcore.errors import InstanceError
from trimcore.pulling.instances import paper_instance, realistic_instance, shortest_path_delay


def test_shortest_paths_match_floyd_warshall():
    rng = np.random.default_rng(0)
    n = 7
    edges = np.array([(a, b) for a in range(n) for b in range(a + 1, n) if rng.random() < 0.5] + [(0, 1)])
    w = rng.uniform(1, 5, len(edges))
    got = shortest_path_delay(n, edges, w)
    d = np.full((n, n), np.inf)
    np.fill_diagonal(d, 0)
    for (a, b), x in zip(edges, w):
        d[a, b] = d[b, a] = min(d[a, b], x)
    for m in range(n):
        d = np.minimum(d, d[:, m:m + 1] + d[m:m + 1, :])
    np.testing.assert_allclose(got, d)


def test_paper_instance_ranges_and_options():
    pp = paper_instance(30, 40, 10, seed=3)
    assert (pp.n_cloudlets, pp.n_requests, pp.n_models) == (30, 40, 10)
    assert np.isfinite(pp.path_delay).all() and (pp.path_delay[-1, :-1] >= 5).all()
    assert ((pp.model_size >= 5) & (pp.model_size <= 20)).all()
    np.testing.assert_allclose(pp.shareable_size, pp.model_size * 2 / 3)
    assert ((pp.memory >= 8) & (pp.memory <= 24)).all()
    assert ((pp.min_accuracy >= 0.1) & (pp.min_accuracy <= 0.4)).all()
    assert (pp.cached.sum(axis=0) >= 1).all()
    code = paper_instance(30, 40, 10, seed=3, home="random", user_rate="user0", pull_delay="global",
                          capacity="per_request", dc_source=False, memory=50.0, budget=1e4)
    assert code.pull_delay == "global" and (code.memory == 50).all() and (code.budget == 1e4).all()
    again = paper_instance(30, 40, 10, seed=3)
    np.testing.assert_array_equal(again.path_delay, pp.path_delay)
    big = paper_instance(130, 5, 3, seed=0)  # more cloudlets than EUA sites: extras in the same box
    assert big.n_cloudlets == 130
    with pytest.raises(InstanceError, match="home"):
        paper_instance(5, 5, 2, home="far")


def test_realistic_instance_is_llm_sized_and_solvable():
    pp = realistic_instance(20, 30, 8, 2, seed=0)
    assert (pp.shareable_size > 13).all() and (pp.remaining_size < 0.2).all()  # 7B fp16 base, LoRA adapters
    res = tc.pulling_optimal(pp)
    assert res.status == "optimal"
    ev = pp.evaluate(res.model, res.shareable_source, res.remaining_source)
    assert ev.total_delay == res.objective


def test_named_scenarios():
    from trimcore.pulling.instances import scenario

    code = scenario("code", 20, 30, 10, seed=1)
    assert (code.pull_delay, code.capacity, code.dc_source) == ("global", "per_request", False)
    paper = scenario("paper", 20, 30, 10, seed=1)
    assert (paper.pull_delay, paper.capacity, paper.dc_source) == ("per_request", "per_cloudlet", True)
    np.testing.assert_array_equal(paper.model_size, code.model_size)  # same generators, same draws
    assert scenario("realistic", 10, 5, 4, 2, seed=0).n_models == 4
    with pytest.raises(InstanceError, match="scenario"):
        scenario("nope")
