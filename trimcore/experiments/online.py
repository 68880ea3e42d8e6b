"""Figures of the Age of Context paper (``docs/online.md``; spec §6-7): ``trimcore run online``.

Default scenario (INFERRED, spec §6 with two named departures, docs/assumptions.md): 3 edge servers,
the spec's 8-model LLM table (fp16), 40 GB of GPU memory per server, 500 slots of Poisson(5)
requests per server, Zipf(0.8) popularity with a random rank order per server, 4 tasks with two per
model, ``nu = 0.9``, window 32, loading at 25 GB/s (the top of the spec's 1-25 GB/s sweep) and the
cost-based admission of §5.0 with the one-off load costs spread over ``admission_horizon = 50``
requests. Every policy runs on the same trace; each sweep point is one (x, seed) and writes one row
per policy, so a killed sweep resumes where it stopped (:mod:`trimcore.experiments.sweep`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trimcore.experiments.sweep import plot_bands, read_rows, run_sweep
from trimcore.online import CachingProblem, CachingResult, make_caching_instance, simulate_caching

__all__ = ["FIGURES", "DEFAULT_SCENARIO", "DEFAULT_FLAGS", "POLICY_LABELS", "default_problem", "run_policies"]

#: Scenario of every figure unless the figure changes one entry.
DEFAULT_SCENARIO: dict[str, Any] = {"n_servers": 3, "library": "llm", "memory_gb": 40.0, "n_slots": 500,
                                    "arrival_rate": 5.0, "zipf": 0.8, "nu": 0.9, "load_bandwidth": 25e9}
#: Decision flags of every run (cost-based admission, substitution allowed).
DEFAULT_FLAGS: dict[str, Any] = {"greedy_admission": False, "allow_substitution": True, "admission_horizon": 50.0}
#: Policy -> label, in legend order.
POLICY_LABELS: dict[str, str] = {"lc": "LC", "lc_task": "LC (task-aware)", "lru": "LRU", "lfu": "LFU",
                                 "fifo": "FIFO", "random": "Random", "static": "Edge-static", "cloud": "Cloud-only",
                                 "belady": "Belady (offline)"}
_STYLE = {"LC": ("C3", "-", "o"), "LC (task-aware)": ("C3", "--", "D"), "LRU": ("C0", "-", "s"),
          "LFU": ("C2", "-", "^"), "FIFO": ("C1", "-", "v"), "Random": ("C7", "-", "x"),
          "Edge-static": ("C5", ":", "P"), "Cloud-only": ("k", ":", "."), "Belady (offline)": ("C4", "--", "*")}
_QUICK_SLOTS = 60


def default_problem(seed: int, *, quick: bool = False, **changes: Any) -> CachingProblem:
    """The default scenario with some entries changed (``quick``: 60 slots)."""
    params = {**DEFAULT_SCENARIO, **changes}
    if quick:
        params["n_slots"] = min(int(params["n_slots"]), _QUICK_SLOTS)
    return make_caching_instance(seed=seed, **params)


def run_policies(cp: CachingProblem, policies: Sequence[str] | None = None, *, seed: int = 0,
                 backend: str = "auto", **flags: Any) -> dict[str, CachingResult]:
    """Every policy on the same trace with the default flags (changed by ``flags``)."""
    options = {**DEFAULT_FLAGS, **flags}
    return {p: simulate_caching(cp, policy=p, seed=seed, backend=backend, **options)
            for p in (policies or list(POLICY_LABELS))}


def _row(label: str, res: CachingResult) -> dict[str, Any]:
    counts = res.outcome_counts()
    n = max(res.n_requests, 1)
    return {"policy": label, "cost": res.cost, "lower_bound": res.lower_bound, "gap": res.gap,
            "hit_ratio": res.hit_ratio, "substitute_ratio": counts["substitute"] / n,
            "cloud_ratio": counts["cloud"] / n, "mean_accuracy": float(res.accuracy.mean()) if res.n_requests else 0.0,
            "loaded_gb": float(res.loaded_bytes.sum()) / 1e9, "requests": res.n_requests,
            **{f"cost_{k}": v for k, v in res.components.items()}}


def sweep(out_dir: Path, name: str, x_name: str, x_values: Sequence[float],
          make: Callable[[float, int], CachingProblem], *, seeds: int, progress: bool, workers: int = 0,
          flags: Callable[[float], dict[str, Any]] | None = None, policies: Sequence[str] | None = None) -> Path:
    """Every policy on ``make(x, seed)`` for every x and seed (resumable); the CSV path."""
    path = Path(out_dir) / f"online_{name}.csv"
    points = [{"figure": name, x_name: float(x), "seed": s} for x in x_values for s in range(seeds)]

    def run_point(point: dict[str, Any]) -> list[dict[str, Any]]:
        cp = make(point[x_name], point["seed"])
        extra = flags(point[x_name]) if flags is not None else {}
        results = run_policies(cp, policies, seed=point["seed"], **extra)
        return [_row(POLICY_LABELS[p], r) for p, r in results.items()]

    run_sweep(path, points, run_point, progress=progress, workers=workers, description=f"online {name}")
    return path


def _plot(csv_path: Path, x_name: str, xlabel: str, title: str, *, logx: bool = False, y: str = "cost",
          ylabel: str = "mean system cost per request") -> Path:
    return plot_bands(read_rows(csv_path), x_name, y, "policy", csv_path.with_suffix(".png"), xlabel=xlabel,
                      ylabel=ylabel, title=title, logx=logx, styles=_STYLE, order=list(_STYLE), figsize=(7.5, 4.8),
                      legend_cols=2)


def fig_memory(out_dir: Path, *, seeds: int = 10, quick: bool = False, progress: bool = True, workers: int = 0) -> Path:
    """System cost vs GPU memory per server (24-160 GB)."""
    xs = [24, 80] if quick else [16, 24, 40, 80, 160]
    path = sweep(out_dir, "memory", "memory_gb", xs, lambda x, s: default_problem(s, quick=quick, memory_gb=x),
                 seeds=seeds, progress=progress, workers=workers)
    return _plot(path, "memory_gb", "GPU memory per server (GB)", "System cost vs GPU memory (LLM table, nu = 0.9)")


def fig_nu(out_dir: Path, *, seeds: int = 10, quick: bool = False, progress: bool = True, workers: int = 0) -> Path:
    """System cost vs the vanishing factor nu, down to the nu -> 0 ablation (context worthless at once)."""
    xs = [0.0, 0.9] if quick else [0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99]
    path = sweep(out_dir, "nu", "nu", xs, lambda x, s: default_problem(s, quick=quick, nu=x), seeds=seeds,
                 progress=progress, workers=workers)
    return _plot(path, "nu", "vanishing factor nu", "System cost vs nu (40 GB; nu = 0: the ablation)")


def fig_zipf(out_dir: Path, *, seeds: int = 10, quick: bool = False, progress: bool = True, workers: int = 0) -> Path:
    """System cost vs the Zipf exponent of popularity (0.5-1.2)."""
    xs = [0.5, 1.2] if quick else [0.5, 0.6, 0.8, 1.0, 1.2]
    path = sweep(out_dir, "zipf", "zipf", xs, lambda x, s: default_problem(s, quick=quick, zipf=x), seeds=seeds,
                 progress=progress, workers=workers)
    return _plot(path, "zipf", "Zipf exponent", "System cost vs popularity skew (40 GB, nu = 0.9)")


def fig_arrival(out_dir: Path, *, seeds: int = 10, quick: bool = False, progress: bool = True,
                workers: int = 0) -> Path:
    """System cost vs the arrival rate per server per slot (1-20)."""
    xs = [1, 10] if quick else [1, 2, 5, 10, 20]
    path = sweep(out_dir, "arrival", "arrival_rate", xs, lambda x, s: default_problem(s, quick=quick, arrival_rate=x),
                 seeds=seeds, progress=progress, workers=workers)
    return _plot(path, "arrival_rate", "requests per server per slot (Poisson mean)",
                 "System cost vs arrival rate (40 GB, nu = 0.9)", logx=True)


def fig_window(out_dir: Path, *, seeds: int = 10, quick: bool = False, progress: bool = True,
               workers: int = 0) -> Path:
    """System cost vs the context window W (8-128 examples)."""
    xs = [8, 64] if quick else [4, 8, 16, 32, 64, 128]
    path = sweep(out_dir, "window", "window", xs, lambda x, s: default_problem(s, quick=quick, window=int(x)),
                 seeds=seeds, progress=progress, workers=workers)
    return _plot(path, "window", "context window W (examples)", "System cost vs context window (40 GB)", logx=True)


def fig_block(out_dir: Path, *, seeds: int = 10, quick: bool = False, progress: bool = True, workers: int = 0) -> Path:
    """Block-aware vs model-granular GPU memory on a LoRA family (2 Llama-2-7B bases, 30 adapters)."""
    xs = [16, 32] if quick else [14, 16, 20, 28, 40, 56]
    path = Path(out_dir) / "online_block.csv"
    points = [{"figure": "block", "memory_gb": float(x), "seed": s} for x in xs for s in range(seeds)]

    def run_point(point: dict[str, Any]) -> list[dict[str, Any]]:
        rows = []
        for sharing, tag in ((True, "block-aware"), (False, "model-granular")):
            cp = default_problem(point["seed"], quick=quick, library="lora", n_adapters=30, n_bases=2,
                                 memory_gb=point["memory_gb"], block_sharing=sharing)
            for p, r in run_policies(cp, ["lc", "lru", "lfu"], seed=point["seed"]).items():
                rows.append({**_row(f"{POLICY_LABELS[p]} ({tag})", r), "memory_mode": tag})
        return rows

    run_sweep(path, points, run_point, progress=progress, workers=workers, description="online block")
    styles = {f"{POLICY_LABELS[p]} ({tag})": (c, ls, mk) for p, c, mk in (("lc", "C3", "o"), ("lru", "C0", "s"),
                                                                         ("lfu", "C2", "^"))
              for tag, ls in (("block-aware", "-"), ("model-granular", "--"))}
    return plot_bands(read_rows(path), "memory_gb", "cost", "policy", path.with_suffix(".png"),
                      xlabel="GPU memory per server (GB)", ylabel="mean system cost per request",
                      title="Block-aware vs model-granular memory (LoRA family, 2 bases x 15 adapters)",
                      styles=styles, order=list(styles), figsize=(7.5, 4.8), legend_cols=2)


def fig_components(out_dir: Path, *, seeds: int = 10, quick: bool = False, progress: bool = True,
                   workers: int = 0) -> Path:
    """Cost components per policy (stacked bars, mean over seeds) on the default scenario."""
    path = sweep(out_dir, "components", "memory_gb", [DEFAULT_SCENARIO["memory_gb"]],
                 lambda x, s: default_problem(s, quick=quick, memory_gb=x), seeds=seeds, progress=progress,
                 workers=workers)
    rows = read_rows(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [lab for lab in POLICY_LABELS.values() if any(r["policy"] == lab for r in rows)]
    comps = ["latency", "accuracy", "switching", "cloud", "energy"]
    means = np.array([[np.mean([r[f"cost_{c}"] for r in rows if r["policy"] == lab]) for c in comps]
                      for lab in labels])
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=120)
    left = np.zeros(len(labels))
    for k, c in enumerate(comps):
        ax.barh(labels[::-1], means[::-1, k], left=left[::-1], label=c)
        left += means[:, k]
    for y, total in enumerate(left[::-1]):
        ax.text(total + 0.02, y, f"{total:.3f}", va="center", fontsize=8)
    ax.set_xlabel("mean cost per request, by component")
    ax.set_title("Cost components per policy (default scenario)", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    png = path.with_suffix(".png")
    fig.savefig(png)
    plt.close(fig)
    return png


def fig_time(out_dir: Path, *, seeds: int = 10, quick: bool = False, progress: bool = True, workers: int = 0) -> Path:
    """Cost over time: mean cost per request in windows of 25 slots, per policy."""
    path = Path(out_dir) / "online_time.csv"
    points = [{"figure": "time", "seed": s} for s in range(seeds)]
    width = 5 if quick else 25

    def run_point(point: dict[str, Any]) -> list[dict[str, Any]]:
        cp = default_problem(point["seed"], quick=quick)
        rows = []
        bins = cp.slot // width
        for p, r in run_policies(cp, ["lc", "lc_task", "lru", "lfu", "fifo", "random", "static", "cloud"],
                                 seed=point["seed"], bound=False).items():
            sums = np.bincount(bins, weights=r.request_cost)
            counts = np.bincount(bins)
            for b in np.flatnonzero(counts):
                rows.append({"policy": POLICY_LABELS[p], "slot": float(b * width + width / 2),
                             "cost": float(sums[b] / counts[b])})
        return rows

    run_sweep(path, points, run_point, progress=progress, workers=workers, description="online time")
    return plot_bands(read_rows(path), "slot", "cost", "policy", path.with_suffix(".png"), xlabel="slot",
                      ylabel=f"mean cost per request (windows of {width} slots)",
                      title="System cost over time (default scenario)", styles=_STYLE, order=list(_STYLE),
                      figsize=(7.5, 4.8), legend_cols=2)


#: Figure name -> function ``(out_dir, *, seeds, quick, progress, workers) -> Path`` (the PNG).
FIGURES: dict[str, Callable[..., Path]] = {
    "memory": fig_memory,
    "nu": fig_nu,
    "zipf": fig_zipf,
    "arrival": fig_arrival,
    "window": fig_window,
    "block": fig_block,
    "components": fig_components,
    "time": fig_time,
}
