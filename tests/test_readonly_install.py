"""A read-only installation with no writable HOME (a system site-packages, a container image).

What it simulates, and how faithfully:

* the installation: a fresh virtual environment whose ``site-packages`` receives a copy of the
  package tree this test session imports (what ``pip install .`` put in site-packages, or the
  in-place build: ``trimcore/`` with its compiled ``_core``), without ``__pycache__`` or Numba
  caches, as a fresh install has none. Copying instead of rebuilding keeps the test to seconds;
  the dependencies (NumPy, Numba, ...) come from the running environment.
* read-only: as root (CI, containers), file modes do not stop writes, so ``chmod -R a-w`` would
  prove nothing; the venv and HOME are made a read-only bind mount in a private mount namespace
  (``unshare -m``), which refuses root too (EROFS). As another user, ``chmod -R a-w`` is used.
  Where neither is possible (root without CAP_SYS_ADMIN), the test is skipped; the in-process
  simulation in test_reliability.py (Numba with every cache locator removed) still runs.
* HOME: a directory inside the read-only tree, no ``XDG_CACHE_HOME``, no ``NUMBA_CACHE_DIR``:
  Numba finds no locator at all, exactly the ``cannot cache function ... no locator available``
  case of issue #10.

Then the main job (``python -m trimcore.cli run``), a Numba call of each family, and the C++-only
``max_coverage`` must all succeed, with at most one warning about the missing cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import trimcore

CALLS = """
    import numpy as np
    import trimcore as tc
    from trimcore.kernels import kernel
    prob = tc.PlacementProblem.from_arrays([1.0, 2.0], [[0], [1]], [2.5], np.ones((1, 1, 2), bool), [[1.0, 3.0]])
    x = np.array([[False, True]])
    print("numba placement", prob.hit_ratio(x, backend="numba"))
    print("numba loading", kernel("loading.simulate", "numba")(np.ones(2), np.zeros(2), np.ones(2))[1].tolist())
    print("cpp coverage", tc.max_coverage([0, 2, 3], [0, 1, 2], 1, backend="cpp").selected.tolist())
    print("installed at", tc.__file__)
"""


def _install(venv: Path) -> Path:
    """A fresh venv with a copy of the trimcore package tree in its site-packages; returns that directory."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next(venv.glob("lib/python*/site-packages"))
    source = Path(trimcore.__file__).resolve().parent
    shutil.copytree(source, site / "trimcore", ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    return site


def _can_mount_read_only(probe: Path) -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe.mkdir()
    script = f"mount --bind {probe} {probe} && mount -o remount,ro,bind {probe} {probe} && ! touch {probe}/x"
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, timeout=60)
    return done.returncode == 0


def test_read_only_install_without_a_writable_home_runs_the_main_job_and_numba(tmp_path):
    venv, out = tmp_path / "venv", tmp_path / "out"
    out.mkdir()
    site = _install(venv)
    home = venv / "home"
    home.mkdir()
    deps = [p for p in sys.path if p and Path(p).is_dir() and Path(p).resolve() != Path.cwd().resolve()]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "XDG_", "PYTHON", "TRIMCORE_"))}
    env.update(HOME=str(home), PYTHONPATH=os.pathsep.join([str(site), *deps]), MPLCONFIGDIR=str(tmp_path / "mpl"))
    python = venv / "bin" / "python"
    job = f"{python} -m trimcore.cli run --out {out} --no-progress && {python} -c '{textwrap.dedent(CALLS)}'"
    if _can_mount_read_only(tmp_path / "probe"):
        how = "read-only bind mount"
        command = ["unshare", "-m", "sh", "-c",
                   f"mount --bind {venv} {venv} && mount -o remount,ro,bind {venv} {venv} && {job}"]
    elif os.geteuid() != 0:
        how = "chmod -R a-w"
        subprocess.run(["chmod", "-R", "a-w", str(venv)], check=True)
        command = ["sh", "-c", job]
    else:
        pytest.skip("running as root without CAP_SYS_ADMIN: no way to make the install read-only for this user")
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(venv)], check=False)
    assert done.returncode == 0, f"{how}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    assert "Traceback" not in done.stderr, done.stderr
    assert f"installed at {site / 'trimcore'}" in done.stdout  # the copy ran, not the source tree
    assert "numba placement 0.75" in done.stdout and "numba loading [2.0, 4.0]" in done.stdout
    assert "cpp coverage [0]" in done.stdout
    assert (out / "placement.csv").is_file() and (out / "placement.png").is_file()
    # Numba really had nowhere to cache: it said so (once per process), and nothing was written
    assert 1 <= done.stderr.count("no writable cache directory") <= 2, done.stderr
    assert not list((site / "trimcore").rglob("*.nbi"))
