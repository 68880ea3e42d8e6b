"""examples/ns3 built with CMake against the ns-3 wheel and trimcore's CMake package, run on short
scenarios, and compared with the Python API: for every epoch the placement of the C++ Gen equals
``tc.trimcaching_gen(problem, bound=None, warm_start=previous)`` on the exported instance, the
deliverable sizes equal ``max_deliverable_size`` on the exported positions, and every request's
delivery hit and online-cache decision equal the Python ones (needs the ``ns3`` extra)."""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import trimcore as tc
from trimcore.instance.topology import Topology, max_deliverable_size
from trimcore.instance.zoo import frozen_backbone_library
from trimcore.kernels import kernel
from trimcore.kernels.online.reference import OUTCOME_NAMES
from trimcore.online.simulate import simulation_flags

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "ns3"
CMAKE = shutil.which("cmake")
CXX = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")


def _ns3_config_dir() -> Path | None:
    """The directory of the ns-3 wheel's ns3Config.cmake (``ns3.__file__`` is None: a namespace package)."""
    try:
        spec = importlib.util.find_spec("ns3")
    except (ImportError, ValueError):  # a broken or shadowed installation: treated as absent
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        for lib in ("lib64", "lib"):
            config = Path(location) / lib / "cmake" / "ns3"
            if (config / "ns3Config.cmake").is_file():
                return config
    return None


NS3_DIR = _ns3_config_dir()
pytestmark = [
    pytest.mark.skipif(CMAKE is None, reason="cmake is not on PATH"),
    pytest.mark.skipif(CXX is None, reason="no C++ compiler (c++, g++, clang++) on PATH"),
    pytest.mark.skipif(NS3_DIR is None, reason="the ns-3 wheel (pip install 'trimcore[ns3]') or its CMake "
                                                "config (ns3/lib64/cmake/ns3/ns3Config.cmake) is not installed"),
    pytest.mark.skipif(not EXAMPLE.is_dir() or not (ROOT / "CMakeLists.txt").is_file(),
                       reason="the source tree (CMakeLists.txt, examples/ns3) is not here"),
]


def _generator() -> list[str]:
    return ["-G", "Ninja"] if shutil.which("ninja") else []


def _run(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300)
    if check:
        assert done.returncode == 0, f"{' '.join(map(str, args))}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/ns3 built against trimcore's CMake package (the wheel's, or installed from this tree)."""
    tmp = tmp_path_factory.mktemp("ns3")
    try:
        prefix = Path(tc.cmake_prefix())
    except FileNotFoundError:  # an in-place build: install the core of this tree, as a user would
        prefix = tmp / "prefix"
        _run(CMAKE, "-S", ROOT, "-B", tmp / "core", *_generator(), "-DTRIMCORE_BUILD_PYTHON=OFF",
             f"-DCMAKE_INSTALL_PREFIX={prefix}")
        _run(CMAKE, "--install", tmp / "core")
    build = tmp / "build"
    _run(CMAKE, "-S", EXAMPLE, "-B", build, *_generator(), f"-DCMAKE_PREFIX_PATH={prefix}", f"-Dns3_DIR={NS3_DIR}")
    _run(CMAKE, "--build", build)
    return build / "edge_placement"


def _scenario(program: Path, out: Path, *options: str) -> tuple[list[str], list[dict], list[dict[str, str]]]:
    """Run the program with --export; its stdout lines, the epochs' JSON and the request trace."""
    stdout = _run(program, f"--export={out}", *options).stdout.strip().splitlines()
    epochs = [json.loads(p.read_text()) for p in sorted(out.glob("epoch_*.json"))]
    with open(out / "requests.csv", newline="") as f:
        trace = list(csv.DictReader(f))
    return stdout, epochs, trace


def _topology(e: dict, user_xy: np.ndarray) -> Topology:
    return Topology.from_arrays(np.c_[e["server_x"], e["server_y"]], user_xy, e["width"], e["height"])


def _check(stdout: list[str], epochs: list[dict], trace: list[dict[str, str]], n_epochs: int) -> None:
    # --- the printed table: one row per epoch, then the totals
    assert stdout[0].startswith("# trimcore on ns-3") and stdout[1].split()[0] == "epoch"
    rows = [line.split() for line in stdout[2:-1]]
    assert [int(r[0]) for r in rows] == list(range(n_epochs))
    assert len(epochs) == n_epochs
    requests = [int(r[2]) for r in rows]
    assert sum(requests) == len(trace) > 0
    total = stdout[-1].split()
    assert total[0] == "total" and int(total[2]) == len(trace)

    # --- every epoch: the deliverable sizes and the placement equal the Python API's
    previous = None
    kept = 0
    for e, row in zip(epochs, rows, strict=True):
        m, k, i = e["n_servers"], e["n_users"], e["n_models"]
        library = tc.ModelLibrary.from_lists(e["block_sizes"], e["model_blocks"])
        smax = np.array(e["max_size"]).reshape(m, k)
        expected = max_deliverable_size(_topology(e, np.c_[e["user_x"], e["user_y"]]), np.array(e["latency_limit_s"]),
                                        **e["radio"])
        np.testing.assert_allclose(smax, expected, rtol=1e-12, atol=0)
        popularity = np.array(e["popularity"]).reshape(k, i)
        problem = tc.PlacementProblem.from_library(library, e["capacity"], popularity, smax)
        warm = np.array(e["warm_start"], dtype=bool).reshape(m, i) if e["warm_start"] else None
        assert (warm is None) == (previous is None) and (warm is None or (warm == previous).all())
        result = tc.trimcaching_gen(problem, bound=None, warm_start=warm)
        placement = np.array(e["placement"], dtype=bool).reshape(m, i)
        np.testing.assert_array_equal(placement, result.placement)
        assert e["hit_ratio"] == pytest.approx(result.hit_ratio, rel=1e-12)
        assert e["kept"] == (result.options["kept"] if warm is not None else 0)
        assert e["chosen_rule"] == result.options["chosen_rule"]
        assert float(row[5]) == pytest.approx(result.hit_ratio, abs=6e-5)  # printed with 4 decimals
        assert int(row[6]) == e["kept"] and int(row[7]) == int(placement.sum())
        kept += e["kept"]
        previous = placement
    assert kept > 0  # the warm start was exercised: pairs of the previous placement were kept

    # --- every request: the delivery hit from its position at arrival, and the online cache's decision
    e0 = epochs[0]
    library = tc.ModelLibrary.from_lists(e0["block_sizes"], e0["model_blocks"])
    user_xy = np.array([[float(r["user_x"]), float(r["user_y"])] for r in trace])
    users = np.array([int(r["user"]) for r in trace])
    models = np.array([int(r["model"]) for r in trace])
    at = np.array([int(r["epoch"]) for r in trace])
    assert (np.diff(at) >= 0).all() and (np.diff([float(r["time_s"]) for r in trace]) >= 0).all()
    smax = max_deliverable_size(_topology(e0, user_xy), np.array(e0["latency_limit_s"])[users], **e0["radio"])
    holds = np.stack([np.array(epochs[a]["placement"], dtype=bool).reshape(e0["n_servers"], -1)[:, i]
                      for a, i in zip(at, models, strict=True)], axis=1)
    delivered = (holds & (library.model_sizes[models][None, :] <= smax)).any(axis=0)
    np.testing.assert_array_equal(delivered, [r["delivery_hit"] == "1" for r in trace])
    nearest = np.argmin(_topology(e0, user_xy).distances(), axis=0)
    np.testing.assert_array_equal(nearest, [int(r["server"]) for r in trace])
    memory = np.full(e0["n_servers"], e0["gpu_memory"])
    cp = tc.CachingProblem.from_arrays(e0["block_sizes"], e0["model_blocks"], memory, [int(r["slot"]) for r in trace],
                                       nearest, models, nu=e0["nu"])
    # simulate_caching's flags with the program's seed of the random policy (Python derives its own from `seed`)
    flags = {**simulation_flags(allow_substitution=False), "rng_seed": e0["rng_seed"]}
    for backend in [b for b in ("reference", "cpp") if b in tc.available_backends()]:  # reference: the oracle
        replay = kernel("online.simulate", backend)(cp.kernel_inputs(), e0["policy"], flags)
        assert [OUTCOME_NAMES[o] for o in replay["outcome"]] == [r["outcome"] for r in trace]
        np.testing.assert_array_equal(replay["served_by"], [int(r["served_by"]) for r in trace])
    outcomes = {r["outcome"] for r in trace}
    assert "hit" in outcomes and "load" in outcomes


def test_grid_scenario_matches_the_python_api(program, tmp_path):
    stdout, epochs, trace = _scenario(program, tmp_path / "grid", "--epochs=4", "--epochLength=40", "--users=15",
                                      "--seed=3")
    _check(stdout, epochs, trace, 4)
    assert epochs[0]["n_servers"] == 6 and epochs[0]["n_models"] == 12  # the default 2 x 3 grid, 3 x 4 models


def test_eua_sites_and_a_zoo_library(program, tmp_path):
    topo = Topology.eua(n_servers=8, seed=0)
    sites = tmp_path / "sites.txt"
    sites.write_text(f"{topo.width!r} {topo.height!r}\n" +
                     "".join(f"{float(x)!r} {float(y)!r}\n" for x, y in topo.server_xy))
    library = frozen_backbone_library(models_per_family=3)
    lib_file = tmp_path / "library.txt"
    lib_file.write_text(" ".join(repr(float(s)) for s in library.block_sizes) + "\n" +
                        "".join(" ".join(map(str, library.blocks_of(i))) + "\n" for i in range(library.n_models)))
    stdout, epochs, trace = _scenario(program, tmp_path / "eua", f"--sites={sites}", f"--library={lib_file}",
                                      "--epochs=3", "--epochLength=40", "--users=12", "--seed=2",
                                      "--capacity=250e6", "--gpuMemory=200e6", "--policy=random")
    _check(stdout, epochs, trace, 3)
    assert epochs[0]["policy"] == "random"
    np.testing.assert_array_equal(np.c_[epochs[0]["server_x"], epochs[0]["server_y"]], topo.server_xy)
    np.testing.assert_array_equal(epochs[0]["block_sizes"], library.block_sizes)


@pytest.mark.parametrize("policy", ["lru", "lfu", "fifo"])
def test_other_cache_policies_match_the_python_kernels(program, tmp_path, policy):
    stdout, epochs, trace = _scenario(program, tmp_path / policy, "--epochs=2", "--epochLength=40", "--users=12",
                                      "--seed=7", f"--policy={policy}")
    _check(stdout, epochs, trace, 2)


def test_add_subdirectory_build_runs_the_same(program, tmp_path):
    build = tmp_path / "sub"
    _run(CMAKE, "-S", EXAMPLE, "-B", build, *_generator(), f"-DTRIMCORE_SOURCE_DIR={ROOT}", f"-Dns3_DIR={NS3_DIR}")
    _run(CMAKE, "--build", build)
    options = ("--epochs=2", "--epochLength=20", "--users=8", "--seed=4")
    assert _run(build / "edge_placement", *options).stdout == _run(program, *options).stdout


def test_same_seed_same_run_and_another_seed_differs(program, tmp_path):
    a = _run(program, "--epochs=2", "--epochLength=20", "--users=8", "--seed=5").stdout
    b = _run(program, "--epochs=2", "--epochLength=20", "--users=8", "--seed=5").stdout
    c = _run(program, "--epochs=2", "--epochLength=20", "--users=8", "--seed=6").stdout
    assert a == b and a != c


@pytest.mark.parametrize(("options", "field"), [
    (["--users=0"], "users"),
    (["--seed=0"], "seed"),
    (["--capacity=-1"], "capacity"),
    (["--gpuMemory=-1"], "cap"),
    (["--rows=0"], "rows/cols"),
    (["--limitLow=3", "--limitHigh=2"], "limitLow/limitHigh"),
    (["--nu=1.5"], "nu"),
    (["--policy=belady"], "policy"),
])
def test_bad_input_is_refused_naming_the_field(program, options, field):
    done = _run(program, "--epochs=1", *options, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith(f"edge_placement: {field}")


@pytest.mark.parametrize(("option", "text", "message"), [
    ("library", "1e6 -5\n0 1\n", "block_sizes"),       # trimcore's own check
    ("library", "1e6 2e6\n0 1\n1 x\n", "library: expected numbers on line 3"),
    ("library", "1e6\n0 3\n", "model_blocks"),          # a block id out of range, refused by trimcore
    ("sites", "100 100\n10 10\n200 5\n", "sites: expected a position inside the area on line 3"),
    ("sites", "100 100\n10\n", "sites: expected two numbers on line 2"),
    ("sites", "0 100\n10 10\n", "sites: expected 'width height'"),
])
def test_a_bad_input_file_is_refused_naming_the_field(program, tmp_path, option, text, message):
    bad = tmp_path / "input.txt"
    bad.write_text(text)
    done = _run(program, "--epochs=1", f"--{option}={bad}", check=False)
    assert done.returncode == 2 and message in done.stderr, done.stderr
