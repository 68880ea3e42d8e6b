"""Fuzz suite (issue #10): malformed input never crashes the process, hangs, or passes unchecked.

Hypothesis draws the cases here (derandomized in CI by the ``ci`` profile of conftest.py); each
entry point's batch then runs in one subprocess (tests/fuzz_worker.py), so a segfault or an abort
fails the test and names the case instead of killing pytest. Every case must end in a clear
:class:`~trimcore.errors.InstanceError` (``"<field>: expected ..., got ..."``) or in a result that
passes the target's correctness checks (tiers agree, hit ratio in [0, 1], value <= bound ...).

Entry points: the public constructors (``PlacementProblem.from_arrays`` / ``from_library``,
``ModelLibrary.from_lists``, ``LoadingProblem.from_arrays``), the evaluators on every backend,
the instance builders (zoo libraries, demand, topologies, loading instances),
``max_coverage`` on both its tiers, every raw ``trimcore._core`` binding, the knapsack kernels,
crafted files for every loader (problem, library, raw arrays, dataclass problem, both result
kinds), scenario TOML files, and the options of the placement and the
loading algorithms.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trimcore as tc
from trimcore.instance.io import save_arrays, save_dataclass, save_library

HERE = Path(__file__).resolve().parent
#: Cases per entry point (the numbers docs/reliability.md reports).
CASES = {"placement_from_arrays": 150, "placement_from_library": 120, "placement_evaluators": 150,
         "library_from_lists": 120, "loading_problem": 100, "max_coverage": 150, "core_binding": 400,
         "knapsack_kernels": 150, "problem_file": 150, "file_loader": 240, "scenario_file": 80,
         "algorithm_options": 60, "instance_builders": 200, "loading_algorithms": 80}
#: One batch may take this long before it counts as a hang (it takes a few seconds).
BATCH_TIMEOUT_S = 300

SPECIAL = [np.nan, np.inf, -np.inf, -1.0, -0.0, 0.0, 5e-324, 1e-310, 1e308, 2.0**31, 2.0**32, 2.0**62,
           2.0**63, 1.5]
SPECIAL_INT = [-1, 0, 1, 2**31 - 1, 2**31, 2**32, 2**62, 2**63 - 1, -(2**63)]
DTYPES = [np.int8, np.int32, np.int64, np.uint64, np.float32, np.float64, np.bool_, np.complex128, "U4"]


# ------------------------------------------------------------------------------ strategies
@st.composite
def mutated(draw: Any, value: Any, how: str | None = None) -> Any:
    """``value`` unchanged (often) or broken in one way: dtype, shape, a special value, layout, type."""
    arr = np.asarray(value)
    how = how or draw(st.sampled_from(["keep", "keep", "keep", "dtype", "shape", "value", "value", "layout",
                                       "empty", "scalar", "list"]))
    if how == "keep":
        return value
    if how == "dtype":
        try:
            return arr.astype(draw(st.sampled_from(DTYPES)))
        except (TypeError, ValueError, OverflowError):
            return arr
    if how == "shape":
        choice = draw(st.integers(0, 4))
        if choice == 0:
            return arr[None]
        if choice == 1:
            return arr.reshape(-1)
        if choice == 2:
            return arr.T
        if choice == 3 and arr.ndim:
            return np.concatenate([arr, arr[:1]])
        return arr[:-1] if arr.ndim else arr
    if how == "value":
        if arr.size == 0:
            return arr
        out = np.array(arr, dtype=np.float64 if draw(st.booleans()) or arr.dtype.kind == "f" else np.int64)
        flat = out.reshape(-1)
        at = draw(st.integers(0, flat.size - 1))
        flat[at] = draw(st.sampled_from(SPECIAL)) if out.dtype.kind == "f" else draw(st.sampled_from(SPECIAL_INT))
        return out
    if how == "layout":  # same values, not C-contiguous
        return np.repeat(arr, 2, axis=0)[::2] if arr.ndim else arr
    if how == "empty":
        return arr[:0] if arr.ndim else arr
    if how == "scalar":
        return arr.reshape(-1)[0] if arr.size else 0
    return arr.tolist()


@st.composite
def small_instance(draw: Any) -> dict[str, Any]:
    """A valid small placement instance as plain arrays (the base every mutation starts from)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_blocks, n_models = int(rng.integers(1, 7)), int(rng.integers(1, 5))
    n_servers, n_users = int(rng.integers(1, 4)), int(rng.integers(1, 5))
    blocks = [sorted(rng.choice(n_blocks, int(rng.integers(1, n_blocks + 1)), replace=False).tolist())
              for _ in range(n_models)]
    sizes = rng.uniform(0.5, 10.0, n_blocks)
    pop = rng.random((n_users, n_models)) + 0.01
    return {"block_sizes": sizes, "model_blocks": blocks, "capacity": rng.uniform(0, sizes.sum(), n_servers),
            "eligible": rng.random((n_servers, n_users, n_models)) < 0.6, "popularity": pop,
            "max_size": rng.uniform(0, 30.0, (n_servers, n_users)),
            "placement": rng.random((n_servers, n_models)) < 0.5}


def _problem_args(inst: dict[str, Any]) -> tuple:
    return inst["block_sizes"], inst["model_blocks"], inst["capacity"], inst["eligible"], inst["popularity"]


@st.composite
def model_blocks_mutated(draw: Any, blocks: list[list[int]]) -> Any:
    choice = draw(st.integers(0, 6))
    if choice <= 2:
        return blocks
    if choice == 3:
        return [*blocks[:-1], []]  # a model without blocks
    if choice == 4:
        return [[*b, draw(st.sampled_from(SPECIAL_INT))] for b in blocks]
    if choice == 5:
        return [[*b, b[0]] for b in blocks]  # a repeated block
    return [np.array(b, dtype=draw(st.sampled_from(DTYPES))) if b else b for b in blocks]


# ------------------------------------------------------------------------------ case builders
@st.composite
def case_placement_from_arrays(draw: Any) -> dict:
    inst = draw(small_instance())
    return {"block_sizes": draw(mutated(inst["block_sizes"])), "model_blocks": draw(model_blocks_mutated(
        inst["model_blocks"])), "capacity": draw(mutated(inst["capacity"])),
        "eligible": draw(mutated(inst["eligible"])), "popularity": draw(mutated(inst["popularity"]))}


@st.composite
def case_placement_from_library(draw: Any) -> dict:
    inst = draw(small_instance())
    return {"block_sizes": inst["block_sizes"], "model_blocks": inst["model_blocks"],
            "capacity": draw(mutated(inst["capacity"])), "popularity": draw(mutated(inst["popularity"])),
            "max_size": draw(mutated(inst["max_size"]))}


@st.composite
def case_placement_evaluators(draw: Any) -> dict:
    inst = draw(small_instance())
    return {"problem": _problem_args(inst), "placement": draw(mutated(inst["placement"]))}


@st.composite
def case_library_from_lists(draw: Any) -> dict:
    inst = draw(small_instance())
    n_models = len(inst["model_blocks"])
    return {"block_sizes": draw(mutated(inst["block_sizes"])),
            "model_blocks": draw(model_blocks_mutated(inst["model_blocks"])),
            "families": draw(st.one_of(st.none(), mutated(np.zeros(n_models, dtype=np.int64))))}


@st.composite
def case_loading_problem(draw: Any) -> dict:
    inst = draw(small_instance())
    n_models = len(inst["model_blocks"])
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    k = int(rng.integers(1, 6))
    args = [inst["block_sizes"], inst["model_blocks"], rng.integers(0, n_models, k), rng.uniform(0.01, 0.1, k),
            rng.uniform(0.5, 2.0, k), rng.uniform(1e3, 1e5, k), rng.uniform(1e6, 1e9, k), 1e7, 1e3, 100.0, -1]
    at = draw(st.integers(0, len(args) - 1))
    args[at] = draw(model_blocks_mutated(args[at]) if at == 1 else mutated(args[at]))
    kwargs = draw(st.sampled_from([{}, {"loading": "full"}, {"loading": "nope"}, {"act_memory": -1.0},
                                   {"rate_model": "fixed_psd"}, {"bw_method": "bisection"}]))
    return {"args": tuple(args), "kwargs": kwargs}


@st.composite
def case_max_coverage(draw: Any) -> dict:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_sets, n_el = int(rng.integers(1, 6)), int(rng.integers(1, 8))
    members = [rng.choice(n_el, int(rng.integers(0, n_el + 1)), replace=False) for _ in range(n_sets)]
    indptr = np.concatenate([[0], np.cumsum([m.size for m in members])]).astype(np.int64)
    indices = np.concatenate(members).astype(np.int64) if members else np.zeros(0, np.int64)
    case = {"indptr": draw(mutated(indptr)), "indices": draw(mutated(indices)),
            "budget": draw(st.one_of(st.integers(0, 4), st.sampled_from([1.5, -1, "3", np.nan, 2**40]))),
            "weights": draw(st.one_of(st.none(), mutated(rng.random(n_el)))),
            "lazy": draw(st.booleans()),
            "n_elements": draw(st.one_of(st.none(), st.just(n_el), st.sampled_from(SPECIAL_INT))),
            "threads": draw(st.one_of(st.none(), st.integers(1, 3), st.sampled_from([0, -1, 2**40, 1.5])))}
    if draw(st.booleans()):
        case["costs"] = draw(mutated(rng.uniform(0, 2, n_sets)))
    return case


def _core_args(inst: dict[str, Any]) -> dict[str, tuple]:
    """Valid argument tuples of every raw binding, for one small problem."""
    prob = tc.PlacementProblem.from_arrays(*_problem_args(inst))
    lib = prob.library
    block_ptr, block_models = lib.block_models
    x = np.ascontiguousarray(inst["placement"])
    pairs = (np.array(prob.pair_ptr), np.array(prob.pair_len), np.array(prob.pair_users))
    covered = np.zeros((prob.n_models, prob.n_users), dtype=np.uint8)
    candidates = np.arange(prob.n_servers * prob.n_models, dtype=np.int64)
    indptr, indices = np.array(lib.indptr), np.array(lib.indices, dtype=np.int32)
    return {
        "storage_used": (x, np.array(lib.bitsets), np.array(lib.block_sizes)),
        "hit_weight": (x, *pairs, np.array(prob.popularity_by_model)),
        "CoverageIndex": (*pairs, prob.n_servers, prob.n_users, prob.n_models),
        "greedy_placement": (*pairs, np.array(prob.popularity_by_model), np.array(lib.bitsets),
                             np.array(lib.block_sizes), np.array(prob.capacity), np.array(block_ptr),
                             np.array(block_models), candidates, covered, "gain", True, 1e-9),
        "server_gains": (0, *pairs, np.array(prob.popularity_by_model), covered),
        "knapsack_fptas": (np.array(lib.model_sizes), np.ones(lib.n_models), 2.0, 0.5),
        "knapsack_grid": (np.array(lib.model_sizes), np.ones(lib.n_models, dtype=np.int64), 3),
        "max_coverage": (indptr, indices, np.ones(lib.n_blocks), np.ones(lib.n_models), 2.0, "gain", True, 1e-12, 1),
        "coverage_gains": (indptr, indices, np.ones(lib.n_blocks), None, 1),
        # the one-line placement API: the factories, then (in the worker) its algorithm and evaluators
        "PlacementProblem.from_max_size": (np.array(lib.block_sizes), np.array(lib.indptr), np.array(lib.indices),
                                           np.array(prob.capacity), np.array(inst["popularity"]),
                                           np.array(inst["max_size"])),
        "PlacementProblem.from_pairs": (np.array(lib.block_sizes), np.array(lib.indptr), np.array(lib.indices),
                                        np.array(prob.capacity), np.array(inst["popularity"]), *pairs),
        "PlacementProblem.from_dense": (np.array(lib.block_sizes), np.array(lib.indptr), np.array(lib.indices),
                                        np.array(prob.capacity), np.array(inst["popularity"]),
                                        np.array(inst["eligible"])),
    }


def _mutate_scalar(draw: Any, value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):  # in the C type's range: pybind11 converts it, the core judges it
        return draw(st.sampled_from([value, -1, 0, 2**31 - 1, -(2**31)]))
    if isinstance(value, float):
        return draw(st.sampled_from([value, value, *SPECIAL]))
    if isinstance(value, str):
        return draw(st.sampled_from([value, value, "ratio", "nope", ""]))
    return value


@st.composite
def case_core_binding(draw: Any) -> dict:
    inst = draw(small_instance())
    name = draw(st.sampled_from(sorted(_core_args(inst))))
    args = list(_core_args(inst)[name])
    for _ in range(draw(st.integers(1, 2))):
        at = draw(st.integers(0, len(args) - 1))
        if isinstance(args[at], np.ndarray):
            args[at] = draw(mutated(args[at], how=draw(st.sampled_from(["dtype", "shape", "value", "layout",
                                                                        "empty", "keep"]))))
            if not isinstance(args[at], np.ndarray):
                args[at] = np.asarray(args[at])
        else:
            args[at] = _mutate_scalar(draw, args[at])
    case = {"name": name, "args": tuple(args)}
    if name == "CoverageIndex":
        prob_pop = np.asarray(inst["popularity"]).T.copy()
        case["then"] = (draw(mutated(np.ascontiguousarray(inst["placement"]), how="keep")), prob_pop)
    if name.startswith("PlacementProblem."):
        case["then"] = (draw(mutated(np.ascontiguousarray(inst["placement"]), how=draw(st.sampled_from(
            ["dtype", "shape", "value", "keep"])))), draw(st.sampled_from(["best_of_both", "ratio", "gain", "nope"])))
    return case


@st.composite
def case_knapsack(draw: Any) -> dict:
    n = draw(st.integers(0, 5))
    kind = draw(st.sampled_from(["fptas", "grid"]))
    values = np.array(draw(st.lists(st.sampled_from([1.0, 2.5, 7.0, 5e-324, 1e-310, 1e308, 0.0, np.nan, -1.0]),
                                    min_size=n, max_size=n)), dtype=np.float64)
    if kind == "fptas":
        weights = np.array(draw(st.lists(st.sampled_from([0.0, 1.0, 2.5, 1e300, -1.0, np.inf]), min_size=n,
                                         max_size=n)), dtype=np.float64)
        return {"kind": kind, "values": values, "weights": weights,
                "capacity": draw(st.sampled_from([0.0, 1.0, 3.0, 1e300, -1.0, np.inf, np.nan])),
                "eps": draw(st.sampled_from([0.5, 0.1, 1e-3, 1e-300, 0.0, 1.0, np.nan]))}
    cap = draw(st.sampled_from([0, 1, 3, 10, -1, 2**40, 2**62]))
    weights = np.array(draw(st.lists(st.sampled_from([0, 1, 2, 3, -1, 11, 2**62]), min_size=n, max_size=n)),
                       dtype=np.int64)
    return {"kind": kind, "values": values, "weights": weights, "capacity": cap, "eps": 0.0}


def _npz_bytes(arrays: dict[str, np.ndarray], kind: str, meta: dict) -> bytes:
    """The bytes save_arrays would write (through a temporary file: it writes atomically)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        return save_arrays(Path(folder) / "f", kind, arrays, meta).read_bytes()


def _raw_npz(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@st.composite
def corrupted(draw: Any, data: bytes) -> bytes:
    """Whole, truncated, with flipped bytes, or not a zip at all."""
    choice = draw(st.integers(0, 5))
    if choice <= 1 or not data:
        return data
    if choice == 2:
        return data[:draw(st.integers(0, len(data) - 1))]
    if choice == 3:
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            out[draw(st.integers(0, len(out) - 1))] = draw(st.integers(0, 255))
        return bytes(out)
    if choice == 4:
        return b"PK\x03\x04" + data[4:20]
    return draw(st.binary(max_size=64))


def _stored_problem(inst: dict[str, Any], compact: bool) -> tuple[dict, dict]:
    import tempfile

    if compact:
        lib = tc.ModelLibrary.from_lists(inst["block_sizes"], inst["model_blocks"])
        prob = tc.PlacementProblem.from_library(lib, inst["capacity"], inst["popularity"], inst["max_size"])
    else:
        prob = tc.PlacementProblem.from_arrays(*_problem_args(inst))
    with tempfile.TemporaryDirectory() as folder:
        from trimcore.instance.io import load_arrays

        return load_arrays(prob.save(Path(folder) / "p"))


def _header_of(arrays: dict, kind: str, meta: dict) -> dict:
    return {"format": "trimcore", "version": 1, "kind": kind, "meta": meta,
            "arrays": {n: [a.dtype.str, list(a.shape)] for n, a in arrays.items()}}


@st.composite
def header_mutated(draw: Any, arrays: dict, kind: str, meta: dict) -> bytes:
    """A file whose JSON header is broken in one place (written raw, bypassing save_arrays)."""
    head = _header_of(arrays, kind, meta)
    choice = draw(st.integers(0, 7))
    if choice == 0:
        head["version"] = draw(st.sampled_from([0, 2, "1", 1.0, None, True]))
    elif choice == 1:
        head["kind"] = draw(st.sampled_from([None, 3, "library", "PlacementProblem", ""]))
    elif choice == 2:
        head["meta"] = draw(st.sampled_from([None, [], "x", {"library": 5}, {"library": {"model_names": [1]}}]))
    elif choice == 3:
        head["arrays"] = draw(st.sampled_from([None, [], {}, {"x": [1, 2, 3]}]))
    elif choice == 4:
        del head[draw(st.sampled_from(sorted(head)))]
    elif choice == 5:
        text = '{"format": "trimcore", "version": 1, "kind": "' + kind + '", "meta": ' + "[" * 5000 + "]" * 5000
        return _raw_npz({**arrays, "__header__": np.frombuffer((text + "}").encode(), dtype=np.uint8)})
    elif choice == 6:
        return _raw_npz({**arrays, "__header__": np.frombuffer(b"\xff\xfe{", dtype=np.uint8)})
    else:
        return _raw_npz({**arrays, "__header__": np.zeros((2, 2), dtype=np.float64)})
    return _raw_npz({**arrays, "__header__": np.frombuffer(json.dumps(head).encode(), dtype=np.uint8)})


@st.composite
def case_problem_file(draw: Any) -> dict:
    inst = draw(small_instance())
    arrays, meta = _stored_problem(inst, draw(st.booleans()))
    choice = draw(st.integers(0, 9))
    if choice <= 5:  # one array broken, the header kept consistent (the dangerous kind)
        name = draw(st.sampled_from(sorted(arrays)))
        extent = {"pair_ptr": [0, 2**62, 2**63 - 1, -1], "pair_len": [2**62, 2**63 - 1, -1, 10**6]}
        if name in extent and draw(st.booleans()):
            bad = np.array(arrays[name])
            bad[draw(st.integers(0, bad.size - 1))] = draw(st.sampled_from(extent[name]))
            arrays[name] = bad
        else:
            arrays[name] = np.asarray(draw(mutated(arrays[name], how=draw(st.sampled_from(
                ["dtype", "shape", "value", "empty", "scalar"])))))
            if arrays[name].dtype.kind in "OU":
                arrays[name] = arrays[name].astype(np.float64, copy=False) if arrays[name].dtype.kind == "O" \
                    else arrays[name]
        return {"data": _npz_bytes(arrays, "PlacementProblem", meta)}
    if choice == 6:
        del arrays[draw(st.sampled_from(sorted(arrays)))]
        return {"data": _npz_bytes(arrays, "PlacementProblem", meta)}
    if choice == 7:
        return {"data": draw(header_mutated(arrays, "PlacementProblem", meta))}
    return {"data": draw(corrupted(_npz_bytes(arrays, "PlacementProblem", meta)))}


def _loading_problem(inst: dict[str, Any]) -> tc.LoadingProblem:
    n_models = len(inst["model_blocks"])
    k = 3
    return tc.LoadingProblem.from_arrays(inst["block_sizes"], inst["model_blocks"], np.arange(k) % n_models,
                                         0.05, 1.0, 1e4, 1e8, 1e7, 1e3, 100.0)


def _dataclass_file(obj: Any, kind: str) -> tuple[dict, dict]:
    import tempfile

    from trimcore.instance.io import load_arrays

    with tempfile.TemporaryDirectory() as folder:
        return load_arrays(save_dataclass(Path(folder) / "d", kind, obj))


@st.composite
def case_file_loader(draw: Any) -> dict:
    import dataclasses
    import tempfile

    from trimcore.instance.io import load_arrays

    inst = draw(small_instance())
    loader = draw(st.sampled_from(["library", "arrays", "ModelLibrary", "LoadingProblem", "Topology",
                                   "PlacementResult", "LoadingResult", "CoverageResult"]))
    if loader in ("library", "arrays"):
        lib = tc.ModelLibrary.from_lists(inst["block_sizes"], inst["model_blocks"])
        with tempfile.TemporaryDirectory() as folder:
            arrays, meta = load_arrays(save_library(Path(folder) / "l", lib))
        kind = "library"
    else:
        if loader == "ModelLibrary":
            obj: Any = tc.ModelLibrary.from_lists(inst["block_sizes"], inst["model_blocks"])
        elif loader == "LoadingProblem":
            obj = _loading_problem(inst)
        elif loader == "Topology":
            from trimcore.instance.topology import Topology

            obj = Topology.uniform(2, 3, seed=0)
        elif loader == "PlacementResult":
            obj = tc.popularity_caching(tc.PlacementProblem.from_arrays(*_problem_args(inst)), bound=None)
        elif loader == "LoadingResult":
            from trimcore.loading import fcfs_schedule

            obj = fcfs_schedule(_loading_problem(inst))
        else:
            obj = tc.max_coverage([0, 2, 3], [0, 1, 2], 1)
        if any(f.name == "runtime_s" for f in dataclasses.fields(obj)):  # the same bytes on every replay
            obj = dataclasses.replace(obj, runtime_s=0.0)
        if any(f.name == "bound_runtime_s" for f in dataclasses.fields(obj)):
            obj = dataclasses.replace(obj, bound_runtime_s=0.0)
        with tempfile.TemporaryDirectory() as folder:
            arrays, meta = load_arrays(obj.save(Path(folder) / "f"))
        kind = loader
    choice = draw(st.integers(0, 5))
    if choice <= 2 and arrays:
        name = draw(st.sampled_from(sorted(arrays)))
        arrays[name] = np.asarray(draw(mutated(arrays[name], how=draw(st.sampled_from(
            ["dtype", "shape", "value", "empty", "scalar"])))))
        data = _npz_bytes(arrays, kind, meta)
    elif choice == 3:
        data = draw(header_mutated(arrays, kind, meta))
    else:
        data = draw(corrupted(_npz_bytes(arrays, kind, meta)))
    return {"loader": loader, "name": "file.npz", "data": data}


SCENARIO_LINES = ['capacity_mb = 100.0', 'capacity_mb = "lots"', 'capacity = 5.0', 'seed = 3', 'seed = -2',
                  'seed = 1.5', 'latency_s = [1.0, 3.0]', 'latency_s = [3.0]', 'latency_s = "x"', 'name = 7',
                  '[topology]\nkind = "uniform"\nn_servers = 3\nn_users = 5',
                  '[topology]\nkind = "grid"\nrows = 2\ncols = 1\nn_users = 4', '[topology]\nn_servers = 0',
                  '[topology]\nkind = "nope"', '[library]\nkind = "synthetic"\nn_models = 6',
                  '[library]\nmodels_per_family = 2', '[library]\nmodels_per_family = "x"',
                  '[library]\nfamilies = ["resnet18"]\nmodels_per_family = 2', '[library]\ntypo = 1',
                  '[demand]\nexponent = 1.2', '[demand]\nexponent = "x"', '[radio]\nvariant = "backhaul"',
                  '[radio]\ntx_power_dbm = [1.0, 2.0]', 'radio = 3', '[library]\nkind = 4', 'x = [', '= 1']


@st.composite
def case_scenario_file(draw: Any) -> dict:
    lines = draw(st.lists(st.sampled_from(SCENARIO_LINES), min_size=1, max_size=3, unique=True))
    top = [line for line in lines if not line.startswith("[")]
    tables = [line for line in lines if line.startswith("[")]
    # a small topology unless the case sets one: the EUA default takes seconds to solve
    base = [] if any("[topology]" in t for t in tables) else ['[topology]\nkind = "uniform"\nn_servers = 2\n'
                                                              'n_users = 4']
    return {"text": "\n".join(top + tables + base) + "\n"}


@st.composite
def case_algorithm_options(draw: Any) -> dict:
    inst = draw(small_instance())
    algorithm = draw(st.sampled_from(["trimcaching_gen", "trimcaching_spec", "independent_caching",
                                      "popularity_caching", "random_caching"]))
    options: dict[str, Any] = {"backend": draw(st.sampled_from(["auto", "cpp", "reference", "numba", "gpu", 3]))}
    options["bound"] = draw(st.sampled_from([None, "auto", "lp", "submodular", "nope"]))
    if algorithm in ("trimcaching_spec", "independent_caching"):
        options["eps"] = draw(st.sampled_from([0.1, 0.5, 1e-9, 0.0, 1.0, -1.0, np.nan, "0.1"]))
        options["knapsack"] = draw(st.sampled_from(["auto", "fptas", "grid", "greedy"]))
    if algorithm == "trimcaching_gen":
        options["rule"] = draw(st.sampled_from(["best_of_both", "gain", "ratio", "nope"]))
    if algorithm == "random_caching":
        options["seed"] = draw(st.sampled_from([0, 7, None, -1, 1.5, "x"]))
    return {"problem": _problem_args(inst), "algorithm": algorithm, "options": options}


#: Valid small keyword arguments of every instance builder (zoo, demand, topology, loading).
BUILDER_KWARGS: dict[str, dict[str, Any]] = {
    "frozen_backbone_library": {"families": ["resnet18"], "models_per_family": 2, "dtype": "fp32", "seed": 0},
    "nested_sharing_library": {"families": ["resnet18"], "models_per_family": 2, "seed": 0, "depth_range": (2, 4)},
    "llm_lora_library": {"n_adapters": 3, "n_bases": 1, "rank": 8, "seed": 0},
    "synthetic_library": {"n_models": 5, "n_families": 2, "n_stages": 3, "shared_fraction": 0.5, "seed": 0},
    "random_library": {"n_models": 4, "n_blocks": 6, "max_blocks_per_model": 3, "seed": 0, "n_families": 2},
    "zipf_popularity": {"n_users": 4, "n_models": 3, "exponent": 0.8, "ranking": "per_user", "seed": 0},
    "request_trace": {"popularity": np.full((3, 2), 0.5), "n_requests": 5, "seed": 0},
    "uniform": {"n_servers": 2, "n_users": 4, "width": 100.0, "height": 100.0, "seed": 0},
    "grid": {"rows": 2, "cols": 2, "n_users": 3, "width": 100.0, "height": 100.0, "seed": 0},
    "eua": {"n_servers": 3, "n_users": 5, "seed": 0},
    "latency_limits": {"n_users": 4, "low": 1.0, "high": 2.0, "seed": 0},
    "make_loading_instance": {"n_users": 6, "n_models": 3, "n_clusters": 2, "seed": 0},
}
#: What a keyword may be replaced with (no huge sizes: a Python loop over 2**40 items is a hang, not a bug).
BAD_VALUES = [-1, 0, 1, 2, 1.5, np.nan, np.inf, -np.inf, "3", None, True, [1, 2], (5, 2), np.array([1.0, np.nan]),
              -0.0, 5e-324]


@st.composite
def case_instance_builders(draw: Any) -> dict:
    fn = draw(st.sampled_from(sorted(BUILDER_KWARGS)))
    kwargs = dict(BUILDER_KWARGS[fn])
    for key in draw(st.lists(st.sampled_from(sorted(kwargs)), min_size=1, max_size=2, unique=True)):
        kwargs[key] = draw(st.sampled_from(BAD_VALUES))
    return {"fn": fn, "kwargs": kwargs}


LOADING_OPTIONS: dict[str, dict[str, list]] = {
    "partialloading_dp": {"deadline": ["common", "per_user", "nope"], "repair": ["rerun", "nope"]},
    "partialloading_dp_edf": {"repair": ["rerun", "nope", 3]},
    "partialloading_greedy": {"variant": ["append", "insert", "nope", None]},
    "partialloading_optimal": {"method": ["auto", "brute_force", "nope"], "time_limit": [0.5, -1.0, np.nan, "1"],
                               "brute_force_limit": [4, 0, -1, 1.5]},
    "no_sharing_schedule": {"scheduler": ["dp", "greedy", "nope", 7]},
    "fcfs_schedule": {}, "edf_schedule": {}, "grouping_schedule": {}, "random_schedule": {},
    "equal_bandwidth_schedule": {},
}


@st.composite
def case_loading_algorithms(draw: Any) -> dict:
    algorithm = draw(st.sampled_from(sorted(LOADING_OPTIONS)))
    options: dict[str, Any] = {key: draw(st.sampled_from(values)) for key, values in LOADING_OPTIONS[algorithm].items()
                               if draw(st.booleans())}
    import inspect

    import trimcore.loading as loading

    takes = inspect.signature(getattr(loading, algorithm)).parameters  # seeds only on randomized schedulers
    if "spread" in takes and draw(st.booleans()):
        options["spread"] = draw(st.sampled_from(["proportional", "equal", "nope", np.array([1, 2])]))
    if "seed" in takes and draw(st.booleans()):
        options["seed"] = draw(st.sampled_from([0, 3, None, -1, 1.5, "x"]))
    if "backend" in takes and draw(st.booleans()):
        options["backend"] = draw(st.sampled_from(["auto", "numba", "reference", "cpp", "nope"]))
    instance = (draw(st.integers(1, 8)), draw(st.integers(1, 4)), draw(st.integers(1, 2)), draw(st.integers(0, 99)))
    return {"instance": instance, "algorithm": algorithm, "options": options}


BUILDERS = {"placement_from_arrays": case_placement_from_arrays, "placement_from_library": case_placement_from_library,
            "placement_evaluators": case_placement_evaluators, "library_from_lists": case_library_from_lists,
            "loading_problem": case_loading_problem, "max_coverage": case_max_coverage,
            "core_binding": case_core_binding, "knapsack_kernels": case_knapsack, "problem_file": case_problem_file,
            "file_loader": case_file_loader, "scenario_file": case_scenario_file,
            "algorithm_options": case_algorithm_options, "instance_builders": case_instance_builders,
            "loading_algorithms": case_loading_algorithms}


# ------------------------------------------------------------------------------ the runner
def _draw_cases(target: str) -> list[tuple[str, Any]]:
    cases: list[tuple[str, Any]] = []

    @settings(max_examples=CASES[target], deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(BUILDERS[target]())
    def collect(case: Any) -> None:
        cases.append((target, case))

    collect()
    return cases


def run_batch(cases: list[tuple[str, Any]], tmp_path: Path) -> Counter:
    """Run ``cases`` in one subprocess; fail on a signal, a hang or any outcome but ok / refused."""
    path = tmp_path / "cases.pkl"
    path.write_bytes(pickle.dumps(cases))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *(p for p in sys.path if p)])}
    # .ci/run points these at a copy of the package whose _core is built with ASan + UBSan: memory errors
    # that do not segfault then abort the worker too
    sanitized = os.environ.get("TRIMCORE_FUZZ_PACKAGE")
    if sanitized:
        env["PYTHONPATH"] = os.pathsep.join([sanitized, env["PYTHONPATH"]])
        env["LD_PRELOAD"] = os.environ.get("TRIMCORE_FUZZ_PRELOAD", "")
        env.setdefault("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1")
        env.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
    try:
        proc = subprocess.run([sys.executable, str(HERE / "fuzz_worker.py"), str(path)], capture_output=True,
                              text=True, env=env, timeout=BATCH_TIMEOUT_S)
        lines, code = proc.stdout.splitlines(), proc.returncode
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        lines, code = out.splitlines(), None
    records = [json.loads(line) for line in lines if line.startswith("{")]
    package = next((r["package"] for r in records if "package" in r), None)
    if sanitized:
        assert package is not None and package.startswith(sanitized), (package, sanitized)
    finished = [r for r in records if "outcome" in r]
    if code != 0 or len(finished) != len(cases):
        started = [r["start"] for r in records if "start" in r]
        culprit = cases[started[-1]] if started else None
        what = "hung" if code is None else f"died with exit code {code}"
        pytest.fail(f"the worker {what} on case {started[-1] if started else '?'}: {repr(culprit)[:2000]}\n"
                    f"{proc.stderr[-3000:] if code is not None else ''}")
    bad = [(r, cases[r["i"]]) for r in finished if r["outcome"] not in ("ok", "refused", "memory")]
    if bad:
        kinds = {}
        for record, case in bad:  # one example of each distinct failure
            kinds.setdefault(record.get("detail", "").splitlines()[0], (record, case))
        report = "\n\n".join(f"{r['outcome']}: {r.get('detail')}\ncase: {repr(c)[:800]}"
                               for r, c in list(kinds.values())[:4])
        pytest.fail(f"{len(bad)} bad outcome(s) of {len(kinds)} kinds:\n{report}")
    return Counter(r["outcome"] for r in finished)


@pytest.mark.parametrize("target", sorted(CASES))
def test_fuzz(target, tmp_path, record_property):
    cases = _draw_cases(target)
    assert len(cases) == CASES[target]
    outcomes = run_batch(cases, tmp_path)
    record_property("outcomes", dict(outcomes))
    # a suite that only ever refuses (or only ever accepts) tests half of what it claims
    assert outcomes["refused"] > 0, outcomes
    assert outcomes["ok"] > 0 or target in ("knapsack_kernels",), outcomes
