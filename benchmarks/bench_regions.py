"""City scale beyond one machine (issue #15): ``trimcaching_gen_regions`` against monolithic Gen.

Instances ``large_placement_instance(M, 10000, 1000)`` (labels ``"MxKxI"``, nested sharing).

* ``Regions.time_solve``: monolithic Gen and Gen by 2 and 8 regions (spectral shared-users
  partition, in process), ``runtime_s`` of each; ``Regions.track_hit_ratio_loss``: relative loss
  of the regions' hit ratio against monolithic Gen (negative: the regions do better).

``python -m benchmarks.bench_regions`` prints the table of ``docs/scale.md``: for each M, Gen
against 2, 4 and 8 regions partitioned by shared users and by position (the generator's own
server layout), the hit ratio before and after the repair, and the times in process and on a
2-worker ``LocalCluster`` (``--workers 0`` skips the cluster).
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
    args = parser.parse_args(argv)
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
