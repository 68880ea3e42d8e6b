"""asv benchmarks of the online (Age of Context) caching kernels (issue #11 targets).

Target: the C++ tier replays 10 M requests over 100 servers and 1,000 models at >= 5 M requests/s
for LRU on one thread, LC within 2x of LRU, memory O(servers x models) plus the trace.

The trace (:func:`online_trace`): 100 servers, 1,000 models of 0.2-1.6 GB (model-granular: one
block each), 80 GB of GPU memory per server, Zipf(0.8) popularity with a random rank order per
server, servers uniform, 5 requests per server per slot, default cost model; the reactive cache
(``greedy_admission=True``, ``allow_substitution=False``) and the default cost-based admission.
``setup_cache`` builds it once per run (saved as ``.npz``); ``setup`` builds the kernel inputs, so
only the replay is timed (``_core.online_simulate``, one call for the whole trace).

* ``Replay``: time and peak memory per policy (and ``track_requests_per_s``);
* ``ReplayReference``: the plain-Python reference on a 20,000-request prefix (the oracle's speed).

Run directly (``python benchmarks/bench_online.py [requests]``) for requests/s per policy.
"""

from __future__ import annotations

import sys
import time

import numpy as np

import trimcore as tc
from trimcore.kernels import available_backends, kernel

N_REQUESTS = 10_000_000
N_SERVERS, N_MODELS = 100, 1_000
FILE = "online_trace.npz"
POLICIES = ["lru", "lc", "lfu", "fifo", "random", "belady"]
ADMISSION = ["reactive", "cost"]
OUTPUTS = ["all", "decisions"]  # every per-request array, or only the decisions and the cost sums


def online_trace(n_requests: int = N_REQUESTS, n_servers: int = N_SERVERS, n_models: int = N_MODELS,
                 seed: int = 0) -> dict[str, np.ndarray]:
    """The benchmark trace: arrays for :meth:`tc.CachingProblem.from_arrays`."""
    rng = np.random.default_rng(seed)
    sizes = rng.uniform(0.2, 1.6, n_models) * 1e9
    w = 1.0 / np.arange(1, n_models + 1) ** 0.8
    rank = rng.choice(n_models, n_requests, p=w / w.sum())
    server = rng.integers(0, n_servers, n_requests)
    perm = np.argsort(rng.random((n_servers, n_models)), axis=1)
    model = perm[server, rank]
    slot = np.arange(n_requests, dtype=np.int64) // (5 * n_servers)
    return {"sizes": sizes, "slot": slot, "server": server, "model": model,
            "memory": np.full(n_servers, 80e9)}


def problem(arrays: dict[str, np.ndarray]) -> tc.CachingProblem:
    n_models = arrays["sizes"].shape[0]
    return tc.CachingProblem.from_arrays(arrays["sizes"], [[i] for i in range(n_models)], arrays["memory"],
                                         arrays["slot"], arrays["server"], arrays["model"], block_sharing=False)


def flags(admission: str, outputs: str = "all") -> dict[str, object]:
    return {"outputs": outputs, "greedy_admission": admission == "reactive",
            "allow_substitution": admission != "reactive",
            "lc_grace_slots": 0, "lc_order": "min_value", "lfu_reset_on_evict": True,
            "pin_models_used_this_slot": False, "task_ewma": 0.1, "admission_horizon": 50.0,
            "make_room": "frees_first", "rng_seed": 1}


def setup_cache() -> str:
    np.savez(FILE, **online_trace())
    return FILE


class Replay:
    params = (POLICIES, ADMISSION, OUTPUTS)
    param_names = ["policy", "admission", "outputs"]
    timeout = 600
    number = 1
    repeat = 3

    def setup_cache(self) -> str:
        return setup_cache()

    def setup(self, path: str, policy: str, admission: str, outputs: str) -> None:
        if "cpp" not in available_backends():
            raise NotImplementedError("no C++ tier")
        with np.load(path) as data:
            self.inputs = problem({k: data[k] for k in data.files}).kernel_inputs()
        self.fn = kernel("online.simulate", "cpp")

    def time_replay(self, path: str, policy: str, admission: str, outputs: str) -> None:
        self.fn(self.inputs, policy, flags(admission, outputs))

    def peakmem_replay(self, path: str, policy: str, admission: str, outputs: str) -> None:
        self.fn(self.inputs, policy, flags(admission, outputs))

    def track_requests_per_s(self, path: str, policy: str, admission: str, outputs: str) -> float:
        start = time.perf_counter()
        self.fn(self.inputs, policy, flags(admission, outputs))
        return self.inputs["slot"].shape[0] / (time.perf_counter() - start)

    track_requests_per_s.unit = "requests/s"  # type: ignore[attr-defined]


class ReplayReference:
    params = (["lru", "lc"],)
    param_names = ["policy"]
    number = 1
    repeat = 1

    def setup(self, policy: str) -> None:
        self.inputs = problem(online_trace(20_000)).kernel_inputs()
        self.fn = kernel("online.simulate", "reference")

    def time_replay(self, policy: str) -> None:
        self.fn(self.inputs, policy, flags("reactive"))


def main(argv: list[str]) -> int:
    """``bench_online.py [requests] [--outputs all,decisions] [--policies lru,lc,...]``: one line per run.

    Each policy runs once per output mode, the modes back to back (same load); the previous run's
    output is dropped before the next call, so every call pays its own first-touch memory.
    """
    args = list(argv[1:])
    opts = {"--outputs": ",".join(OUTPUTS), "--policies": ",".join(POLICIES), "--admission": ",".join(ADMISSION)}
    for key in opts:
        if key in args:
            k = args.index(key)
            opts[key] = args[k + 1]
            del args[k:k + 2]
    n = int(args[0]) if args else N_REQUESTS
    inputs = problem(online_trace(n)).kernel_inputs()
    fn = kernel("online.simulate", "cpp")
    print(f"{n:,} requests, {N_SERVERS} servers, {N_MODELS} models, one thread")
    for admission in opts["--admission"].split(","):
        for policy in opts["--policies"].split(","):
            for outputs in opts["--outputs"].split(","):
                start = time.perf_counter()
                out = fn(inputs, policy, flags(admission, outputs))
                dt = time.perf_counter() - start
                print(f"  {admission:8s} {policy:7s} {outputs:9s} {n / dt / 1e6:6.2f} M requests/s  "
                      f"hit ratio {float((out['outcome'] == 0).mean()):.4f}", flush=True)
                del out
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
