"""asv benchmarks of Chasing Common Knowledge (issue #12 targets).

Targets:

* ``Optimal``: the exact ILP at the paper's Test 1 size (100 cloudlets, 300 requests, 10 models)
  within 60 s, reduced (source dominance) and full formulations, under both pull-delay models;
* ``LPRounding``: the LP relaxation plus 50 rounding repeats at 10,000 requests, 125 EUA cloudlets
  and 100 models within 10 s and 2 GiB;
* ``Online``: rounds per second of OL (Thompson sampling) at 100 arms and d = 20 (N = 100), on
  the Numba tier; >= 50,000 rounds/s.

Instances come from :func:`trimcore.pulling.instances.paper_instance` (seed 0), built once per
benchmark process (``functools.lru_cache``) so generation is not timed. ``setup`` runs each
algorithm once (Numba compilation excluded).

Run directly (``python benchmarks/bench_pulling.py``) for the median of 3 timed runs after one
warm-up call, the numbers reported in ``docs/performance.md``.
"""

from __future__ import annotations

import functools

import trimcore as tc
from trimcore.kernels import available_backends
from trimcore.pulling import solve_lp
from trimcore.pulling.instances import paper_instance

ONLINE_BACKENDS = [b for b in ("numba", "reference") if b in available_backends()]


@functools.lru_cache(maxsize=4)
def _problem(n: int, j: int, k: int, pull_delay: str = "per_request"):
    return paper_instance(n, j, k, max(1, k // 10), seed=0, pull_delay=pull_delay)


class Optimal:
    """Exact ILP at Test 1 size."""

    params = (["reduced", "full"], ["per_request", "global"])
    param_names = ["formulation", "pull_delay"]
    timeout = 300

    def setup(self, formulation, pull_delay):
        self.pp = _problem(100, 300, 10, pull_delay)

    def time_optimal(self, formulation, pull_delay):
        tc.pulling_optimal(self.pp, time_limit=60.0, formulation=formulation)

    def track_proved_optimal(self, formulation, pull_delay):
        return float(tc.pulling_optimal(self.pp, time_limit=60.0, formulation=formulation).status == "optimal")


class LPRounding:
    """LP relaxation + rounding (50 repeats) at 10,000 requests, 125 cloudlets, 100 models."""

    timeout = 600

    def setup(self):
        self.pp = _problem(125, 10_000, 100)

    def time_lp_and_rounding(self):
        tc.pulling_rounding(self.pp, repeats=50, seed=0)

    def peakmem_lp_and_rounding(self):
        tc.pulling_rounding(self.pp, repeats=50, seed=0)

    def time_lp(self):
        solve_lp(self.pp)


class Online:
    """Online rounds: 20,000 requests, 100 models (arms), N = 100 features, d = 20."""

    params = (["ts", "mab", "adms"], ONLINE_BACKENDS)
    param_names = ["policy", "backend"]
    timeout = 600

    def setup(self, policy, backend):
        if backend == "reference":
            self.pp = _problem(50, 200, 100)   # the plain-Python oracle: a short stream
        else:
            self.pp = _problem(50, 20_000, 100)
        tc.pulling_online(self.pp, policy, backend=backend)

    def track_rounds_per_second(self, policy, backend):
        res = tc.pulling_online(self.pp, policy, backend=backend)
        return self.pp.n_requests / res.runtime_s

    track_rounds_per_second.unit = "rounds/s"


def _median(fn, repeats: int = 3) -> float:
    from benchmarks.peers import median_seconds

    return median_seconds(fn, repeats, warmup=True)


def main() -> None:
    """Print the issue #12 measurements."""
    import resource

    for form in ("reduced", "full"):
        for pull in ("per_request", "global"):
            pp = _problem(100, 300, 10, pull)
            res = tc.pulling_optimal(pp, time_limit=60.0, formulation=form)
            t = _median(lambda pp=pp, form=form: tc.pulling_optimal(pp, time_limit=60.0, formulation=form))
            print(f"pulling_optimal  n=100 J=300 K=10  {form:>7} {pull:>11}  {t:8.2f} s  {res.status}", flush=True)
    pp = _problem(125, 10_000, 100)
    t = _median(lambda: tc.pulling_rounding(pp, repeats=50, seed=0), repeats=1)
    print(f"LP + rounding    n=125 J=10000 K=100            {t:8.2f} s  "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB", flush=True)
    for policy in ("ts", "mab", "adms"):
        pp = _problem(50, 20_000, 100)
        tc.pulling_online(pp, policy, backend="numba")
        rate = max(pp.n_requests / tc.pulling_online(pp, policy, backend="numba").runtime_s for _ in range(3))
        print(f"pulling_online   {policy:>4} K=100 N=100 d=20 [numba]   {rate:10.0f} rounds/s", flush=True)


if __name__ == "__main__":
    main()
