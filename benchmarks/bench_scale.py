"""City scale (issue #15): what the default certified bound costs at M=3,200 servers.

Instance: ``large_placement_instance(3200, 10000, 1000)`` (label ``"3200x10000x1000"``, nested
sharing), built once by :func:`setup_cache_scale` (about 35 s here) and saved to a file.

* ``GenBound.time_trimcaching_gen``: Gen with ``bound=None`` and with the default bound;
  ``GenBound.track_default_over_unbounded`` is the target "the default Gen call within 1.5x of Gen
  with ``bound=None`` at M=3,200": both calls timed one after the other in one process (the
  ratio survives a noisy machine better than two separate timings).
* ``Gains``: every server's marginal gains, one call per server over the problem's validated
  view, against one call for all servers (what the bound uses).

``python -m benchmarks.bench_scale`` runs the same side by side outside asv and adds the path the
bound took before issue #15 (one call per server that re-validates the whole coverage CSR), timed
on a sample of servers and scaled to M (each such call costs the same, O(M I + entries)).
"""

from __future__ import annotations

import argparse
import functools
import time

import numpy as np

import trimcore as tc
from trimcore.kernels import kernel
from trimcore.placement.bounds import covered_requests, submodular_bound

from . import instances as inst

#: The issue #15 size of the bound target.
CITY = "3200x10000x1000"


def setup_cache_scale() -> dict[str, str]:
    """asv ``setup_cache``: the M=3,200 instance, saved once per run."""
    return inst.build_all([CITY])


setup_cache_scale.timeout = 900


@functools.lru_cache(maxsize=1)
def _problem(path: str):
    return inst.load_problem(path)


@functools.lru_cache(maxsize=1)
def _greedy_placement(path: str) -> np.ndarray:
    return tc.trimcaching_gen(_problem(path), bound=None).placement


class GenBound:
    """``trimcaching_gen`` at M=3,200 with ``bound=None`` and with the default (submodular) bound."""

    params = (["none", "default"],)
    param_names = ["bound"]
    setup_cache = staticmethod(setup_cache_scale)
    number = 1
    repeat = (1, 2, 60.0)
    warmup_time = 0
    rounds = 1
    timeout = 900

    def setup(self, cache, bound):
        self.problem = _problem(cache[CITY])

    def time_trimcaching_gen(self, cache, bound):
        if bound == "none":
            tc.trimcaching_gen(self.problem, bound=None)
        else:
            tc.trimcaching_gen(self.problem)

    def track_default_over_unbounded(self, cache, bound):
        if bound != "default":
            raise NotImplementedError("the ratio is one number")
        return gen_ratio(self.problem)[2]


def gen_ratio(problem) -> tuple[float, float, float]:
    """(Gen with bound=None, Gen with the default bound, their ratio), seconds, one after the other."""
    started = time.perf_counter()
    tc.trimcaching_gen(problem, bound=None)
    unbounded = time.perf_counter() - started
    started = time.perf_counter()
    tc.trimcaching_gen(problem)
    default = time.perf_counter() - started
    return unbounded, default, default / unbounded


class Gains(inst.FewSamples):
    """Every server's gains around Gen's placement: M per-server calls vs one call (C++, validated view)."""

    params = (["per_server", "all_servers"],)
    param_names = ["how"]
    setup_cache = staticmethod(setup_cache_scale)

    def setup(self, cache, how):
        self.problem = _problem(cache[CITY])
        self.covered = covered_requests(self.problem, _greedy_placement(cache[CITY]))
        self.view = self.problem.coverage_view("cpp")

    def time_gains(self, cache, how):
        p = self.problem
        if how == "all_servers":
            kernel("placement.all_server_gains", "cpp")(self.view, p.popularity_by_model, self.covered)
        else:
            one = kernel("placement.server_gains", "cpp")
            for m in range(p.n_servers):
                one(m, self.view, p.popularity_by_model, self.covered)


def _before_per_server(problem, covered: np.ndarray, sample: int) -> float:
    """Seconds of the pre-#15 gains of all M servers: raw calls (each re-validates the CSR), scaled from ``sample``."""
    from trimcore import _core

    servers = np.linspace(0, problem.n_servers - 1, sample).astype(int)
    started = time.perf_counter()
    for m in servers:
        _core.server_gains(int(m), problem.pair_ptr, problem.pair_len, problem.pair_users,
                           problem.popularity_by_model, covered)
    return (time.perf_counter() - started) * problem.n_servers / sample


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=3200)
    parser.add_argument("--sample", type=int, default=160, help="servers timed on the pre-#15 path")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    problem = inst.make_problem(f"{args.servers}x10000x1000")
    print(f"M={args.servers}, K=10,000, I=1,000: built in {time.perf_counter() - started:.1f} s; "
          f"{problem.pair_len.sum():,} (pair, user) entries")
    unbounded, default, ratio = gen_ratio(problem)
    print(f"Gen bound=None {unbounded:.2f} s | Gen default bound {default:.2f} s | ratio {ratio:.2f}")
    x = tc.trimcaching_gen(problem, bound=None).placement
    started = time.perf_counter()
    submodular_bound(problem, x)
    bound = time.perf_counter() - started
    covered = covered_requests(problem, x)
    view = problem.coverage_view("cpp")
    before = _before_per_server(problem, covered, args.sample)
    one = kernel("placement.server_gains", "cpp")
    started = time.perf_counter()
    for m in range(problem.n_servers):
        one(m, view, problem.popularity_by_model, covered)
    indexed = time.perf_counter() - started
    started = time.perf_counter()
    kernel("placement.all_server_gains", "cpp")(view, problem.popularity_by_model, covered)
    every = time.perf_counter() - started
    print(f"submodular bound {bound:.2f} s; gains of all servers: before (validated per call, "
          f"{args.sample} sampled) {before:.2f} s | per server on the view {indexed:.2f} s "
          f"({before / indexed:.0f}x) | one call {every:.2f} s ({before / every:.0f}x)")


if __name__ == "__main__":  # side by side outside asv: python -m benchmarks.bench_scale
    main()
