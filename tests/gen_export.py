"""Export placement problems and the Python API's TrimCaching Gen and Spec results for the C++ agreement
program (tests/cpp/gen_agreement.cpp; the file format is described there).

``PYTHONPATH=. python tests/gen_export.py`` rewrites the fixtures under ``tests/cpp/data/`` that ctest checks
(``placement.python_agreement.*``); ``tests/test_cpp_placement.py`` checks they are current.
The expected results come from the ``reference`` tier: the NumPy oracle, not the C++ under test.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import trimcore as tc

DATA = Path(__file__).resolve().parent / "cpp" / "data"
RUNS = [(rule, lazy, warm) for rule in ("best_of_both", "ratio", "gain") for lazy in (True, False)
        for warm in (False, True)]
SPEC_RUNS = [("auto", 0.1, False), ("fptas", 0.3, False), ("grid", 0.1, False), ("auto", 0.1, True)]


def _reals(values: np.ndarray) -> str:
    return " ".join(repr(float(v)) for v in np.asarray(values, dtype=float).reshape(-1))


def _flags(values: np.ndarray) -> str:
    return " ".join("1" if v else "0" for v in np.asarray(values).reshape(-1))


def gen_text(problem: tc.PlacementProblem, warm: np.ndarray, backend: str = "reference") -> str:
    """The file of ``problem``: the instance, the warm start and the results of every run."""
    lib = problem.library
    lines = ["trimcore-gen 1", f"form {'compact' if problem.is_compact else 'dense'}",
             f"blocks {lib.n_blocks} {_reals(lib.block_sizes)}", f"models {lib.n_models}"]
    for i in range(lib.n_models):
        blocks = lib.blocks_of(i)
        lines.append(f"{blocks.size} {' '.join(map(str, blocks.tolist()))}")
    lines += [f"capacity {problem.n_servers} {_reals(problem.capacity)}",
              f"popularity {problem.n_users} {_reals(problem.popularity)}"]
    if problem.is_compact:
        assert problem.max_size is not None
        lines.append(f"max_size {_reals(problem.max_size)}")
    else:
        lines.append(f"eligible {_flags(problem.eligible())}")
    lines += [f"warm {_flags(warm)}", f"runs {len(RUNS)}"]
    for rule, lazy, use_warm in RUNS:
        r = tc.trimcaching_gen(problem, rule, lazy=lazy, bound=None, backend=backend,
                               warm_start=warm if use_warm else None)
        bits = "".join("1" if v else "0" for v in r.placement.ravel())
        lines.append(f"run {rule} {int(lazy)} {int(use_warm)} {r.options['chosen_rule']} "
                     f"{r.options.get('kept', 0)} {r.objective!r} {bits}")
    spec_lines = []
    for knapsack, eps, atomic in SPEC_RUNS:
        try:
            if atomic:
                s = tc.independent_caching(problem, eps, knapsack=knapsack, bound=None, backend=backend)
            else:
                s = tc.trimcaching_spec(problem, eps, knapsack=knapsack, bound=None, backend=backend)
            outcome = f"{s.objective!r} {''.join('1' if v else '0' for v in s.placement.ravel())}"
        except tc.InstanceError:  # too much sharing for Spec: the C++ must refuse it too
            outcome = "refused -"
        spec_lines.append(f"spec {knapsack} {eps!r} {int(atomic)} {outcome}")
    lines += [f"specruns {len(spec_lines)}", *spec_lines]
    return "\n".join(lines) + "\n"


def _wide(seed: int) -> tc.PlacementProblem:
    """Models of 130 to 250 blocks (NumPy's pairwise summation recurses) and K * I > 128."""
    rng = np.random.default_rng(seed)
    n_blocks = 400
    sizes = rng.uniform(0.1, 3.0, n_blocks) * 10.0 ** rng.integers(0, 6, n_blocks)
    blocks = [rng.choice(n_blocks, size=int(rng.integers(130, 251)), replace=False).tolist() for _ in range(7)]
    library = tc.ModelLibrary.from_lists(sizes, blocks)
    pop = rng.random((30, 7)) ** 3
    smax = rng.uniform(0.0, library.model_sizes.max() * 1.3, (4, 30))
    capacity = rng.uniform(0.5, 2.5, 4) * float(np.median(library.model_sizes))
    return tc.PlacementProblem.from_library(library, capacity, pop, smax)


def fixtures() -> dict[str, tuple[tc.PlacementProblem, np.ndarray]]:
    """The committed instances, by file stem, each with its warm start."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from strategies import random_problem

    from trimcore.experiments.scenarios import large_placement_instance

    problems = {
        "gen_small_dense": random_problem(3, 3, 6, 5, 40, False),
        "gen_small_compact": random_problem(7, 4, 8, 8, 70, True),
        "gen_zero_capacity_dense": random_problem(11, 2, 5, 6, 90, False),
        "gen_wide_compact": _wide(5),
        "gen_synthetic_compact": large_placement_instance(6, 120, 24, seed=2),
    }
    out = {}
    for t, (name, problem) in enumerate(problems.items()):
        if name == "gen_zero_capacity_dense":
            problem = tc.PlacementProblem.from_arrays(problem.library.block_sizes,
                                                      [problem.library.blocks_of(i) for i in range(problem.n_models)],
                                                      [0.0, float(problem.capacity[1])], problem.eligible(),
                                                      problem.popularity)
        warm = np.random.default_rng(100 + t).random((problem.n_servers, problem.n_models)) < 0.3
        out[name] = (problem, warm)
    return out


if __name__ == "__main__":
    DATA.mkdir(parents=True, exist_ok=True)
    for stem, (problem, warm) in fixtures().items():
        (DATA / f"{stem}.txt").write_text(gen_text(problem, warm))
        print(f"wrote {DATA / f'{stem}.txt'}")
