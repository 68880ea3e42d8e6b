"""Worker of the fuzz suite (tests/test_fuzz.py): runs a batch of cases in its own process.

``python fuzz_worker.py CASES.pkl`` loads a pickled list of ``(target, case)`` pairs and runs
``TARGETS[target](case)`` for each, printing one JSON line per case *before* running it
(``{"start": i}``) and one after (``{"i": i, "outcome": ...}``): when the process dies of a signal
or hangs, the last ``start`` names the case that did it. Outcomes:

* ``"ok"``: a result, and the target's correctness checks on it passed;
* ``"refused"``: an :class:`~trimcore.errors.InstanceError` whose message names a field
  (``"<field>: expected ..."``) or a file;
* ``"memory"``: a MemoryError under the worker's 4 GB address-space cap, for an input that asks for
  that much (``max_coverage(..., n_elements=2**31 - 1)`` allocates its weights): the process lives;
* ``"wrong"``: a correctness check failed (an AssertionError), with the message;
* ``"unclear"``: any other exception (a raw TypeError, IndexError, ...), with its type and message.

The parent accepts ``ok``, ``refused`` and ``memory``.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import tempfile
import traceback
import warnings
from pathlib import Path
from typing import Any

import numpy as np

import trimcore as tc
from trimcore import _core
from trimcore.errors import InstanceError
from trimcore.instance import io as tio
from trimcore.kernels import kernel, kernel_tiers

WORK = Path(tempfile.mkdtemp(prefix="trimcore-fuzz-"))


# ------------------------------------------------------------------------------ checks
def _evaluators_agree(problem: tc.PlacementProblem, placement: Any) -> None:
    """hit_ratio / storage_used on every tier: identical, hit ratio in [0, 1]."""
    hits = {b: problem.hit_ratio(placement, backend=b) for b in kernel_tiers("placement.hit_weight")}
    used = {b: problem.storage_used(placement, backend=b) for b in kernel_tiers("placement.storage_used")}
    first = next(iter(hits.values()))
    assert all(abs(h - first) <= 1e-9 * max(1.0, abs(first)) for h in hits.values()), hits
    assert -1e-12 <= first <= 1.0 + 1e-9, first
    ref = used["reference"]
    assert all(np.allclose(u, ref, rtol=1e-12, atol=0) for u in used.values()), used


def _full_placement(problem: tc.PlacementProblem) -> np.ndarray:
    return np.ones((problem.n_servers, problem.n_models), dtype=bool)


# ------------------------------------------------------------------------------ targets
def placement_from_arrays(case: dict) -> None:
    problem = tc.PlacementProblem.from_arrays(case["block_sizes"], case["model_blocks"], case["capacity"],
                                              case["eligible"], case["popularity"])
    _evaluators_agree(problem, _full_placement(problem))


def placement_from_library(case: dict) -> None:
    library = tc.ModelLibrary.from_lists(case["block_sizes"], case["model_blocks"])
    problem = tc.PlacementProblem.from_library(library, case["capacity"], case["popularity"], case["max_size"])
    _evaluators_agree(problem, _full_placement(problem))


def placement_evaluators(case: dict) -> None:
    problem = tc.PlacementProblem.from_arrays(*case["problem"])
    _evaluators_agree(problem, case["placement"])
    problem.is_feasible(case["placement"])


def library_from_lists(case: dict) -> None:
    lib = tc.ModelLibrary.from_lists(case["block_sizes"], case["model_blocks"], families=case.get("families"))
    sizes = lib.model_sizes
    assert np.all(sizes > 0) and lib.union_size(np.arange(lib.n_models)) <= sizes.sum() * (1 + 1e-12)


def loading_problem(case: dict) -> None:
    problem = tc.LoadingProblem.from_arrays(*case["args"], **case["kwargs"])
    order = np.arange(problem.n_users)
    times = {b: problem.load_times(order, backend=b) for b in kernel_tiers("loading.order_times")}
    ref = times["reference"]
    assert all(np.array_equal(t, ref) for t in times.values()), times
    assert 0 <= problem.served(order) <= problem.n_users


def max_coverage(case: dict) -> None:
    results = {}
    for backend in ("cpp", "reference"):
        results[backend] = tc.max_coverage(case["indptr"], case["indices"], case["budget"], case.get("weights"),
                                           case.get("costs"), case.get("lazy", True),
                                           n_elements=case.get("n_elements"), threads=case.get("threads"),
                                           backend=backend)
    a, b = results["cpp"], results["reference"]
    assert np.array_equal(a.selected, b.selected), (a.selected, b.selected)
    assert a.value <= a.upper_bound * (1 + 1e-9) + 1e-12, (a.value, a.upper_bound)


def core_binding(case: dict) -> None:
    """A raw trimcore._core call; any result is fine, only a clear refusal or a crash matter."""
    if case["name"].startswith("PlacementProblem."):  # an accepted problem then runs what reads it
        problem = getattr(_core.PlacementProblem, case["name"].split(".")[1])(*case["args"])
        placement, rule = case["then"]
        for warm in (None, placement):
            _core.trimcaching_gen(problem, rule, True, warm)
        for knapsack, atomic in (("auto", False), ("grid", False), ("fptas", True), (rule, False)):
            _core.trimcaching_spec(problem, 0.2, knapsack, 16, 64, None, atomic, 1 << 22, 5e7, 4e9)
        problem.hit_weight(placement)
        problem.storage_used(placement)
        return
    fn = getattr(_core, case["name"])
    if case["name"] == "CoverageIndex":
        index = fn(*case["args"])
        placement, weight = case["then"]
        _core.hit_weight_indexed(placement, index, weight)
        covered = np.zeros(weight.shape, dtype=np.uint8)  # gains read the same accepted index
        _core.all_server_gains_indexed(index, weight, covered)
        if index_servers := placement.shape[0]:
            _core.server_gains_indexed(index_servers - 1, index, weight, covered)
        return
    fn(*case["args"], **case.get("kwargs", {}))


def knapsack_kernels(case: dict) -> None:
    """The C++ knapsack on anything; the reference only where its precondition holds, then equal."""
    v, w, cap, eps = case["values"], case["weights"], case["capacity"], case["eps"]
    if case["kind"] == "fptas":
        cpp = _core.knapsack_fptas(v, w, cap, eps)  # refuses what it cannot take
        ref = kernel("knapsack.knapsack_fptas", "reference")(v, w, cap, eps)
    else:
        cpp = _core.knapsack_grid(v, w, cap)
        ref = kernel("knapsack.knapsack_grid", "reference")(v, w, cap)
    assert np.array_equal(cpp, ref), (cpp, ref)
    chosen_weight = float(np.sum(w[cpp])) if cpp.size else 0.0
    assert chosen_weight <= cap * (1 + 1e-9) + 1e-12 or cpp.size == 0, (chosen_weight, cap)


def problem_file(case: dict) -> None:
    path = WORK / "problem.npz"
    path.write_bytes(case["data"])
    problem = tc.PlacementProblem.load(path)
    _evaluators_agree(problem, _full_placement(problem))
    for algorithm in (tc.popularity_caching, tc.random_caching):
        for backend in ("cpp", "reference"):
            res = algorithm(problem, backend=backend, bound=None)
            assert 0.0 <= res.hit_ratio <= 1.0 + 1e-9


def file_loader(case: dict) -> None:
    path = WORK / case["name"]
    path.write_bytes(case["data"])
    loader = case["loader"]
    if loader == "library":
        tio.load_library(path)
    elif loader == "arrays":
        tio.load_arrays(path)
    else:  # a Stored kind: its constructor validates what load read
        import trimcore.instance.topology as topology
        from trimcore.coverage import CoverageResult

        kinds = {"ModelLibrary": tc.ModelLibrary, "LoadingProblem": tc.LoadingProblem, "Topology": topology.Topology,
                 "PlacementResult": tc.PlacementResult, "LoadingResult": tc.LoadingResult,
                 "CoverageResult": CoverageResult}
        obj = kinds[loader].load(path)
        if loader == "LoadingProblem":
            obj.served(np.arange(obj.n_users))


def scenario_file(case: dict) -> None:
    from trimcore.experiments.scenarios import build_placement, load_scenario

    path = WORK / "scenario.toml"
    path.write_text(case["text"])
    build_placement(load_scenario(path))


def algorithm_options(case: dict) -> None:
    problem = tc.PlacementProblem.from_arrays(*case["problem"])
    fn = getattr(tc, case["algorithm"])
    res = fn(problem, **case["options"])
    assert res.feasible and 0.0 <= res.hit_ratio <= 1.0 + 1e-9
    if res.upper_bound is not None:
        assert res.hit_ratio <= res.upper_bound + 1e-9, (res.hit_ratio, res.upper_bound)


def _builders() -> dict[str, Any]:
    from trimcore.experiments.scenarios import make_loading_instance
    from trimcore.instance import demand, topology, zoo

    return {"frozen_backbone_library": zoo.frozen_backbone_library,
            "nested_sharing_library": zoo.nested_sharing_library,
            "llm_lora_library": zoo.llm_lora_library, "synthetic_library": zoo.synthetic_library,
            "random_library": zoo.random_library, "zipf_popularity": demand.zipf_popularity,
            "request_trace": demand.request_trace, "uniform": topology.Topology.uniform,
            "grid": topology.Topology.grid, "eua": topology.Topology.eua, "latency_limits": topology.latency_limits,
            "make_loading_instance": make_loading_instance}


def instance_builders(case: dict) -> None:
    out = _builders()[case["fn"]](**case["kwargs"])
    if isinstance(out, tc.ModelLibrary):
        assert np.all(out.model_sizes > 0) and out.n_models >= 1
    elif isinstance(out, np.ndarray):  # popularity, latency limits: finite, >= 0
        assert np.all(np.isfinite(out)) and np.all(out >= 0), out
    elif isinstance(out, tuple):  # a request trace: ids in range
        users, models = out
        assert users.shape == models.shape and (users.size == 0 or users.min() >= 0)


def loading_algorithms(case: dict) -> None:
    import trimcore.loading as loading
    from trimcore.experiments.scenarios import make_loading_instance

    problem = make_loading_instance(*case["instance"])
    res = getattr(loading, case["algorithm"])(problem, **case["options"])
    # the result's own count must be what the evaluator says of its decision
    assert res.served == problem.served(res.order, res.bandwidth), (res.served, case)
    assert 0 <= res.served <= problem.n_users


TARGETS = {f.__name__: f for f in (placement_from_arrays, placement_from_library, placement_evaluators,
                                   library_from_lists, loading_problem, max_coverage, core_binding,
                                   knapsack_kernels, problem_file, file_loader, scenario_file,
                                   algorithm_options, instance_builders, loading_algorithms)}


def _outcome(target: str, case: Any) -> dict[str, str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            TARGETS[target](case)
    except InstanceError as exc:
        text = str(exc)
        if ": " not in text:
            return {"outcome": "unclear", "detail": f"InstanceError without a field: {text}"}
        return {"outcome": "refused"}
    except MemoryError:  # an input that asks for more than the 4 GB cap (n_elements=2**31 - 1): refused cleanly
        return {"outcome": "memory"}
    except AssertionError as exc:
        return {"outcome": "wrong", "detail": f"{exc}\n{traceback.format_exc(limit=4)}"}
    except Exception as exc:  # noqa: BLE001 - the point: name whatever escaped
        return {"outcome": "unclear", "detail": f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}"}
    return {"outcome": "ok"}


def _limit_memory(gigabytes: float = 4.0) -> None:
    """Cap the address space: an input that makes trimcore allocate without bound then raises a
    MemoryError (an "unclear" outcome naming the case) instead of swapping the machine to death."""
    if "asan" in os.environ.get("LD_PRELOAD", ""):
        return  # AddressSanitizer maps terabytes of shadow memory: no address-space cap under it
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return
    limit = int(gigabytes * 2**30)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or hard > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def main(cases_path: str) -> None:
    _limit_memory()
    with open(cases_path, "rb") as handle:
        cases = pickle.load(handle)
    print(json.dumps({"package": str(Path(tc.__file__).resolve().parent)}), flush=True)
    for i, (target, case) in enumerate(cases):
        print(json.dumps({"start": i}), flush=True)
        print(json.dumps({"i": i, **_outcome(target, case)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
