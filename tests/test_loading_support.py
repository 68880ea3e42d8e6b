"""Support for the PartialLoading tests: seeded instance generators and an independent simulator.

The simulator below shares no code with ``trimcore.loading``: loading times from Python sets of
block ids, the Shannon rate written out with ``math.log2``, the GPU timeline of spec eqs. 6-7.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from trimcore.loading import LoadingProblem

RTOL = 1e-9


# ---------------------------------------------------------------------------------------- generators
def _radio(rng: np.random.Generator, k: int, slack_bw: bool) -> tuple[np.ndarray, np.ndarray, float]:
    """Input bits, alpha and B: ample bandwidth (uploads never bind) or a binding budget."""
    if slack_bw:
        s = np.where(rng.random(k) < 0.5, 0.0, rng.uniform(0.0, 10.0, k))
        return s, np.full(k, 1e12), 1e12
    s = rng.uniform(2e5, 2e6, k)          # calibrated: the budget binds for about a quarter of GPU-feasible orders
    alpha = rng.uniform(1e6, 1e8, k)
    return s, alpha, float(rng.uniform(2e4, 6e5))


def tree_instance(seed: int, *, n_users: int | None = None, common: bool = True, slack_bw: bool = True,
                  initial: bool = True, loading: str = "partial") -> LoadingProblem:
    """Random laminar (tree) sharing: every model is a root-to-node path of a random forest.

    Models may share all their blocks (identical models) or sit at inner nodes of the tree.
    """
    rng = np.random.default_rng(seed)
    n_nodes = int(rng.integers(2, 9))
    parent = [-1] + [int(rng.integers(-1, v)) if rng.random() < 0.8 else -1 for v in range(1, n_nodes)]
    sizes = rng.uniform(0.5, 5.0, n_nodes).round(3)

    def path(v: int) -> list[int]:
        out = []
        while v >= 0:
            out.append(v)
            v = parent[v]
        return sorted(out)

    n_models = int(rng.integers(1, 6))
    blocks = [path(int(rng.integers(0, n_nodes))) for _ in range(n_models)]
    return _users(rng, sizes, blocks, n_users, common, slack_bw, initial, loading, load_rate=1.0)


def backbone_instance(seed: int, *, n_users: int | None = None, common: bool = True, slack_bw: bool = True,
                      initial: bool = True) -> LoadingProblem:
    """Backbone sharing (spec eq. 2): clusters of models = one backbone block + one private block each."""
    rng = np.random.default_rng(seed)
    sizes: list[float] = []
    blocks: list[list[int]] = []
    for _ in range(int(rng.integers(1, 4))):
        sizes.append(float(rng.uniform(1.0, 8.0)))
        bb = len(sizes) - 1
        for _ in range(int(rng.integers(1, 4))):
            sizes.append(float(rng.uniform(0.2, 3.0)))
            blocks.append([bb, len(sizes) - 1])
    return _users(rng, np.array(sizes), blocks, n_users, common, slack_bw, initial, "partial", load_rate=1.0)


def general_instance(seed: int, *, n_users: int | None = None, common: bool = False,
                     slack_bw: bool = False, initial: bool = True) -> LoadingProblem:
    """Arbitrary (non-laminar) sharing from :func:`trimcore.instance.zoo.random_library`."""
    from trimcore.instance.zoo import random_library

    rng = np.random.default_rng(seed)
    n_blocks = int(rng.integers(2, 9))
    lib = random_library(int(rng.integers(1, 6)), n_blocks, min(n_blocks, 4), seed=rng, size_range=(0.5, 5.0))
    blocks = [lib.blocks_of(i).tolist() for i in range(lib.n_models)]
    return _users(rng, lib.block_sizes, blocks, n_users, common, slack_bw, initial, "partial", load_rate=1.0)


def _users(rng, sizes, blocks, n_users, common, slack_bw, initial, loading, load_rate) -> LoadingProblem:
    k = int(rng.integers(1, 7)) if n_users is None else n_users
    n_models = len(blocks)
    user_model = rng.integers(0, n_models, k)
    t = rng.uniform(0.1, 2.0, k).round(2)
    if common:
        deadline = float(rng.uniform(2.0, 20.0))
    else:
        deadline = rng.uniform(2.0, 20.0, k)
    s, alpha, b = _radio(rng, k, slack_bw)
    i0 = int(rng.integers(-1, n_models)) if initial else -1
    memory = float(np.max([sizes[bl].sum() for bl in blocks])) * (1.0 if rng.random() < 0.8 else 0.8)
    return LoadingProblem.from_arrays(sizes, blocks, user_model, t, deadline, s, alpha, b, load_rate, memory, i0,
                                      loading=loading)


def preorder_tree(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, int, list[int]]:
    """Arguments of ``loading.tree_dp`` for a random tree in preorder with integer costs (exact ties).

    Returns ``(cost, end, leaf_ptr, prefix, cap, n_cap, parent)``: node ``p``'s parent is
    ``parent[p] < p``; nodes without children are leaves with 0-3 users of integer inference times.
    """
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 8))
    parent = [-1]
    for p in range(1, n):   # a parent on the path of the previous node keeps the preorder
        chain = [p - 1]
        while parent[chain[-1]] >= 0:
            chain.append(parent[chain[-1]])
        parent.append(int(rng.choice(chain)))
    children = [[c for c in range(n) if parent[c] == p] for p in range(n)]
    end = np.arange(1, n + 1, dtype=np.int64)
    for p in range(n - 1, -1, -1):
        if children[p]:
            end[p] = end[children[p][-1]]
    cost = rng.integers(0, 4, n).astype(np.float64)
    tables = []
    for p in range(n):
        if children[p]:
            tables.append(np.zeros(0))
            cost[p] = cost[p] if p else 0.0
        else:
            cost[p] = 0.0
            t = np.sort(rng.integers(0, 3, int(rng.integers(0, 4)))).astype(np.float64)
            tables.append(np.concatenate(([0.0], np.cumsum(t))))
    leaf_ptr = np.concatenate(([0], np.cumsum([t.size for t in tables]))).astype(np.int64)
    prefix = np.concatenate(tables)
    n_users = int(sum(max(t.size - 1, 0) for t in tables))
    return cost, end, leaf_ptr, prefix, float(rng.integers(0, 12)), n_users, parent


# ---------------------------------------------------------------------------------------- simulator
def shannon(b: float, alpha: float) -> float:
    """``b log2(1 + alpha / b)``, 0 at b = 0."""
    return 0.0 if b <= 0.0 else b * math.log2(1.0 + alpha / b)


def simulate(problem: LoadingProblem, order, bandwidth, *, strict: bool = False) -> tuple[bool, list[float]]:
    """Independent timeline check of ``order`` with ``bandwidth`` (spec eqs. 3, 6, 7, 8).

    Returns (feasible, finish times). ``strict`` compares finish times with the deadlines
    without the evaluator's tolerance.
    """
    lib = problem.library
    blocks = [set(lib.blocks_of(i).tolist()) for i in range(lib.n_models)]
    sizes = lib.block_sizes.tolist()
    ok = sum(bandwidth) <= problem.bandwidth_hz * (1 + RTOL) and min(bandwidth, default=0.0) >= 0.0
    resident = problem.initial_model
    f, finish = 0.0, []
    for u in [int(x) for x in order]:
        m = int(problem.user_model[u])
        if m == resident:
            lam = 0.0
        elif problem.loading == "full" or resident < 0:
            lam = sum(sizes[j] for j in blocks[m]) / problem.load_rate
        else:
            lam = sum(sizes[j] for j in blocks[m] - blocks[resident]) / problem.load_rate
        s, b = float(problem.input_bits[u]), float(bandwidth[u])
        if problem.rate_model == "shannon":
            rate = shannon(b, float(problem.snr_bw[u]))
        else:
            rate = b * math.log2(1.0 + float(problem.snr_bw[u]))
        up = 0.0 if s == 0.0 else (s / rate if rate > 0 else math.inf)
        start = max(f + lam, up)
        f = start + float(problem.infer_time[u])
        finish.append(f)
        limit = float(problem.deadline[u])
        if not strict:
            limit += 1e-12 + RTOL * limit
        size = sum(sizes[j] for j in blocks[m])
        ok = ok and f <= limit and size + float(problem.act_memory[u]) <= problem.gpu_memory * (1 + RTOL)
        resident = m
    return ok, finish


def assert_valid(res, problem: LoadingProblem | None = None) -> None:
    """A returned schedule passes the independent simulation with its own bandwidths."""
    problem = problem if problem is not None else res.problem
    assert res.feasible, (res.algorithm, res.evaluation.reason)
    ok, _ = simulate(problem, res.order, res.bandwidth)
    assert ok, res.algorithm
    assert res.served == res.order.size
    assert len(set(res.order.tolist())) == res.order.size


# ---------------------------------------------------------------------------------------- self-checks
def test_simulator_on_hand_example():
    """The toy instance of test_loading_problem, by hand: full spread doubles beta = [1, 2, 0, 1]."""
    lp = LoadingProblem.from_arrays([4.0, 1.0, 2.0, 3.0], [[0, 1], [0, 2], [3]], [0, 1, 0, 2], 1.0,
                                    20.0, [11.0, 30.0, 0.0, 19.0], 1.0, 8.0, 1.0, 100.0,
                                    rate_model="fixed_psd")
    ok, fin = simulate(lp, [0, 2, 1, 3], [2.0, 4.0, 0.0, 2.0])
    assert ok and fin == pytest.approx([6.5, 7.5, 10.5, 14.5])
    ok, fin = simulate(lp, [0, 2, 1, 3], [1.0, 2.0, 0.0, 1.0], strict=True)
    assert ok and fin == pytest.approx([12.0, 13.0, 16.0, 20.0])
    ok, _ = simulate(lp, [0, 2, 1, 3], [0.99, 2.0, 0.0, 1.0], strict=True)
    assert not ok


@pytest.mark.parametrize("make", [tree_instance, backbone_instance, general_instance])
def test_generators_are_seeded(make):
    a, b = make(7), make(7)
    np.testing.assert_array_equal(a.user_model, b.user_model)
    np.testing.assert_array_equal(a.deadline, b.deadline)
    assert a.library.n_models == b.library.n_models
