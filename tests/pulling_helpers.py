"""Tiny random pulling instances for the tests."""

from __future__ import annotations

import numpy as np

import trimcore as tc


def tiny_problem(seed: int, *, n: int = 2, k: int = 2, j: int = 2, families: int | None = None,
                 pull_delay: str = "per_request", capacity: str = "per_cloudlet", dc_source: bool = True,
                 tight: float = 1.0) -> tc.PullingProblem:
    """A random instance small enough for exhaustive enumeration; ``tight`` scales memory/budget."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 1, (n + 1, 2))
    pd = np.abs(pts[:, None, 0] - pts[None, :, 0]) + np.abs(pts[:, None, 1] - pts[None, :, 1])
    pd[-1, :-1] += 1.0
    pd[:-1, -1] += 1.0
    size = rng.uniform(1, 3, k)
    share = size * rng.choice([0.0, 0.5, 2 / 3, 1.0], k)
    fam = rng.integers(0, families or max(1, k // 2) , k)
    cached = rng.random((n, k)) < 0.4
    home = rng.integers(0, n, j)
    acc = rng.uniform(0.3, 1.0, (j, k))
    return tc.PullingProblem.from_arrays(
        pd, size, share, fam, cached, home,
        infer_delay=rng.uniform(0, 1, (j, k)), queue_delay=rng.uniform(0, 0.5, j),
        trans_delay=rng.uniform(0, 0.5, (j, k)), accuracy=acc, min_accuracy=rng.uniform(0.2, 0.6, j),
        infer_cost=rng.uniform(0, 2, (j, k)), trans_power=rng.uniform(0.5, 2, n),
        budget=tight * rng.uniform(2, 8, j), memory=tight * rng.uniform(1.5, 6, n), alpha=rng.uniform(0.5, 1.0),
        pull_delay=pull_delay, capacity=capacity, dc_source=dc_source)
