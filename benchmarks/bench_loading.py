"""asv benchmarks of PartialLoading (issue #4 targets).

Targets: ``partialloading_dp`` at K = 10,000 users, 100 models in 10 clusters within 1 s;
``partialloading_greedy`` at K = 1,000 within 2 s; ``LoadingProblem.evaluate`` linear in the
schedule length. Instances come from :func:`trimcore.loading.make_loading_instance` (seeded;
the default deadline lets about half of the users be served). ``setup`` runs each algorithm
once so that Numba compilation is excluded; ``timeraw_*`` measures the compilation itself with
an empty ``NUMBA_CACHE_DIR``.

Run directly (``python benchmarks/bench_loading.py``) for the median of 5 timed runs after one
warm-up call, the numbers reported in ``docs/performance.md``.
"""

from __future__ import annotations

import numpy as np

from trimcore.kernels import available_backends
from trimcore.loading import (
    make_loading_instance,
    partialloading_dp,
    partialloading_dp_edf,
    partialloading_greedy,
)

BACKENDS = [b for b in ("numba", "reference") if b in available_backends()]


class DP:
    """DP-PL on backbone sharing: 100 models in 10 clusters."""

    params = ([1_000, 10_000], BACKENDS)
    param_names = ["n_users", "backend"]
    timeout = 600

    def setup(self, n_users, backend):
        self.problem = make_loading_instance(n_users, 100, 10, seed=0)
        partialloading_dp(self.problem, backend=backend)

    def time_dp(self, n_users, backend):
        partialloading_dp(self.problem, backend=backend)

    def peakmem_dp(self, n_users, backend):
        partialloading_dp(self.problem, backend=backend)


class Greedy:
    """Greedy-PL (append variant)."""

    params = ([100, 1_000], BACKENDS)
    param_names = ["n_users", "backend"]
    timeout = 600

    def setup(self, n_users, backend):
        self.problem = make_loading_instance(n_users, 100, 10, seed=0)
        partialloading_greedy(self.problem, backend=backend)

    def time_greedy(self, n_users, backend):
        partialloading_greedy(self.problem, backend=backend)

    def peakmem_greedy(self, n_users, backend):
        partialloading_greedy(self.problem, backend=backend)


class DPEDF:
    """DP-EDF (O(K^2 I) tables)."""

    params = ([100, 1_000], BACKENDS)
    param_names = ["n_users", "backend"]
    timeout = 600

    def setup(self, n_users, backend):
        self.problem = make_loading_instance(n_users, 100, 10, seed=0)
        partialloading_dp_edf(self.problem, backend=backend)

    def time_dp_edf(self, n_users, backend):
        partialloading_dp_edf(self.problem, backend=backend)


class Evaluate:
    """``evaluate`` of a full-length order: should grow linearly with N."""

    params = ([1_000, 10_000, 100_000], BACKENDS)
    param_names = ["length", "backend"]
    timeout = 600

    def setup(self, length, backend):
        self.problem = make_loading_instance(length, 100, 10, seed=0)
        self.order = np.arange(length)
        self.problem.evaluate(self.order, backend=backend)

    def time_evaluate(self, length, backend):
        self.problem.evaluate(self.order, backend=backend)

    def peakmem_evaluate(self, length, backend):
        self.problem.evaluate(self.order, backend=backend)


class Compile:
    """Numba compilation of the loading kernels (cold cache) plus one small DP and greedy."""

    timeout = 600

    def timeraw_compile_loading_kernels(self):
        return """
import os, tempfile
os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp()
from trimcore.loading import make_loading_instance, partialloading_dp, partialloading_greedy, partialloading_dp_edf
p = make_loading_instance(50, 10, 2, seed=0)
partialloading_dp(p, backend="numba")
partialloading_greedy(p, backend="numba")
partialloading_dp_edf(p, backend="numba")
"""


def _median_time(fn, repeats: int = 5) -> float:
    import statistics
    import time

    fn()   # warm-up: compilation and caches
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    """Print the issue #4 measurements (median of 5 after a warm-up)."""
    cases = []
    for k in (1_000, 10_000):
        p = make_loading_instance(k, 100, 10, seed=0)
        for b in BACKENDS:
            cases.append((f"partialloading_dp      K={k:>6} I=100 C=10 [{b}]",
                          lambda p=p, b=b: partialloading_dp(p, backend=b)))
    for k in (100, 1_000):
        p = make_loading_instance(k, 100, 10, seed=0)
        for b in BACKENDS:
            cases.append((f"partialloading_greedy  K={k:>6} I=100 C=10 [{b}]",
                          lambda p=p, b=b: partialloading_greedy(p, backend=b)))
            cases.append((f"partialloading_dp_edf  K={k:>6} I=100 C=10 [{b}]",
                          lambda p=p, b=b: partialloading_dp_edf(p, backend=b)))
    for n in (1_000, 10_000, 100_000):
        p = make_loading_instance(n, 100, 10, seed=0)
        order = np.arange(n)
        for b in BACKENDS:
            cases.append((f"evaluate               N={n:>6}              [{b}]",
                          lambda p=p, o=order, b=b: p.evaluate(o, backend=b)))
    for name, fn in cases:
        print(f"{name}  {_median_time(fn) * 1e3:10.2f} ms", flush=True)


if __name__ == "__main__":
    main()
