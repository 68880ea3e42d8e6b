"""asv benchmarks of PartialLoading (issue #4 targets, issue #5 suite).

Targets: ``partialloading_dp`` at K = 10,000 users, 100 models in 10 clusters within 1 s;
``partialloading_greedy`` at K = 1,000 within 2 s; ``LoadingProblem.evaluate`` linear in the
schedule length. Instances come from :mod:`benchmarks.instances` (seeded
``make_loading_instance``; the default deadline lets about half of the users be served), built
once per run by its asv ``setup_cache`` functions and loaded from file by each benchmark
process, so generation is never timed:

* ``DP``, ``Greedy``, ``DPEDF``, ``Evaluate``: time and peak memory per size and backend;
* ``Baselines``: the six baselines B1-B6 of :mod:`trimcore.loading.baselines` at K = 1,000;
* ``Optimal``: the exact reference ``partialloading_optimal``, brute force and MILP, at K = 10;
* ``Quality``: served users over the optimum on 10 seeded K = 10 instances (optimum computed
  in ``setup_cache``, by brute force checked against the MILP);
* ``CertifiedGap``: served users over DP-PL's certified upper bound (the GPU-only DP value) at
  K = 1,000;
* ``Compile``: import plus Numba compilation with an empty ``NUMBA_CACHE_DIR`` (``timeraw_``).

``setup`` runs each algorithm once so that Numba compilation is excluded from ``time_*``.

Run directly (``python benchmarks/bench_loading.py``) for the median of 5 timed runs after one
warm-up call, the numbers reported in ``docs/partialloading.md``.
"""

from __future__ import annotations

import functools

import numpy as np

import trimcore as tc
from trimcore.kernels import available_backends
from trimcore.loading import (
    edf_schedule,
    equal_bandwidth_schedule,
    fcfs_schedule,
    grouping_schedule,
    no_sharing_schedule,
    partialloading_dp,
    partialloading_dp_edf,
    partialloading_greedy,
    random_schedule,
)

try:
    from . import instances as inst
except ImportError:  # run as a script: ``python benchmarks/bench_loading.py``
    import instances as inst

BACKENDS = [b for b in ("numba", "reference") if b in available_backends()]


@functools.lru_cache(maxsize=2)
def _problem(path: str):
    """Load a cached instance once per benchmark process.

    asv re-runs ``setup`` before every timing sample; memoising the (immutable) problem keeps that
    cheap and keeps a single copy in memory for ``peakmem_*``. Its derived data (switch matrix,
    sharing tree) is built by the warm-up call in ``setup``, as it was when ``setup`` generated it.
    """
    return inst.load_loading_problem(path)


# ----------------------------------------------------------------------------- schedulers (issue #4)
class _Scheduler:
    """One scheduler on the cached instances; subclasses set ``run``, ``params`` and name the
    timed method (``time_<name> = peakmem_<name> = _Scheduler.call``)."""

    param_names = ["n_users", "backend"]
    setup_cache = staticmethod(inst.setup_cache_loading)
    timeout = 600
    run = staticmethod(partialloading_dp)

    def setup(self, cache, n_users, backend):
        self.problem = _problem(cache[n_users])
        self.run(self.problem, backend=backend)  # compiles and warms the problem's derived data

    def call(self, cache, n_users, backend):
        self.run(self.problem, backend=backend)


class DP(_Scheduler):
    """DP-PL on backbone sharing: 100 models in 10 clusters."""

    params = ([1_000, 10_000], BACKENDS)
    run = staticmethod(partialloading_dp)
    time_dp = peakmem_dp = _Scheduler.call


class Greedy(_Scheduler):
    """Greedy-PL (append variant)."""

    params = ([100, 1_000], BACKENDS)
    run = staticmethod(partialloading_greedy)
    time_greedy = peakmem_greedy = _Scheduler.call


class DPEDF(_Scheduler):
    """DP-EDF (by runs of same-model, same-deadline users since issue #15: O(R K I), one record row per run)."""

    params = ([100, 1_000, 10_000], BACKENDS)
    run = staticmethod(partialloading_dp_edf)
    time_dp_edf = peakmem_dp_edf = _Scheduler.call

    def setup(self, cache, n_users, backend):
        if n_users >= 10_000 and backend == "reference":
            raise NotImplementedError("the NumPy reference DP-EDF takes a while at K=10,000")
        super().setup(cache, n_users, backend)


class Evaluate:
    """``evaluate`` of a full-length order: should grow linearly with N."""

    params = ([1_000, 10_000, 100_000], BACKENDS)
    param_names = ["length", "backend"]
    setup_cache = staticmethod(inst.setup_cache_loading)
    timeout = 600

    def setup(self, cache, length, backend):
        self.problem = _problem(cache[length])
        self.order = np.arange(length)
        self.problem.evaluate(self.order, backend=backend)

    def time_evaluate(self, cache, length, backend):
        self.problem.evaluate(self.order, backend=backend)

    def peakmem_evaluate(self, cache, length, backend):
        self.problem.evaluate(self.order, backend=backend)


# ----------------------------------------------------------------------------- baselines (spec §6 B1-B6)
#: The baselines, called with ``seed=inst.SEED`` where they take one (B3 breaks deadline ties and B5 draws
#: its order with it; the deterministic ones refuse a seed).
_BASELINES = {
    "no_sharing_schedule": no_sharing_schedule,
    "fcfs_schedule": fcfs_schedule,
    "edf_schedule": edf_schedule,
    "grouping_schedule": grouping_schedule,
    "random_schedule": random_schedule,
    "equal_bandwidth_schedule": equal_bandwidth_schedule,
}


def _seeded(fn):
    """``fn`` with ``seed=inst.SEED`` bound when it takes a seed (only the randomized schedulers do)."""
    import functools
    import inspect

    return functools.partial(fn, seed=inst.SEED) if "seed" in inspect.signature(fn).parameters else fn


class Baselines(inst.FewSamples):
    """The baselines B1-B6 at K = 1,000 (default options, fastest backend)."""

    params = ([1_000], list(_BASELINES))
    param_names = ["n_users", "algorithm"]
    setup_cache = staticmethod(inst.setup_cache_loading)

    def setup(self, cache, n_users, algorithm):
        self.problem = _problem(cache[n_users])
        self.algorithm = _seeded(_BASELINES[algorithm])
        self.algorithm(self.problem)

    def time_baseline(self, cache, n_users, algorithm):
        self.algorithm(self.problem)

    def peakmem_baseline(self, cache, n_users, algorithm):
        self.algorithm(self.problem)


# ----------------------------------------------------------------------------- exact reference (spec §6 B7)
class Optimal:
    """``partialloading_optimal`` at K = 10 (10 models, 3 clusters): brute force and the MILP (HiGHS).

    The instances are the first three of the quality set; the MILP gets a 60 s limit (it proves
    optimality in under 1.5 s on every instance of the set).
    """

    params = (["brute_force", "milp"], [0, 1, 2])
    param_names = ["method", "seed"]
    setup_cache = staticmethod(inst.setup_cache_loading_quality)
    number = 1
    repeat = (1, 5, 10.0)
    warmup_time = 0
    rounds = 1
    timeout = 300

    def setup(self, cache, method, seed):
        self.problem = _problem(cache[seed][0])
        tc.partialloading_optimal(self.problem, method=method, time_limit=60.0)   # compiles the kernels

    def time_optimal(self, cache, method, seed):
        tc.partialloading_optimal(self.problem, method=method, time_limit=60.0)

    def peakmem_optimal(self, cache, method, seed):
        tc.partialloading_optimal(self.problem, method=method, time_limit=60.0)


# ----------------------------------------------------------------------------- solution quality (issue #5)
#: Every scheduler scored by ``Quality`` and ``CertifiedGap`` (default options, ``seed=inst.SEED`` where taken).
_ALGORITHMS = {
    "partialloading_dp": partialloading_dp,
    "partialloading_greedy": partialloading_greedy,
    "partialloading_dp_edf": partialloading_dp_edf,
    **_BASELINES,
}


def _ratios(rows: list[tuple[str, int]], algorithm: str) -> np.ndarray:
    """Served users over the optimum on every instance of ``rows`` (a ratio above 1 is a bug)."""
    ratios = np.array([_seeded(_ALGORITHMS[algorithm])(inst.load_loading_problem(path)).served / opt
                       for path, opt in rows])
    if (ratios > 1.0).any():
        raise RuntimeError(f"{algorithm} serves more users than the optimum: ratios {ratios.tolist()}")
    return ratios


class Quality:
    """Served users over the optimum on 10 seeded small instances (K = 10, I = 10 in 3 clusters)."""

    params = list(_ALGORITHMS)
    param_names = ["algorithm"]
    setup_cache = staticmethod(inst.setup_cache_loading_quality)
    timeout = 600

    def track_mean_ratio_to_optimum(self, cache, algorithm):
        return float(_ratios(cache, algorithm).mean())

    track_mean_ratio_to_optimum.unit = "ratio"

    def track_min_ratio_to_optimum(self, cache, algorithm):
        return float(_ratios(cache, algorithm).min())

    track_min_ratio_to_optimum.unit = "ratio"


class CertifiedGap:
    """Served users over a certified upper bound at K = 1,000, where the optimum is out of reach.

    The bound is DP-PL's ``upper_bound``: the most users whose GPU-only chain meets the common
    deadline (the DP value before any bandwidth repair), an upper bound of P0 for every scheduler.
    """

    params = ([1_000], list(_ALGORITHMS))
    param_names = ["n_users", "algorithm"]
    setup_cache = staticmethod(inst.setup_cache_loading)
    timeout = 300

    def setup(self, cache, n_users, algorithm):
        self.problem = _problem(cache[n_users])
        self.bound = partialloading_dp(self.problem).upper_bound
        if not self.bound:
            raise NotImplementedError("no certified bound (DP-PL returned none or 0)")

    def track_ratio_to_bound(self, cache, n_users, algorithm):
        return _seeded(_ALGORITHMS[algorithm])(self.problem).served / self.bound

    track_ratio_to_bound.unit = "ratio"


# ----------------------------------------------------------------------------- compilation
class Compile:
    """Import plus Numba compilation of the loading kernels (cold cache), in a fresh process each.

    The children put the directory of this process's ``trimcore`` first on ``sys.path`` (untimed
    setup, as in ``bench_import``): asv does not pass ``ASV_PYTHONPATH`` on to them.
    """

    timeout = 600

    def setup(self):
        from .bench_import import _SET_PATH, _trimcore_root

        self.path_setup = _SET_PATH.format(root=_trimcore_root())

    def timeraw_compile_loading_kernels(self):
        """The schedulers' kernels: one small DP, greedy and DP-EDF."""
        return _COMPILE_LOADING, self.path_setup

    def timeraw_compile_exact_kernels(self):
        """The exact reference's kernels: brute force (``loading_enumerate``) and the evaluator."""
        return _COMPILE_EXACT, self.path_setup


_COMPILE_LOADING = """
import os, tempfile
os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp()
from trimcore.experiments.scenarios import make_loading_instance
from trimcore.loading import partialloading_dp, partialloading_greedy, partialloading_dp_edf
p = make_loading_instance(50, 10, 2, seed=0)
partialloading_dp(p, backend="numba")
partialloading_greedy(p, backend="numba")
partialloading_dp_edf(p, backend="numba")
"""

_COMPILE_EXACT = """
import os, tempfile
os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp()
from trimcore.experiments.scenarios import make_loading_instance
from trimcore.loading import partialloading_optimal
p = make_loading_instance(6, 6, 2, seed=0)
partialloading_optimal(p, method="brute_force", backend="numba")
"""


# ----------------------------------------------------------------------------- script mode
def _median_time(fn, repeats: int = 5) -> float:
    from benchmarks.peers import median_seconds

    return median_seconds(fn, repeats, warmup=True)


def main() -> None:
    """Print the issue #4 measurements (median of 5 after a warm-up)."""
    cases = []
    for k in (1_000, 10_000):
        p = inst.make_loading_problem(k)
        for b in BACKENDS:
            cases.append((f"partialloading_dp      K={k:>6} I=100 C=10 [{b}]",
                          lambda p=p, b=b: partialloading_dp(p, backend=b)))
    for k in (100, 1_000):
        p = inst.make_loading_problem(k)
        for b in BACKENDS:
            cases.append((f"partialloading_greedy  K={k:>6} I=100 C=10 [{b}]",
                          lambda p=p, b=b: partialloading_greedy(p, backend=b)))
            cases.append((f"partialloading_dp_edf  K={k:>6} I=100 C=10 [{b}]",
                          lambda p=p, b=b: partialloading_dp_edf(p, backend=b)))
    for n in (1_000, 10_000, 100_000):
        p = inst.make_loading_problem(n)
        order = np.arange(n)
        for b in BACKENDS:
            cases.append((f"evaluate               N={n:>6}              [{b}]",
                          lambda p=p, o=order, b=b: p.evaluate(o, backend=b)))
    for name, fn in cases:
        print(f"{name}  {_median_time(fn) * 1e3:10.2f} ms", flush=True)


if __name__ == "__main__":
    main()
