"""The one-line C++ placement API (trimcore/placement.hpp) against the Python API.

* the C++ problem holds exactly the Python problem's data (pair CSR, model sizes, total popularity
  to the bit) and refuses every defect with an InstanceError naming the field (the core's check);
* ``tc.trimcaching_gen`` on the cpp tier (which calls ``trimcore::trimcaching_gen``) and on the
  reference tier (the NumPy oracle) give the same result;
* a C++ program (tests/cpp/consumer/gen_agreement.cpp, built with CMake as a simulator would)
  reproduces the Python API's placements on exported instances, and the fixtures ctest checks
  (tests/cpp/data/) are what the Python API produces today.
"""

from __future__ import annotations

import math
import pickle
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from gen_export import DATA, RUNS, fixtures, gen_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import problems, random_problem

import trimcore as tc
from trimcore.placement.greedy import GREEDY_RTOL

_core = pytest.importorskip("trimcore._core", reason="the C++ extension is not built")
ROOT = Path(__file__).resolve().parent.parent
CONSUMER = ROOT / "tests" / "cpp" / "consumer"
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
inf = float("inf")


def _native(problem: tc.PlacementProblem):
    return problem.gen_view("cpp")


def _wide_problem(seed: int, compact: bool) -> tc.PlacementProblem:
    """Models of up to 300 blocks and K * I up to a few hundred: NumPy's pairwise sums recurse."""
    rng = np.random.default_rng(seed)
    n_blocks = int(rng.integers(130, 400))
    sizes = rng.uniform(0.1, 3.0, n_blocks) * 10.0 ** rng.integers(0, 8, n_blocks)
    n_models = int(rng.integers(1, 6))
    blocks = [rng.choice(n_blocks, size=int(rng.integers(1, min(n_blocks, 300))), replace=False)
              for _ in range(n_models)]
    n_users, n_servers = int(rng.integers(1, 60)), int(rng.integers(1, 4))
    pop = rng.random((n_users, n_models)) ** 3 * 10.0 ** rng.integers(-3, 3, (n_users, n_models))
    pop[0, 0] += 1e-3
    library = tc.ModelLibrary.from_lists(sizes, blocks)
    capacity = rng.uniform(0.3, 2.0, n_servers) * float(library.model_sizes.max())
    if compact:
        smax = rng.uniform(0.0, library.model_sizes.max() * 1.3, (n_servers, n_users))
        smax[rng.random(smax.shape) < 0.1] = inf
        return tc.PlacementProblem.from_library(library, capacity, pop, smax)
    eligible = rng.random((n_servers, n_users, n_models)) < 0.5
    return tc.PlacementProblem.from_arrays(sizes, blocks, capacity, eligible, pop)


def _same_data(problem: tc.PlacementProblem) -> None:
    c = _native(problem)
    assert (c.n_servers, c.n_users, c.n_models) == (problem.n_servers, problem.n_users, problem.n_models)
    assert c.is_compact == problem.is_compact
    np.testing.assert_array_equal(c.pair_ptr, problem.pair_ptr)
    np.testing.assert_array_equal(c.pair_len, problem.pair_len)
    np.testing.assert_array_equal(c.pair_users, problem.pair_users)
    # the same bits, not merely close: the candidate filter and the hit ratio compare them exactly
    assert c.model_sizes.tobytes() == problem.library.model_sizes.tobytes()
    assert c.total_popularity == problem.total_popularity


@SETTINGS
@given(problem=problems(max_blocks=140))
def test_the_cpp_problem_holds_the_python_data(problem):
    _same_data(problem)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), compact=st.booleans())
def test_model_sizes_and_total_popularity_have_numpys_bits_for_long_sums(seed, compact):
    _same_data(_wide_problem(seed, compact))


def test_the_dense_factory_builds_what_from_arrays_builds():
    p = random_problem(4, 3, 7, 5, 60, False)
    lib = p.library
    c = _core.PlacementProblem.from_dense(lib.block_sizes, lib.indptr, lib.indices, p.capacity,
                                          np.ascontiguousarray(p.popularity), p.eligible())
    np.testing.assert_array_equal(c.pair_ptr, p.pair_ptr)
    np.testing.assert_array_equal(c.pair_users, p.pair_users)


@SETTINGS
@given(problem=problems(), seed=st.integers(0, 2**32 - 1))
def test_evaluators_agree_with_the_python_problem(problem, seed):
    x = np.random.default_rng(seed).random((problem.n_servers, problem.n_models)) < 0.4
    c = _native(problem)
    assert c.hit_weight(x) == problem.hit_weight(x, backend="reference")
    np.testing.assert_array_equal(c.storage_used(x), problem.storage_used(x, backend="reference"))


@SETTINGS
@given(problem=problems(), seed=st.integers(0, 2**32 - 1), rule=st.sampled_from(["best_of_both", "ratio", "gain"]),
       lazy=st.booleans(), warm=st.booleans())
def test_trimcaching_gen_cpp_equals_the_reference(problem, seed, rule, lazy, warm):
    start = np.random.default_rng(seed).random((problem.n_servers, problem.n_models)) < 0.3 if warm else None
    a = tc.trimcaching_gen(problem, rule, lazy=lazy, bound=None, backend="cpp", warm_start=start)
    b = tc.trimcaching_gen(problem, rule, lazy=lazy, bound=None, backend="reference", warm_start=start)
    np.testing.assert_array_equal(a.placement, b.placement)
    assert a.objective == b.objective
    assert {k: v for k, v in a.options.items() if k != "backend"} == {k: v for k, v in b.options.items()
                                                                      if k != "backend"}
    # the kernel's hit ratio is the evaluator's
    _, hw, hr, chosen, kept = _core.trimcaching_gen(_native(problem), rule, lazy, start)
    assert hr == a.objective and hw == problem.hit_weight(a.placement) and chosen == a.options["chosen_rule"]
    assert kept == a.options.get("kept", 0)


@SETTINGS
@given(problem=problems(), knapsack=st.sampled_from(["auto", "fptas", "grid"]), eps=st.sampled_from([0.1, 0.4]),
       order=st.sampled_from(["index", "capacity", "demand"]), atomic=st.booleans())
def test_trimcaching_spec_cpp_equals_the_reference(problem, knapsack, eps, order, atomic):
    algorithm = tc.independent_caching if atomic else tc.trimcaching_spec
    extra = {} if atomic else {"grid_cells": 32}  # a coarse grid: rounding decides
    a = algorithm(problem, eps, knapsack=knapsack, server_order=order, bound=None, backend="cpp", **extra)
    b = algorithm(problem, eps, knapsack=knapsack, server_order=order, bound=None, backend="reference", **extra)
    np.testing.assert_array_equal(a.placement, b.placement)
    assert a.objective == b.objective
    assert {k: v for k, v in a.options.items() if k != "backend"} == {k: v for k, v in b.options.items()
                                                                      if k != "backend"}


def test_spec_refusals_are_the_same_on_both_tiers(monkeypatch):
    import trimcore.placement.spec as spec

    p = random_problem(5, 2, 6, 6, 10, False)
    for backend in ("cpp", "reference"):
        with pytest.raises(tc.InstanceError, match="^server 0: more than 1 combinations"):
            tc.trimcaching_spec(p, max_combinations=1, backend=backend)
    monkeypatch.setattr(spec, "FPTAS_HARD_LIMIT", 1)
    messages = set()
    for backend in ("cpp", "reference"):
        with pytest.raises(tc.InstanceError, match="^knapsack: expected an FPTAS table") as info:
            tc.trimcaching_spec(p, knapsack="fptas", backend=backend)
        messages.add(str(info.value))
    assert len(messages) == 1  # the same words, to the digit


def test_the_native_problem_is_built_once_and_problems_still_pickle():
    p = random_problem(2, 3, 5, 4, 20, True)
    first = tc.trimcaching_gen(p, bound=None, backend="cpp")
    view = p.gen_view("cpp")
    assert p.gen_view("cpp") is view
    np.testing.assert_array_equal(tc.trimcaching_gen(p, bound=None, backend="cpp").placement, first.placement)
    q = pickle.loads(pickle.dumps(p))
    np.testing.assert_array_equal(tc.trimcaching_gen(q, bound=None, backend="cpp").placement, first.placement)


def test_the_cpp_tolerance_is_pythons():
    assert _core.GREEDY_RTOL == GREEDY_RTOL


# ----------------------------------------------------------------------------------- defects
def _lib():
    return np.array([4.0, 1.0, 2.0, 8.0]), np.array([0, 2, 4, 5]), np.array([0, 1, 0, 2, 3])


def _compact(**changes):
    sizes, indptr, indices = _lib()
    args = {"block_sizes": sizes, "indptr": indptr, "indices": indices, "capacity": np.array([7.0, 8.0]),
            "popularity": np.array([[0.5, 0.2, 0.1], [0.1, 0.3, 0.4]]), "max_size": np.array([[6.0, 5.0], [0.0, inf]])}
    args.update(changes)
    return _core.PlacementProblem.from_max_size(**args)


@pytest.mark.parametrize("changes, message", [
    ({"block_sizes": np.array([4.0, 0.0, 2.0, 8.0])}, "block_sizes: expected finite values > 0, got 0 at block 1"),
    ({"block_sizes": np.array([4.0, np.nan, 2.0, 8.0])}, "block_sizes: expected finite values > 0, got nan"),
    ({"block_sizes": np.array([4.0, inf, 2.0, 8.0])}, "block_sizes: expected finite values > 0, got inf"),
    ({"indices": np.array([0, 1, 0, 7, 3])}, "model_blocks[1]: expected block ids in [0, 4), got 7"),
    ({"indices": np.array([0, 0, 0, 2, 3])}, "model_blocks[0]: expected distinct block ids, got block 0 twice"),
    ({"indptr": np.array([0, 2, 2, 5]), "indices": np.array([0, 1, 0, 2, 3])}, "model_blocks[1]: expected at least"),
    ({"indptr": np.array([0, 3, 2, 5])}, "indptr: expected non-decreasing CSR offsets"),
    ({"capacity": np.array([7.0, -1.0])}, "capacity: expected finite values >= 0, got -1 at server 1"),
    ({"capacity": np.array([7.0, inf])}, "capacity: expected finite values >= 0, got inf at server 1"),
    ({"popularity": np.zeros((2, 3))}, "popularity: expected a positive total"),
    ({"popularity": np.array([[0.5, -0.2, 0.1], [0.1, 0.3, 0.4]])}, "popularity: expected finite values >= 0"),
    ({"popularity": np.array([[0.5, 0.2], [0.1, 0.3]])}, "popularity: expected shape (K, 3)"),
    ({"popularity": np.ones((3, 3))}, "popularity: expected K*I = 2*3 entries"),
    ({"max_size": np.array([[6.0, -5.0], [0.0, inf]])}, "max_size: expected values >= 0 (inf allowed), got -5"),
    ({"max_size": np.array([[6.0, np.nan], [0.0, inf]])}, "max_size: expected values >= 0 (inf allowed), got nan"),
    ({"max_size": np.ones((3, 2))}, "max_size: expected shape (M, K) with M = 2"),
    ({"max_size": np.ones(4)}, "max_size: expected 2 dimensions"),
    ({"capacity": np.array([7, 8])}, "capacity: expected dtype float64, got int64"),
])
def test_every_defect_is_refused_naming_the_field(changes, message):
    with pytest.raises(tc.InstanceError) as info:
        _compact(**changes)
    assert str(info.value).startswith(message)


def test_pair_list_and_placement_defects_are_refused():
    sizes, indptr, indices = _lib()
    pop = np.array([[0.5, 0.2, 0.1], [0.1, 0.3, 0.4]])

    def pairs(ptr, length, users):
        return _core.PlacementProblem.from_pairs(sizes, indptr, indices, np.array([7.0]), pop, np.array(ptr),
                                                 np.array(length), np.array(users, dtype=np.int32))

    for ptr, length, users, field in [([0, 0, 1], [1, 1, 1], [0], "pair_ptr/pair_len"),
                                      ([0, 0, 0], [1, 1, 1], [2], "pair_users: expected user ids in [0, 2)"),
                                      ([0, 0, 0], [2, 1, 1], [1, 0], "pair_users: expected strictly increasing"),
                                      ([0, 0], [1, 1, 1], [0], "pair_ptr: expected 3 entries")]:
        with pytest.raises(tc.InstanceError, match="^" + re.escape(field)):
            pairs(ptr, length, users)
    good = _compact()
    with pytest.raises(tc.InstanceError, match=r"^placement: expected shape \(2, 3\)"):
        good.hit_weight(np.zeros((3, 2), dtype=bool))
    with pytest.raises(tc.InstanceError, match=r"^warm_start: expected dtype bool"):
        _core.trimcaching_gen(good, "ratio", True, np.zeros((2, 3)))
    with pytest.raises(tc.InstanceError, match=r"^rule: expected 'best_of_both', 'ratio' or 'gain'"):
        _core.trimcaching_gen(good, "fast")
    with pytest.raises(tc.InstanceError, match=r"^eligible: expected 3 dimensions"):
        _core.PlacementProblem.from_dense(sizes, indptr, indices, np.array([7.0]), pop, np.ones((1, 6), dtype=bool))


# ------------------------------------------------------------------- the C++ program, via CMake
@pytest.mark.parametrize("stem", sorted(fixtures()))
def test_the_ctest_fixtures_are_the_python_apis_results(stem):
    problem, warm = fixtures()[stem]
    committed = (DATA / f"{stem}.txt").read_text().split("\n")
    regenerated = gen_text(problem, warm).split("\n")
    stale = f"tests/cpp/data/{stem}.txt is stale: rerun PYTHONPATH=. python tests/gen_export.py"
    assert len(committed) == len(regenerated), stale
    # The generators draw through libm (pow, log), whose last bit differs between NumPy builds and
    # CPUs: numbers agree to 1e-12, everything else (ids, counts, placements) exactly.
    for old_line, new_line in zip(committed, regenerated):
        old_tokens, new_tokens = old_line.split(), new_line.split()
        assert len(old_tokens) == len(new_tokens), stale
        for a, b in zip(old_tokens, new_tokens):
            if a != b:
                assert _is_float(a) and _is_float(b) and math.isclose(float(a), float(b), rel_tol=1e-12), (
                    f"{stale} ({old_line.split()[0]}: {a} != {b})")


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return "." in token or "e" in token


@pytest.fixture(scope="module")
def gen_program(tmp_path_factory) -> Path:
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.skip("cmake is not on PATH")
    build = tmp_path_factory.mktemp("gen_agreement")
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    for args in ([cmake, "-S", CONSUMER, "-B", build, *generator, f"-DTRIMCORE_SOURCE_DIR={ROOT}",
                  "-DCMAKE_DISABLE_FIND_PACKAGE_Python=ON", "-DCMAKE_DISABLE_FIND_PACKAGE_pybind11=ON"],
                 [cmake, "--build", build, "--target", "gen_agreement"]):
        done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return build / "gen_agreement"


def _program(program: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(program), "--check", *map(str, files)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("backend", ["reference", "cpp"])
def test_the_cpp_program_reproduces_the_python_api_on_exported_instances(gen_program, tmp_path, backend):
    files = []
    for seed in range(12):
        rng = np.random.default_rng(seed)
        problem = (_wide_problem(seed, bool(seed % 2)) if seed % 3 == 0 else
                   random_problem(seed, int(rng.integers(1, 5)), int(rng.integers(1, 12)), int(rng.integers(1, 10)),
                                  int(rng.integers(1, 90)), bool(seed % 2)))
        warm = rng.random((problem.n_servers, problem.n_models)) < 0.3
        files.append(tmp_path / f"gen_{seed}.txt")
        files[-1].write_text(gen_text(problem, warm, backend=backend))
    done = _program(gen_program, *files)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("run ")]
    assert len(lines) == len(files) * len(RUNS)
    expected = [line for f in files for line in f.read_text().splitlines() if line.startswith("run ")]
    for got, want in zip(lines, expected):  # the program's own output, parsed back: the same results
        g, w = got.split(), want.split()
        assert g[:6] + g[7:] == w[:6] + w[7:] and float(g[6]) == float(w[6])


def test_the_cpp_program_detects_a_difference(gen_program, tmp_path):
    """The check is real: a placement or a hit ratio off by one bit fails it."""
    text = (DATA / "gen_small_compact.txt").read_text()
    assert _program(gen_program, DATA / "gen_small_compact.txt").returncode == 0
    run = next(line for line in text.splitlines() if line.startswith("run "))
    fields = run.split()
    flipped = fields[:-1] + ["".join("1" if c == "0" else "0" for c in fields[-1])]
    nudged = fields[:6] + [repr(float(np.nextafter(float(fields[6]), 2.0)))] + fields[7:]
    for bad in (flipped, nudged):
        path = tmp_path / "bad.txt"
        path.write_text(text.replace(run, " ".join(bad), 1))
        done = _program(gen_program, path)
        assert done.returncode == 1 and "differs from the Python API's" in done.stderr
    spec_run = next(line for line in text.splitlines() if line.startswith("spec "))
    fields = spec_run.split()
    flipped = fields[:-1] + ["".join("1" if c == "0" else "0" for c in fields[-1])]
    path.write_text(text.replace(spec_run, " ".join(flipped), 1))
    done = _program(gen_program, path)
    assert done.returncode == 1 and "spec run 0 differs from the Python API's" in done.stderr
    cap = next(line for line in text.splitlines() if line.startswith("capacity "))
    path.write_text(text.replace(cap, " ".join(cap.split()[:2] + ["-1.0"] + cap.split()[3:]), 1))
    done = _program(gen_program, path)
    assert done.returncode == 1 and "capacity: expected finite values >= 0" in done.stderr
