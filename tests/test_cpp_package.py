"""The C++ core as a CMake package: configured without Python, found by find_package after an
install and by add_subdirectory, and shipped in the wheel (find_package against the installed
package). The consumer's output is compared with the Python API."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import trimcore as tc
from trimcore.kernels import kernel

ROOT = Path(__file__).resolve().parent.parent
CONSUMER = ROOT / "tests" / "cpp" / "consumer"
CMAKE = shutil.which("cmake")
pytestmark = [
    pytest.mark.skipif(CMAKE is None, reason="cmake is not on PATH"),
    pytest.mark.skipif(not (ROOT / "CMakeLists.txt").is_file() or not CONSUMER.is_dir(),
                       reason="the source tree (CMakeLists.txt, tests/cpp/consumer) is not here"),
]
NO_PYTHON = ["-DCMAKE_DISABLE_FIND_PACKAGE_Python=ON", "-DCMAKE_DISABLE_FIND_PACKAGE_pybind11=ON"]


def _generator() -> list[str]:
    return ["-G", "Ninja"] if shutil.which("ninja") else []


def _run(*args: str | Path) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(map(str, args))}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _consumer(build: Path, *options: str) -> str:
    _run(CMAKE, "-S", CONSUMER, "-B", build, *_generator(), *NO_PYTHON, *options)
    _run(CMAKE, "--build", build)
    return _run(build / "consumer").strip()


def _expected() -> str:
    lib = tc.ModelLibrary.from_lists([4.0, 1.0, 2.0, 8.0], [[0, 1], [0, 2], [3]])
    x = np.array([[1, 1, 0], [0, 1, 1]], dtype=bool)
    used = kernel("placement.storage_used", "reference")(x, lib.bitsets, lib.block_sizes)
    chosen = kernel("knapsack.knapsack_fptas", "reference")(np.array([60.0, 100, 120]), np.array([10.0, 20, 30]),
                                                            50.0, 0.1)
    problem = tc.PlacementProblem.from_library(lib, [7.0, 8.0], np.array([[0.5, 0.2, 0.1], [0.1, 0.3, 0.4]]),
                                               np.array([[6.0, 5.0], [0.0, 8.0]]))
    gen = tc.trimcaching_gen(problem, bound=None, backend="reference")  # the oracle, not the C++ under test
    bits = "".join("1" if v else "0" for v in gen.placement.ravel())
    return (f"storage {used[0]:g} {used[1]:g} knapsack {' '.join(map(str, chosen.tolist()))} refused 1 "
            f"gen{bits} {gen.options['chosen_rule']} {float(gen.objective):.17g} refused 1")


def test_install_then_find_package_and_add_subdirectory(tmp_path):
    prefix = tmp_path / "prefix"
    _run(CMAKE, "-S", ROOT, "-B", tmp_path / "core", *_generator(), *NO_PYTHON, "-DTRIMCORE_BUILD_PYTHON=OFF",
         f"-DCMAKE_INSTALL_PREFIX={prefix}")
    _run(CMAKE, "--build", tmp_path / "core")
    _run(CMAKE, "--install", tmp_path / "core")
    assert (prefix / "include" / "trimcore" / "bitset.hpp").is_file()
    config = prefix / "share" / "cmake" / "trimcore"
    assert (config / "trimcoreConfig.cmake").is_file() and (config / "trimcoreConfigVersion.cmake").is_file()
    assert tc.__version__ in (config / "trimcoreConfigVersion.cmake").read_text()
    expected = _expected()
    assert _consumer(tmp_path / "found", f"-DCMAKE_PREFIX_PATH={prefix}") == expected
    assert _consumer(tmp_path / "sub", f"-DTRIMCORE_SOURCE_DIR={ROOT}") == expected


def test_the_wheel_ships_the_cmake_package(tmp_path):
    try:
        prefix = tc.cmake_prefix()
    except FileNotFoundError:
        pytest.skip("trimcore runs from a source tree (an in-place build), not from an installed wheel")
    assert Path(tc.get_include(), "trimcore", "knapsack.hpp").is_file()
    assert _consumer(tmp_path / "wheel", f"-DCMAKE_PREFIX_PATH={prefix}") == _expected()
