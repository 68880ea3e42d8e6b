"""PartialLoading kernels: the Numba tier returns exactly what the NumPy reference returns."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_loading_support import backbone_instance, general_instance, preorder_tree, tree_instance

import trimcore.loading as pl
from trimcore.experiments.scenarios import make_loading_instance
from trimcore.kernels import kernel, kernel_tiers

NAMES = ["loading.order_times", "loading.switch_row", "loading.switch_matrix", "loading.simulate",
         "loading.minplus", "loading.tree_dp", "loading.edf_dp", "loading.edf_runs_dp", "loading.enumerate"]
FAST = ["numba"]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", NAMES)
def test_every_kernel_has_both_tiers(name):
    assert {"numba", "reference"} <= set(kernel_tiers(name))
    assert kernel(name, "auto") is kernel(name, kernel_tiers(name)[0])


def _both(name, *args):
    ref = kernel(name, "reference")(*args)
    return ref, [kernel(name, b)(*args) for b in FAST]


def _same(ref, got):
    if isinstance(ref, tuple):
        for r, g in zip(ref, got, strict=True):
            _same(r, g)
        return
    assert np.asarray(got).dtype == np.asarray(ref).dtype
    np.testing.assert_array_equal(got, ref)


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_switch_and_order_times_identical(seed, full):
    lp = general_instance(seed, n_users=8)
    lib = lp.library
    rng = np.random.default_rng(seed)
    seq = rng.integers(0, lib.n_models, 12)
    args = (lib.indptr, lib.indices, lib.block_sizes, 3.0)
    ref, got = _both("loading.order_times", seq, int(rng.integers(-1, lib.n_models)), full, *args)
    for g in got:
        _same(ref, g)
    mat_ref, mats = _both("loading.switch_matrix", full, *args)
    for m in mats:
        _same(mat_ref, m)
    for prev in range(-1, lib.n_models):
        row_ref, rows = _both("loading.switch_row", prev, full, *args)
        for r in rows:
            _same(row_ref, r)
        _same(row_ref, mat_ref[prev])
    # the order kernel and the matrix agree exactly (one arithmetic everywhere); row -1 is the empty GPU
    prev = np.concatenate(([-1], seq[:-1]))
    _same(kernel("loading.order_times", "reference")(seq, -1, full, *args), mat_ref[prev, seq])


@SETTINGS
@given(st.integers(0, 2**32 - 1))
def test_simulate_identical(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 30))
    lam, up, t = rng.uniform(0, 2, n), rng.uniform(0, 10, n), rng.uniform(0, 1, n)
    if n:
        up[rng.random(n) < 0.1] = np.inf
    ref, got = _both("loading.simulate", lam, up, t)
    for g in got:
        _same(ref, g)


@SETTINGS
@given(st.integers(0, 2**32 - 1))
def test_minplus_identical_with_ties(seed):
    rng = np.random.default_rng(seed)

    def table():
        n = int(rng.integers(1, 12))
        steps = rng.integers(0, 4, n - 1).astype(float)      # integer steps: many exact ties
        return np.concatenate(([0.0], float(rng.integers(0, 5)) + np.cumsum(steps))) if n > 1 else np.zeros(1)

    a, b = table(), table()
    cap = float(rng.integers(0, 40))
    ref, got = _both("loading.minplus", a, b, cap)
    for g in got:
        _same(ref, g)
    out, choice = ref
    for n in range(out.size):           # against the definition, lowest minimiser on ties
        vals = [a[n - m] + b[m] for m in range(b.size) if 0 <= n - m < a.size]
        ms = [m for m in range(b.size) if 0 <= n - m < a.size]
        assert out[n] == min(vals) and choice[n] == ms[int(np.argmin(vals))]
    assert out.size == a.size + b.size - 1 or out.size == 0 or a[-1] + b[-1] > cap


@SETTINGS
@given(st.integers(0, 2**32 - 1))
def test_tree_dp_identical_and_optimal(seed):
    """The depth-first DP-PL kernel: same counts on every tier, and the optimum of its definition.

    Brute force over every count per leaf: the makespan is the cost of every node with a served
    user below it plus the leaves' prefix sums; the kernel serves the most users within ``cap``
    at the least makespan, with the fewest users from the later leaves on ties. Integer data:
    every sum is exact, so the ties are real ties.
    """
    import itertools

    cost, end, leaf_ptr, prefix, cap, n_cap, parent = preorder_tree(seed)
    ref, got = _both("loading.tree_dp", cost, end, leaf_ptr, prefix, cap, n_cap)
    for g in got:
        _same(ref, g)
    leaves = [p for p in range(cost.size) if leaf_ptr[p + 1] > leaf_ptr[p]]

    def makespan(counts):
        used = set()
        for p, m in zip(leaves, counts, strict=True):
            v = p
            while m and v >= 0 and v not in used:
                used.add(v)
                v = parent[v]
        return sum(cost[v] for v in used) + sum(prefix[leaf_ptr[p] + m] for p, m in zip(leaves, counts, strict=True))

    best = (0, 0.0)
    for counts in itertools.product(*[range(leaf_ptr[p + 1] - leaf_ptr[p]) for p in leaves]):
        ms = makespan(counts)
        if ms <= cap and (sum(counts) > best[0] or (sum(counts) == best[0] and ms < best[1])):
            best = (sum(counts), ms)
    counts = [int(ref[p]) for p in leaves]
    assert (ref[[p for p in range(cost.size) if p not in leaves]] == 0).all()
    assert (sum(counts), makespan(counts)) == best


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_edf_and_enumeration_identical(seed, per_user):
    lp = general_instance(seed, n_users=int(np.random.default_rng(seed).integers(1, 7)), common=not per_user)
    users = pl.dp.edf_order(lp, np.arange(lp.n_users))
    mat = lp.switch_matrix("reference")
    args = (lp.user_model[users], lp.infer_time[users], lp.deadline_limit[users], mat, lp.start_state(), lp.n_users)
    ref, got = _both("loading.edf_dp", *args)
    for g in got:
        _same(ref, g)
    args = (mat, lp.user_model, lp.infer_time, lp.deadline, lp.deadline_limit, lp.start_state())
    ref, got = _both("loading.enumerate", *args)
    for g in got:
        _same(ref, g)


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.booleans(), st.booleans())
def test_edf_by_runs_matches_edf_by_users(seed, per_user, ties):
    """Issue #15: DP-EDF by runs serves as many users as the per-user recurrence (its oracle),
    identically on every tier, and what it serves meets every deadline on the GPU chain."""
    rng = np.random.default_rng(seed)
    lp = general_instance(seed, n_users=int(rng.integers(1, 25)), common=not per_user)
    if ties:   # two inference times: long runs with exact ties
        lp = lp.with_options(infer_time=rng.choice([0.5, 1.0], lp.n_users))
    users = pl.dp.edf_order(lp, np.arange(lp.n_users))
    mat = lp.switch_matrix("reference")
    args = (lp.user_model[users], lp.infer_time[users], lp.deadline_limit[users], mat, lp.start_state(), lp.n_users)
    ref, got = _both("loading.edf_runs_dp", *args)
    for g in got:
        _same(ref, g)
    old = kernel("loading.edf_dp", "reference")(*args)
    assert ref.size == old.size
    for segment in (1, 2, 3):   # checkpointed back-tracking: the same users, every tier
        ref_s, got_s = _both("loading.edf_runs_dp", *args, segment)
        _same(ref, ref_s)
        for g in got_s:
            _same(ref, g)
    assert (np.diff(ref) > 0).all()
    fin, state = 0.0, lp.start_state()
    for u in users[ref]:
        fin += mat[state, lp.user_model[u]] + lp.infer_time[u]
        state = int(lp.user_model[u])
        assert fin <= lp.deadline_limit[u] * (1 + 1e-12)


ALGOS = {
    "dp": lambda p, b: pl.partialloading_dp(p, deadline="min", backend=b),
    "dp_drop": lambda p, b: pl.partialloading_dp(p, deadline="min", repair="drop", backend=b),
    "dp_merge": lambda p, b: pl.partialloading_dp(p, deadline="min", method="merge", backend=b),
    "dp_edf": lambda p, b: pl.partialloading_dp_edf(p, backend=b),
    "dp_edf_users": lambda p, b: pl.partialloading_dp_edf(p, method="users", backend=b),
    "greedy": lambda p, b: pl.partialloading_greedy(p, backend=b),
    "insert": lambda p, b: pl.partialloading_greedy(p, variant="insert", backend=b),
    "optimal": lambda p, b: pl.partialloading_optimal(p, backend=b),
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.sampled_from(["tree", "backbone", "general"]), st.booleans(),
       st.sampled_from(sorted(ALGOS)))
def test_algorithms_identical_across_tiers(seed, kind, slack, algo):
    make = {"tree": tree_instance, "backbone": backbone_instance, "general": general_instance}[kind]
    lp = make(seed, slack_bw=slack)
    if algo.startswith("dp") and algo != "dp_edf" and not lp.is_laminar:
        lp = lp.with_options(loading="full")
    ref = ALGOS[algo](lp, "reference")
    for b in FAST:
        got = ALGOS[algo](lp, b)
        np.testing.assert_array_equal(got.order, ref.order)
        np.testing.assert_array_equal(got.bandwidth, ref.bandwidth)
        assert got.served == ref.served


def test_large_dp_tiers_identical():
    lp = make_loading_instance(400, 12, 3, seed=2)
    a = pl.partialloading_dp(lp, backend="reference")
    b = pl.partialloading_dp(lp, backend="numba")
    np.testing.assert_array_equal(a.order, b.order)
    assert a.served == b.served > 100
