"""asv benchmarks of ``tc.max_coverage`` (issue #5).

Instances: :func:`benchmarks.instances.coverage_instance`, weighted sets with Zipf-0.8 element
popularity (the popularity is also the weight), cached by ``setup_cache_coverage``; the largest
size is the target instance of issue #5 (200,000 sets, 20,000 elements, budget 2,000). The peer
libraries are compared on the same instances by ``python benchmarks/peers.py`` (not in asv: they
are optional).

The target "within 5x of one streaming pass over the CSR data" is tracked by
``StreamingPass.track_kernel_over_streaming_pass``: the native kernel's median time over the median
time of one compiled pass computing every set's gain (``_core.coverage_gains``, one thread), both
measured in the same process, one after the other.
"""

from __future__ import annotations

import numpy as np

import trimcore as tc
from trimcore.kernels import kernel_tiers

from . import instances as inst

SIZES = inst.COVERAGE_LABELS


def _median_time(fn, repeat: int) -> float:
    from benchmarks.peers import timed

    return timed(fn, repeat)[0]


class MaxCoverage:
    """Cardinality greedy (lazy engine) and the cost-benefit greedy with random costs, end to end."""

    params = (SIZES, ["cardinality", "costs"], [1, 2])
    param_names = ["size", "budget", "threads"]
    timeout = 300

    setup_cache = staticmethod(inst.setup_cache_coverage)

    def setup(self, cache, size, budget, threads):
        self.ptr, self.idx, self.weights, k = inst.load_coverage_instance(cache[size])
        if budget == "costs":
            self.costs = np.random.default_rng(1).uniform(0.5, 1.5, self.ptr.size - 1)
            self.budget = float(k)
        else:
            self.costs, self.budget = None, k
        tc.max_coverage(self.ptr[:3], self.idx[:self.ptr[2]], 1)  # load the extension outside the timing

    def _run(self, threads):
        return tc.max_coverage(self.ptr, self.idx, self.budget, weights=self.weights, costs=self.costs,
                               threads=threads)

    def time_max_coverage(self, cache, size, budget, threads):
        self._run(threads)

    def peakmem_max_coverage(self, cache, size, budget, threads):
        self._run(threads)

    def track_ratio_to_bound(self, cache, size, budget, threads):
        res = self._run(threads)
        return res.value / res.upper_bound

    track_ratio_to_bound.unit = "ratio"


class StreamingPass:
    """The floor: one compiled pass over the CSR (every set's gain), and the kernel against it."""

    params = (SIZES, [1, 2])
    param_names = ["size", "threads"]
    timeout = 300

    setup_cache = staticmethod(inst.setup_cache_coverage)

    def setup(self, cache, size, threads):
        from trimcore import _core

        self.core = _core
        self.ptr, self.idx, self.weights, self.k = inst.load_coverage_instance(cache[size])
        self.costs = np.ones(self.ptr.size - 1)

    def _pass(self, threads):
        return self.core.coverage_gains(self.ptr, self.idx, self.weights, None, threads)

    def _kernel(self, threads):
        return self.core.max_coverage(self.ptr, self.idx, self.weights, self.costs, float(self.k), "gain", True,
                                      1e-12, threads)

    def time_streaming_pass(self, cache, size, threads):
        self._pass(threads)

    def time_native_kernel(self, cache, size, threads):
        self._kernel(threads)

    def track_kernel_over_streaming_pass(self, cache, size, threads):
        """Kernel on ``threads`` threads over the one-thread pass (the target: at most 5)."""
        floor = _median_time(lambda: self._pass(1), 15)
        return _median_time(lambda: self._kernel(threads), 5) / floor

    track_kernel_over_streaming_pass.unit = "ratio"


class MaxCoverageReference:
    """The NumPy reference greedy on the small size (the oracle's speed)."""

    params = [b for b in kernel_tiers("coverage.max_coverage")]
    param_names = ["backend"]
    timeout = 300

    setup_cache = staticmethod(inst.setup_cache_coverage)

    def setup(self, cache, backend):
        self.ptr, self.idx, self.weights, _ = inst.load_coverage_instance(cache[SIZES[0]])
        self.budget = 20  # the reference rescans every set each round

    def time_max_coverage_small_budget(self, cache, backend):
        tc.max_coverage(self.ptr, self.idx, self.budget, weights=self.weights, backend=backend)
