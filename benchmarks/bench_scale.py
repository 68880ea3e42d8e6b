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

PartialLoading at city scale (issue #15, targets at K=100,000: DP-PL <= 1 s, Greedy-PL <= 10 s,
DP-EDF <= 10 s and <= 2 GiB): ``LoadingScale`` times ``partialloading_dp``, ``partialloading_greedy``
and ``partialloading_dp_edf`` (Numba tier) on ``make_loading_problem(K)`` for K = 10,000, 30,000
and 100,000 (``time_``, ``peakmem_``; ``setup`` runs the call once, so Numba compilation and the problem's
derived data are excluded, as in ``bench_loading``). ``python -m benchmarks.bench_scale --loading``
prints the table of ``docs/performance.md``: each call in a fresh interpreter on a cold problem
after a warm-up on K=50 (Numba's disk cache must be warm: run it twice), its peak RSS growth
(``ru_maxrss``) and the fitted growth exponent ``log(t(100k) / t(10k)) / log(10)``.
"""

from __future__ import annotations

import argparse
import functools
import json
import resource
import subprocess
import sys
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


# ----------------------------------------------------------------------------- PartialLoading (#15)
#: Numbers of users of the loading scale benchmarks (the target is at the last).
LOADING_SCALE_USERS = (10_000, 30_000, 100_000)
#: The three schedulers of the targets, by the name used in the benchmark parameters.
LOADING_ALGORITHMS = {"dp": "partialloading_dp", "greedy": "partialloading_greedy", "dp_edf": "partialloading_dp_edf"}


def setup_cache_loading_scale() -> dict[int, str]:
    """asv ``setup_cache``: ``make_loading_problem(K)`` for every K of :data:`LOADING_SCALE_USERS`, saved."""
    return {k: inst.dump_loading_problem(inst.make_loading_problem(k), f"loading-scale-{k}")
            for k in LOADING_SCALE_USERS}


setup_cache_loading_scale.timeout = 300


@functools.lru_cache(maxsize=1)
def _loading_problem(path: str):
    return inst.load_loading_problem(path)


def _loading_call(algorithm: str):
    return getattr(tc, LOADING_ALGORITHMS[algorithm])


class LoadingScale(inst.FewSamples):
    """DP-PL, Greedy-PL and DP-EDF (Numba) at K = 10k, 30k, 100k (issue #15 targets at 100k)."""

    params = (list(LOADING_SCALE_USERS), list(LOADING_ALGORITHMS))
    param_names = ["n_users", "algorithm"]
    setup_cache = staticmethod(setup_cache_loading_scale)
    timeout = 900

    def setup(self, cache, n_users, algorithm):
        self.problem = _loading_problem(cache[n_users])
        self.run = _loading_call(algorithm)
        self.run(self.problem, backend="numba")  # compiles and warms the problem's derived data

    def time_schedule(self, cache, n_users, algorithm):
        self.run(self.problem, backend="numba")

    def peakmem_schedule(self, cache, n_users, algorithm):
        self.run(self.problem, backend="numba")


#: The paths before issue #15, kept as options: ``(algorithm, options, sizes)`` for ``--before``.
LOADING_BEFORE = (
    ("dp", {"method": "merge"}, (10_000, 30_000, 100_000)),
    ("greedy", {"backend": "reference"}, (3_000, 10_000)),
    ("dp_edf", {"method": "users"}, (3_000, 10_000)),
)


def measure_loading(algorithm: str, n_users: int, options: dict | None = None) -> dict[str, float]:
    """One scheduler call on ``make_loading_problem(n_users)`` after a warm-up on K=5,000 (this process).

    The warm-up compiles (or loads from Numba's cache) every specialisation the call needs
    (K=5,000 already has runs long enough for DP-EDF's int32 records). Returns seconds, served
    users and the call's peak RSS growth in MiB (``ru_maxrss``; the process should be fresh).
    ``options`` default to ``backend="numba"``.
    """
    options = {"backend": "numba", **(options or {})}
    run = _loading_call(algorithm)
    problem = inst.make_loading_problem(n_users)
    if options["backend"] == "numba":
        run(inst.make_loading_problem(5_000, seed=inst.SEED + 1), **options)
    problem.schedulable  # noqa: B018
    problem.switch_matrix(options["backend"])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    res = run(problem, **options)
    seconds = time.perf_counter() - started
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024.0
    return {"seconds": seconds, "served": float(res.served), "rss_growth_mib": grown,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}


def _fresh(algorithm: str, k: int, options: dict | None = None) -> dict[str, float]:
    code = ("import json; from benchmarks.bench_scale import measure_loading; "
            f"print(json.dumps(measure_loading({algorithm!r}, {k}, {options!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def loading_before() -> None:
    """The pre-#15 paths (:data:`LOADING_BEFORE`), fresh interpreter each, with fitted exponents."""
    import math

    for algorithm, options, sizes in LOADING_BEFORE:
        got = [_fresh(algorithm, k, options) for k in sizes]
        t = [g["seconds"] for g in got]
        slope = math.log(t[-1] / t[0]) / math.log(sizes[-1] / sizes[0])
        print(f"{LOADING_ALGORITHMS[algorithm]} {options}: "
              + ", ".join(f"K={k:,} {x:.3f} s ({g['rss_growth_mib']:.0f} MiB)" for k, x, g in zip(sizes, t, got))
              + f"; exponent {slope:.2f}")


def loading_table() -> None:
    """Every (scheduler, K) of :class:`LoadingScale` in a fresh interpreter; prints the docs table."""
    import math

    rows = {}
    for algorithm in LOADING_ALGORITHMS:
        for k in LOADING_SCALE_USERS:
            rows[algorithm, k] = _fresh(algorithm, k)
    print("| scheduler | " + " | ".join(f"K={k:,}" for k in LOADING_SCALE_USERS)
          + " | exponent 10k->100k | served at 100k | RSS growth at 100k | peak RSS at 100k |")
    print("|---|" + "---:|" * (len(LOADING_SCALE_USERS) + 4))
    for algorithm, name in LOADING_ALGORITHMS.items():
        t = [rows[algorithm, k]["seconds"] for k in LOADING_SCALE_USERS]
        slope = math.log(t[-1] / t[0]) / math.log(LOADING_SCALE_USERS[-1] / LOADING_SCALE_USERS[0])
        last = rows[algorithm, LOADING_SCALE_USERS[-1]]
        print(f"| `{name}` | " + " | ".join(f"{x:.3f} s" for x in t)
              + f" | {slope:.2f} | {last['served']:,.0f} | {last['rss_growth_mib']:.0f} MiB"
              f" | {last['peak_rss_mib']:.0f} MiB |")


#: City scale with compact demand (issue #15 target M=1,000, K=1,000,000, I=10,000, G=1,000):
#: a size that asv runs in seconds, and the base of the growth exponents (each dimension doubled).
CITY_SMALL = (100, 100_000, 1_000, 100)
CITY_GROWTH_BASE = (50, 50_000, 500, 100)
CITY_TARGET = (1_000, 1_000_000, 10_000, 1_000)


def measure_city(n_servers: int, n_users: int, n_models: int, n_groups: int) -> dict[str, float]:
    """Build :func:`~trimcore.experiments.scenarios.city_placement_instance` and run the default Gen
    (with its certified submodular bound) in this process; seconds and counts."""
    from trimcore.experiments.scenarios import city_placement_instance

    started, cpu_started = time.perf_counter(), time.process_time()
    problem = city_placement_instance(n_servers, n_users, n_models, n_groups=n_groups, seed=inst.SEED)
    built, built_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(json.dumps({"built_s": built, "built_cpu_s": built_cpu, "entries": int(problem.pair_users.size)}),
          file=sys.stderr, flush=True)  # progress, for runs that are stopped
    res = tc.trimcaching_gen(problem)
    total = time.perf_counter() - started
    return {"build_s": built, "build_cpu_s": built_cpu, "gen_s": res.runtime_s, "bound_s": res.bound_runtime_s,
            "total_s": total, "total_cpu_s": time.process_time() - cpu_started,
            "entries": float(problem.pair_users.size), "hit_ratio": res.hit_ratio,
            "upper_bound": float(res.upper_bound or 0.0)}


def city_fresh(size: tuple[int, int, int, int]) -> dict[str, float]:
    """:func:`measure_city` in a fresh interpreter under ``/usr/bin/time -v`` (peak RSS of the whole run)."""
    code = ("import json; from benchmarks.bench_scale import measure_city; "
            f"print(json.dumps(measure_city{tuple(size)!r}))")
    out = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    rss_kib = next(int(line.split(":")[1]) for line in out.stderr.splitlines() if "Maximum resident set size" in line)
    got["peak_rss_gib"] = rss_kib / 2**20
    got["elapsed"] = next(line.split(": ", 1)[1] for line in out.stderr.splitlines() if "Elapsed (wall" in line)
    return got


def _city_row(size: tuple[int, int, int, int], got: dict[str, float]) -> str:
    m, k, i, g = size
    return (f"| {m:,} | {k:,} | {i:,} | {g:,} | {got['entries']:,.0f} | {got['build_s']:.1f} s "
            f"| {got['gen_s']:.1f} s | {got['bound_s']:.1f} s "
            f"| {got['total_s']:.1f} s ({got['total_cpu_s']:.1f} s CPU) "
            f"| {got['peak_rss_gib']:.2f} GiB | {got['hit_ratio']:.4f} |")


def city_table(sizes: list[tuple[int, int, int, int]]) -> None:
    """One fresh run per size, then the growth exponents (log2 of the ratio to the first size for sizes
    that double one dimension of it)."""
    import math

    print("| M | K | I | G | (pair, user) entries | build | Gen | bound | total (CPU) | peak RSS | hit ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows = [(size, city_fresh(size)) for size in sizes]
    for size, got in rows:
        print(_city_row(size, got), flush=True)
    base_size, base = rows[0]
    for size, got in rows[1:]:
        grown = [d for d in range(4) if size[d] != base_size[d]]
        if len(grown) != 1:
            continue
        d = grown[0]
        f = math.log(size[d] / base_size[d])
        print(f"exponent in {'MKIG'[d]}: time {math.log(got['total_s'] / base['total_s']) / f:.2f} "
              f"(CPU {math.log(got['total_cpu_s'] / base['total_cpu_s']) / f:.2f}), "
              f"memory {math.log(got['peak_rss_gib'] / base['peak_rss_gib']) / f:.2f}")


class CityGen(inst.FewSamples):
    """Build + default Gen (submodular bound) on ``city_placement_instance`` with user-group demand
    (:data:`CITY_SMALL`; the issue #15 target :data:`CITY_TARGET` runs through ``--city``)."""

    timeout = 900

    def time_build_and_gen(self):
        measure_city(*CITY_SMALL)

    def peakmem_build_and_gen(self):
        measure_city(*CITY_SMALL)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=3200)
    parser.add_argument("--sample", type=int, default=160, help="servers timed on the pre-#15 path")
    parser.add_argument("--loading", action="store_true", help="only the PartialLoading table (K=10k-100k)")
    parser.add_argument("--before", action="store_true", help="with --loading: the pre-#15 paths too")
    parser.add_argument("--city", type=int, nargs=4, metavar=("M", "K", "I", "G"), action="append",
                        help="compact-demand city instance(s), fresh process each, under /usr/bin/time -v")
    parser.add_argument("--city-growth", action="store_true",
                        help="the city growth exponents: CITY_GROWTH_BASE and each of M, K, I doubled")
    args = parser.parse_args(argv)
    if args.city or args.city_growth:
        sizes = [tuple(c) for c in (args.city or [])]
        if args.city_growth:
            m, k, i, g = CITY_GROWTH_BASE
            sizes += [CITY_GROWTH_BASE, (2 * m, k, i, g), (m, 2 * k, i, g), (m, k, 2 * i, g)]
        city_table(sizes)  # type: ignore[arg-type]
        return
    if args.loading:
        loading_table()
        if args.before:
            loading_before()
        return
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
