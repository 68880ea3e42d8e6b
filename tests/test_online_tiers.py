"""Every tier of ``online.simulate`` gives identical per-request decisions (hypothesis traces)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from online_helpers import check_invariants, random_caching

import trimcore as tc
from trimcore.kernels import kernel_tiers
from trimcore.online import POLICIES

TIERS = kernel_tiers("online.simulate")
pytestmark = pytest.mark.skipif(len(TIERS) < 2, reason="only one tier of online.simulate here")
DECISIONS = ("outcome", "served_by", "evicted", "evict_ptr", "hit")
VALUES = ("accuracy", "latency", "aoc", "loaded_bytes", "memory_used", "request_cost", "request_costs")


@st.composite
def cases(draw: st.DrawFn) -> tuple[tc.CachingProblem, dict[str, object]]:
    seed = draw(st.integers(0, 2**31))
    cp = random_caching(
        seed, n_servers=draw(st.integers(1, 3)), n_models=draw(st.integers(1, 7)), n_blocks=draw(st.integers(1, 9)),
        n_tasks=draw(st.integers(1, 3)), n_requests=draw(st.integers(0, 90)), n_slots=draw(st.integers(1, 25)),
        block_sharing=draw(st.booleans()), nu=draw(st.sampled_from([0.0, 0.5, 0.9, 1.0])),
        window=draw(st.integers(0, 6)), lc_prior=draw(st.sampled_from([0.0, 1.5])),
        persist_context_on_evict=draw(st.booleans()), accuracy_curve=draw(st.sampled_from(["exp", "log"])),
        prune_eps=draw(st.sampled_from([0.0, 1e-3, 0.3])), w_energy=draw(st.sampled_from([0.0, 1e-3])))
    flags = dict(greedy_admission=draw(st.booleans()), allow_substitution=draw(st.booleans()),
                 lc_grace_slots=draw(st.integers(0, 2)), lc_order=draw(st.sampled_from(["min_value", "max_age"])),
                 lfu_reset_on_evict=draw(st.booleans()), pin_models_used_this_slot=draw(st.booleans()),
                 admission_horizon=draw(st.sampled_from([1.0, 30.0])), seed=draw(st.integers(0, 1000)),
                 make_room=draw(st.sampled_from(["frees_first", "policy_order"])))
    return cp, flags


def assert_decisions_mode_agrees(full: tc.CachingResult, dec: tc.CachingResult) -> None:
    """``outputs="decisions"`` makes the same decisions and the same cost as ``"all"`` (sums to 1e-12)."""
    for name in DECISIONS:
        assert np.array_equal(getattr(dec, name), getattr(full, name)), name
    for name in VALUES:
        assert getattr(dec, name) is None, name
    assert dec.options["outputs"] == "decisions" and full.options["outputs"] == "all"
    assert dec.feasible == full.feasible
    tol = 1e-12 * max(1, full.n_requests)
    assert abs(dec.cost - full.cost) <= tol * max(1.0, abs(full.cost))
    for k, v in full.components.items():
        assert abs(dec.components[k] - v) <= tol * max(1.0, abs(full.cost)), k
    assert abs(dec.mean_accuracy - full.mean_accuracy) <= tol
    assert abs(dec.mean_latency - full.mean_latency) <= tol * max(1.0, full.mean_latency)
    assert abs(dec.loaded_gb - full.loaded_gb) <= tol * max(1.0, full.loaded_gb)
    assert dec.summary().keys() == full.summary().keys()


@settings(max_examples=320, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(), st.sampled_from(POLICIES))
def test_tiers_identical(case: tuple[tc.CachingProblem, dict[str, object]], dec_policy: str) -> None:
    cp, flags = case
    for b in TIERS:  # outputs="decisions" on one policy per trace, every tier
        full = tc.simulate_caching(cp, policy=dec_policy, backend=b, bound=False, **flags)  # type: ignore[arg-type]
        dec = tc.simulate_caching(cp, policy=dec_policy, backend=b, bound=False, outputs="decisions",
                                  **flags)  # type: ignore[arg-type]
        assert_decisions_mode_agrees(full, dec)
    for policy in POLICIES:  # every policy on every one of the >= 300 traces
        runs = [tc.simulate_caching(cp, policy=policy, backend=b, bound=False, **flags) for b in TIERS]  # type: ignore[arg-type]
        ref = runs[TIERS.index("reference")]
        for other in runs:
            for name in DECISIONS:
                assert np.array_equal(getattr(other, name), getattr(ref, name)), (policy, name)
            for name in VALUES:
                np.testing.assert_allclose(getattr(other, name), getattr(ref, name), rtol=1e-9, atol=1e-12)
            assert abs(other.cost - ref.cost) <= 1e-9 * max(1.0, abs(ref.cost))


@pytest.mark.parametrize("backend", TIERS)
def test_invariants_on_every_tier(backend: str) -> None:
    for seed in range(4):
        for block in (True, False):
            cp = random_caching(100 + seed, block_sharing=block)
            for policy in POLICIES:
                for rule in ("frees_first", "policy_order"):
                    res = tc.simulate_caching(cp, policy=policy, backend=backend, seed=seed, admission_horizon=20.0,
                                              make_room=rule)
                    check_invariants(cp, res, policy)


@pytest.mark.parametrize("backend", TIERS)
def test_outputs_decisions_every_policy(backend: str) -> None:
    for seed in range(3):
        for block in (True, False):
            cp = random_caching(200 + seed, block_sharing=block)
            for policy in POLICIES:
                kw = dict(policy=policy, backend=backend, seed=seed, admission_horizon=20.0)
                full = tc.simulate_caching(cp, **kw)  # type: ignore[arg-type]
                dec = tc.simulate_caching(cp, outputs="decisions", **kw)  # type: ignore[arg-type]
                assert_decisions_mode_agrees(full, dec)
    with pytest.raises(tc.InstanceError, match="outputs"):
        tc.simulate_caching(cp, policy="lru", backend=backend, outputs="none")


def test_outputs_decisions_empty_trace_and_save(tmp_path: Path) -> None:
    cp = random_caching(5, n_requests=0)
    dec = tc.simulate_caching(cp, policy="lru", outputs="decisions")
    assert dec.n_requests == 0 and dec.cost == 0.0 and dec.mean_accuracy == 0.0 and dec.feasible
    cp = random_caching(6)
    dec = tc.simulate_caching(cp, policy="lc", outputs="decisions", admission_horizon=20.0)
    back = tc.CachingResult.load(dec.save(tmp_path / "dec"))
    assert back.accuracy is None and back.cost == dec.cost and back.totals == dec.totals
    assert np.array_equal(back.evicted, dec.evicted)


def test_native_core_validates_its_inputs() -> None:
    """The C++ core refuses malformed inputs with InstanceError (no crash), even past the Python checks."""
    from trimcore.kernels.online.native import online_simulate

    cp = random_caching(1)
    flags = dict(greedy_admission=True, allow_substitution=True, lc_grace_slots=0, lc_order="min_value",
                 lfu_reset_on_evict=True, pin_models_used_this_slot=False, task_ewma=0.1, admission_horizon=1.0,
                 make_room="frees_first", rng_seed=1)
    good = cp.kernel_inputs()
    for key, value in (("server", good["server"] + 5), ("model", -good["model"] - 1),
                       ("task", good["task"] + 99), ("slot", good["slot"][::-1].copy()),
                       ("blk_idx", good["blk_idx"] + 1000), ("blk_size", -good["blk_size"]),
                       ("cap", np.full_like(good["cap"], np.nan)), ("tok_in", good["tok_in"] * -1.0),
                       ("nu_pow", good["nu_pow"][:1].copy()), ("window", good["window"][:1].copy()),
                       ("model_size", good["model_size"].astype(np.float32)),
                       ("initial", np.ones((1, 1), dtype=np.uint8)), ("next_use", good["next_use"][:3].copy())):
        bad = {**good, key: value}
        with pytest.raises(tc.InstanceError):
            online_simulate(bad, "lru", flags)
    with pytest.raises(tc.InstanceError, match="admission_horizon"):
        online_simulate(good, "lru", {**flags, "admission_horizon": 0.0})
    with pytest.raises(tc.InstanceError, match="policy"):
        online_simulate(good, "nope", flags)
    with pytest.raises(tc.InstanceError, match="make_room"):
        online_simulate(good, "lru", {**flags, "make_room": "fastest"})
    with pytest.raises(tc.InstanceError, match="outputs"):
        online_simulate(good, "lru", {**flags, "outputs": "some"})


@pytest.mark.parametrize("lc_prior", [0.0, 1.5])
def test_lc_equal_aoc_ties_every_tier(lc_prior: float) -> None:
    """LC among resident models of equal AoC (one example each from the same slot, or only the prior):
    the tie-breaks (last use, larger size, id) decide on every tier. Many requests per slot and a
    window of one make such ties common; the C++ heap of approximate keys must resolve them exactly."""
    victims = 0
    for seed in range(30):
        cp = random_caching(300 + seed, n_servers=2, n_models=12, n_blocks=12, n_tasks=2, n_requests=150, n_slots=6,
                            block_sharing=False, nu=0.9, window=1, lc_prior=lc_prior)
        runs = [tc.simulate_caching(cp, policy="lc", backend=b, bound=False, greedy_admission=True,
                                    allow_substitution=False) for b in TIERS]  # type: ignore[arg-type]
        ref = runs[TIERS.index("reference")]
        victims += ref.evicted.size
        for other in runs:
            for name in DECISIONS:
                assert np.array_equal(getattr(other, name), getattr(ref, name)), (seed, name)
    assert victims > 300  # the victim choice is exercised (a build that ignores the ties fails here)
