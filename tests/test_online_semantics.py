"""Semantics of the online caching skeleton: invariants on every run, hand traces, edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from online_helpers import check_invariants, random_caching

import trimcore as tc
from trimcore.online import POLICIES

GB = 1e9


@pytest.mark.parametrize("block_sharing", [True, False])
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("greedy", [False, True])
def test_invariants_every_policy(policy: str, block_sharing: bool, greedy: bool) -> None:
    for seed in range(6):
        cp = random_caching(seed, block_sharing=block_sharing, lc_prior=float(seed % 2),
                            persist_context_on_evict=seed % 3 == 0)
        res = tc.simulate_caching(cp, policy=policy, greedy_admission=greedy, seed=seed, admission_horizon=20.0,
                                  backend="reference")
        check_invariants(cp, res, policy)
        assert res.options["policy"] == policy and res.options["backend"] == "reference"


def test_runs_exercise_every_outcome() -> None:
    """The invariant runs above are not vacuous: hits, substitutes, loads, clouds and evictions occur."""
    counts = np.zeros(4, dtype=int)
    evictions = 0
    for seed in range(6):
        cp = random_caching(seed)
        res = tc.simulate_caching(cp, policy="lc", admission_horizon=20.0, backend="reference")
        counts += np.bincount(res.outcome, minlength=4)
        evictions += res.evicted.size
    assert (counts > 0).all() and evictions > 0


def _one_server(sizes_gb: list[float], memory_gb: float, slots: list[int], models: list[int],
                **options: object) -> tc.CachingProblem:
    return tc.CachingProblem.from_arrays(np.array(sizes_gb) * GB, [[k] for k in range(len(sizes_gb))],
                                         [memory_gb * GB], slots, [0] * len(slots), models, **options)


REACTIVE = {"greedy_admission": True, "allow_substitution": False}


def test_hand_trace_lc_and_lru_differ() -> None:
    """Slot 0: A x4, slot 1: B, slot 2: C (evict A or B?), slot 3: A. Memory holds two of the three."""
    cp = _one_server([1.0, 1.0, 1.0], 2.0, [0, 0, 0, 0, 1, 2, 3], [0, 0, 0, 0, 1, 2, 0])
    lc = tc.simulate_caching(cp, policy="lc", **REACTIVE)
    lru = tc.simulate_caching(cp, policy="lru", **REACTIVE)
    nu = 0.9
    # at request 5 (slot 2): AoC_A = 4 nu^2 = 3.24 > AoC_B = nu = 0.9, so LC evicts B; LRU evicts A (older use)
    assert lc.aoc[5] == 0.0 and lc.evicted.tolist() == [1]
    assert lru.evicted.tolist() == [0, 1]  # A at request 5, then B when A comes back at request 6
    assert lc.outcome.tolist() == [2, 0, 0, 0, 2, 2, 0]
    assert lru.outcome.tolist() == [2, 0, 0, 0, 2, 2, 2]
    # request 6 (slot 3) under LC: a hit with K = 4 nu^3 examples (spec §3.3-3.6, default options)
    k = 4 * nu**3
    assert lc.aoc[6] == pytest.approx(k, rel=1e-12)
    tokens = 144 + math.ceil(k) * 64 + 144
    lat = 0.010 + 1e9 * tokens / 100e12
    acc = 0.62 - (0.62 - 0.40) * math.exp(-0.25 * k)
    assert lc.latency[6] == pytest.approx(lat, rel=1e-12)
    assert lc.accuracy[6] == pytest.approx(acc, rel=1e-12)
    assert lc.request_cost[6] == pytest.approx(1.0 * lat + 10.0 * (1 - acc), rel=1e-12)
    # ... and under LRU a load: zero-shot, full model loaded at 2 GB/s, switching 0.05 per GB
    lat_load = 0.010 + 1e9 * 288 / 100e12 + 1e9 / 2e9
    assert lru.latency[6] == pytest.approx(lat_load, rel=1e-12)
    assert lru.accuracy[6] == pytest.approx(0.40, rel=1e-12)
    assert lru.request_cost[6] == pytest.approx(lat_load + 10.0 * 0.6 + 0.05, rel=1e-12)
    assert lc.cost < lru.cost


def test_hand_trace_task_aware_lc() -> None:
    """Task-aware LC weighs AoC by the recent task shares: it drops the context-rich model of a cold task."""
    # model 0 (task 0): 20 examples at slot 0; model 1 (task 1): 10 at slot 1; model 2 (task 1) arrives
    mt = np.array([[1, 0], [0, 1], [0, 1]], dtype=bool)
    cp = tc.CachingProblem.from_arrays(np.array([1.0, 1.0, 1.0]) * GB, [[0], [1], [2]], [2 * GB],
                                       [0] * 20 + [1] * 11, [0] * 31, [0] * 20 + [1] * 10 + [2],
                                       task=[0] * 20 + [1] * 11, model_tasks=mt, rho_cross=0.0)
    nu = 0.9
    aoc0, aoc1 = 20 * nu, 10.0  # at slot 1
    share = np.zeros(2)
    for m in [0] * 20 + [1] * 11:  # EWMA 0.1, the arriving request included
        share *= 0.9
        share[m] += 0.1
    v0, v1 = aoc0 * share[0], aoc1 * share[1]
    assert aoc1 < aoc0 and v0 < v1  # the two rules disagree on this trace
    lc = tc.simulate_caching(cp, policy="lc", **REACTIVE)
    lct = tc.simulate_caching(cp, policy="lc_task", **REACTIVE)
    assert lc.evicted.tolist() == [1]
    assert lct.evicted.tolist() == [0]
    assert tc.simulate_caching(cp, policy="lc", lc_task_aware=True, **REACTIVE).evicted.tolist() == [0]


def test_lfu_counts_and_ties() -> None:
    """In-cache LFU: 1 at insertion, +1 per hit, forgotten on eviction; ties to the least recently requested."""
    # A, A, B (A:2, B:1) -> C evicts B; B again evicts C (C:1 ties... C:1 vs A:2) -> evicts C
    cp = _one_server([1.0, 1.0, 1.0], 2.0, [0] * 6, [0, 0, 1, 2, 1, 2])
    res = tc.simulate_caching(cp, policy="lfu", **REACTIVE)
    assert res.evicted.tolist() == [1, 2, 1]
    # ties: A:1, B:1 (B more recent) -> C evicts A
    cp = _one_server([1.0, 1.0, 1.0], 2.0, [0] * 3, [0, 1, 2])
    assert tc.simulate_caching(cp, policy="lfu", **REACTIVE).evicted.tolist() == [0]
    # forgotten on eviction: B x2, A x3, C evicts B (2 < 3), B evicts C; then D: reset B = 1 -> evict B;
    # with the history kept B = 3 ties A = 3 and A (requested longer ago) goes
    cp = _one_server([1.0] * 4, 2.0, [0] * 8, [1, 1, 0, 0, 0, 2, 1, 3])
    reset = tc.simulate_caching(cp, policy="lfu", **REACTIVE)
    keep = tc.simulate_caching(cp, policy="lfu", lfu_reset_on_evict=False, **REACTIVE)
    assert reset.evicted.tolist() == [1, 2, 1]
    assert keep.evicted.tolist() == [1, 2, 0]


def test_fifo_and_belady() -> None:
    cp = _one_server([1.0, 1.0, 1.0], 2.0, [0] * 6, [0, 1, 0, 2, 1, 0])
    fifo = tc.simulate_caching(cp, policy="fifo", **REACTIVE)
    assert fifo.evicted.tolist() == [0, 1]  # hits do not refresh FIFO order
    bel = tc.simulate_caching(cp, policy="belady", **REACTIVE)
    # request 3 (C): next use of A is request 5, of B request 4 -> evict A; request 5 (A): neither B nor C
    # is requested again -> tie, lower index -> evict B
    assert bel.evicted.tolist() == [0, 1]
    assert bel.evict_ptr.tolist() == [0, 0, 0, 0, 1, 1, 2]


def test_oversize_and_exact_size_models() -> None:
    # model 2 (3 GB) never fits in 2 GB: cloud, evicts nothing; model 3 (exactly 2 GB) evicts everything
    cp = _one_server([1.0, 1.0, 3.0, 2.0], 2.0, [0] * 5, [0, 1, 2, 3, 0])
    for policy in ("lru", "lfu", "fifo", "lc", "random", "belady"):
        res = tc.simulate_caching(cp, policy=policy, seed=3, **REACTIVE)
        assert res.outcome.tolist() == [2, 2, 3, 2, 2]
        assert res.evicted[res.evict_ptr[2]:res.evict_ptr[3]].size == 0
        assert sorted(res.evicted[res.evict_ptr[3]:res.evict_ptr[4]].tolist()) == [0, 1]
        assert res.memory_used.tolist() == [1 * GB, 2 * GB, 2 * GB, 2 * GB, 1 * GB]


def test_a_hit_never_changes_residency() -> None:
    cp = random_caching(4)
    res = tc.simulate_caching(cp, policy="lru", admission_horizon=20.0)
    hits = res.outcome == 0
    assert hits.any()
    assert (np.diff(res.evict_ptr)[hits] == 0).all() and (res.loaded_bytes[hits] == 0).all()


def test_block_aware_memory() -> None:
    """Base (10 GB) + two LoRA adapters (0.1 GB): the union fits in block mode, not model by model."""
    sizes = np.array([10.0, 0.1, 0.1]) * GB
    blocks = [[0, 1], [0, 2]]
    kw = dict(slot=[0, 0, 0, 0], server=[0] * 4, model=[0, 1, 0, 1])
    blk = tc.CachingProblem.from_arrays(sizes, blocks, [10.2 * GB], **kw)
    flat = tc.CachingProblem.from_arrays(sizes, blocks, [10.2 * GB], block_sharing=False, **kw)
    rb = tc.simulate_caching(blk, policy="lru", **REACTIVE)
    rf = tc.simulate_caching(flat, policy="lru", **REACTIVE)
    assert rb.outcome.tolist() == [2, 2, 0, 0] and rb.evicted.size == 0
    assert rb.loaded_bytes.tolist() == pytest.approx([10.1 * GB, 0.1 * GB, 0, 0])
    assert rf.outcome.tolist() == [2, 2, 2, 2] and rf.evicted.tolist() == [0, 1, 0]
    assert rb.cost < rf.cost
    # tight memory: evicting adapter 1 frees only its own block (model 1 keeps the base)
    tight = tc.CachingProblem.from_arrays(sizes, blocks, [10.15 * GB], **kw)
    rt = tc.simulate_caching(tight, policy="lru", **REACTIVE)
    assert rt.outcome.tolist() == [2, 2, 2, 2] and rt.evicted.tolist() == [0, 1, 0]
    assert rt.loaded_bytes.tolist() == pytest.approx([10.1 * GB, 0.1 * GB, 0.1 * GB, 0.1 * GB])
    assert rt.memory_used.tolist() == pytest.approx([10.1 * GB] * 4)


@pytest.mark.parametrize("backend", ["reference", "cpp"])
@pytest.mark.parametrize("policy", ["lc", "lru", "lfu", "fifo"])
def test_make_room_prefers_victims_that_free_memory(policy: str, backend: str) -> None:
    """Blocks of 10, 1 and 1 GB; X = {0, 1}, Y = {0} (the base alone), Z = {0, 2}; 11.5 GB; requests
    Y, X, Z, Y in slots 0..3 (reactive).

    Loading Z needs 12 GB, so 0.5 GB must go. Every one of these policies ranks Y first (LRU and LFU:
    used at request 0 vs 1, both counted once; FIFO: loaded first; LC: AoC nu^2 = 0.81 < nu = 0.9).
    Y's only block is the base, which X and the incoming Z still hold: evicting Y frees nothing.
    ``frees_first`` evicts X (frees block 1, 11 GB used) and Y's next request hits; ``policy_order``
    evicts Y, then X, and Y comes back as a load of 0 bytes.
    """
    sizes = np.array([10.0, 1.0, 1.0]) * GB
    kw = dict(slot=[0, 1, 2, 3], server=[0] * 4, model=[1, 0, 2, 1])
    cp = tc.CachingProblem.from_arrays(sizes, [[0, 1], [0], [0, 2]], [11.5 * GB], **kw)
    new = tc.simulate_caching(cp, policy=policy, backend=backend, **REACTIVE)
    old = tc.simulate_caching(cp, policy=policy, backend=backend, make_room="policy_order", **REACTIVE)
    assert new.options["make_room"] == "frees_first" and old.options["make_room"] == "policy_order"
    assert new.outcome.tolist() == [2, 2, 2, 0] and new.evicted.tolist() == [0]
    assert new.evict_ptr.tolist() == [0, 0, 0, 1, 1]
    assert new.loaded_bytes.tolist() == pytest.approx([10 * GB, 1 * GB, 1 * GB, 0.0])
    assert new.memory_used.tolist() == pytest.approx([10 * GB, 11 * GB, 11 * GB, 11 * GB])
    assert old.outcome.tolist() == [2, 2, 2, 2] and old.evicted.tolist() == [1, 0]
    assert old.loaded_bytes.tolist() == pytest.approx([10 * GB, 1 * GB, 1 * GB, 0.0])
    assert old.memory_used.tolist() == pytest.approx([10 * GB, 11 * GB, 11 * GB, 11 * GB])
    for res in (new, old):
        check_invariants(cp, res, policy)
    with pytest.raises(tc.InstanceError, match="make_room"):
        tc.simulate_caching(cp, policy=policy, backend=backend, make_room="smallest")


def test_make_room_rules_differ_on_random_traces() -> None:
    """The random libraries (no private block guaranteed) meet victims that free nothing: the rules
    differ on some trace, and agree whenever every model has a private block or blocks are not shared."""
    differ = 0
    for seed in range(12):
        for block in (True, False):
            cp = random_caching(seed, block_sharing=block)
            for policy in ("lru", "lc", "random"):
                a = tc.simulate_caching(cp, policy=policy, seed=seed, admission_horizon=20.0, greedy_admission=True)
                b = tc.simulate_caching(cp, policy=policy, seed=seed, admission_horizon=20.0, greedy_admission=True,
                                        make_room="policy_order")
                check_invariants(cp, a, policy)
                check_invariants(cp, b, policy)
                same = np.array_equal(a.evicted, b.evicted) and np.array_equal(a.outcome, b.outcome)
                if not block:
                    assert same
                differ += not same
    assert differ > 0


def test_aoc_recursion_equals_sum() -> None:
    """With no window truncation and no pruning, the spec's recursion gives every reported AoC."""
    for seed in range(5):
        cp = random_caching(seed, window=10_000, prune_eps=0.0, n_requests=150)
        for policy in ("lc", "lru", "lc_task"):
            res = tc.simulate_caching(cp, policy=policy, admission_horizon=20.0)
            value = np.zeros((cp.n_servers, cp.n_models))
            last = np.zeros((cp.n_servers, cp.n_models), dtype=np.int64)
            for r in range(cp.n_requests):
                out, j = int(res.outcome[r]), int(res.served_by[r])
                if out == 3:
                    assert res.aoc[r] == 0.0
                    continue
                s, t = int(cp.server[r]), int(cp.slot[r])
                if out == 2:  # a load starts from an empty context
                    value[s, j], last[s, j] = 0.0, t
                value[s, j] *= cp.nu ** (t - last[s, j])  # AoC(t+1) = nu AoC(t) + new examples
                last[s, j] = t
                assert res.aoc[r] == pytest.approx(value[s, j], rel=1e-9, abs=1e-12)
                value[s, j] += 1.0 if j == cp.model[r] else cp.options["rho_sub"]


def test_window_and_persisted_context() -> None:
    # window 2: after 5 examples at slot 0 the AoC at slot 0 is 2
    cp = _one_server([1.0, 1.0], 1.0, [0] * 6, [0] * 6, window=2)
    res = tc.simulate_caching(cp, policy="lru", **REACTIVE)
    assert res.aoc.tolist() == [0.0, 1.0, 2.0, 2.0, 2.0, 2.0]
    # persist: A (3 examples), B evicts A, A comes back with its context aged by nu
    slots, models = [0, 0, 0, 1, 2], [0, 0, 0, 1, 0]
    keep = tc.simulate_caching(_one_server([1.0, 1.0], 1.0, slots, models, persist_context_on_evict=True),
                               policy="lru", **REACTIVE)
    lose = tc.simulate_caching(_one_server([1.0, 1.0], 1.0, slots, models), policy="lru", **REACTIVE)
    assert keep.aoc[4] == pytest.approx(3 * 0.9**2) and lose.aoc[4] == 0.0


def test_cost_based_admission_and_substitution() -> None:
    # with the spec's myopic comparison a zero-shot load never beats the cloud
    cp = _one_server([1.0, 1.0], 2.0, [0, 1, 2], [0, 0, 1])
    assert tc.simulate_caching(cp, policy="lc").outcome.tolist() == [3, 3, 3]
    # amortised over 50 requests the load wins; then model 1 (same task as 0) is served by the substitute
    mt = np.array([[1], [1]], dtype=bool)
    cp = tc.CachingProblem.from_arrays(np.array([1.0, 1.0]) * GB, [[0], [1]], [2 * GB], [0, 1, 2], [0, 0, 0],
                                       [0, 0, 1], task=[0, 0, 0], model_tasks=mt)
    res = tc.simulate_caching(cp, policy="lc", admission_horizon=50.0)
    assert res.outcome.tolist() == [2, 0, 1] and res.served_by.tolist() == [0, 0, 0]
    no_sub = tc.simulate_caching(cp, policy="lc", admission_horizon=50.0, allow_substitution=False)
    assert no_sub.outcome[2] != 1


def test_cloud_and_static() -> None:
    cp = random_caching(2)
    cloud = tc.simulate_caching(cp, policy="cloud")
    assert (cloud.outcome == 3).all() and cloud.components["switching"] == 0.0
    static = tc.simulate_caching(cp, policy="static")
    assert not (static.outcome == 2).any() and static.evicted.size == 0
    placed = tc.online.static_placement(cp)
    assert (static.hit == placed[cp.server, cp.model]).all()


def test_random_policy_is_seeded() -> None:
    cp = random_caching(5, n_requests=200)
    a = tc.simulate_caching(cp, policy="random", seed=7, **REACTIVE)
    b = tc.simulate_caching(cp, policy="random", seed=7, **REACTIVE)
    c = tc.simulate_caching(cp, policy="random", seed=8, **REACTIVE)
    assert np.array_equal(a.evicted, b.evicted)
    assert a.evicted.size > 3 and not np.array_equal(a.evicted, c.evicted)


def test_grace_and_pinning() -> None:
    # A x3 at slot 0, B at slot 1, C at slot 1: pure LC evicts B (AoC 1 < 2.7); with a grace period of
    # 1 slot B (loaded in this slot) is protected and A goes; pinning models used in this slot also
    # protects B; a grace of 2 slots protects both, and then LC's order applies among them
    cp = _one_server([1.0, 1.0, 1.0], 2.0, [0, 0, 0, 1, 1], [0, 0, 0, 1, 2])
    assert tc.simulate_caching(cp, policy="lc", **REACTIVE).evicted.tolist() == [1]
    assert tc.simulate_caching(cp, policy="lc", lc_grace_slots=1, **REACTIVE).evicted.tolist() == [0]
    assert tc.simulate_caching(cp, policy="lc", lc_grace_slots=2, **REACTIVE).evicted.tolist() == [1]
    assert tc.simulate_caching(cp, policy="lc", pin_models_used_this_slot=True, **REACTIVE).evicted.tolist() == [0]
    # max_age: A's examples are older (mean age 1) than B's (just loaded, age 0) -> evict A
    assert tc.simulate_caching(cp, policy="lc", lc_order="max_age", **REACTIVE).evicted.tolist() == [0]


@pytest.mark.parametrize("backend", ["reference", "cpp"])
def test_lc_prior_ranks_victims_only(backend: str) -> None:
    """lc_prior changes LC's victim ranking, never an accuracy: no phantom examples, other policies unchanged.

    A x3 at slot 0, B and C at slot 3, memory for two. Without a prior LC keeps A (AoC 3 nu^3 = 2.19 > B's 1)
    and evicts B; with lc_prior = 5, A ranks 2.19 + 5 nu^3 = 5.83 and the fresh B 5 + 1 = 6, so A goes.
    """
    kw = {"slots": [0, 0, 0, 3, 3], "models": [0, 0, 0, 1, 2]}
    plain = _one_server([1.0, 1.0, 1.0], 2.0, **kw)
    prior = _one_server([1.0, 1.0, 1.0], 2.0, lc_prior=5.0, **kw)
    assert tc.simulate_caching(plain, policy="lc", backend=backend, **REACTIVE).evicted.tolist() == [1]
    lc = tc.simulate_caching(prior, policy="lc", backend=backend, **REACTIVE)
    assert lc.evicted.tolist() == [0]
    assert lc.aoc[3] == 5.0  # the ranking value a load starts with
    # a load is zero-shot (K = 0) and a hit sees only real examples: A's second request has one example
    assert lc.accuracy[0] == lc.accuracy[3] == lc.accuracy[4] == 0.40
    assert lc.accuracy[1] == pytest.approx(0.62 - 0.22 * math.exp(-0.25))
    for policy in ("lru", "lfu", "fifo", "belady", "random"):
        a = tc.simulate_caching(plain, policy=policy, seed=1, backend=backend, **REACTIVE)
        b = tc.simulate_caching(prior, policy=policy, seed=1, backend=backend, **REACTIVE)
        np.testing.assert_array_equal(a.request_cost, b.request_cost)
        np.testing.assert_array_equal(a.evicted, b.evicted)


@pytest.mark.parametrize("backend", ["reference", "cpp"])
def test_pure_lc_keeps_an_idle_context(backend: str) -> None:
    """The new-item problem behind LC's extra loads (docs/online.md): an established context outranks
    every newcomer, so two newcomers thrash in the space left while the idle model stays.

    A x5 at slot 0, then B, C, B, C, B, C one per slot, memory for two. LC keeps A (AoC 5 nu^t, above a
    newcomer's 1 until t = 16) and loads at every request; LRU evicts A at once and then only hits.
    """
    cp = _one_server([1.0, 1.0, 1.0], 2.0, [0] * 5 + [1, 2, 3, 4, 5, 6], [0] * 5 + [1, 2] * 3)
    lc = tc.simulate_caching(cp, policy="lc", backend=backend, **REACTIVE)
    lru = tc.simulate_caching(cp, policy="lru", backend=backend, **REACTIVE)
    assert lc.outcome.tolist()[5:] == [2] * 6 and lc.evicted.tolist() == [1, 2, 1, 2, 1]
    assert lru.outcome.tolist()[5:] == [2, 2, 0, 0, 0, 0] and lru.evicted.tolist() == [0]
    assert lc.cost > lru.cost
    # a grace period of two slots lets the newcomers in: LC then evicts A too
    assert tc.simulate_caching(cp, policy="lc", lc_grace_slots=2, backend=backend, **REACTIVE).evicted.tolist() == [0]


class _MostRecent(tc.online.Policy):
    name = "mru"

    def select_victim(self, candidates: list[int], view: tc.online.CacheView) -> int:
        return max(candidates, key=lambda v: (view.last_use(v), v))


def test_policy_object() -> None:
    cp = _one_server([1.0, 1.0, 1.0], 2.0, [0] * 4, [0, 1, 2, 0])
    res = tc.simulate_caching(cp, policy=_MostRecent(), **REACTIVE)
    assert res.evicted.tolist() == [1] and res.options["backend"] == "reference"
    with pytest.raises(tc.InstanceError, match="backend"):
        tc.simulate_caching(cp, policy=_MostRecent(), backend="cpp")


def test_lower_bound_below_every_policy() -> None:
    for seed in range(4):
        cp = random_caching(seed)
        lb = cp.lower_bound()
        for policy in POLICIES:
            res = tc.simulate_caching(cp, policy=policy, admission_horizon=10.0, seed=0)
            assert res.lower_bound == lb <= res.cost
            assert 0.0 <= res.gap <= 1.0


def test_the_evaluator_rescores_every_policy() -> None:
    """CachingProblem.evaluate replays the decisions and finds the same costs; it refuses impossible ones."""
    for seed in range(4):
        for block in (True, False):
            cp = random_caching(seed, block_sharing=block, lc_prior=float(seed % 2))
            for policy in POLICIES:
                res = tc.simulate_caching(cp, policy=policy, seed=seed, admission_horizon=20.0, bound=False)
                init = tc.online.static_placement(cp) if policy == "static" else None
                ev = cp.evaluate(res.outcome, res.served_by, res.evict_ptr, res.evicted, initial=init)
                assert ev["feasible"], (policy, ev["reason"])
                np.testing.assert_allclose(ev["request_cost"], res.request_cost, rtol=1e-12, atol=1e-12)
                assert ev["cost"] == pytest.approx(res.cost, rel=1e-12)
    cp = _one_server([1.0, 1.0, 1.0], 2.0, [0] * 3, [0, 1, 2])
    res = tc.simulate_caching(cp, policy="lru", **REACTIVE)
    ok = cp.evaluate(res.outcome, res.served_by, res.evict_ptr, res.evicted)
    assert ok["feasible"]
    no_evict = cp.evaluate(res.outcome, res.served_by, np.zeros(4, dtype=np.int64), np.zeros(0, dtype=np.int64))
    assert not no_evict["feasible"] and "fit" in no_evict["reason"]
    fake_hit = cp.evaluate(np.array([0, 2, 2]), np.array([0, 1, 2]), res.evict_ptr, res.evicted)
    assert not fake_hit["feasible"] and "not resident" in fake_hit["reason"]
