"""Peer comparison for ``tc.max_coverage``: trimcore against submodlib, apricot and the floor.

Runs the same random weighted max-coverage instances (sets of 5..39 elements drawn by a skewed,
Zipf-0.8 popularity that is also the element weight; repeats removed) through

* trimcore: ``tc.max_coverage`` end to end, its ``runtime_s`` and the native kernel alone on one
  and on two threads (the threads share the first pass and the index build);
* the floor: one streaming pass over the CSR data (``sum of w[e]`` per set) as a NumPy
  ``np.add.reduceat``, as a compiled loop (Numba) and as trimcore's own C++ pass
  (``_core.coverage_gains``, one thread), and the bare bandwidth floor (summing the ids);
* submodlib (``submodlib-py``): ``SetCoverFunction(...).maximize(optimizer="LazyGreedy")``, the same
  element weights; construction (Python sets, C++ object) and solve timed apart;
* apricot (``apricot-select``): ``MaxCoverageSelection`` on a sparse 0/1 matrix. apricot has no
  element weights, so it is compared with trimcore on unit weights. Its ``naive`` optimizer is
  an exact greedy but costs O(k nnz), so it only runs where ``k * nnz <= --apricot-max-work``;
  its ``lazy`` optimizer (0.6.1) is also timed, but it picks sets of zero marginal gain while
  others still gain (see the ``greedy`` column).

Every solution is evaluated by the same evaluator (``trimcore.coverage.coverage_value``) and
checked to be a greedy sequence (each pick has the largest marginal gain at its round, up to
float32 rounding for submodlib); covered weights are compared with trimcore's.

Install the peers with ``pip install -e .[peers]`` (or ``pip install submodlib-py apricot-select``).

Usage::

    python benchmarks/peers.py                                   # 20000x2000x200 and 200000x20000x2000
    python benchmarks/peers.py --sizes 200000x20000x2000 --repeat 7
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.append(str(Path(__file__).resolve().parents[1]))  # an installed trimcore comes first

import trimcore as tc  # noqa: E402
from benchmarks.instances import coverage_instance as instance  # noqa: E402
from trimcore.coverage import coverage_value  # noqa: E402


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """(median, min) wall seconds over ``repeat`` calls, and the last result."""
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), out


def median_seconds(fn: Callable[[], object], repeat: int = 3, *, warmup: bool = False) -> float:
    """Median wall seconds of ``repeat`` calls of ``fn`` (after one untimed call with ``warmup``):
    the one timer of the script modes of the benchmark files."""
    if warmup:
        fn()  # compilation and caches
    return float(timed(fn, repeat)[0])


def greedy_violations(ptr: np.ndarray, idx: np.ndarray, w: np.ndarray, picks, rtol: float = 1e-9) -> int:
    """Rounds where the pick's marginal gain is below the largest one (incremental, O(nnz))."""
    import scipy.sparse as sp

    inv = sp.csr_matrix((np.ones(idx.size), idx, ptr), shape=(ptr.size - 1, w.size)).T.tocsr()
    gains = np.add.reduceat(w[idx], ptr[:-1]) if idx.size else np.zeros(ptr.size - 1)
    gains[ptr[1:] == ptr[:-1]] = 0.0
    covered = np.zeros(w.size, dtype=bool)
    bad = 0
    for s in picks:
        bad += bool(gains[s] < gains.max() * (1.0 - rtol) - 1e-300)
        members = idx[ptr[s]:ptr[s + 1]]
        for e in members[~covered[members]]:
            gains[inv.indices[inv.indptr[e]:inv.indptr[e + 1]]] -= w[e]
        covered[members] = True
    return bad


def numba_floor() -> Callable | None:
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(cache=False, nogil=True)
    def stream(ptr, idx, w, out):  # pragma: no cover - compiled
        for s in range(ptr.size - 1):
            acc = 0.0
            for t in range(ptr[s], ptr[s + 1]):
                acc += w[idx[t]]
            out[s] = acc

    return stream


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    return (f"{model}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}, "
            f"NumPy {np.__version__}, load average {load[0]:.2f}")


def bench(spec: str, args: argparse.Namespace, stream: Callable | None, add: Callable) -> None:
    """Times every tool on one instance ``SETSxELEMENTSxBUDGET`` and reports through ``add``."""
    from trimcore import _core

    n_sets, n_elements, k = (int(x) for x in spec.lower().split("x"))
    ptr, idx, w = instance(n_sets, n_elements, args.seed)
    size = f"{n_sets}x{n_elements}, k={k}, nnz={idx.size}"
    print(f"\n## {size}")
    ones = np.ones(n_sets)
    unit = np.ones(n_elements)

    # floor: one streaming pass over the CSR data (the gain of every set)
    med, best, _ = timed(lambda: np.add.reduceat(w[idx], ptr[:-1]), args.repeat)
    add(size, "floor: numpy reduceat", med, best, None, "-")
    floors = []
    if stream is not None:
        out = np.empty(n_sets)
        stream(ptr, idx, w, out)  # compile
        med, best, _ = timed(lambda: stream(ptr, idx, w, out), 3 * args.repeat)
        add(size, "floor: compiled loop (numba)", med, best, None, "-")
        floors.append(med)
    med, best, _ = timed(lambda: _core.coverage_gains(ptr, idx, w, None, 1), 3 * args.repeat)
    add(size, "floor: compiled loop (C++, 1 thread, ids checked)", med, best, None, "-")
    floor = min([med, *floors])  # the ratios below are to the faster compiled pass
    med, best, _ = timed(lambda: idx.sum(dtype=np.int64), 3 * args.repeat)
    add(size, "reading the ids alone (bandwidth)", med, best, None, "-")

    # trimcore, weighted
    med, best, res = timed(lambda: tc.max_coverage(ptr, idx, k, weights=w), args.repeat)
    ref_value = coverage_value(ptr, idx, w, res.selected)
    add(size, "trimcore tc.max_coverage (end to end)", med, best, ref_value,
        str(greedy_violations(ptr, idx, w, res.selected) == 0), f"{med / floor:.1f}x floor")
    med_rt = statistics.median(tc.max_coverage(ptr, idx, k, weights=w).runtime_s for _ in range(args.repeat))
    add(size, "trimcore runtime_s", med_rt, med_rt, ref_value, "-")
    for threads in (1, 2):
        med, best, _ = timed(lambda t=threads: _core.max_coverage(ptr, idx, w, ones, float(k), "gain", True, 1e-12, t),
                             args.repeat)
        add(size, f"trimcore native kernel, {threads} thread{'s' * (threads > 1)}", med, best, ref_value, "-",
            f"{med / floor:.1f}x floor")

    if not args.no_submodlib:
        try:
            from submodlib.functions.setCover import SetCoverFunction
        except ImportError:
            print("  submodlib: not installed (pip install submodlib-py)")
        else:
            start = time.perf_counter()
            cover = [set(idx[ptr[s]:ptr[s + 1]].tolist()) for s in range(n_sets)]
            fn = SetCoverFunction(n=n_sets, cover_set=cover, num_concepts=n_elements, concept_weights=w.tolist())
            build = time.perf_counter() - start
            med, best, picks = timed(lambda: fn.maximize(
                budget=k, optimizer="LazyGreedy", stopIfZeroGain=False, stopIfNegativeGain=False, verbose=False,
                show_progress=False), args.peer_repeat)
            ids = [int(s) for s, _ in picks]
            value = coverage_value(ptr, idx, w, ids)
            agree = abs(value - ref_value) <= 1e-9 * abs(ref_value)
            add(size, "submodlib SetCover LazyGreedy (solve)", med, best, value,
                str(greedy_violations(ptr, idx, w, ids, rtol=1e-5) == 0),
                f"covered {'==' if agree else '!='} trimcore; build {build:.2f} s")

    if not args.no_apricot:
        try:
            import scipy.sparse as sp
            from apricot import MaxCoverageSelection
        except ImportError:
            print("  apricot: not installed (pip install apricot-select)")
        else:
            med, best, res_u = timed(lambda: tc.max_coverage(ptr, idx, k), args.repeat)
            unit_value = coverage_value(ptr, idx, unit, res_u.selected)
            add(size, "trimcore tc.max_coverage, unit weights", med, best, unit_value,
                str(greedy_violations(ptr, idx, unit, res_u.selected) == 0))
            matrix = sp.csr_matrix((np.ones(idx.size), idx, ptr), shape=(n_sets, n_elements))
            for optimizer in ("naive", "lazy"):
                if optimizer == "naive" and k * idx.size > args.apricot_max_work:
                    print(f"  apricot naive: skipped (k * nnz = {k * idx.size:.2e} > --apricot-max-work)")
                    continue
                MaxCoverageSelection(min(k, 2), optimizer=optimizer).fit(matrix[:50])  # JIT warm-up
                med, best, sel = timed(lambda opt=optimizer: MaxCoverageSelection(k, optimizer=opt).fit(matrix),
                                       1 if optimizer == "naive" else args.peer_repeat)
                value = coverage_value(ptr, idx, unit, sel.ranking)
                agree = value == unit_value
                add(size, f"apricot MaxCoverage {optimizer}, unit w.", med, best, value,
                    str(greedy_violations(ptr, idx, unit, sel.ranking) == 0),
                    f"covered {'==' if agree else '!='} trimcore")


def online_peers(n_requests: int, n_models: int, repeat: int, seed: int) -> int:
    """Online caching (issue #11): our LRU against libCacheSim's native replay and cachetools, one trace.

    One server (the reactive cache: ``greedy_admission=True``, ``allow_substitution=False``),
    ``n_models`` objects of 1-20 MB (integer bytes), Zipf(0.8) requests, a cache of 100 mean-sized
    objects. trimcore: ``simulate_caching`` on the C++ tier (its ``runtime_s``: the replay, per-request
    decisions and costs included) and end to end; libCacheSim: ``LRU.process_trace`` over an
    ``oracleGeneral`` binary trace file (its native C replay; file written beforehand, not timed);
    cachetools: ``LRUCache`` with ``getsizeof`` in a Python loop. Every tool must count the same hits.
    """
    import tempfile

    rng = np.random.default_rng(seed)
    sizes = rng.integers(1_000_000, 20_000_000, n_models)
    w = 1.0 / np.arange(1, n_models + 1) ** 0.8
    ids = rng.choice(n_models, n_requests, p=w / w.sum())
    capacity = int(sizes.mean() * 100)
    print(f"# machine: {machine()}")
    print(f"# online LRU: {n_requests:,} requests, {n_models} objects, capacity {capacity / 1e6:.0f} MB")
    zeros = np.zeros(n_requests, dtype=np.int64)
    cp = tc.CachingProblem.from_arrays(sizes.astype(float), [[i] for i in range(n_models)], [float(capacity)],
                                       np.arange(n_requests) // 10, zeros, ids, block_sharing=False)
    rows: list[tuple[str, float, int]] = []

    def ours():
        return tc.simulate_caching(cp, policy="lru", greedy_admission=True, allow_substitution=False,
                                   backend="cpp", bound=False)

    med, _, res = timed(ours, repeat)
    replays = [ours().runtime_s for _ in range(repeat)]
    rows.append(("trimcore simulate_caching (C++ replay)", statistics.median(replays), int(res.hit.sum())))
    rows.append(("trimcore simulate_caching (end to end)", med, int(res.hit.sum())))
    try:
        import libcachesim as lcs

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "trace.oracleGeneral")
            rec = np.zeros(n_requests, dtype=[("t", "<u4"), ("id", "<u8"), ("size", "<u4"), ("next", "<i8")])
            rec["t"], rec["id"], rec["size"], rec["next"] = np.arange(n_requests) // 10, ids + 1, sizes[ids], -1
            rec.tofile(path)

            def native():
                reader = lcs.TraceReader(path, trace_type=lcs.TraceType.ORACLE_GENERAL_TRACE)
                return lcs.LRU(cache_size=capacity).process_trace(reader)

            med, _, miss = timed(native, repeat)
            rows.append(("libCacheSim LRU.process_trace (native)", med, int(round((1 - miss[0]) * n_requests))))
    except ImportError:
        print("  libcachesim not installed (pip install libcachesim cachetools)")
    try:
        import cachetools

        def loop():
            cache = cachetools.LRUCache(maxsize=capacity, getsizeof=lambda k: int(sizes[k]))
            hits = 0
            for i in ids.tolist():
                if i in cache:
                    cache[i]
                    hits += 1
                else:
                    try:
                        cache[i] = i
                    except ValueError:
                        pass
            return hits

        med, _, hits = timed(loop, 1)
        rows.append(("cachetools LRUCache (Python loop)", med, int(hits)))
    except ImportError:
        print("  cachetools not installed (pip install libcachesim cachetools)")
    base = rows[0][1]
    print("\n| tool | time | requests/s | hits | time / trimcore replay |")
    print("|---|---:|---:|---:|---:|")
    for tool, t, hits in rows:
        print(f"| {tool} | {t * 1e3:.1f} ms | {n_requests / t / 1e6:.2f} M | {hits} | {t / base:.2f}x |")
    return 0 if len({h for _, _, h in rows}) == 1 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["20000x2000x200", "200000x20000x2000"],
                        help="instances as SETSxELEMENTSxBUDGET")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of the fast tools (median reported)")
    parser.add_argument("--peer-repeat", type=int, default=3, help="timed runs of the slow peers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--apricot-max-work", type=float, default=2e9,
                        help="run apricot's O(k nnz) naive greedy only when k * nnz is at most this")
    parser.add_argument("--no-submodlib", action="store_true")
    parser.add_argument("--no-apricot", action="store_true")
    parser.add_argument("--online", type=int, default=0, metavar="REQUESTS",
                        help="instead: the online caching peers (LRU vs libCacheSim and cachetools) on this many "
                             "requests")
    parser.add_argument("--online-models", type=int, default=1000)
    args = parser.parse_args(argv)
    if args.online:
        return online_peers(args.online, args.online_models, args.repeat, args.seed)

    print(f"# machine: {machine()}")
    stream = numba_floor()
    rows: list[tuple[str, str, float, float, float | None, str, str]] = []

    def add(size, tool, med, best, value, greedy, note=""):
        rows.append((size, tool, med, best, value, greedy, note))
        shown = "-" if value is None else f"{value:.12g}"
        print(f"  {tool:<38} median {med * 1e3:10.2f} ms  min {best * 1e3:10.2f} ms  covered {shown:>18}  "
              f"greedy {greedy:<5} {note}", flush=True)

    for spec in args.sizes:
        bench(spec, args, stream, add)

    print("\n| instance | tool | median time | covered weight | greedy | time / trimcore |")
    print("|---|---|---:|---:|:---:|---:|")
    base: dict[tuple[str, bool], float] = {}
    for size, tool, med, _, _, _, _ in rows:
        if tool.startswith("trimcore tc.max_coverage"):
            base[(size, "unit" in tool)] = med
    for size, tool, med, _, value, greedy, note in rows:
        ref = base.get((size, "unit" in tool))
        ratio = f"{med / ref:.2f}x" if ref else "-"
        shown = "-" if value is None else f"{value:.10g}"
        print(f"| {size} | {tool}{' (' + note + ')' if note else ''} | {med * 1e3:.1f} ms | {shown} | {greedy} "
              f"| {ratio} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
