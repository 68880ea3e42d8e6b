"""Start-up cost: ``import trimcore`` and the Numba compilation of the evaluator kernels (rule 5).

Each ``timeraw_`` sample runs in a fresh interpreter. ``NUMBA_CACHE_DIR`` is set in the child's
(untimed) timeit setup, before Numba is imported:

* ``timeraw_import_trimcore`` -- the import alone;
* ``timeraw_first_cpp_call`` -- the first C++ calls of ``hit_ratio`` and ``storage_used`` after the
  import (the import and the problem are untimed setup): what resolving ``backend="auto"`` and
  loading the C++ tier cost (issue #15 target: <= 30 ms);
* ``timeraw_import_compile_cold`` -- import plus the first numba-backend call of ``hit_ratio`` and
  ``storage_used`` with an *empty* cache dir (a new temporary directory per sample), so the
  kernels are really compiled;
* ``timeraw_import_compile_warm`` -- the same with a cache dir that a previous process filled,
  so the kernels are loaded from Numba's on-disk cache.

The compile cost is the difference cold - warm; warm - import is the cost of loading cached code.

The children import the same ``trimcore`` as the benchmark process: its parent directory is put
first on their ``sys.path`` (untimed), which matters when trimcore is importable only through
``ASV_PYTHONPATH`` (``asv run --python=same`` on a work tree), since asv does not pass that on.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile

# first numba call of both placement evaluators on a tiny instance (same array types as any instance)
_COMPILE = """
import numpy as np
import trimcore
p = trimcore.PlacementProblem.from_arrays([1.0, 2.0, 3.0], [[0, 1], [0, 2]], [4.0],
                                          np.ones((1, 2, 2), dtype=bool), np.ones((2, 2)))
x = np.ones((1, 2), dtype=bool)
p.hit_ratio(x, backend="numba")
p.storage_used(x, backend="numba")
"""

# the first C++ kernel calls after ``import trimcore`` (issue #15: <= 30 ms); the import is untimed setup
_FIRST_CPP_SETUP = """
import numpy as np
import trimcore
p = trimcore.PlacementProblem.from_arrays([1.0, 2.0, 3.0], [[0, 1], [0, 2]], [4.0],
                                          np.ones((1, 2, 2), dtype=bool), np.ones((2, 2)))
x = np.ones((1, 2), dtype=bool)
"""
_FIRST_CPP_CALL = """
p.hit_ratio(x)
p.storage_used(x)
"""

_SET_PATH = """
import sys
sys.path.insert(0, {root!r})
"""

_SET_CACHE = """
import os
os.environ["NUMBA_CACHE_DIR"] = {path!r}
"""

_FRESH_CACHE = """
import atexit, os, shutil, tempfile
_d = tempfile.mkdtemp(prefix="trimcore-numba-cold-")
atexit.register(shutil.rmtree, _d, True)
os.environ["NUMBA_CACHE_DIR"] = _d
"""


def _trimcore_root() -> str:
    """Directory that holds the ``trimcore`` package this process would import (not importing it)."""
    spec = importlib.util.find_spec("trimcore")
    if spec is None or not spec.submodule_search_locations:
        raise NotImplementedError("trimcore is not importable here")
    return os.path.dirname(os.path.abspath(list(spec.submodule_search_locations)[0]))


class ImportCompile:
    number = 1
    repeat = (3, 5, 30.0)
    rounds = 1
    warmup_time = 0
    timeout = 300

    def setup(self):
        root = _trimcore_root()
        self.path_setup = _SET_PATH.format(root=root)
        # a cache dir filled by one earlier process, for the warm measurement (not timed)
        self.warm_dir = tempfile.mkdtemp(prefix="trimcore-numba-warm-")
        pythonpath = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        env = dict(os.environ, NUMBA_CACHE_DIR=self.warm_dir, PYTHONPATH=pythonpath)
        subprocess.run([sys.executable, "-c", _COMPILE], env=env, check=True)

    def teardown(self):
        shutil.rmtree(self.warm_dir, ignore_errors=True)

    def timeraw_import_trimcore(self):
        return "import trimcore", self.path_setup + _FRESH_CACHE

    def timeraw_first_cpp_call(self):
        """Issue #15: the first ``backend="auto"`` (C++) evaluator calls after the import, import not timed."""
        return _FIRST_CPP_CALL, self.path_setup + _FRESH_CACHE + _FIRST_CPP_SETUP

    def timeraw_import_compile_cold(self):
        return _COMPILE, self.path_setup + _FRESH_CACHE

    def timeraw_import_compile_warm(self):
        return _COMPILE, self.path_setup + _SET_CACHE.format(path=self.warm_dir)
