"""Regression tests of issue #10: crafted inputs that crashed the process, lost rows or passed unchecked."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from strategies import random_problem

import trimcore as tc
from trimcore import _core
from trimcore.cli import main
from trimcore.coverage import coverage_value
from trimcore.errors import InstanceError
from trimcore.experiments.scenarios import SCENARIOS, build_placement, check_scenario, load_scenario, scenario
from trimcore.experiments.sweep import read_rows, run_sweep
from trimcore.instance.io import load_arrays, save_arrays
from trimcore.kernels import kernel


# ------------------------------------------------------------------------------ problem files
@pytest.fixture
def pair_file(tmp_path):
    """A small explicit-pairs problem file and a writer of crafted variants of it."""
    prob = tc.PlacementProblem.from_arrays([1.0, 1.0], [[0], [1]], [1.0, 1.0], np.ones((2, 3, 2), bool),
                                           np.ones((3, 2)))
    arrays, meta = load_arrays(prob.save(tmp_path / "p"))

    def variant(**changes):
        crafted = {k: v for k, v in {**arrays, **changes}.items() if v is not None}
        return save_arrays(tmp_path / "crafted", "PlacementProblem", crafted, meta)

    return variant


@pytest.mark.parametrize(("changes", "match"), [
    # ptr + len overflows int64: passed the old `ptr + len > size` check, then segfaulted in Numba
    ({"pair_ptr": np.array([0, 2**62, 1, 0]), "pair_len": np.array([1, 2**62, 1, 1])}, "pair_ptr"),
    ({"pair_ptr": np.array([0, 3, 6, 2**63 - 1])}, "pair_ptr"),
    ({"pair_len": np.array([3, 3, 3, -1])}, "pair_len"),
    ({"pair_ptr": np.array([0, 3, 6, 10])}, "pair_ptr/pair_len"),
    # int64 user 2**32 was wrapped to user 0 by the int32 cast
    ({"pair_users": np.array([0, 1, 2**32, 0, 1, 2, 0, 1, 2, 0, 1, 2])}, "pair_users"),
    ({"pair_users": np.full(12, 2**63, dtype=np.uint64)}, "pair_users"),
    # a float pointer was truncated
    ({"pair_ptr": np.array([0.0, 3.5, 6.0, 9.0])}, "pair_ptr"),
    ({"pair_ptr": np.array([0.0, 3.0, 6.0, 9.0])}, "pair_ptr: expected an integer dtype"),
    ({"pair_users": np.array([0, 0, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2])}, "pair_users"),  # user 0 counted twice
    ({"popularity_by_model": np.ones(3)}, "popularity_by_model: expected a 2-d array"),  # was IndexError
    ({"capacity": np.array(1.0)}, "capacity: expected a 1-d array"),  # was IndexError
    ({"pair_len": None}, "pair_len"),
    ({"pair_users": np.zeros((3, 4), dtype=np.int32)}, "pair_users: expected a 1-d array"),
])
def test_crafted_pair_extents_are_refused(pair_file, changes, match):
    path = pair_file(**changes)
    with pytest.raises(InstanceError, match=match) as info:
        tc.PlacementProblem.load(path)
    assert str(path) in str(info.value)


def test_valid_pairs_in_other_integer_dtypes_still_load(pair_file):
    path = pair_file(pair_ptr=np.array([0, 3, 6, 9], dtype=np.uint64),
                     pair_users=np.array([0, 1, 2] * 4, dtype=np.int64))
    prob = tc.PlacementProblem.load(path)
    assert prob.pair_users.dtype == np.int32 and prob.pair_ptr.dtype == np.int64
    for backend in tc.kernels.kernel_tiers("placement.hit_weight"):
        assert prob.hit_ratio(np.ones((2, 2), bool), backend=backend) == 1.0


# ------------------------------------------------------------------------------ knapsack core
def _denormal_problem(scale: float) -> tc.PlacementProblem:
    prob = random_problem(3, 2, 6, 6, 10, False)
    blocks = [prob.library.blocks_of(i) for i in range(prob.n_models)]
    return tc.PlacementProblem.from_arrays(prob.library.block_sizes, blocks, prob.capacity, prob.eligible(),
                                           prob.popularity * scale)


@pytest.mark.parametrize("values", [[5e-324, 5e-324], [5e-324, 1e-310, 2e-320], [1e308, 1.7e308]])
def test_fptas_with_extreme_values_is_exact_on_every_tier(values):
    # denormal values: mu = eps * v_max / n underflowed to 0, inf was cast to int64 (a segfault)
    v = np.array(values)
    w = np.ones(v.size)
    for backend in tc.kernels.kernel_tiers("knapsack.knapsack_fptas"):
        chosen = kernel("knapsack.knapsack_fptas", backend)(v, w, 1.0, 0.5)
        assert chosen.size == 1 and v[chosen[0]] == v.max(), backend


def test_spec_with_denormal_popularity_runs_and_places_like_the_normal_scale():
    # used to raise a bare OverflowError; the rounding is scale-free now
    normal, tiny = _denormal_problem(1.0), _denormal_problem(1e-315)
    for backend in tc.kernels.kernel_tiers("knapsack.knapsack_fptas"):
        a = tc.trimcaching_spec(normal, 0.1, knapsack="fptas", backend=backend, bound=None)
        b = tc.trimcaching_spec(tiny, 0.1, knapsack="fptas", backend=backend, bound=None)
        assert b.feasible
        assert b.hit_ratio == pytest.approx(a.hit_ratio, rel=1e-6)


@pytest.mark.parametrize(("args", "match"), [
    ((np.zeros(2), np.ones(2), 1.0, 0.5), "values: expected finite values > 0, got 0 at item 0"),
    ((np.array([1.0, np.nan]), np.ones(2), 1.0, 0.5), "values: .* at item 1"),
    ((np.ones(2), np.array([1.0, -1.0]), 1.0, 0.5), "weights: .* got -1 at item 1"),
    ((np.ones(2), np.ones(2), np.inf, 0.5), "capacity"),
    ((np.ones(2), np.ones(2), 1.0, 0.0), "eps"),
    ((np.ones(2), np.ones(2), 1.0, 1e-300), "knapsack table too large"),  # n / eps overflows int64
    ((np.ones(1), np.ones(1), 1.0, 1e-9), "knapsack table too large"),  # 1e9 cells + 8e9 bytes beside
])
def test_raw_fptas_binding_refuses_bad_input(args, match):
    with pytest.raises(InstanceError, match=match):
        _core.knapsack_fptas(*args)


@pytest.mark.parametrize(("args", "match"), [
    ((np.zeros(2), np.array([1, 1]), 3), "values"),
    ((np.ones(2), np.array([1, -1]), 3), "weights: .* got -1 at item 1"),
    ((np.ones(2), np.array([1, 4]), 3), "weights"),
    ((np.ones(2), np.array([1, 1]), -1), "capacity"),
    ((np.ones(2), np.array([1, 1]), 2**62), "knapsack table too large"),
])
def test_raw_grid_binding_refuses_bad_input(args, match):
    with pytest.raises(InstanceError, match=match):
        _core.knapsack_grid(*args)


def test_spec_memory_guard_counts_the_whole_table():
    # one item, eps = 1e-9: 1e9 one-byte cells passed the old cell count, then 8 GB of doubles
    prob = tc.PlacementProblem.from_arrays([1.0, 2.0], [[0], [1]], [2.5], np.ones((1, 1, 2), bool), [[1.0, 1.0]])
    with pytest.raises(InstanceError, match="bytes"):
        tc.trimcaching_spec(prob, eps=1e-9, knapsack="fptas", bound=None)


# ------------------------------------------------------------------------------ Numba without a cache
def _run_python(code: str, env: dict[str, str] | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that imports trimcore exactly as this test session does."""
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), **(env or {})}
    # -P: no working directory on sys.path, or a source checkout would shadow the installed package
    return subprocess.run([sys.executable, "-P", "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=full_env, timeout=timeout)


_NUMBA_AND_CPP_CALLS = """
    import warnings
    import numpy as np
    import trimcore as tc
    warnings.simplefilter("always")
    prob = tc.PlacementProblem.from_arrays([1.0, 2.0], [[0], [1]], [2.5], np.ones((1, 1, 2), bool), [[1.0, 3.0]])
    x = np.array([[False, True]])
    print("cpp", prob.hit_ratio(x, backend="cpp"))
    print("coverage", tc.max_coverage([0, 2, 3], [0, 1, 2], 1, backend="cpp").selected.tolist())
    print("numba", NUMBA_CALL)
"""


def test_numba_without_a_cache_locator_compiles_in_memory_with_one_warning():
    # Numba raised "cannot cache function ...: no locator available" at decoration time (a read-only
    # install with an unwritable HOME); removing every locator reproduces exactly that refusal
    simulate = 'tc.kernels.kernel("loading.simulate", "numba")(np.ones(2), np.zeros(2), np.ones(2))[1].tolist()'
    code = ("import numba.core.caching as caching\ncaching.CacheImpl._locator_classes = []\n"
            + textwrap.dedent(_NUMBA_AND_CPP_CALLS).replace("NUMBA_CALL",
                                                            f'prob.hit_ratio(x, backend="numba"), {simulate}'))
    out = _run_python(code)
    assert out.returncode == 0, out.stderr
    assert "cpp 0.75" in out.stdout and "coverage [0]" in out.stdout and "numba 0.75 [2.0, 4.0]" in out.stdout
    assert out.stderr.count("no writable cache directory") == 1, out.stderr
    assert "unavailable" not in out.stderr


def test_a_broken_numba_never_takes_down_the_cpp_paths(tmp_path):
    # a Numba whose import itself raises (not an ImportError): C++ and reference still run
    fake = tmp_path / "numba"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise RuntimeError('cannot cache function: no locator available')\n")
    code = textwrap.dedent(_NUMBA_AND_CPP_CALLS).replace(
        'print("numba", NUMBA_CALL)',
        'import pytest\nwith pytest.raises(tc.BackendUnavailableError):\n'
        '    prob.hit_ratio(x, backend="numba")\nprint("reference", prob.hit_ratio(x, backend="reference"))')
    out = _run_python(code, env={"PYTHONPATH": os.pathsep.join([str(tmp_path), *(p for p in sys.path if p)])})
    assert out.returncode == 0, out.stderr
    assert "cpp 0.75" in out.stdout and "coverage [0]" in out.stdout and "reference 0.75" in out.stdout


# ------------------------------------------------------------------------------ sweep CSV
def _three_rows(point: dict) -> list[dict]:
    return [{"algorithm": name, "value": point["seed"] * 10 + j, "label": f'a,b "{j}"'}
            for j, name in enumerate(("gen", "spec", "random"))]


def _clean_rows(tmp_path, points) -> list[dict]:
    return run_sweep(tmp_path / "clean.csv", points, _three_rows, progress=False)


def test_a_sweep_csv_truncated_anywhere_in_its_last_point_recovers_exactly(tmp_path):
    points = [{"seed": s} for s in range(4)]
    clean = _clean_rows(tmp_path, points)
    data = (tmp_path / "clean.csv").read_bytes()
    last_point = data.rfind(b"\n", 0, data.rfind(b"\n", 0, data.rfind(b"\n", 0, len(data) - 1)))
    target = tmp_path / "torn.csv"
    for cut in range(last_point + 1, len(data)):
        target.write_bytes(data[:cut])
        calls = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rows = run_sweep(target, points, lambda p, calls=calls: calls.append(p) or _three_rows(p),
                             progress=False)
        assert rows == clean, cut
        assert calls == [points[-1]], cut  # only the torn point is recomputed
        if cut != last_point + 1:
            assert any("recomputing" in str(w.message) for w in caught), cut
        assert read_rows(target) == clean


def test_a_torn_header_is_dropped_and_the_sweep_restarts(tmp_path):
    target = tmp_path / "s.csv"
    target.write_text("seed,algori")
    with pytest.warns(RuntimeWarning, match="incomplete last line"):
        rows = run_sweep(target, [{"seed": 1}], _three_rows, progress=False)
    assert rows == _clean_rows(tmp_path, [{"seed": 1}])


def test_damage_in_the_middle_is_an_error_not_silently_dropped(tmp_path):
    target = tmp_path / "s.csv"
    run_sweep(target, [{"seed": s} for s in range(3)], _three_rows, progress=False)
    lines = target.read_text().splitlines(keepends=True)
    lines[2] = "1,2\n"
    target.write_text("".join(lines))
    with pytest.raises(InstanceError, match="line 3"):
        read_rows(target)


_KILLED_SWEEP = """
    import os, sys, time
    from pathlib import Path
    from trimcore.experiments.sweep import run_sweep
    out = Path(sys.argv[1])
    def run_point(point):
        if point["seed"] == int(sys.argv[3]):  # announce the points finished before it, then hang
            (out.parent / "ready").write_text(sys.argv[3])
            time.sleep(600)
        return [{"algorithm": name, "value": point["seed"] * 10 + j, "label": f'a,b "{j}"'}
                for j, name in enumerate(("gen", "spec", "random"))]
    run_sweep(out, [{"seed": s} for s in range(int(sys.argv[2]))], run_point, progress=False)
"""


def _start_sweep(target, n_points: int, hang_at: int = -1) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return subprocess.Popen([sys.executable, "-P", "-c", textwrap.dedent(_KILLED_SWEEP), str(target), str(n_points),
                             str(hang_at)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=target.parent)


def test_sigkill_mid_sweep_loses_no_finished_point(tmp_path):
    target = tmp_path / "killed.csv"
    proc = _start_sweep(target, 8, hang_at=5)
    ready = tmp_path / "ready"
    for _ in range(1200):
        if ready.exists() or proc.poll() is not None:
            break
        time.sleep(0.05)
    assert ready.exists(), proc.stderr.read().decode() if proc.poll() is not None else "sweep never got ready"
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    assert {r["seed"] for r in read_rows(target)} == set(range(5))  # every finished point is on disk
    calls = []
    rows = run_sweep(target, [{"seed": s} for s in range(8)], lambda p: calls.append(p["seed"]) or _three_rows(p),
                     progress=False)
    assert calls == [5, 6, 7]
    assert rows == _clean_rows(tmp_path, [{"seed": s} for s in range(8)])


def test_sigkill_at_arbitrary_moments_of_a_fast_sweep_always_resumes_exactly(tmp_path):
    # points finish back to back, so the kill lands anywhere (inside a write too); whatever it hits,
    # the rerun must produce exactly the rows of an uninterrupted sweep
    points = [{"seed": s} for s in range(400)]
    clean = _clean_rows(tmp_path, points)
    for trial in range(2):
        target = tmp_path / f"fast{trial}.csv"
        proc = _start_sweep(target, 400)
        for _ in range(2400):  # wait until it is writing rows
            if target.exists() and target.stat().st_size > 1500 * (trial + 1) or proc.poll() is not None:
                break
            time.sleep(0.005)
        proc.kill()
        proc.wait(timeout=30)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows = run_sweep(target, points, _three_rows, progress=False)
        assert rows == clean, trial


# ------------------------------------------------------------------------------ scenario files
@pytest.mark.parametrize(("text", "match"), [
    ("capacity = 5.0", r"unknown key 'capacity'; valid keys: capacity_mb, demand, latency_s, library, name"),
    ("[radio]\nfoo = 1", r"unknown key 'radio.foo'; valid keys of \[radio\]: backhaul_bps"),
    ("[library]\nkind = 'llm_lora'\nfamilies = ['resnet18']", r"unknown key 'library.families'.*n_adapters"),
    ('capacity_mb = "lots"', "capacity_mb: expected a number or a list of numbers .*, got str 'lots'"),
    ("seed = 1.5", "seed: expected an integer >= 0, got float 1.5"),
    ("name = 3", "name: expected a string, got int 3"),
    ("latency_s = [1.0]", r"latency_s: expected .* \[low, high\], got list \[1.0\]"),
    ("radio = 5", r"radio: expected a table \[radio\], got int 5"),
    ("[library]\nkind = 5", "library.kind: expected one of .*, got int 5"),
    ("[demand]\nexponent = 'x'", "demand.exponent: expected a number, got str 'x'"),
    ("[topology]\nkind = 'uniform'\nn_servers = 3", "topology.n_users: expected a value"),  # was KeyError
    ("[library]\nkind = 'synthetic'", "library.n_models: expected a value"),  # was TypeError
    ("[library]\nmodels_per_family = 'ten'", "library.models_per_family: expected an integer, a list"),
])
def test_scenario_file_mistakes_name_the_key(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n")
    with pytest.raises(InstanceError, match=match) as info:
        build_placement(load_scenario(path))
    assert str(path) in str(info.value)


def test_scenario_file_without_a_name_is_named_after_the_file(tmp_path):
    path = tmp_path / "my-city.toml"
    path.write_text("capacity_mb = 200.0\n")
    assert load_scenario(path)["name"] == "my-city"
    path.write_text('name = "x"\n')
    assert load_scenario(path)["name"] == "x"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_named_scenario_passes_the_schema(name):
    assert check_scenario(scenario(name)) is not None


# ------------------------------------------------------------------------------ CLI
@pytest.mark.parametrize(("argv", "match"), [
    (["run", "trimcaching", "--figure", "capacity", "--workers", "-1"], "--workers: expected an integer >= 0"),
    (["run", "trimcaching", "--figure", "capacity", "--seeds", "0"], "--seeds: expected an integer >= 1"),
    (["run", "--quick"], "--quick: expected a paper"),
    (["run", "--seeds", "3"], "--seeds: expected a paper"),
    (["run", "--backend", "numba"], "--backend: expected a backend that runs the whole main job"),
    (["run", "--backend", "fortran"], "--backend: expected one of auto, cpp, numba, reference"),
    (["run", "trimcaching", "--figure", "capacity", "--backend", "cpp"], "--backend: expected auto"),
    (["run", "--out", "/proc/nope"], "--out: expected a folder that can be created and written"),
    (["run", "--config", "/nowhere.toml"], "--config: expected an existing scenario TOML file"),
    (["run", "trimcaching", "--figure", "capacity", "--scenario", "llm"], "--scenario: expected no --scenario"),
    (["run", "trimcaching", "--figure", "capacity", "--bound", "lp"], "--bound: expected no --bound for a paper"),
])
def test_cli_refuses_bad_arguments_before_any_work(tmp_path, capsys, monkeypatch, argv, match):
    import trimcore.experiments.scenarios as scenarios
    import trimcore.experiments.trimcaching as tcx

    def no_work(*args, **kwargs):
        raise AssertionError("work started before the arguments were checked")

    monkeypatch.setattr(scenarios, "build_placement", no_work)
    monkeypatch.setitem(tcx.FIGURES, "capacity", no_work)
    if "--out" not in argv:
        argv = [*argv, "--out", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert re.search(match, err), err
    assert "Traceback" not in err


def test_cli_refuses_an_unwritable_out_folder_before_computing(tmp_path, capsys, monkeypatch):
    import trimcore.experiments.scenarios as scenarios

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setattr(scenarios, "build_placement", lambda *a, **k: pytest.fail("computed first"))
    assert main(["run", "--out", str(blocker / "sub")]) == 2
    assert "--out" in capsys.readouterr().err


def test_quick_run_does_not_overwrite_the_full_run(tmp_path, monkeypatch, capsys):
    import trimcore.experiments.trimcaching as tcx

    seen = []

    def figure(out, **kwargs):
        seen.append((Path(out), kwargs["quick"]))
        png = Path(out) / "trimcaching_capacity.png"
        png.write_text("quick" if kwargs["quick"] else "full")
        return png

    monkeypatch.setitem(tcx.FIGURES, "capacity", figure)
    assert main(["run", "trimcaching", "--figure", "capacity", "--out", str(tmp_path), "--no-progress"]) == 0
    assert main(["run", "trimcaching", "--figure", "capacity", "--quick", "--out", str(tmp_path),
                 "--no-progress"]) == 0
    assert seen[0][0] != seen[1][0] and seen[1][1]
    assert (tmp_path / "trimcaching" / "trimcaching_capacity.png").read_text() == "full"


def test_error_bands_of_a_nonnegative_quantity_stay_at_or_above_zero(tmp_path, monkeypatch):
    import matplotlib.axes

    from trimcore.experiments.sweep import plot_bands

    lows = []
    original = matplotlib.axes.Axes.fill_between

    def spy(self, x, y1, *args, **kwargs):
        lows.append(np.asarray(y1))
        return original(self, x, y1, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "fill_between", spy)
    rows = [{"x": 1, "seed": s, "algorithm": "a", "hit": h} for s, h in enumerate([0.0, 0.0, 0.0, 0.9])]
    plot_bands(rows, "x", "hit", "algorithm", tmp_path / "b.png", xlabel="x", ylabel="y", title="t")
    assert lows and min(float(low.min()) for low in lows) >= 0.0
    signed = [{**r, "hit": r["hit"] - 0.5} for r in rows]  # a quantity that can be negative keeps its band
    lows.clear()
    plot_bands(signed, "x", "hit", "algorithm", tmp_path / "c.png", xlabel="x", ylabel="y", title="t")
    assert min(float(low.min()) for low in lows) < -0.5


# ------------------------------------------------------------------------------ clear errors
@pytest.mark.parametrize(("kwargs", "match"), [
    ({"budget": "3"}, "budget: expected a real number, got the string '3'"),  # was TypeError '<'
    ({"budget": 1, "n_elements": -5}, "n_elements: expected an integer >= 0, got -5"),  # said "ids < -5"
    ({"budget": 1, "threads": 2**40}, "threads: expected an integer <= 1024"),  # pybind11's argument dump
    ({"budget": 1, "threads": 1.5}, "threads: expected an integer"),
    ({"budget": "x", "costs": [1.0, 1.0]}, "budget: expected a real number"),
    ({"budget": 1.5}, "budget: expected a number of sets"),
])
def test_max_coverage_argument_errors_name_the_argument(kwargs, match):
    for backend in ("cpp", "reference"):
        with pytest.raises(InstanceError, match=match):
            tc.max_coverage([0, 2, 3], [0, 1, 2], backend=backend, **kwargs)


def test_max_coverage_refuses_offsets_that_would_wrap():
    with pytest.raises(InstanceError, match="indptr: expected offsets in"):
        tc.max_coverage(np.array([0, 2, 2**63], dtype=np.uint64), [0, 1, 2], 1)
    with pytest.raises(InstanceError, match="selected"):
        coverage_value([0, 2, 3], [0, 1, 2], [1.0, 1.0, 1.0], [0.5])


def test_a_deeply_nested_json_header_is_an_instance_error(tmp_path):
    path = tmp_path / "deep.npz"
    text = '{"format": "trimcore", "version": 1, "kind": "library", "meta": ' + "[" * 200_000 + "]" * 200_000 + "}"
    with open(path, "wb") as fh:
        np.savez(fh, __header__=np.frombuffer(text.encode(), dtype=np.uint8))
    with pytest.raises(InstanceError, match="nested deeper"):
        load_arrays(path)


def test_deeply_nested_dataclass_values_are_an_instance_error(tmp_path):
    from dataclasses import dataclass

    from trimcore.instance.io import load_dataclass

    @dataclass
    class Box:
        value: object = None

    levels = 200  # well within json's limit: the decoder's own depth guard refuses it
    deep = '{"__dict__": {"x": ' * levels + '{"__dict__": {}}' + "}}" * levels
    meta = '{"class": "Box", "array_fields": [], "libraries": {}, "values": {"value": ' + deep + "}}"
    header = '{"format": "trimcore", "version": 1, "kind": "Box", "arrays": {}, "meta": ' + meta + "}"
    path = tmp_path / "box.npz"
    with open(path, "wb") as fh:
        np.savez(fh, __header__=np.frombuffer(header.encode(), dtype=np.uint8))
    with pytest.raises(InstanceError, match="malformed dataclass metadata .*nested deeper than 100"):
        load_dataclass(path, Box, "Box")


def test_string_options_given_an_array_are_an_instance_error():
    # found by the fuzz suite: `array not in ("per_user", "global")` raised NumPy's truth-value ValueError
    from trimcore.instance.demand import zipf_popularity

    with pytest.raises(InstanceError, match="ranking"):
        zipf_popularity(4, 3, ranking=np.array([1.0, 2.0]))
    prob = tc.PlacementProblem.from_arrays([1.0], [[0]], [1.0], np.ones((1, 1, 1), bool), [[1.0]])
    with pytest.raises(InstanceError, match="knapsack"):
        tc.trimcaching_spec(prob, knapsack=np.array(["auto", "grid"]), bound=None)
    with pytest.raises(InstanceError, match="rule"):
        tc.trimcaching_gen(prob, rule=np.array(["gain", "ratio"]), bound=None)
    from trimcore.experiments.scenarios import make_loading_instance
    from trimcore.loading import random_schedule

    with pytest.raises(InstanceError, match="spread"):
        random_schedule(make_loading_instance(3, 2, 1), spread=np.array([1, 2]))


def test_random_caching_refuses_a_negative_seed_by_name():
    prob = tc.PlacementProblem.from_arrays([1.0], [[0]], [1.0], np.ones((1, 1, 1), bool), [[1.0]])
    with pytest.raises(InstanceError, match="seed"):
        tc.random_caching(prob, seed=-1)


def test_library_family_ids_beyond_the_models_need_names():
    # a family id of 2**62 built 2**62 default labels (out of memory)
    with pytest.raises(InstanceError, match="families"):
        tc.ModelLibrary.from_lists([1.0, 1.0], [[0], [1]], families=np.array([0, 2**62]))
    lib = tc.ModelLibrary.from_lists([1.0, 1.0], [[0], [1]], families=[0, 3], family_names=["a", "b", "c", "d"])
    assert lib.family_names == ("a", "b", "c", "d")


def test_a_decompression_bomb_is_refused_before_it_inflates(tmp_path):
    import zipfile

    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("popularity_by_model.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, {"descr": "<f8", "fortran_order": False,
                                                          "shape": (2**25,)})
            zeros = bytes(2**24)
            for _ in range(16):  # 256 MiB of zeros in a quarter of a MiB on disk
                member.write(zeros)
    assert path.stat().st_size < 2**24
    with pytest.raises(InstanceError, match="decompression bomb"):
        load_arrays(path)
    # savez_compressed files of ordinary data still load
    ok = tmp_path / "ok.npz"
    data = np.random.default_rng(0).random(1000)
    head = json.dumps({"format": "trimcore", "version": 1, "kind": "x", "meta": {},
                       "arrays": {"a": [data.dtype.str, [1000]]}}).encode()
    np.savez_compressed(ok, a=data, __header__=np.frombuffer(head, dtype=np.uint8))
    np.testing.assert_array_equal(load_arrays(ok)[0]["a"], data)


def test_a_scenario_value_the_builder_refuses_names_its_section(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[topology]\nkind = "uniform"\nn_servers = 0\nn_users = 5\n')
    with pytest.raises(InstanceError, match=r"scenario \[topology\]: n_servers: expected an integer >= 1, got 0"):
        build_placement(load_scenario(path))
