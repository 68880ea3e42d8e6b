"""TrimCaching placement: evaluators, compact build, Gen, Spec, baselines, bounds, exact ILP, quality.

Targets (issues #2 and #3; the measured numbers are in ``docs/performance.md``):

* evaluators at M=100, K=10,000, I=1,000 (compact build): C++ >= 20x faster than the NumPy reference;
  ``peakmem_build`` of that instance < 1 GiB;
* ``trimcaching_gen`` at M=100, K=10,000, I=1,000 nested: <= 2 s, < 1 GiB peak; C++ >= 30x faster than
  the NumPy reference at a size where the reference takes seconds (M=10, K=1,000, I=100);
* ``trimcaching_spec`` at M=10, K=300, I=100 (special-case library), eps=0.1: <= 5 s;
* ``optimal_placement`` proves optimality at M=4, K=30, I=15 within 60 s;
* mean ratio of Gen and Spec to the optimum over seeded small instances (``Quality``).

Combinations that cannot run (a backend without that kernel tier, or a size where a slow tier
would take minutes) are skipped in ``setup`` with ``NotImplementedError`` (asv shows them as n/a).
"""

from __future__ import annotations

import functools

import numpy as np

import trimcore as tc
from trimcore.kernels import kernel_tiers
from trimcore.placement import lp_relaxation_bound, popularity_caching, random_caching, submodular_bound

from . import instances as inst

BACKENDS = ["cpp", "numba", "reference"]


def _tiers(*kernel_names: str) -> list[str]:
    """Backends that implement every one of ``kernel_names`` here (discovered when asv imports this file).

    Algorithms whose kernels lack a tier (e.g. no Numba greedy yet) then get no parameter for it,
    so asv spawns no process just to skip it; a tier that lands later is benchmarked automatically.
    """
    return [b for b in BACKENDS if all(b in kernel_tiers(k) for k in kernel_names)]


# ----------------------------------------------------------------------------- helpers
@functools.lru_cache(maxsize=4)
def _problem(path: str):
    """Load a cached instance once per benchmark process.

    asv re-runs ``setup`` before every timing sample; memoising the (immutable) problem keeps
    that cheap and keeps a single copy in memory for ``peakmem_*``.
    """
    return inst.load_problem(path)


@functools.lru_cache(maxsize=4)
def _placement(path: str) -> np.ndarray:
    return inst.random_placement(_problem(path))


def _require(kernel_name: str, backend: str) -> None:
    if backend not in kernel_tiers(kernel_name):
        raise NotImplementedError(f"kernel {kernel_name!r} has no {backend!r} tier")


# ----------------------------------------------------------------------------- evaluators (issue #2)
class Evaluators:
    """``hit_ratio`` / ``hit_weight`` / ``storage_used`` of a random feasible placement.

    Each server aims at 4-10 random models and keeps those that fit (``LoadInstance.track_models_per_server``).
    """

    params = ([inst.MEDIUM, inst.LARGE], _tiers("placement.hit_weight", "placement.storage_used"))
    param_names = ["size", "backend"]
    setup_cache = staticmethod(inst.setup_cache_placement)
    repeat = (5, 40, 3.0)
    rounds = 1
    timeout = 300

    def setup(self, cache, size, backend):
        _require("placement.hit_weight", backend)
        _require("placement.storage_used", backend)
        self.problem = _problem(cache[size])
        self.x = _placement(cache[size])
        # first call compiles (numba) or loads the compiled cache; never timed
        self.problem.hit_ratio(self.x, backend=backend)
        self.problem.storage_used(self.x, backend=backend)

    def time_hit_ratio(self, cache, size, backend):
        self.problem.hit_ratio(self.x, backend=backend)

    def time_hit_weight(self, cache, size, backend):
        self.problem.hit_weight(self.x, backend=backend)

    def time_storage_used(self, cache, size, backend):
        self.problem.storage_used(self.x, backend=backend)

    def peakmem_hit_ratio(self, cache, size, backend):
        self.problem.hit_ratio(self.x, backend=backend)

    def peakmem_storage_used(self, cache, size, backend):
        self.problem.storage_used(self.x, backend=backend)


# ----------------------------------------------------------------------------- instance building
class Build:
    """Compact instance build (``large_placement_instance`` / ``build_placement``): the thing timed."""

    params = [inst.EUA, inst.MEDIUM, inst.LARGE]
    param_names = ["size"]
    number = 1
    repeat = (1, 5, 15.0)
    warmup_time = 0
    rounds = 1
    timeout = 300

    def time_build(self, size):
        inst.make_problem(size)

    def peakmem_build(self, size):
        inst.make_problem(size)


def peakmem_import_baseline():
    """Peak memory of a benchmark process that has only imported trimcore (the floor of every peakmem_)."""


class LoadInstance:
    """Peak memory with the instance loaded and nothing run (floor of the algorithm peakmem_ numbers)."""

    params = [inst.MEDIUM, inst.LARGE]
    param_names = ["size"]
    setup_cache = staticmethod(inst.setup_cache_placement)

    def peakmem_load_instance(self, cache, size):
        _problem(cache[size])

    def track_models_per_server(self, cache, size):
        """Density of the random placement the evaluators score (mean models per server)."""
        return float(_placement(cache[size]).sum(axis=1).mean())

    track_models_per_server.unit = "models"


# ----------------------------------------------------------------------------- TrimCaching Gen (issue #3)
class Gen:
    """``trimcaching_gen(rule="best_of_both", bound=None)``: lazy (priority queue) vs plain scan, per backend."""

    params = ([inst.EUA, inst.MEDIUM, inst.LARGE], _tiers("placement.greedy_placement"), [True, False])
    param_names = ["size", "backend", "lazy"]
    setup_cache = staticmethod(inst.setup_cache_placement)
    repeat = (1, 10, 10.0)
    warmup_time = 0
    rounds = 1
    timeout = 300

    def setup(self, cache, size, backend, lazy):
        _require("placement.greedy_placement", backend)
        if backend == "reference" and size in (inst.EUA, inst.LARGE):
            raise NotImplementedError("reference greedy takes over a minute at this size (72 s on EUA)")
        if not lazy and size == inst.LARGE:
            raise NotImplementedError("plain-scan greedy takes ~4 minutes at this size (120 s per rule)")
        self.problem = _problem(cache[size])

    def time_trimcaching_gen(self, cache, size, backend, lazy):
        tc.trimcaching_gen(self.problem, lazy=lazy, bound=None, backend=backend)

    def peakmem_trimcaching_gen(self, cache, size, backend, lazy):
        tc.trimcaching_gen(self.problem, lazy=lazy, bound=None, backend=backend)


class GenRules:
    """The two greedy rules separately at the issue-#3 scale (``best_of_both`` runs both)."""

    params = (["ratio", "gain"],)
    param_names = ["rule"]
    setup_cache = staticmethod(inst.setup_cache_placement)
    repeat = (1, 5, 10.0)
    warmup_time = 0
    rounds = 1
    timeout = 300

    def setup(self, cache, rule):
        self.problem = _problem(cache[inst.LARGE])

    def time_trimcaching_gen_rule(self, cache, rule):
        tc.trimcaching_gen(self.problem, rule=rule, bound=None, backend="cpp")


# ----------------------------------------------------------------------------- TrimCaching Spec (issue #3)
class Spec:
    """``trimcaching_spec(eps=0.1, bound=None)`` on special-case libraries (one shared backbone per family)."""

    params = ([inst.EUA, inst.SPEC],
              _tiers("placement.server_gains", "knapsack.knapsack_fptas", "knapsack.knapsack_grid"))
    param_names = ["size", "backend"]
    setup_cache = staticmethod(inst.setup_cache_placement)
    number = 1
    repeat = (1, 3, 10.0)
    warmup_time = 0
    rounds = 1
    timeout = 300

    def setup(self, cache, size, backend):
        for name in ("placement.server_gains", "knapsack.knapsack_fptas", "knapsack.knapsack_grid"):
            _require(name, backend)
        self.problem = _problem(cache[size])

    def time_trimcaching_spec(self, cache, size, backend):
        tc.trimcaching_spec(self.problem, eps=0.1, bound=None, backend=backend)

    def peakmem_trimcaching_spec(self, cache, size, backend):
        tc.trimcaching_spec(self.problem, eps=0.1, bound=None, backend=backend)


# ----------------------------------------------------------------------------- baselines and bounds
class Baselines(inst.FewSamples):
    """The baselines of spec §7 (bound=None, fastest backend)."""

    params = ([inst.EUA, inst.MEDIUM, inst.LARGE], ["independent_caching", "popularity_caching", "random_caching"])
    param_names = ["size", "algorithm"]
    setup_cache = staticmethod(inst.setup_cache_placement)

    def setup(self, cache, size, algorithm):
        self.problem = _problem(cache[size])
        self.algorithm = {"independent_caching": tc.independent_caching, "popularity_caching": popularity_caching,
                          "random_caching": random_caching}[algorithm]

    def time_baseline(self, cache, size, algorithm):
        self.algorithm(self.problem, bound=None)


class Bounds(inst.FewSamples):
    """Certified upper bound from submodularity around a random feasible placement."""

    params = [inst.LP_SIZE, inst.EUA, inst.MEDIUM, inst.LARGE]
    param_names = ["size"]
    setup_cache = staticmethod(inst.setup_cache_placement)

    def setup(self, cache, size):
        self.problem = _problem(cache[size])
        self.x = _placement(cache[size])

    def time_submodular_bound(self, cache, size):
        submodular_bound(self.problem, self.x)


class LPBound:
    """LP relaxation of the exact ILP (HiGHS IPM) at the size where ``bound="auto"`` still uses it."""

    setup_cache = staticmethod(inst.setup_cache_placement)
    number = 1
    repeat = (1, 5, 5.0)
    warmup_time = 0
    rounds = 1
    timeout = 300

    def setup(self, cache):
        self.problem = _problem(cache[inst.LP_SIZE])

    def time_lp_relaxation_bound(self, cache):
        lp_relaxation_bound(self.problem)


# ----------------------------------------------------------------------------- exact ILP (issue #3)
class Optimal:
    """``optimal_placement`` (HiGHS ILP) at M=4, K=30, I=15: must prove optimality within 60 s."""

    params = [0, 1, 2]
    param_names = ["seed"]
    number = 1
    repeat = (1, 3, 20.0)
    warmup_time = 0
    rounds = 1
    timeout = 300

    def setup(self, seed):
        # tiny instance, generated in a few ms (not worth a setup_cache); never timed
        self.problem = inst.make_problem(inst.OPTIMAL, seed=seed)

    def time_optimal_placement(self, seed):
        tc.optimal_placement(self.problem, time_limit=60.0)

    def track_optimal_proven(self, seed):
        """1 when HiGHS proves optimality within the 60 s limit, else 0."""
        return 1.0 if tc.optimal_placement(self.problem, time_limit=60.0).status == "optimal" else 0.0

    track_optimal_proven.unit = "proven"

    def track_optimal_runtime(self, seed):
        """Solver wall time as the result reports it (``runtime_s``)."""
        return tc.optimal_placement(self.problem, time_limit=60.0).runtime_s

    track_optimal_runtime.unit = "seconds"


# ----------------------------------------------------------------------------- solution quality (issue #3/#5)
_ALGORITHMS = {
    "trimcaching_gen": lambda p: tc.trimcaching_gen(p, bound=None),
    "trimcaching_spec": lambda p: tc.trimcaching_spec(p, eps=0.1, bound=None),
    "independent_caching": lambda p: tc.independent_caching(p, bound=None),
}


def _ratios(rows: list[tuple[str, float]], algorithm: str) -> np.ndarray:
    return np.array([_ALGORITHMS[algorithm](inst.load_problem(path)).hit_ratio / opt for path, opt in rows])


class Quality:
    """Hit ratio over the proven optimum on 10 seeded small instances (M=3-4, K=20, I=10-12)."""

    params = (list(inst.QUALITY_LIBRARIES), list(_ALGORITHMS))
    param_names = ["library", "algorithm"]
    setup_cache = staticmethod(inst.setup_cache_quality)
    timeout = 900

    def track_mean_ratio_to_optimum(self, cache, library, algorithm):
        return float(_ratios(cache[library], algorithm).mean())

    track_mean_ratio_to_optimum.unit = "ratio"

    def track_min_ratio_to_optimum(self, cache, library, algorithm):
        return float(_ratios(cache[library], algorithm).min())

    track_min_ratio_to_optimum.unit = "ratio"


class CertifiedGap:
    """Hit ratio and hit ratio over the certified upper bound (``bound="auto"``) on larger instances."""

    params = ([inst.LP_SIZE, inst.EUA, inst.SPEC, inst.LARGE], list(_ALGORITHMS))
    param_names = ["size", "algorithm"]
    setup_cache = staticmethod(inst.setup_cache_placement)
    timeout = 600

    def setup(self, cache, size, algorithm):
        nested = size not in (inst.EUA, inst.SPEC)
        if algorithm == "trimcaching_spec" and nested:
            raise NotImplementedError("nested sharing: more shared-block combinations than Spec's max_combinations")
        self.problem = _problem(cache[size])

    def _result(self, algorithm):
        options = {"trimcaching_spec": {"eps": 0.1}}.get(algorithm, {})
        return getattr(tc, algorithm)(self.problem, bound="auto", **options)

    def track_ratio_to_bound(self, cache, size, algorithm):
        result = self._result(algorithm)
        return result.hit_ratio / result.upper_bound

    track_ratio_to_bound.unit = "ratio"

    def track_hit_ratio(self, cache, size, algorithm):
        return self._result(algorithm).hit_ratio

    track_hit_ratio.unit = "hit ratio"
