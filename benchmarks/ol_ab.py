"""A/B timing of OL's Numba kernel: the kernel of a git revision vs the working tree, side by side.

``python benchmarks/ol_ab.py [REV] [REPEATS]`` (default ``main``, 5): takes the kernel inputs that
``tc.pulling_online(pp, "ts", backend="numba")`` builds for the ``Online`` benchmark instance
(``paper_instance(50, 20000, 100, 10, seed=0)``: 100 arms, N = 100, d = 20), then times the
``run_online`` of ``git show REV:trimcore/kernels/pulling/jit.py`` and of the working tree in
alternation on those inputs. Prints rounds/s by wall clock and per CPU second (``process_time``),
the load average, and whether both kernels return the same decisions.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import trimcore as tc
import trimcore.pulling.online as online
from trimcore.kernels.pulling import jit as new_jit
from trimcore.pulling.instances import paper_instance


def _old_kernel(rev: str):
    src = subprocess.run(["git", "show", f"{rev}:trimcore/kernels/pulling/jit.py"], check=True,
                         capture_output=True, text=True).stdout
    tmp = tempfile.mkdtemp(prefix="ol_ab_")
    path = os.path.join(tmp, "jit_old.py")
    with open(path, "w") as fh:
        fh.write(src)
    spec = importlib.util.spec_from_file_location("jit_old", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.run_online


def _inputs(pp):
    captured = {}
    real = online.kernel

    def spy(name, tier):
        fn = real(name, tier)

        def wrapped(*args):
            captured["args"] = args
            return fn(*args)
        return wrapped

    online.kernel = spy
    try:
        tc.pulling_online(pp, "ts", backend="numba")
    finally:
        online.kernel = real
    return captured["args"]


def main() -> None:
    rev = sys.argv[1] if len(sys.argv) > 1 else "main"
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    pp = paper_instance(50, 20_000, 100, 10, seed=0)
    args = _inputs(pp)
    kernels = {rev: _old_kernel(rev), "worktree": new_jit.run_online}
    outs = {name: fn(*args) for name, fn in kernels.items()}  # compile + warm up
    same = all(np.array_equal(a, b) for a, b in zip(outs[rev], outs["worktree"]))
    rates: dict[str, list[tuple[float, float]]] = {name: [] for name in kernels}
    for _ in range(repeats):
        for name, fn in kernels.items():
            w0, c0 = time.perf_counter(), time.process_time()
            fn(*args)
            w1, c1 = time.perf_counter(), time.process_time()
            rates[name].append((pp.n_requests / (w1 - w0), pp.n_requests / (c1 - c0)))
    print(f"load average {os.getloadavg()[0]:.1f}; identical decisions: {same}")
    for name, rs in rates.items():
        wall = sorted(r[0] for r in rs)
        cpu = sorted(r[1] for r in rs)
        print(f"{name:>10}: wall best {wall[-1]:9.0f} median {wall[len(wall) // 2]:9.0f} rounds/s; "
              f"per CPU second best {cpu[-1]:9.0f} median {cpu[len(cpu) // 2]:9.0f}")
    ratio = [b[1] / a[1] for a, b in zip(rates[rev], rates["worktree"])]
    print(f"per-CPU-second ratio worktree / {rev}: median {sorted(ratio)[len(ratio) // 2]:.2f}")


if __name__ == "__main__":
    main()
