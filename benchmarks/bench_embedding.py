"""asv: the cost of stepping the online caches from Python (issue #13) against one replay call.

Same problem, policy and seed on both sides (the decisions are identical): ``time_step`` calls
``OnlineCache.request`` once per request of the trace; ``time_replay`` hands the whole trace to
``simulate_caching`` (C++ tier). ``track_step_over_replay`` is the per-request overhead factor.
"""

from __future__ import annotations

import trimcore as tc
from trimcore.online.builder import make_caching_instance


def _problem():
    return make_caching_instance(10, library="llm", n_slots=400, memory_gb=24.0, seed=0, load_bandwidth=25e9)


def _step(cp, policy: str) -> None:
    cache = tc.OnlineCache(cp, policy=policy, seed=0)
    request = cache.request
    for s, m, t, k, a, b in zip(cp.server.tolist(), cp.model.tolist(), cp.slot.tolist(), cp.task.tolist(),
                                cp.tokens_in.tolist(), cp.tokens_out.tolist()):
        request(s, m, t, k, a, b)


def _replay(cp, policy: str) -> None:
    tc.simulate_caching(cp, policy=policy, seed=0, backend="cpp", bound=False)


def _median(fn, repeat: int = 3) -> float:
    from benchmarks.peers import median_seconds

    return median_seconds(fn, repeat)


class StepOverhead:
    """Per-request stepping from Python vs one whole-trace replay call."""

    params = (["lru", "lc"],)
    param_names = ["policy"]
    timeout = 300

    def setup(self, policy):
        self.cp = _problem()
        _replay(self.cp, policy)

    def time_step(self, policy):
        _step(self.cp, policy)

    def time_replay(self, policy):
        _replay(self.cp, policy)

    def track_step_over_replay(self, policy):
        return _median(lambda: _step(self.cp, policy)) / _median(lambda: _replay(self.cp, policy))

    track_step_over_replay.unit = "ratio"  # type: ignore[attr-defined]


class PlaceEpoch:
    """One epoch of ``EdgePlacer.place`` after users moved: warm-started from the previous
    placement or cold (the EUA default scenario, users after a 30 s random walk)."""

    params = ([True, False],)
    param_names = ["warm_start"]
    timeout = 300

    def setup(self, warm_start):
        from trimcore.experiments.scenarios import build_placement, scenario

        p = build_placement(scenario(), with_parts=True)[1]
        self.placer = tc.EdgePlacer(p["library"], p["capacity"], p["popularity"], p["latency_limit"],
                                    warm_start=warm_start, **p["radio"])
        self.placer.place(p["topology"])
        self.first = self.placer.placement
        self.moved = p["topology"].with_users(p["topology"].random_walk(3.0, 30.0, 1, seed=0)[1])

    def time_place(self, warm_start):
        self.placer.placement = self.first
        self.placer.place(self.moved)

    def track_models_moved(self, warm_start):
        self.placer.placement = self.first
        return int((self.placer.place(self.moved).placement != self.first).sum())

    track_models_moved.unit = "pairs"  # type: ignore[attr-defined]


if __name__ == "__main__":  # side by side outside asv: python -m benchmarks.bench_embedding
    cp = _problem()
    for policy in ("lru", "lc"):
        _replay(cp, policy)
        step, replay = _median(lambda p=policy: _step(cp, p)), _median(lambda p=policy: _replay(cp, p))
        print(f"{policy}: {cp.n_requests} requests; stepped {step * 1e6 / cp.n_requests:.2f} us/request, "
              f"replayed {replay * 1e6 / cp.n_requests:.2f} us/request ({step / replay:.1f}x)")
    for warm in (True, False):
        epoch = PlaceEpoch()
        epoch.setup(warm)
        seconds = _median(lambda e=epoch, w=warm: e.time_place(w))
        print(f"place after a move, warm_start={warm}: {seconds * 1e3:.1f} ms, {epoch.track_models_moved(warm)} "
              f"(server, model) pairs changed")
