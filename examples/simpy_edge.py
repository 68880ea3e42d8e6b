"""A SimPy edge network whose GPU caches are trimcore's online caching policies.

Users move between the coverage areas of a few edge servers (a random walk over servers), each
user's requests arrive as a Poisson process, and every request goes to the user's current server,
where :class:`trimcore.OnlineCache` decides at once: served from a resident model (hit), from a
resident substitute, by loading the model, or by the cloud. The simulator knows nothing of the
policies; it only calls ``cache.request(server, model, slot, task)``.

Run: ``python examples/simpy_edge.py [--policy lc] [--users 40] [--minutes 30] [--seed 0]``
(needs ``pip install simpy``).
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np
import simpy

import trimcore as tc
from trimcore.online.builder import make_caching_instance

SLOT_S = 10.0  # one caching slot (the AoC clock) = 10 s of simulated time


def simulate(policy: str = "lc", n_users: int = 40, minutes: float = 30.0, seed: int = 0,
             n_servers: int = 3) -> dict[str, float]:
    """Run the SimPy model; the mean cost per request, the hit ratio and the outcome shares."""
    # the servers, models, tasks and cost options of the online paper's LLM scenario
    cp = make_caching_instance(n_servers, library="llm", n_slots=10, memory_gb=24.0, seed=seed, load_bandwidth=25e9)
    horizon_slots = int(minutes * 60 / SLOT_S) + 1
    cache = tc.OnlineCache(cp, policy=policy, seed=seed, horizon_slots=horizon_slots, admission_horizon=50.0)
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    popularity = 1.0 / np.arange(1, cp.n_models + 1) ** 0.8  # Zipf over models, one ranking per user
    stats: Counter[str] = Counter()
    costs: list[float] = []

    def user(uid: int):
        server = int(rng.integers(n_servers))
        ranking = rng.permutation(cp.n_models)
        while True:
            yield env.timeout(rng.exponential(20.0))  # a request every 20 s on average
            if rng.random() < 0.1:  # the user moved to a neighbouring cell
                server = (server + int(rng.choice([-1, 1]))) % n_servers
            model = int(ranking[rng.choice(cp.n_models, p=popularity / popularity.sum())])
            step = cache.request(server, model, int(env.now // SLOT_S))
            stats[step.outcome] += 1
            costs.append(step.cost)

    for uid in range(n_users):
        env.process(user(uid))
    env.run(until=minutes * 60)
    n = max(sum(stats.values()), 1)
    return {"requests": float(n), "mean_cost": float(np.mean(costs)) if costs else 0.0,
            "hit_ratio": stats["hit"] / n, **{f"share_{k}": stats[k] / n for k in ("substitute", "load", "cloud")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--policy", default=None, help="one policy (default: compare lc, lru, lfu, fifo, cloud)")
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    policies = [args.policy] if args.policy else ["lc", "lru", "lfu", "fifo", "cloud"]
    print(f"{'policy':<8} {'requests':>8} {'cost/request':>12} {'hit ratio':>9} {'load':>6} {'cloud':>6}")
    for policy in policies:
        r = simulate(policy, args.users, args.minutes, args.seed)
        print(f"{policy:<8} {r['requests']:>8.0f} {r['mean_cost']:>12.4f} {r['hit_ratio']:>9.3f} "
              f"{r['share_load']:>6.3f} {r['share_cloud']:>6.3f}")


if __name__ == "__main__":
    main()
