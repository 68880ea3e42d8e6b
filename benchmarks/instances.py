"""Seeded instance generators shared by every benchmark file (the one place instances come from).

Every instance is named by a *label* and is a pure function of that label and a seed:

* ``"MxKxI"`` (e.g. ``"100x10000x1000"``): :func:`trimcore.experiments.scenarios.large_placement_instance`
  with M servers, K users, I models, **nested** sharing, built compactly;
* ``"MxKxI-special"``: the same with the special-case library (``nested=False``: one shared
  backbone per family), the case ``trimcaching_spec`` is made for;
* ``"eua-default"``: ``build_placement(scenario())``, the default EUA Melbourne scenario.

Heavy generation never runs inside a timed function: the benchmark classes use the asv
``setup_cache`` functions defined here (:func:`setup_cache_placement`, :func:`setup_cache_quality`).
asv calls each of them once per run (they are shared: the cache key is this module and the
function's line), in a temporary directory that is then the working directory of every benchmark
process; they save one file per instance there (``PlacementProblem.save``) and return the file
names, so a benchmark process loads only the instance it needs (which keeps ``peakmem_*`` honest).

PartialLoading instances (``bench_loading``) are named by their number of users K:
:func:`make_loading_problem` is ``make_loading_instance(K, 100, 10, seed)`` (100 models in 10
backbone clusters, a common deadline that lets about half of the users be served). The exact
reference runs on :func:`loading_exact_instance` (K = 10 users, 10 models in 3 clusters, the
largest size brute force accepts). They are cached by :func:`setup_cache_loading` and
:func:`setup_cache_loading_quality` the same way, with the library's dataclass file format
(:func:`trimcore.instance.io.save_dataclass`; ``LoadingProblem`` has no ``save`` of its own).

Max-coverage instances (``bench_coverage``, ``peers.py``) are named ``"SETSxELEMENTSxBUDGET"``:
:func:`coverage_instance` draws sets of 5-39 elements by a Zipf-0.8 popularity that is also the
element weight. :func:`setup_cache_coverage` builds them once per asv run and saves them as
``.npz`` files.

Nothing in this module is itself a benchmark (no ``time_``/``peakmem_``/``track_`` names).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np

from trimcore import PlacementProblem, optimal_placement, partialloading_optimal
from trimcore.experiments.scenarios import build_placement, large_placement_instance, make_loading_instance, scenario
from trimcore.instance.io import load_dataclass, save_dataclass
from trimcore.loading import LoadingProblem

#: Seed of every benchmark instance (and of the random placements evaluated on them).
SEED = 0

#: Instance labels.
EUA = "eua-default"
#: Issue #2 / #3 scale: M=100 servers, K=10,000 users, I=1,000 models, nested sharing.
LARGE = "100x10000x1000"
#: Middle size: the NumPy reference greedy takes seconds here (speed-ratio target of issue #3).
MEDIUM = "10x1000x100"
#: trimcaching_spec target size (issue #3), special-case library.
SPEC = "10x300x100-special"
#: optimal_placement target size (issue #3); tiny, built in ``setup`` for each seed.
OPTIMAL = "4x30x15"
#: Small enough for the LP relaxation bound (``bound="auto"`` picks LP below 20k variables).
LP_SIZE = "10x100x50"

#: Every instance that :func:`setup_cache_placement` builds.
PLACEMENT_LABELS = (EUA, MEDIUM, LARGE, SPEC, LP_SIZE)

#: Random placements: each server gets a target of U{4..10} models (kept only while they fit).
MODELS_PER_SERVER = (4, 10)

#: Solution-quality instances (issue #3 track_): 10 seeded small instances where
#: ``optimal_placement`` proves optimality in about a second each.
QUALITY_SEEDS = tuple(range(10))
QUALITY_LIBRARIES = ("nested", "special")


# ----------------------------------------------------------------------------- labels
def parse_label(label: str) -> tuple[int, int, int, bool]:
    """``"MxKxI"`` or ``"MxKxI-special"`` -> (M, K, I, nested)."""
    size, _, kind = label.partition("-")
    if kind not in ("", "special"):
        raise ValueError(f"unknown instance label {label!r}")
    m, k, i = (int(v) for v in size.split("x"))
    return m, k, i, kind != "special"


def make_problem(label: str, seed: int = SEED):
    """Build the placement instance named ``label`` (see the module docstring)."""
    if label == EUA:
        return build_placement(scenario(seed=seed))
    m, k, i, nested = parse_label(label)
    return large_placement_instance(m, k, i, seed=seed, nested=nested)


def quality_instance(library: str, seed: int):
    """Small instance number ``seed`` of the solution-quality set (M = 3-4, K = 20, I = 10-12)."""
    if library not in QUALITY_LIBRARIES:
        raise ValueError(f"unknown library kind {library!r}")
    n_servers, n_models = 3 + seed % 2, 10 + 2 * (seed % 2)
    return large_placement_instance(n_servers, 20, n_models, seed=seed, nested=library == "nested",
                                    n_families=3)


def random_placement(problem, seed: int = SEED, per_server: tuple[int, int] = MODELS_PER_SERVER) -> np.ndarray:
    """A random *feasible* placement of realistic density, bool[M, I].

    Each server draws a target count in ``per_server`` and visits the models it can serve somebody
    with in random order, keeping a model when the union of blocks still fits its capacity. The
    union is tracked here with Python sets (independently of the evaluators being measured).
    """
    rng = np.random.default_rng(seed)
    lib = problem.library
    sizes = lib.block_sizes
    n_models = problem.n_models
    serves = problem.pair_len.reshape(problem.n_servers, n_models) > 0
    x = np.zeros((problem.n_servers, n_models), dtype=bool)
    for m in range(problem.n_servers):
        target = int(rng.integers(per_server[0], per_server[1] + 1))
        held: set[int] = set()
        used = 0.0
        limit = float(problem.capacity[m]) * (1.0 - 1e-12)
        for i in rng.permutation(np.flatnonzero(serves[m])):
            new = set(lib.indices[lib.indptr[i]:lib.indptr[i + 1]].tolist()) - held
            extra = float(sum(sizes[j] for j in new))
            if used + extra <= limit:
                x[m, i] = True
                held |= new
                used += extra
                if x[m].sum() >= target:
                    break
    return x


# ----------------------------------------------------------------------------- cache files
def dump_problem(problem, name: str) -> str:
    """Write ``problem`` with its own ``save`` (``.npz``) into the working directory; absolute path."""
    return str(problem.save(os.path.abspath(name.replace("/", "_"))).resolve())


def load_problem(path: str):
    """Read a problem written by :func:`dump_problem` (``PlacementProblem.load``, validated again).

    The library's own file format is used rather than pickle: arrays come back with NumPy's
    canonical dtype objects, which the C++ bindings require (an unpickled float64 array is
    refused by ``trimcore._core``: "expected dtype float64, got float64").
    """
    return PlacementProblem.load(path)


def build_all(labels: Iterable[str]) -> dict[str, str]:
    """Build and save each labelled instance in the working directory; label -> file."""
    return {label: dump_problem(make_problem(label), f"placement-{label}") for label in labels}


# ----------------------------------------------------------------------------- asv setup_cache
def setup_cache_placement() -> dict[str, str]:
    """asv ``setup_cache`` of the placement benchmarks: every instance of :data:`PLACEMENT_LABELS`."""
    return build_all(PLACEMENT_LABELS)


setup_cache_placement.timeout = 600


def setup_cache_quality() -> dict[str, list[tuple[str, float]]]:
    """asv ``setup_cache`` of the quality benchmarks: small instances and their proven optima.

    Returns ``{library: [(problem file, optimal hit ratio), ...]}`` in :data:`QUALITY_SEEDS` order.
    Raises when the solver does not prove optimality (the ratio would not be to the optimum).
    """
    out = {}
    for library in QUALITY_LIBRARIES:
        rows = []
        for seed in QUALITY_SEEDS:
            problem = quality_instance(library, seed)
            opt = optimal_placement(problem, time_limit=120.0)
            if opt.status != "optimal":
                raise RuntimeError(f"quality instance {library}/{seed}: optimality not proven ({opt.status})")
            rows.append((dump_problem(problem, f"quality-{library}-{seed}"), float(opt.hit_ratio)))
        out[library] = rows
    return out


setup_cache_quality.timeout = 900


# ----------------------------------------------------------------------------- PartialLoading
#: Library of the loading benchmarks: I = 100 models in 10 clusters (one shared backbone each).
LOADING_MODELS = 100
LOADING_CLUSTERS = 10
#: Every number of users K that :func:`setup_cache_loading` builds (DP, greedy, DP-EDF, evaluate, baselines).
LOADING_USERS = (100, 1_000, 10_000, 100_000)
#: Exact-reference instances: K = 10 users (brute force accepts at most 10), 10 models in 3 clusters.
LOADING_EXACT_SIZE = (10, 10, 3)
#: Seeds of the loading solution-quality set (10 instances of :data:`LOADING_EXACT_SIZE`).
LOADING_QUALITY_SEEDS = tuple(range(10))

_LOADING_KIND = "LoadingProblem"


def make_loading_problem(n_users: int, seed: int = SEED) -> LoadingProblem:
    """The PartialLoading benchmark instance with ``n_users`` users (100 models, 10 clusters)."""
    return make_loading_instance(n_users, LOADING_MODELS, LOADING_CLUSTERS, seed=seed)


def loading_exact_instance(seed: int) -> LoadingProblem:
    """Small instance number ``seed`` for the exact reference (K = 10, I = 10, 3 clusters)."""
    return make_loading_instance(*LOADING_EXACT_SIZE, seed=seed)


def dump_loading_problem(problem: LoadingProblem, name: str) -> str:
    """Write ``problem`` into the working directory (``save_dataclass``, ``.npz``); absolute path."""
    return str(save_dataclass(os.path.abspath(name.replace("/", "_")), _LOADING_KIND, problem).resolve())


def load_loading_problem(path: str) -> LoadingProblem:
    """Read a problem written by :func:`dump_loading_problem` (validated again by the constructor).

    A file rather than pickle, as for placement: the arrays come back with canonical dtypes,
    and the problem's derived-data cache is not carried over (the benchmark process starts cold).
    """
    return load_dataclass(path, LoadingProblem, _LOADING_KIND)


def setup_cache_loading() -> dict[int, str]:
    """asv ``setup_cache`` of the loading benchmarks: one file per size of :data:`LOADING_USERS`."""
    return {k: dump_loading_problem(make_loading_problem(k), f"loading-{k}") for k in LOADING_USERS}


setup_cache_loading.timeout = 300


def setup_cache_loading_quality() -> list[tuple[str, int]]:
    """asv ``setup_cache`` of the loading quality and exact benchmarks: instances and their optima.

    Returns ``[(problem file, optimal number of served users), ...]`` in :data:`LOADING_QUALITY_SEEDS`
    order. The optimum is brute force's, checked against the MILP (two independent exact methods);
    raises when they disagree, when the MILP proves nothing, or when the optimum is 0 (no ratio).
    """
    rows = []
    for seed in LOADING_QUALITY_SEEDS:
        problem = loading_exact_instance(seed)
        brute = partialloading_optimal(problem, method="brute_force")
        milp = partialloading_optimal(problem, method="milp", time_limit=120.0)
        if milp.status != "optimal" or milp.served != brute.served:
            raise RuntimeError(f"loading quality instance {seed}: brute force serves {brute.served}, "
                               f"the MILP {milp.served} ({milp.status})")
        if brute.served == 0:
            raise RuntimeError(f"loading quality instance {seed}: nobody can be served")
        rows.append((dump_loading_problem(problem, f"loading-quality-{seed}"), int(brute.served)))
    return rows


setup_cache_loading_quality.timeout = 600


# ----------------------------------------------------------------------------- timing
class FewSamples:
    """asv timing attributes of a benchmark whose one call takes tens of milliseconds to seconds:
    one call per sample, 1 to 10 samples within 5 s, no warm-up (``setup`` already ran it once)."""

    repeat = (1, 10, 5.0)
    warmup_time = 0
    rounds = 1
    timeout = 300


# ----------------------------------------------------------------------------- max coverage
#: Every instance that :func:`setup_cache_coverage` builds (the largest is the issue #5 target).
COVERAGE_LABELS = ["20000x2000x200", "200000x20000x2000"]


def coverage_instance(n_sets: int, n_elements: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Skewed weighted sets: CSR (``indptr`` int64, ``indices`` int32, sorted inside each set) and
    element weights. Sizes 5..39 drawn uniformly, elements by a Zipf-0.8 popularity (shuffled over
    the ids) that is also their weight; repeats inside a set are dropped."""
    rng = np.random.default_rng(seed)
    w = 1.0 / np.arange(1, n_elements + 1) ** 0.8
    rng.shuffle(w)
    sizes = rng.integers(5, 40, n_sets)
    idx = rng.choice(n_elements, size=int(sizes.sum()), p=w / w.sum())
    rows = np.repeat(np.arange(n_sets, dtype=np.int64), sizes)
    key = np.unique(rows * n_elements + idx)  # drop repeats inside a set, sort by (set, element)
    rows, idx = key // n_elements, (key % n_elements).astype(np.int32)
    ptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_sets))]).astype(np.int64)
    return ptr, idx, w


def parse_coverage_label(label: str) -> tuple[int, int, int]:
    """``"SETSxELEMENTSxBUDGET"`` -> (sets, elements, budget)."""
    n_sets, n_elements, budget = (int(t) for t in label.lower().split("x"))
    return n_sets, n_elements, budget


def load_coverage_instance(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(indptr, indices, weights, budget) saved by :func:`setup_cache_coverage`."""
    with np.load(path) as data:
        return data["indptr"], data["indices"], data["weights"], int(data["budget"])


def setup_cache_coverage() -> dict[str, str]:
    """asv ``setup_cache`` of the max-coverage benchmarks: one ``.npz`` per :data:`COVERAGE_LABELS`."""
    files = {}
    for label in COVERAGE_LABELS:
        n_sets, n_elements, budget = parse_coverage_label(label)
        ptr, idx, w = coverage_instance(n_sets, n_elements, seed=SEED)
        files[label] = os.path.abspath(f"coverage-{label}.npz")
        np.savez(files[label], indptr=ptr, indices=idx, weights=w, budget=budget)
    return files


setup_cache_coverage.timeout = 300
