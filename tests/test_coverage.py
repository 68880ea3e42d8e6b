"""max_coverage: tiers and lazy/plain identical; guarantees against brute force; validation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trimcore as tc
from trimcore.coverage import coverage_value

FAST = [b for b in ("cpp",) if b in tc.available_backends()]


def random_sets(seed: int, n_sets: int, n_elements: int, max_size: int):
    rng = np.random.default_rng(seed)
    rows = [np.sort(rng.choice(n_elements, size=int(rng.integers(0, min(max_size, n_elements) + 1)),
                               replace=False)) for _ in range(n_sets)]
    indptr = np.concatenate([[0], np.cumsum([r.size for r in rows])])
    indices = np.concatenate(rows) if rows else np.zeros(0, int)
    weights = rng.choice([0.5, 1.0, 2.0], n_elements) if rng.random() < 0.3 else rng.uniform(0, 3, n_elements)
    costs = rng.choice([1.0, 2.0], n_sets) if rng.random() < 0.3 else rng.uniform(0.1, 3, n_sets)
    return indptr, indices.astype(np.int64), weights, costs


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 25), st.integers(1, 30), st.integers(1, 8), st.integers(0, 6),
       st.booleans())
def test_tiers_and_lazy_select_identically(seed, n_sets, n_elements, max_size, k, with_costs):
    indptr, indices, weights, costs = random_sets(seed, n_sets, n_elements, max_size)
    kwargs = {"costs": costs, "budget": float(k)} if with_costs else {"budget": k}
    ref = tc.max_coverage(indptr, indices, weights=weights, backend="reference", **kwargs)
    for backend in FAST:
        for lazy in (True, False):
            got = tc.max_coverage(indptr, indices, weights=weights, lazy=lazy, backend=backend, **kwargs)
            assert got.selected.tolist() == ref.selected.tolist()
            assert got.value == pytest.approx(ref.value, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 9), st.integers(1, 12), st.integers(1, 4), st.integers(0, 4),
       st.booleans())
def test_guarantees_and_bound_against_brute_force(seed, n_sets, n_elements, max_size, k, with_costs):
    indptr, indices, weights, costs = random_sets(seed, n_sets, n_elements, max_size)
    if not with_costs:
        costs = np.ones(n_sets)
    budget = float(k)
    best = 0.0
    for r in range(n_sets + 1):
        for subset in itertools.combinations(range(n_sets), r):
            if costs[list(subset)].sum() <= budget:
                best = max(best, coverage_value(indptr, indices, weights, subset))
    res = tc.max_coverage(indptr, indices, budget=budget if with_costs else k, weights=weights,
                          costs=costs if with_costs else None)
    assert costs[res.selected].sum() <= budget * (1 + 1e-9)
    factor = (1 - 1 / np.e) / 2 if with_costs else 1 - 1 / np.e
    assert res.value >= factor * best - 1e-9
    assert res.upper_bound >= best - 1e-9
    assert res.value == pytest.approx(coverage_value(indptr, indices, weights, res.selected))


def test_unit_weights_and_cardinality_defaults():
    # sets {0,1,2}, {2,3}, {3,4}: greedy with k=2 takes set 0 then set 2 (covers 5)
    res = tc.max_coverage([0, 3, 5, 7], [0, 1, 2, 2, 3, 3, 4], budget=2)
    assert res.selected.tolist() == [0, 2]
    assert res.value == 5.0
    assert res.upper_bound >= 5.0


def test_best_single_set_wins_when_ratio_greedy_is_fooled():
    # cheap small set has the best ratio but blocks the big one (Khuller-Moss-Naor case)
    res = tc.max_coverage([0, 1, 11], [0, *range(1, 11)], budget=10.0, costs=[0.1, 10.0])
    assert res.selected.tolist() == [1]
    assert res.value == 10.0
    assert res.options["kept"] == "best_single"


@pytest.mark.parametrize("args, field", [
    (dict(indptr=[0, 2, 1], indices=[0, 1]), "indptr"),
    (dict(indptr=[1, 2], indices=[0, 1]), "indptr"),
    (dict(indptr=[0, 2], indices=[0, -1]), "indices"),
    (dict(indptr=[0, 2], indices=[0, 0]), "indices"),
    (dict(indptr=[0, 2], indices=[0.5, 1]), "indices"),
    (dict(indptr=[0, 2], indices=[0, 1], weights=[1.0, -1.0]), "weights"),
    (dict(indptr=[0, 2], indices=[0, 1], weights=[1.0, 1.0, 1.0], n_elements=2), "weights"),
    (dict(indptr=[0, 2], indices=[0, 1], weights=[1.0, np.nan]), "weights"),
    (dict(indptr=[0, 2], indices=[0, 1], costs=[-1.0]), "costs"),
    (dict(indptr=[0, 2], indices=[0, 1], costs=[1.0, 1.0]), "costs"),
    (dict(indptr=[0, 2], indices=[0, 5], n_elements=3), "indices"),
])
def test_invalid_input(args, field):
    with pytest.raises(tc.InstanceError, match=field):
        tc.max_coverage(budget=1, **args)
    with pytest.raises(tc.InstanceError):
        tc.max_coverage([0, 1], [0], budget=-1)
    with pytest.raises(tc.InstanceError, match="budget"):
        tc.max_coverage([0, 1], [0], budget=1.5)


def test_binding_refuses_repeats_and_bad_offsets():
    from trimcore import _core

    with pytest.raises(tc.InstanceError, match="twice"):
        _core.max_coverage(np.array([0, 2], np.int64), np.array([1, 1], np.int32), np.ones(2), np.ones(1), 1.0,
                           "gain", True, 0.0)
    with pytest.raises(tc.InstanceError, match="indptr"):
        _core.max_coverage(np.array([0, 3], np.int64), np.array([1, 0], np.int32), np.ones(2), np.ones(1), 1.0,
                           "gain", True, 0.0)


# ------------------------------------------------------------------------------ adversarial
# The native kernel keeps gains up to date incrementally and buckets sets by floating-point
# keys; these instances aim at its ties, rounding and key ranges. Every tier and both native
# variants must choose exactly what the plain NumPy greedy chooses.
def adversarial_sets(seed: int, n_sets: int, n_elements: int, max_size: int, weight_kind: str, cost_kind: str,
                     duplicate: bool):
    rng = np.random.default_rng(seed)
    rows = [np.sort(rng.choice(n_elements, size=int(rng.integers(0, min(max_size, n_elements) + 1)),
                               replace=False)) for _ in range(n_sets)]
    if duplicate and n_sets > 1:  # identical sets: ties broken by id
        for _ in range(max(1, n_sets // 3)):
            rows[int(rng.integers(n_sets))] = rows[int(rng.integers(n_sets))].copy()
    indptr = np.concatenate([[0], np.cumsum([r.size for r in rows])])
    indices = np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, np.int64)
    weights = {
        "unit": np.ones(n_elements),
        "few_values": rng.choice([0.1, 0.2, 0.3], n_elements),  # sums that round differently
        "tiny": rng.choice([1e-300, 3e-300, 5e-324, 1e-310], n_elements),
        "mixed_scale": rng.choice([1e-300, 1e-12, 1.0, 1e12, 0.0], n_elements) * rng.uniform(1, 2, n_elements),
        "zeros": rng.choice([0.0, 0.0, 1.0, 2.0], n_elements),
        "huge": rng.choice([1e307, 1e308, 1.0], n_elements),  # sums overflow to inf
    }[weight_kind]
    costs = {
        "cardinality": None,
        "unit": np.ones(n_sets),
        "zero_some": np.where(rng.random(n_sets) < 0.3, 0.0, rng.choice([1.0, 2.0, 3.0], n_sets)),
        "tiny": rng.choice([1e-300, 1.0, 1e-20], n_sets),  # ratios that overflow to inf
        "mixed": rng.uniform(0.0, 4.0, n_sets) * rng.choice([1e-6, 1.0, 1e6], n_sets),
    }[cost_kind]
    return indptr, indices, weights, costs


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 30), st.integers(1, 25), st.integers(1, 10), st.integers(0, 12),
       st.sampled_from(["unit", "few_values", "tiny", "mixed_scale", "zeros", "huge"]),
       st.sampled_from(["cardinality", "unit", "zero_some", "tiny", "mixed"]), st.booleans(),
       st.sampled_from([0.0, 0.5, 0.9]))
def test_adversarial_instances_select_like_numpy(seed, n_sets, n_elements, max_size, k, weight_kind, cost_kind,
                                                 duplicate, cut):
    from trimcore.kernels.coverage import reference

    indptr, indices, weights, costs = adversarial_sets(seed, n_sets, n_elements, max_size, weight_kind, cost_kind,
                                                       duplicate)
    if costs is None:
        costs, rule, budget = np.ones(n_sets), "gain", float(k)
    else:  # a budget that runs out part way (cut > 0), or a plain number
        rule = "ratio"
        budget = float(np.quantile(costs, cut) * k) if cut else float(k)
    ptr, idx = indptr.astype(np.int64), indices.astype(np.int32)
    with np.errstate(over="ignore", invalid="ignore"):
        want = reference.max_coverage(ptr, idx, weights, costs, budget, rule, True, 1e-12).tolist()
    for backend in FAST:
        from trimcore.kernels import kernel

        for lazy in (True, False):
            got = kernel("coverage.max_coverage", backend)(ptr, idx, weights, costs, budget, rule, lazy, 1e-12)
            assert got.tolist() == want, (backend, lazy)


@pytest.mark.parametrize("weight_kind", ["unit", "zipf"])
@pytest.mark.parametrize("with_costs", [False, True])
def test_medium_instance_lazy_equals_plain(weight_kind, with_costs):
    # large enough for many bucket moves, lazy rescans and deep sweeps of the native kernel
    rng = np.random.default_rng(7)
    n_sets, n_elements, k = 3000, 400, 150
    w = np.ones(n_elements) if weight_kind == "unit" else 1.0 / np.arange(1, n_elements + 1) ** 0.8
    sizes = rng.integers(1, 25, n_sets)
    rows = [np.unique(rng.choice(n_elements, size=s, p=w / w.sum())) for s in sizes]
    indptr = np.concatenate([[0], np.cumsum([r.size for r in rows])])
    indices = np.concatenate(rows)
    kwargs = {"costs": rng.uniform(0.5, 2.0, n_sets), "budget": float(k)} if with_costs else {"budget": k}
    lazy = tc.max_coverage(indptr, indices, weights=w, lazy=True, **kwargs)
    plain = tc.max_coverage(indptr, indices, weights=w, lazy=False, **kwargs)
    assert lazy.selected.tolist() == plain.selected.tolist()
    assert lazy.value == plain.value
    assert lazy.value <= lazy.upper_bound <= w.sum() * (1 + 1e-12)


def test_reference_matches_native_on_a_larger_instance():
    rng = np.random.default_rng(11)
    n_sets, n_elements, k = 400, 120, 40
    w = rng.zipf(1.6, n_elements).astype(float)
    rows = [np.unique(rng.integers(0, n_elements, int(rng.integers(1, 15)))) for _ in range(n_sets)]
    indptr = np.concatenate([[0], np.cumsum([r.size for r in rows])])
    indices = np.concatenate(rows)
    ref = tc.max_coverage(indptr, indices, k, weights=w, backend="reference")
    for backend in FAST:
        assert tc.max_coverage(indptr, indices, k, weights=w, backend=backend).selected.tolist() == \
            ref.selected.tolist()


def test_edge_cases():
    # no sets, empty sets, budget 0, everything free
    assert tc.max_coverage([0], [], budget=3, n_elements=0).selected.tolist() == []
    assert tc.max_coverage([0, 0, 0], [], budget=3, n_elements=2).selected.tolist() == []
    assert tc.max_coverage([0, 2, 3], [0, 1, 2], budget=0).selected.tolist() == []
    res = tc.max_coverage([0, 2, 3, 4], [0, 1, 2, 0], budget=0.0, costs=[0.0, 0.0, 0.0])
    assert res.selected.tolist() == [0, 1]  # zero cost sets always fit; set 2 adds nothing
    assert res.value == 3.0


def test_binding_refuses_out_of_range_ids_in_both_variants():
    from trimcore import _core

    for lazy in (True, False):
        with pytest.raises(tc.InstanceError, match="indices"):
            _core.max_coverage(np.array([0, 2], np.int64), np.array([0, 5], np.int32), np.ones(3), np.ones(1), 1.0,
                               "gain", lazy, 0.0)
        with pytest.raises(tc.InstanceError, match="twice"):
            _core.max_coverage(np.array([0, 1, 3], np.int64), np.array([0, 2, 2], np.int32), np.ones(3),
                               np.ones(2), 1.0, "gain", lazy, 0.0)
    with pytest.raises(tc.InstanceError, match="indices"):
        tc.max_coverage([0, 2], [1, 1], budget=1, backend="reference")


# ------------------------------------------------------------------------------ threads, order, gains
def zipf_instance(n_sets: int, n_elements: int, seed: int, shuffle_rows: bool = False):
    rng = np.random.default_rng(seed)
    w = 1.0 / np.arange(1, n_elements + 1) ** 0.8
    rng.shuffle(w)
    rows = [np.unique(rng.choice(n_elements, size=int(s), p=w / w.sum())) for s in rng.integers(5, 40, n_sets)]
    if shuffle_rows:
        rows = [rng.permutation(r) for r in rows]
    indptr = np.concatenate([[0], np.cumsum([r.size for r in rows])]).astype(np.int64)
    return indptr, np.concatenate(rows).astype(np.int32), w


@pytest.mark.parametrize("with_costs", [False, True])
def test_threads_do_not_change_the_selection(with_costs):
    # more than 2^18 entries, so that the native first pass and index build do split over threads
    from trimcore.kernels import kernel

    indptr, indices, w = zipf_instance(16000, 3000, seed=3)
    assert indices.size > 2**18
    costs = np.random.default_rng(4).uniform(0.5, 1.5, indptr.size - 1) if with_costs else np.ones(indptr.size - 1)
    rule = "ratio" if with_costs else "gain"
    native = kernel("coverage.max_coverage", "cpp")
    runs = {t: native(indptr, indices, w, costs, 60.0, rule, True, 1e-12, t).tolist() for t in (1, 2, 3, 8)}
    plain = native(indptr, indices, w, costs, 60.0, rule, False, 1e-12, 1).tolist()
    assert len(plain) >= 50
    assert all(run == plain for run in runs.values())
    covered = np.zeros(w.size, bool)
    covered[indices[indptr[plain[0]]:indptr[plain[0] + 1]]] = True
    gains = kernel("coverage.coverage_gains", "cpp")
    one = gains(indptr, indices, w, covered, 1)
    assert gains(indptr, indices, w, covered, 2).tolist() == one.tolist()
    assert one.tolist() == kernel("coverage.coverage_gains", "reference")(indptr, indices, w, covered).tolist()


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 40), st.integers(2, 30), st.integers(0, 8), st.booleans())
def test_unsorted_sets_select_like_numpy(seed, n_sets, n_elements, k, with_costs):
    # ids in any order inside a set: the native tier re-checks such sets for repeats exactly
    from trimcore.kernels import kernel
    from trimcore.kernels.coverage import reference

    rng = np.random.default_rng(seed)
    rows = [rng.permutation(rng.choice(n_elements, size=int(rng.integers(0, n_elements + 1)), replace=False))
            for _ in range(n_sets)]
    ptr = np.concatenate([[0], np.cumsum([r.size for r in rows])]).astype(np.int64)
    idx = np.concatenate(rows).astype(np.int32)
    w = rng.choice([0.1, 0.2, 0.3, 1.0], n_elements)
    costs = rng.uniform(0.2, 2.0, n_sets) if with_costs else np.ones(n_sets)
    rule = "ratio" if with_costs else "gain"
    want = reference.max_coverage(ptr, idx, w, costs, float(k), rule, True, 1e-12).tolist()
    for backend in FAST:
        got = kernel("coverage.max_coverage", backend)(ptr, idx, w, costs, float(k), rule, True, 1e-12, 2)
        assert got.tolist() == want


@pytest.mark.parametrize("rows, message", [
    ([[3, 1, 1, 9]], "twice"),            # the repeat comes first in entry order
    ([[3, 9, 1, 1]], "expected ids"),     # the id out of range comes first
    ([[0, 1], [9], [2, 2]], "expected ids"),
    ([[0, 1], [2, 2], [9]], "twice"),
])
def test_the_first_defect_in_entry_order_is_reported(rows, message):
    from trimcore import _core

    ptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
    idx = np.array([e for r in rows for e in r], np.int32)
    with pytest.raises(tc.InstanceError, match=message):
        _core.max_coverage(ptr, idx, np.ones(5), np.ones(len(rows)), 1.0, "gain", True, 0.0, 1)


@pytest.mark.parametrize("where", ["first_half", "second_half", "both"])
def test_defects_found_by_any_thread_are_reported_first_in_order(where):
    from trimcore import _core

    indptr, indices, w = zipf_instance(16000, 3000, seed=5)
    indices = indices.copy()
    early, late = indptr[100], indptr[15000]
    if where in ("first_half", "both"):
        indices[early + 1] = indices[early]   # a repeat inside set 100 (rows are sorted)
    if where in ("second_half", "both"):
        indices[late] = 3000                  # out of range in set 15000
    message = "set 100 lists an element twice" if where != "second_half" else "got 3000"
    for threads in (1, 2, 4):
        with pytest.raises(tc.InstanceError, match=message):
            _core.max_coverage(indptr, indices, w, np.ones(indptr.size - 1), 10.0, "gain", True, 0.0, threads)


def test_threads_argument_is_checked():
    with pytest.raises(tc.InstanceError, match="threads"):
        tc.max_coverage([0, 1], [0], budget=1, threads=0)
    from trimcore import _core

    with pytest.raises(tc.InstanceError, match="threads"):
        _core.max_coverage(np.array([0, 1], np.int64), np.array([0], np.int32), np.ones(1), np.ones(1), 1.0, "gain",
                           True, 0.0, 0)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 30), st.integers(1, 25), st.integers(0, 12), st.booleans(),
       st.sampled_from(["uniform", "few_values", "tiny", "zeros"]))
def test_coverage_gains_tiers_are_identical(seed, n_sets, n_elements, max_size, with_covered, weight_kind):
    from trimcore._numeric import sequential_sum
    from trimcore.kernels import kernel

    rng = np.random.default_rng(seed)
    sizes = rng.integers(0, max_size + 1, n_sets)
    ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    idx = rng.integers(0, n_elements, int(ptr[-1])).astype(np.int32)  # repeats allowed: a plain pass
    w = {"uniform": rng.uniform(0, 3, n_elements), "few_values": rng.choice([0.1, 0.2, 0.3], n_elements),
         "tiny": rng.choice([1e-300, 5e-324, 1.0], n_elements),
         "zeros": rng.choice([0.0, 1.0], n_elements)}[weight_kind]
    covered = rng.random(n_elements) < 0.4 if with_covered else None
    mask = np.zeros(n_elements, bool) if covered is None else covered
    want = [sequential_sum(w[idx[ptr[s]:ptr[s + 1]]] * ~mask[idx[ptr[s]:ptr[s + 1]]]) for s in range(n_sets)]
    for backend in ("reference", *FAST):
        got = kernel("coverage.coverage_gains", backend)(ptr, idx, w, covered)
        assert got.tolist() == want, backend


def test_coverage_gains_binding_checks_its_input():
    from trimcore import _core

    ptr, idx, w = np.array([0, 2], np.int64), np.array([0, 1], np.int32), np.ones(2)
    with pytest.raises(tc.InstanceError, match="indices"):
        _core.coverage_gains(ptr, np.array([0, 2], np.int32), w)
    with pytest.raises(tc.InstanceError, match="covered"):
        _core.coverage_gains(ptr, idx, w, np.zeros(3, bool))
    with pytest.raises(tc.InstanceError, match="covered"):
        _core.coverage_gains(ptr, idx, w, np.zeros(2, np.int64))
    with pytest.raises(tc.InstanceError, match="indptr"):
        _core.coverage_gains(np.array([0, 3], np.int64), idx, w)
    assert _core.coverage_gains(ptr, idx, w, np.array([True, False])).tolist() == [1.0]


def test_result_follows_the_protocol(tmp_path):
    from trimcore.result import Result

    res = tc.max_coverage([0, 2, 3, 5], [0, 1, 1, 2, 3], 2)
    assert isinstance(res, Result) and res.algorithm == "max_coverage"
    assert res.options["backend"] in ("cpp", "reference") and res.feasible and res.status == "feasible"
    assert res.value == res.objective == 4.0 and res.bound_method == "online"
    assert "selected=int64[2]" in repr(res)
    back = tc.CoverageResult.load(res.save(tmp_path / "c"))
    np.testing.assert_array_equal(back.selected, res.selected)
    assert back.summary() == res.summary()
