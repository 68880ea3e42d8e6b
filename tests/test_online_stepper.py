"""OnlineCache: the simulator-facing stepping object decides exactly as simulate_caching replays."""

from __future__ import annotations

import numpy as np
import pytest

import trimcore as tc
from trimcore.online.builder import make_caching_instance

pytestmark = pytest.mark.skipif("cpp" not in tc.available_backends(), reason="the C++ tier is not built here")
CAUSAL = ["lc", "lc_task", "lru", "lfu", "fifo", "random", "cloud", "static"]


@pytest.mark.parametrize("policy", CAUSAL)
@pytest.mark.parametrize("block_sharing", [True, False])
@pytest.mark.parametrize("greedy_admission", [True, False])
def test_stepping_equals_the_replay(policy, block_sharing, greedy_admission):
    # tight memory, fast loads and a long admission horizon: hits, substitutes, loads, evictions
    cp = make_caching_instance(3, library="llm", n_slots=60, memory_gb=24.0, block_sharing=block_sharing, seed=5,
                               load_bandwidth=25e9)
    options = {"admission_horizon": 50.0, "greedy_admission": greedy_admission}
    res = tc.simulate_caching(cp, policy=policy, seed=11, backend="cpp", **options)
    if policy not in ("cloud", "static"):
        assert len(set(res.outcome.tolist())) == 4 and res.evicted.size > 0  # the trace exercises every branch
    cache = tc.OnlineCache(cp, policy=policy, seed=11, **options)
    steps = [cache.request(int(cp.server[r]), int(cp.model[r]), int(cp.slot[r]), task=int(cp.task[r]),
                           tokens_in=float(cp.tokens_in[r]), tokens_out=float(cp.tokens_out[r]))
             for r in range(cp.n_requests)]
    np.testing.assert_array_equal([s.served_by for s in steps], res.served_by)
    np.testing.assert_array_equal([s.hit for s in steps], res.hit)
    np.testing.assert_array_equal([s.cost for s in steps], res.request_cost)
    np.testing.assert_array_equal([s.costs for s in steps], res.request_costs)
    np.testing.assert_array_equal([s.aoc for s in steps], res.aoc)
    np.testing.assert_array_equal([s.loaded_bytes for s in steps], res.loaded_bytes)
    evicted = [tuple(res.evicted[res.evict_ptr[r]:res.evict_ptr[r + 1]].tolist()) for r in range(cp.n_requests)]
    assert [s.evicted for s in steps] == evicted
    np.testing.assert_array_equal([s.accuracy for s in steps], res.accuracy)
    np.testing.assert_array_equal([s.latency for s in steps], res.latency)
    assert cache.n_requests == cp.n_requests and "requests=" in repr(cache)
    assert all(s.memory_used <= cp.memory[int(cp.server[r])] * (1 + 1e-9) for r, s in enumerate(steps))


def test_bad_requests_and_policies_are_refused():
    cp = make_caching_instance(2, n_slots=10, seed=1)
    with pytest.raises(tc.InstanceError, match="policy"):
        tc.OnlineCache(cp, policy="belady")
    with pytest.raises(tc.InstanceError, match="policy"):
        tc.OnlineCache(cp, policy="mru")
    cache = tc.OnlineCache(cp, policy="lru", horizon_slots=100)
    with pytest.raises(tc.InstanceError, match="server"):
        cache.request(5, 0, 0)
    with pytest.raises(tc.InstanceError, match="model"):
        cache.request(0, cp.n_models, 0)
    cache.request(0, 0, 50)
    with pytest.raises(tc.InstanceError, match="slot"):
        cache.request(0, 0, 10)  # slots go forward
    with pytest.raises(tc.InstanceError, match="slot"):
        cache.request(0, 0, 10**6)  # beyond the horizon
    with pytest.raises(tc.InstanceError, match="tokens_in"):
        cache.request(0, 0, 60, tokens_in=float("nan"))
