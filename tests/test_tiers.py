"""Every kernel x every tier it has: identical decisions, driven by the registry.

The registry is the list: a kernel added to any tier table without a case here fails
``test_every_multi_tier_kernel_has_a_case``, and every tier a kernel has (and this machine can
import) is run against the kernel's reference on random instances. Family test files hold the
deeper, adversarial checks; this file guarantees nothing is left out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import random_problem
from test_loading_support import preorder_tree

from trimcore.experiments.scenarios import make_loading_instance
from trimcore.kernels import kernel, registry

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
Case = Callable[[str, int], Any]  # (tier, seed) -> the kernel's output on that tier


def _placement(seed: int):
    rng = np.random.default_rng(seed)
    problem = random_problem(seed, int(rng.integers(1, 4)), int(rng.integers(1, 9)), int(rng.integers(1, 7)),
                             int(rng.integers(1, 9)), bool(rng.integers(2)))
    x = rng.random((problem.n_servers, problem.n_models)) < 0.5
    covered = (rng.random((problem.n_models, problem.n_users)) < 0.3).astype(np.uint8)
    return problem, x, covered


def _storage_used(tier: str, seed: int) -> Any:
    p, x, _ = _placement(seed)
    return kernel("placement.storage_used", tier)(x, p.library.bitsets, p.library.block_sizes)


def _hit_weight(tier: str, seed: int) -> Any:
    p, x, _ = _placement(seed)
    view = kernel("placement.coverage_view", tier)(p.pair_ptr, p.pair_len, p.pair_users, p.n_servers, p.n_users,
                                                   p.n_models)
    return kernel("placement.hit_weight", tier)(x, view, p.popularity_by_model)


def _greedy(tier: str, seed: int) -> Any:
    from trimcore.placement.greedy import GREEDY_RTOL, _candidates

    p, _, covered = _placement(seed)
    block_ptr, block_models = p.library.block_models
    rule = ("gain", "ratio")[seed % 2]
    return kernel("placement.greedy_placement", tier)(
        p.pair_ptr, p.pair_len, p.pair_users, p.popularity_by_model, p.library.bitsets, p.library.block_sizes,
        p.capacity, block_ptr, block_models, _candidates(p), covered, rule, bool(seed % 3), GREEDY_RTOL,
        _kept(p, seed))


def _kept(p, seed: int) -> np.ndarray:
    """A warm start: a random subset of pairs, in a random order (empty for a third of the seeds)."""
    rng = np.random.default_rng(seed + 1)
    n_pairs = p.n_servers * p.n_models
    return rng.permutation(n_pairs)[:int(rng.integers(0, n_pairs + 1)) if seed % 3 else 0].astype(np.int64)


def _gen(tier: str, seed: int) -> Any:
    """TrimCaching Gen whole: every rule, lazy or not, cold or warm (the problem's tier view)."""
    p, x, _ = _placement(seed)
    rule = ("best_of_both", "ratio", "gain")[seed % 3]
    view = kernel("placement.gen_problem", tier)(
        p.library.block_sizes, p.library.indptr, p.library.indices, p.library.bitsets, *p.library.block_models,
        p.capacity, p.popularity_by_model, p.pair_ptr, p.pair_len, p.pair_users, p.max_size)
    return kernel("placement.trimcaching_gen", tier)(view, rule, bool(seed % 2), x if seed % 5 else None)


def _spec(tier: str, seed: int) -> Any:
    """TrimCaching Spec's loop whole (atomic: independent caching), every knapsack method and a shuffled order."""
    from trimcore.placement.spec import FPTAS_HARD_LIMIT, FPTAS_TABLE_LIMIT, GRID_CELL_LIMIT

    p, _, _ = _placement(seed)
    view = kernel("placement.gen_problem", tier)(
        p.library.block_sizes, p.library.indptr, p.library.indices, p.library.bitsets, *p.library.block_models,
        p.capacity, p.popularity_by_model, p.pair_ptr, p.pair_len, p.pair_users, p.max_size)
    order = np.random.default_rng(seed).permutation(p.n_servers).astype(np.int64)
    knapsack, cells = (("auto", 4096), ("fptas", 4096), ("grid", 32))[seed % 3]
    # a small table limit for some seeds: "auto" then falls back to the rounded grid
    table_limit = 30.0 if seed % 5 == 0 else float(FPTAS_TABLE_LIMIT)
    return kernel("placement.successive_knapsack", tier)(view, (0.1, 0.3)[seed % 2], bool(seed % 4 == 1), knapsack,
                                                         cells, 4096, order, GRID_CELL_LIMIT, table_limit,
                                                         float(FPTAS_HARD_LIMIT))


def _view(p: Any, tier: str) -> Any:
    return kernel("placement.coverage_view", tier)(p.pair_ptr, p.pair_len, p.pair_users, p.n_servers, p.n_users,
                                                   p.n_models)


def _server_gains(tier: str, seed: int) -> Any:
    p, _, covered = _placement(seed)
    return kernel("placement.server_gains", tier)(seed % p.n_servers, _view(p, tier), p.popularity_by_model, covered)


def _all_server_gains(tier: str, seed: int) -> Any:
    p, _, covered = _placement(seed)
    gains = kernel("placement.all_server_gains", tier)(_view(p, tier), p.popularity_by_model, covered)
    # the one call is also the per-server calls, row by row, to the bit
    per_server = kernel("placement.server_gains", tier)
    assert np.array_equal(gains, [per_server(m, _view(p, tier), p.popularity_by_model, covered)
                                  for m in range(p.n_servers)])
    return gains


def _placed_server_gains(tier: str, seed: int) -> Any:
    """Gains around a placement: the all_server_gains of its covered requests, to the bit (dense and
    the problem's own demand arguments)."""
    p, x, _ = _placement(seed)
    gains = kernel("placement.placed_server_gains", tier)(_view(p, tier), p.demand_args, x)
    from trimcore.placement.bounds import covered_requests

    assert np.array_equal(gains, kernel("placement.all_server_gains", tier)(_view(p, tier), p.popularity_by_model,
                                                                           covered_requests(p, x)))
    return gains


def _knapsack(seed: int):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 12))
    values = rng.integers(1, 50, n).astype(np.float64)
    weights = rng.integers(1, 20, n)
    capacity = int(rng.integers(int(weights.max()), int(weights.sum()) + 1))  # the grid DP's precondition
    return values, weights, capacity


def _fptas(tier: str, seed: int) -> Any:
    values, weights, capacity = _knapsack(seed)
    return kernel("knapsack.knapsack_fptas", tier)(values, weights.astype(np.float64), float(capacity), 0.2)


def _grid(tier: str, seed: int) -> Any:
    values, weights, capacity = _knapsack(seed)
    return kernel("knapsack.knapsack_grid", tier)(values, weights.astype(np.int64), capacity)


def _sets(seed: int):
    rng = np.random.default_rng(seed)
    n_sets, n_elements = int(rng.integers(1, 10)), int(rng.integers(1, 15))
    members = [np.sort(rng.choice(n_elements, int(rng.integers(0, n_elements + 1)), replace=False))
               for _ in range(n_sets)]
    indptr = np.concatenate([[0], np.cumsum([m.size for m in members])]).astype(np.int64)
    indices = np.concatenate(members).astype(np.int32) if members else np.zeros(0, np.int32)
    return indptr, indices, rng.integers(0, 5, n_elements).astype(np.float64), rng


def _max_coverage(tier: str, seed: int) -> Any:
    indptr, indices, weights, rng = _sets(seed)
    costs = rng.integers(1, 4, indptr.size - 1).astype(np.float64)
    rule = ("gain", "ratio")[seed % 2]
    return kernel("coverage.max_coverage", tier)(indptr, indices, weights, costs, float(rng.integers(0, 6)), rule,
                                                 bool(seed % 3), 1e-12)


def _coverage_gains(tier: str, seed: int) -> Any:
    indptr, indices, weights, rng = _sets(seed)
    covered = rng.random(weights.size) < 0.4 if seed % 2 else None
    return kernel("coverage.coverage_gains", tier)(indptr, indices, weights, covered)


def _loading(seed: int):
    rng = np.random.default_rng(seed)
    lp = make_loading_instance(int(rng.integers(1, 8)), int(rng.integers(1, 6)), int(rng.integers(1, 3)), seed=seed)
    lib = lp.library
    full = bool(seed % 2)
    return lp, lib, full, rng


def _order_times(tier: str, seed: int) -> Any:
    lp, lib, full, rng = _loading(seed)
    seq = rng.integers(0, lib.n_models, int(rng.integers(0, 10)))
    return kernel("loading.order_times", tier)(seq, lp.initial_model, full, lib.indptr, lib.indices, lib.block_sizes,
                                               lp.load_rate)


def _switch_row(tier: str, seed: int) -> Any:
    lp, lib, full, rng = _loading(seed)
    prev = int(rng.integers(-1, lib.n_models))
    return kernel("loading.switch_row", tier)(prev, full, lib.indptr, lib.indices, lib.block_sizes, lp.load_rate)


def _switch_matrix(tier: str, seed: int) -> Any:
    lp, lib, full, _ = _loading(seed)
    return kernel("loading.switch_matrix", tier)(full, lib.indptr, lib.indices, lib.block_sizes, lp.load_rate)


def _simulate(tier: str, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 10))
    return kernel("loading.simulate", tier)(rng.random(n), rng.random(n) * 2, rng.random(n))


def _minplus(tier: str, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    left = np.sort(rng.integers(0, 6, int(rng.integers(1, 8)))).astype(np.float64)
    right = np.sort(rng.integers(0, 6, int(rng.integers(1, 8)))).astype(np.float64)
    return kernel("loading.minplus", tier)(left, right, float(rng.integers(2, 12)))


def _tree_dp(tier: str, seed: int) -> Any:
    cost, end, leaf_ptr, prefix, cap, n_cap, _ = preorder_tree(seed)
    return kernel("loading.tree_dp", tier)(cost, end, leaf_ptr, prefix, cap, n_cap)


def _edf_dp(tier: str, seed: int) -> Any:
    lp, _, _, _ = _loading(seed)
    users = np.flatnonzero(lp.schedulable)
    return kernel("loading.edf_dp", tier)(lp.user_model[users], lp.infer_time[users], lp.deadline_limit[users],
                                          lp.switch_matrix("reference"), lp.start_state(), int(users.size))


def _edf_runs_dp(tier: str, seed: int) -> Any:
    lp, _, _, rng = _loading(seed)
    if seed % 3 == 0:
        lp = lp.with_options(infer_time=rng.choice([0.002, 0.006], lp.n_users))
    users = np.flatnonzero(lp.schedulable)
    return kernel("loading.edf_runs_dp", tier)(lp.user_model[users], lp.infer_time[users], lp.deadline_limit[users],
                                               lp.switch_matrix("reference"), lp.start_state(), int(users.size),
                                               seed % 4)


def _enumerate(tier: str, seed: int) -> Any:
    lp, _, _, _ = _loading(seed)
    users = np.flatnonzero(lp.schedulable)[:6]
    return kernel("loading.enumerate", tier)(lp.switch_matrix("reference"), lp.user_model[users],
                                             lp.infer_time[users], lp.deadline[users], lp.deadline_limit[users],
                                             lp.start_state())


CASES: dict[str, Case] = {
    "placement.storage_used": _storage_used,
    "placement.coverage_view": _hit_weight,  # a view is opaque: judged by what hit_weight reads from it
    "placement.hit_weight": _hit_weight,
    "placement.greedy_placement": _greedy,
    "placement.gen_problem": _gen,  # opaque too: judged by what trimcaching_gen reads from it
    "placement.trimcaching_gen": _gen,
    "placement.successive_knapsack": _spec,
    "placement.server_gains": _server_gains,
    "placement.all_server_gains": _all_server_gains,
    "placement.placed_server_gains": _placed_server_gains,
    "knapsack.knapsack_fptas": _fptas,
    "knapsack.knapsack_grid": _grid,
    "coverage.max_coverage": _max_coverage,
    "coverage.coverage_gains": _coverage_gains,
    "loading.order_times": _order_times,
    "loading.switch_row": _switch_row,
    "loading.switch_matrix": _switch_matrix,
    "loading.simulate": _simulate,
    "loading.minplus": _minplus,
    "loading.tree_dp": _tree_dp,
    "loading.edf_dp": _edf_dp,
    "loading.edf_runs_dp": _edf_runs_dp,
    "loading.enumerate": _enumerate,
}

PAIRS = [(name, tier) for name, tiers in registry().items() for tier in tiers if tier != "reference"]


def test_every_multi_tier_kernel_has_a_case():
    table = registry(declared=True)
    missing = sorted(n for n, tiers in table.items() if len(tiers) > 1 and n not in CASES
                     and not n.startswith(("online.", "pulling.")))  # those families test their tiers themselves
    assert not missing, f"kernels with several tiers and no tier-agreement case: {missing}"


def _same(a: Any, b: Any) -> None:
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("name, tier", [p for p in PAIRS if p[0] in CASES], ids=lambda v: str(v))
@SETTINGS
@given(seed=st.integers(0, 2**31 - 1))
def test_tier_agrees_with_the_reference(name, tier, seed):
    case = CASES[name]
    _same(case(tier, seed), case("reference", seed))
