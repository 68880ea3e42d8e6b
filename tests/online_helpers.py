"""Random caching instances and the invariant checker shared by the online tests."""

from __future__ import annotations

import numpy as np

import trimcore as tc
from trimcore.online import COMPONENTS


def random_caching(seed: int, *, n_servers: int = 2, n_models: int = 6, n_blocks: int = 8, n_tasks: int = 3,
                   n_requests: int = 120, n_slots: int = 30, block_sharing: bool = True,
                   **options: object) -> tc.CachingProblem:
    """A random problem with shared blocks, substitutable tasks, oversize and exact-size models."""
    rng = np.random.default_rng(seed)
    sizes = rng.uniform(1.0, 5.0, n_blocks).round(2) * 1e9
    blocks = [sorted(rng.choice(n_blocks, int(rng.integers(1, min(n_blocks, 3) + 1)), replace=False).tolist())
              for _ in range(n_models)]
    lib = tc.ModelLibrary.from_lists(sizes, blocks)
    model_size = lib.model_sizes
    memory = rng.uniform(0.5, 2.5, n_servers) * float(np.median(model_size))
    memory[0] = float(model_size[int(rng.integers(n_models))])  # one server exactly one model's size
    slot = np.sort(rng.integers(0, n_slots, n_requests))
    mt = rng.random((n_models, n_tasks)) < 0.5
    return tc.CachingProblem.from_arrays(
        sizes, blocks, memory, slot, rng.integers(0, n_servers, n_requests),
        rng.integers(0, n_models, n_requests), task=rng.integers(0, n_tasks, n_requests),
        tokens_in=rng.uniform(32, 256, n_requests).round(), tokens_out=rng.uniform(32, 256, n_requests).round(),
        model_tasks=mt, block_sharing=block_sharing, **options)


def check_invariants(cp: tc.CachingProblem, res: tc.CachingResult, policy: str = "") -> None:
    """Every invariant a run must satisfy, recomputed from the problem and the decisions alone."""
    n, i_n = cp.n_servers, cp.n_models
    lib = cp.library
    resident = np.zeros((n, i_n), dtype=bool)
    if policy == "static":
        resident = tc.online.static_placement(cp)
    sizes = cp.model_size

    def used(s: int) -> float:
        models = np.flatnonzero(resident[s])
        if not models.size:
            return 0.0
        return lib.union_size(models) if cp.block_sharing else float(sizes[models].sum())

    def missing(s: int, i: int) -> float:
        if not cp.block_sharing:
            return float(sizes[i])
        held = np.zeros(lib.n_blocks, dtype=bool)
        for v in np.flatnonzero(resident[s]):
            held[lib.blocks_of(int(v))] = True
        b = lib.blocks_of(i)
        return float(lib.block_sizes[b[~held[b]]].sum())

    assert res.n_requests == cp.n_requests
    for r in range(cp.n_requests):
        s, i, m = int(cp.server[r]), int(cp.model[r]), int(cp.task[r])
        out, j = int(res.outcome[r]), int(res.served_by[r])
        before = resident[s].copy()
        assert bool(res.hit[r]) == (out == 0) == bool(before[i])
        ev = res.evicted[res.evict_ptr[r]:res.evict_ptr[r + 1]]
        if out == 0:
            assert j == i and before[i]
        elif out == 1:
            assert not before[i] and before[j] and j != i and cp.model_tasks[j, m]
        elif out == 2:
            assert j == i and not before[i] and sizes[i] <= cp.memory[s] * (1 + 1e-9)
            assert np.isclose(res.loaded_bytes[r], missing(s, i), rtol=1e-9, atol=1e-3)
            assert before[ev].all() and len(set(ev.tolist())) == ev.size and i not in ev
            resident[s, ev] = False
            resident[s, i] = True
        else:
            assert j == -1 and res.accuracy[r] == cp.options["acc_zero"][i]
        if out != 2:
            assert ev.size == 0 and res.loaded_bytes[r] == 0.0
        u = used(s)
        assert u <= cp.memory[s] * (1 + 1e-9) + 1e-3, (r, u, cp.memory[s])
        assert np.isclose(res.memory_used[r], u, rtol=1e-9, atol=1e-3)
    # costs: components sum to the request's cost, the means to the objective
    np.testing.assert_allclose(res.request_costs.sum(axis=1), res.request_cost, rtol=1e-12, atol=1e-12)
    assert abs(sum(res.components.values()) - res.cost) <= 1e-9 * max(1.0, abs(res.cost))
    assert set(res.components) == set(COMPONENTS)
    assert abs(res.request_cost.mean() - res.cost) <= 1e-9 * max(1.0, abs(res.cost))
    assert res.lower_bound is not None and res.lower_bound <= res.cost + 1e-9
    # every request at least its own certified cheapest option
    assert res.feasible and res.status == "feasible"
