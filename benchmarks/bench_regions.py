"""City scale beyond one machine (issue #15): ``trimcaching_gen_regions`` against monolithic Gen.

Instances ``large_placement_instance(M, 10000, 1000)`` (labels ``"MxKxI"``, nested sharing).

* ``Regions.time_solve``: monolithic Gen and Gen by 2 and 8 regions (spectral shared-users
  partition, in process), ``runtime_s`` of each; ``Regions.track_hit_ratio_loss``: relative loss
  of the regions' hit ratio against monolithic Gen (negative: the regions do better).

* ``Distributed``: the same instance on a 2-worker ``LocalCluster`` (1 thread each, started in
  ``setup``, untimed; the workers imported trimcore on a tiny warm-up first): ``time_solve`` of
  Gen by 2 and 8 regions (partition by position) with the client, and
  ``track_speedup_over_monolithic``: monolithic Gen's wall time over the cluster call's, the two
  timed one after the other in the benchmark process (median of 3 pairs), so the ratio survives
  a loaded machine better than two separate benchmarks.

``python -m benchmarks.bench_regions`` prints the table of ``docs/scale.md``: for each M, Gen
against 2, 4 and 8 regions partitioned by shared users and by position (the generator's own
server layout), the hit ratio before and after the repair, and the times in process and on a
2-worker ``LocalCluster`` (``--workers 0`` skips the cluster).

``python -m benchmarks.bench_regions --speedup --servers 3200 --regions 2,8`` measures the wall
clock speed-up instead: monolithic Gen, Gen by regions in process and Gen by regions on a
2-worker ``LocalCluster``, with and without the repair, timed side by side (alternating, median
of ``--reps`` rounds) with the hit ratios and the load average.
"""

from __future__ import annotations

import argparse
import functools
import time

import numpy as np

import trimcore as tc
from trimcore.instance import topology
from trimcore.placement.bounds import submodular_bound

from . import instances as inst

#: The asv instance: large enough that the regions' tasks dominate, small enough for a quick run.
LABEL = "800x10000x1000"


def setup_cache_regions() -> dict[str, str]:
    """asv ``setup_cache``: the instance, saved once per run."""
    return inst.build_all([LABEL])


setup_cache_regions.timeout = 600


@functools.lru_cache(maxsize=1)
def _problem(path: str):
    return inst.load_problem(path)


@functools.lru_cache(maxsize=1)
def _monolithic(path: str) -> float:
    return tc.trimcaching_gen(_problem(path), bound=None).hit_ratio


def layout(label: str, problem) -> topology.Topology:
    """The server and user positions ``large_placement_instance`` drew for ``label`` (seed 0).

    Rebuilt with the generator's seed derivation; checked against the problem: ``max_size`` is
    the rate times a per-user limit, so ``max_size / rate`` must not depend on the server.
    """
    m, k, _, _ = inst.parse_label(label)
    seeds = np.random.SeedSequence(inst.SEED).spawn(4)
    side = 1000.0 * np.sqrt(m / 10.0)
    topo = topology.Topology.uniform(m, k, side, side, seed=int(seeds[1].generate_state(1)[0]))
    sample = topology.Topology(topo.server_xy[:3], topo.user_xy, topo.width, topo.height)
    rates = topology.downlink_rates(sample, bandwidth_hz=20e6, tx_power_dbm=30.0, noise_dbm_per_hz=-174.0,
                                    min_distance_m=1.0)
    ratio = problem.max_size[:3] / rates
    if not np.allclose(ratio, ratio[0], rtol=1e-9):
        raise RuntimeError(f"{label}: the rebuilt layout is not the generator's (its seeding changed?)")
    return topo


class Regions(inst.FewSamples):
    """Gen on the whole problem against Gen by regions (in process, shared-users partition)."""

    params = (["monolithic", "regions_2", "regions_8"],)
    param_names = ["how"]
    setup_cache = staticmethod(setup_cache_regions)

    def setup(self, cache, how):
        self.problem = _problem(cache[LABEL])

    def _run(self, how):
        if how == "monolithic":
            return tc.trimcaching_gen(self.problem, bound=None)
        return tc.trimcaching_gen_regions(self.problem, int(how.split("_")[1]), bound=None)

    def time_solve(self, cache, how):
        self._run(how)

    def track_hit_ratio_loss(self, cache, how):
        if how == "monolithic":
            raise NotImplementedError("the loss is relative to monolithic Gen")
        mono = _monolithic(cache[LABEL])
        return (mono - self._run(how).hit_ratio) / mono


def _cluster(workers: int = 2):
    """A ``LocalCluster`` of ``workers`` processes x 1 thread and its client, the workers warmed up."""
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = Client(cluster)
    tc.trimcaching_gen_regions(inst.make_problem("20x200x20"), 2, client=client)  # workers import trimcore
    return cluster, client


def _wall(fn) -> tuple[float, object]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def _wall_cpu(fn) -> tuple[float, float, object]:
    """(wall seconds, this process's CPU seconds, result) of one call."""
    cpu = time.process_time()
    wall, out = _wall(fn)
    return wall, time.process_time() - cpu, out


class Distributed:
    """Gen by regions on a 2-worker ``LocalCluster`` against monolithic Gen (partition by position)."""

    params = (["regions_2", "regions_8"],)
    param_names = ["how"]
    setup_cache = staticmethod(setup_cache_regions)
    number = 1
    repeat = (1, 3, 30.0)
    warmup_time = 0
    rounds = 1
    timeout = 600

    def setup(self, cache, how):
        try:
            import dask.distributed  # noqa: F401
        except ImportError as exc:
            raise NotImplementedError("dask.distributed is not installed (extra 'dist')") from exc
        self.problem = _problem(cache[LABEL])
        self.positions = layout(LABEL, self.problem)
        self.regions = int(how.split("_")[1])
        self.cluster, self.client = _cluster(2)

    def teardown(self, cache, how):
        self.client.close()
        self.cluster.close()

    def _regions(self):
        return tc.trimcaching_gen_regions(self.problem, self.regions, by="position", positions=self.positions,
                                          bound=None, client=self.client)

    def time_solve(self, cache, how):
        self._regions()

    def track_speedup_over_monolithic(self, cache, how):
        ratios = []
        for _ in range(3):
            gen, _ = _wall(lambda: tc.trimcaching_gen(self.problem, bound=None))
            dist, _ = _wall(self._regions)
            ratios.append(gen / dist)
        return float(np.median(ratios))

    track_speedup_over_monolithic.unit = "ratio"


def speedup(m: int, regions: list[int], reps: int, workers: int = 2) -> None:
    """Wall-clock speed-up of Gen by regions (in process and on a ``LocalCluster``) over monolithic Gen.

    One process: the instance ``large_placement_instance(m, 10000, 1000)`` (partition by position),
    then ``reps`` rounds of [Gen, and for each region count and repair setting: in process, cluster],
    each call timed on the wall clock (the bound is not computed: ``bound=None`` everywhere).
    Prints medians, the ratios Gen / call, the hit ratios and the load average before and after,
    and the CPU seconds: this process's (``time.process_time``) and the tasks' (``region_cpu_s``,
    summed; on the cluster they ran in the workers). On a loaded machine the wall clock measures
    the share of the cores the processes got; the CPU columns give the speed-up on free cores:
    client CPU + the longest worker's share of the tasks (longest task first to the least loaded).
    """
    import os
    import statistics

    label = f"{m}x10000x1000"
    load0 = os.getloadavg()
    build, problem = _wall(lambda: inst.make_problem(label))
    topo = layout(label, problem)
    cluster, client = _cluster(workers)
    rows: dict[tuple, list[float]] = {}
    cpus: dict[tuple, list[tuple[float, float, float]]] = {}
    hits: dict[tuple, float] = {}
    try:
        for _ in range(reps):
            t, c, res = _wall_cpu(lambda: tc.trimcaching_gen(problem, bound=None))
            rows.setdefault(("gen",), []).append(t)
            cpus.setdefault(("gen",), []).append((c, 0.0, c))
            hits["gen",] = res.hit_ratio
            for r in regions:
                for repair in (True, False):
                    for where, c in (("in process", None), (f"{workers} workers", client)):
                        def call(r=r, repair=repair, c=c):
                            return tc.trimcaching_gen_regions(problem, r, by="position", positions=topo,
                                                              bound=None, repair=repair, client=c)
                        t, cpu, res = _wall_cpu(call)
                        key = (r, repair, where)
                        rows.setdefault(key, []).append(t)
                        tasks = res.options["region_cpu_s"]
                        client_cpu = cpu - sum(tasks) if c is None else cpu  # in process the tasks ran here
                        cpus.setdefault(key, []).append((client_cpu, sum(tasks),
                                                         client_cpu + _makespan(tasks, workers)))
                        hits[key] = res.hit_ratio
    finally:
        client.close()
        cluster.close()
    load1 = os.getloadavg()
    gen = statistics.median(rows["gen",])
    print(f"M={m}, K=10,000, I=1,000 (built in {build:.1f} s); {reps} rounds, medians of the wall clock; "
          f"load average {load0[0]:.2f} before, {load1[0]:.2f} after")
    def cpu_cols(key):
        client, tasks, projected = (statistics.median(v[j] for v in cpus[key]) for j in range(3))
        return client, tasks, projected

    gen_cpu = cpu_cols(("gen",))[2]
    print(f"\n| solver | regions | repair | wall s (median) | wall speed-up over Gen | client CPU s | tasks CPU s "
          f"| {workers} free workers from the CPU times: s (speed-up) | hit ratio (vs Gen) |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    print(f"| monolithic Gen | 1 | - | {gen:.2f} | 1.00 | {gen_cpu:.2f} | - | {gen_cpu:.2f} (1.00) | "
          f"{hits['gen',]:.4f} |")
    for key, times in rows.items():
        if key == ("gen",):
            continue
        r, repair, where = key
        t = statistics.median(times)
        h = hits[key]
        client, tasks, projected = cpu_cols(key)
        free = projected if where != "in process" else client + tasks
        print(f"| regions, {where} | {r} | {'yes' if repair else 'no'} | {t:.2f} | {gen / t:.2f} | {client:.2f} | "
              f"{tasks:.2f} | {free:.2f} ({gen_cpu / free:.2f}) | {h:.4f} ({(h - hits['gen',]) / hits['gen',]:+.2%}) |")


def _makespan(seconds: list[float], workers: int) -> float:
    """Longest worker's total when tasks go, longest first, to the least loaded of ``workers``."""
    loads = [0.0] * workers
    for t in sorted(seconds, reverse=True):
        loads[loads.index(min(loads))] += t
    return max(loads)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", default="400,800,1600")
    parser.add_argument("--regions", default="2,4,8")
    parser.add_argument("--partitions", default="users,position")
    parser.add_argument("--project", type=int, default=2, help="workers of the projection from the CPU times")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster workers (0: in process only)")
    parser.add_argument("--speedup", action="store_true",
                        help="wall-clock speed-up table (first of --servers) instead of the quality/cost tables")
    parser.add_argument("--reps", type=int, default=3, help="with --speedup: rounds (medians are reported)")
    args = parser.parse_args(argv)
    if args.speedup:
        speedup(int(args.servers.split(",")[0]), [int(v) for v in args.regions.split(",")], args.reps,
                max(args.workers, 1))
        return
    client = cluster = None
    if args.workers:
        from dask.distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(cluster)
        warm = inst.make_problem("20x200x20")  # workers import trimcore once, outside the timings
        tc.trimcaching_gen_regions(warm, 2, client=client)
    quality, cost = [], []
    for m in (int(v) for v in args.servers.split(",")):
        label = f"{m}x10000x1000"
        problem = inst.make_problem(label)
        topo = layout(label, problem)
        cpu = time.process_time()
        gen = tc.trimcaching_gen(problem, bound=None)
        gen_cpu = time.process_time() - cpu
        gen_bound = max(submodular_bound(problem, gen.placement), gen.hit_ratio)  # what bound= attaches
        for by in args.partitions.split(","):
            for r in (int(v) for v in args.regions.split(",")):
                xy = topo if by == "position" else None
                cpu = time.process_time()
                res = tc.trimcaching_gen_regions(problem, r, by=by, positions=xy, bound=None)
                res_cpu = time.process_time() - cpu
                bound = max(submodular_bound(problem, res.placement), res.hit_ratio)
                o = res.options
                merged, hit, base = o["merged_hit_ratio"], res.hit_ratio, gen.hit_ratio
                quality.append(
                    f"| {m} | {by} | {r} | {base:.4f} | {merged:.4f} ({(merged - base) / base:+.2%}) | "
                    f"{hit:.4f} ({(hit - base) / base:+.2%}) | {o['boundary_servers']} ({o['repaired_servers']}) | "
                    f"{gen_bound:.4f} / {bound:.4f} |")
                solve = sum(o["region_cpu_s"])
                rest = res_cpu - solve - o["repair_cpu_s"]  # partition, slicing, merge
                dist = "-"
                if client is not None:
                    run = tc.trimcaching_gen_regions(problem, r, by=by, positions=xy, bound=None, client=client)
                    if not np.array_equal(run.placement, res.placement):
                        raise RuntimeError("the cluster's placement differs from the in-process one")
                    dist = f"{run.runtime_s:.2f} ({run.options['solve_wall_s']:.2f})"
                projected = rest + _makespan(o["region_cpu_s"], args.project)
                cost.append(
                    f"| {m} | {by} | {r} | {gen_cpu:.2f} | {solve:.2f} "
                    f"({max(o['region_cpu_s']):.2f}) | {rest:.2f} | {o['repair_cpu_s']:.2f} | "
                    f"{projected:.2f} / {projected + o['repair_cpu_s']:.2f} | {dist} |")
                print(quality[-1], flush=True)
    print("\n| M | partition | regions | Gen hit ratio | merged (vs Gen) | repaired (vs Gen) | "
          "boundary servers (repaired) | certified bound: Gen / regions |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    print("\n".join(quality))
    print("\n| M | partition | regions | Gen CPU s | regions: solve CPU s (largest) | "
          f"partition + slicing + merge CPU s | repair CPU s | "
          f"{args.project} workers, from the CPU times: without / with repair s | "
          f"{args.workers} workers measured wall s (solve) |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(cost))
    if client is not None:
        client.close()
        cluster.close()


if __name__ == "__main__":  # the docs/scale.md table: python -m benchmarks.bench_regions
    main()
