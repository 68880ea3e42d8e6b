"""PlacementProblem: evaluators equal across backends and to brute force; validation at the boundary."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import problems, random_placement

import trimcore as tc

BACKENDS = tc.available_backends()


def brute_force_storage(problem: tc.PlacementProblem, placement: np.ndarray) -> np.ndarray:
    """Union of Python sets of blocks, summed."""
    lib = problem.library
    out = []
    for m in range(problem.n_servers):
        blocks: set[int] = set()
        for i in np.flatnonzero(placement[m]):
            blocks |= set(lib.blocks_of(int(i)).tolist())
        out.append(sum(float(lib.block_sizes[j]) for j in blocks))
    return np.array(out)


def brute_force_hit_ratio(problem: tc.PlacementProblem, placement: np.ndarray) -> float:
    """Direct formula of spec §3.4 on the dense eligibility."""
    eligible = problem.eligible()
    pop = problem.popularity
    total = 0.0
    for k in range(problem.n_users):
        for i in range(problem.n_models):
            if any(placement[m, i] and eligible[m, k, i] for m in range(problem.n_servers)):
                total += pop[k, i]
    return total / pop.sum()


def test_all_three_backends_are_built():
    # CI installs the package with its extension and numba: every tier must be there.
    assert BACKENDS == ("cpp", "numba", "reference")


@settings(max_examples=350, deadline=None)
@given(problems(), st.integers(0, 2**31), st.floats(0.0, 1.0))
def test_backends_agree_with_brute_force(problem, seed, density):
    x = random_placement(problem, seed, density)
    want_storage = brute_force_storage(problem, x)
    want_hit = brute_force_hit_ratio(problem, x)
    for backend in BACKENDS:
        np.testing.assert_allclose(problem.storage_used(x, backend=backend), want_storage, rtol=1e-9, atol=1e-9)
        assert problem.hit_ratio(x, backend=backend) == pytest.approx(want_hit, rel=1e-9, abs=1e-12)
        feasible = bool(np.all(want_storage <= problem.capacity * (1 + 1e-9)))
        assert problem.is_feasible(x, backend=backend) == feasible


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 40), st.integers(1, 130))
def test_union_size_matches_sets(seed, n_models, n_blocks):
    rng = np.random.default_rng(seed)
    from strategies import random_blocks

    sizes, blocks = random_blocks(rng, n_models, n_blocks)
    lib = tc.ModelLibrary.from_lists(sizes, blocks)
    chosen = rng.random(n_models) < 0.5
    want = sum(sizes[j] for j in set().union(*[set(blocks[i]) for i in np.flatnonzero(chosen)]))
    assert lib.union_size(chosen) == pytest.approx(want, rel=1e-12)
    assert lib.union_size(np.flatnonzero(chosen)) == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(lib.model_sizes, [sizes[b].sum() for b in blocks], rtol=1e-12)
    decoded = np.unpackbits(lib.bitsets.view(np.uint8), axis=1, bitorder="little")[:, :n_blocks]
    np.testing.assert_array_equal(decoded.astype(bool), lib.membership())


def test_compact_equals_dense():
    rng = np.random.default_rng(3)
    lib = tc.ModelLibrary.from_lists(rng.uniform(1, 5, 12), [rng.choice(12, 3, replace=False) for _ in range(9)])
    smax = rng.uniform(0, 15, (4, 20))
    pop = rng.random((20, 9))
    compact = tc.PlacementProblem.from_library(lib, 20.0, pop, smax)
    dense_elig = lib.model_sizes[None, None, :] <= smax[:, :, None]
    dense = tc.PlacementProblem.from_arrays(lib.block_sizes, [lib.blocks_of(i) for i in range(9)], 20.0,
                                            dense_elig, pop)
    np.testing.assert_array_equal(compact.eligible(), dense_elig)
    for seed in range(20):
        x = random_placement(compact, seed)
        assert compact.hit_ratio(x) == pytest.approx(dense.hit_ratio(x), rel=1e-12)


def test_hand_example_of_the_spec():
    # spec §8: Q = 10; models {j0,j1}, {j0,j2}, {j3}; sizes 6,2,2,5; p = 0.4, 0.4, 0.2
    prob = tc.PlacementProblem.from_arrays([6, 2, 2, 5], [[0, 1], [0, 2], [3]], [10.0],
                                           np.ones((1, 1, 3), bool), [[0.4, 0.4, 0.2]])
    both = np.array([[True, True, False]])
    assert prob.storage_used(both)[0] == 10.0
    assert prob.hit_ratio(both) == pytest.approx(0.8)
    assert prob.is_feasible(both)
    assert not prob.is_feasible(np.array([[True, True, True]]))
    assert prob.hit_ratio(np.array([[True, False, False]])) == pytest.approx(0.4)


def test_popularity_view_and_shapes():
    prob = tc.PlacementProblem.from_arrays([1, 1], [[0], [1]], [1, 2, 3], np.ones((3, 4, 2), bool),
                                           np.full((4, 2), 0.5))
    assert (prob.n_servers, prob.n_users, prob.n_models) == (3, 4, 2)
    assert prob.popularity.shape == (4, 2)
    with pytest.raises(ValueError):
        prob.popularity[0, 0] = 1.0  # read-only


def test_backend_selection(monkeypatch):
    assert tc.resolve_backend("reference") == "reference"
    monkeypatch.setenv("TRIMCORE_BACKEND", "numba")
    assert tc.resolve_backend() == "numba"
    assert tc.resolve_backend("cpp") == "cpp"  # an explicit argument wins
    monkeypatch.setenv("TRIMCORE_BACKEND", "fortran")
    with pytest.raises(tc.InstanceError, match="TRIMCORE_BACKEND"):
        tc.resolve_backend()
    with pytest.raises(tc.InstanceError, match="backend"):
        tc.resolve_backend("gpu")


@settings(max_examples=40, deadline=None)
@given(problems())
def test_problem_and_result_files_round_trip(tmp_path_factory, problem):
    folder = tmp_path_factory.mktemp("io")
    loaded = tc.PlacementProblem.load(problem.save(folder / "problem"))
    assert loaded.is_compact == problem.is_compact
    np.testing.assert_array_equal(loaded.eligible(), problem.eligible())
    np.testing.assert_array_equal(loaded.popularity, problem.popularity)
    np.testing.assert_array_equal(loaded.capacity, problem.capacity)
    np.testing.assert_array_equal(loaded.library.block_sizes, problem.library.block_sizes)
    result = tc.trimcaching_gen(problem)
    back = tc.PlacementResult.load(result.save(folder / "result"))
    np.testing.assert_array_equal(back.placement, result.placement)
    assert (back.hit_ratio, back.upper_bound, back.options, back.algorithm) == (
        result.hit_ratio, result.upper_bound, result.options, result.algorithm)


def test_damaged_problem_file_names_the_file(tmp_path):
    prob = tc.PlacementProblem.from_arrays([1.0], [[0]], [1.0], np.ones((1, 1, 1), bool), [[1.0]])
    path = prob.save(tmp_path / "p.npz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(tc.InstanceError, match="p.npz"):
        tc.PlacementProblem.load(path)
    with pytest.raises(tc.InstanceError, match="missing.npz"):
        tc.PlacementProblem.load(tmp_path / "missing.npz")
    lib_path = tmp_path / "lib.npz"
    from trimcore.instance.io import save_library

    save_library(lib_path, prob.library)
    with pytest.raises(tc.InstanceError, match="kind"):
        tc.PlacementProblem.load(lib_path)
