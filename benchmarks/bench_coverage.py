"""asv benchmarks of ``tc.max_coverage`` (issue #5), on the instances of ``benchmarks/peers.py``.

Weighted sets with Zipf-0.8 element popularity (the popularity is also the weight); the largest
size is the target instance of issue #5 (200,000 sets, 20,000 elements, budget 2,000). The peer
libraries are compared by ``python benchmarks/peers.py`` (not in asv: they are optional).
"""

from __future__ import annotations

import numpy as np

import trimcore as tc
from trimcore.kernels import kernel_backends

SIZES = ["20000x2000x200", "200000x20000x2000"]


def _instance(label: str):
    from benchmarks.peers import instance

    n_sets, n_elements, budget = (int(t) for t in label.split("x"))
    ptr, idx, weights = instance(n_sets, n_elements, seed=0)
    return ptr, idx, weights, budget


class MaxCoverage:
    """Cardinality greedy (lazy engine) and the cost-benefit greedy with random costs."""

    params = (SIZES, ["cardinality", "costs"])
    param_names = ["size", "budget"]
    timeout = 300

    def setup_cache(self):
        return {label: _instance(label) for label in SIZES}

    def setup(self, cache, size, budget):
        self.ptr, self.idx, self.weights, k = cache[size]
        if budget == "costs":
            self.costs = np.random.default_rng(1).uniform(0.5, 1.5, self.ptr.size - 1)
            self.budget = float(k)
        else:
            self.costs, self.budget = None, k
        tc.max_coverage(self.ptr[:3], self.idx[:self.ptr[2]], 1)  # load the extension outside the timing

    def time_max_coverage(self, cache, size, budget):
        tc.max_coverage(self.ptr, self.idx, self.budget, weights=self.weights, costs=self.costs)

    def peakmem_max_coverage(self, cache, size, budget):
        tc.max_coverage(self.ptr, self.idx, self.budget, weights=self.weights, costs=self.costs)

    def track_ratio_to_bound(self, cache, size, budget):
        res = tc.max_coverage(self.ptr, self.idx, self.budget, weights=self.weights, costs=self.costs)
        return res.value / res.upper_bound


class MaxCoverageReference:
    """The NumPy reference greedy on the small size (the oracle's speed)."""

    params = [b for b in kernel_backends("max_coverage")]
    param_names = ["backend"]
    timeout = 300

    def setup(self, backend):
        self.ptr, self.idx, self.weights, _ = _instance("20000x2000x200")
        self.budget = 20  # the reference rescans every set each round

    def time_max_coverage_small_budget(self, backend):
        tc.max_coverage(self.ptr, self.idx, self.budget, weights=self.weights, backend=backend)
