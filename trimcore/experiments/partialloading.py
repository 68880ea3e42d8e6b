"""PartialLoading experiments: throughput sweeps and a Gantt chart (spec §7, §8).

Every figure function has the signature ``(out_dir, *, seeds, quick, progress) -> Path``. It
writes a tidy CSV (one row per x value, seed and algorithm) and a PNG next to it, named
``partialloading_<figure>.csv`` / ``.png``, and returns the PNG path. Sweeps resume: rows
already in the CSV (same x, seed and algorithm) are not recomputed, and rows are appended as
soon as one (x, seed) pair is done, so a killed sweep loses at most that pair.

The default scenario is spec §7: one server, K = 30 users in a 250 m cell, B = 20 MHz,
R_L = 8 GB/s, Q = 40 GB, a common 300 ms deadline and 3 clusters x 10 fine-tuned models
(ResNet-50, ViT-B/16, BERT-base with frozen backbones, Zipf 0.8 popularity). The cluster sweep
uses :func:`~trimcore.instance.zoo.synthetic_library` (10 models per cluster, one backbone each)
because the zoo has only five architectures. Plots show the mean over seeds with 95 %
t-confidence bands.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from trimcore.experiments.sweep import plot_bands, read_rows, run_sweep, save_figure
from trimcore.instance.zoo import frozen_backbone_library, synthetic_library
from trimcore.loading import (
    LoadingProblem,
    LoadingResult,
    edf_schedule,
    equal_bandwidth_schedule,
    fcfs_schedule,
    grouping_schedule,
    no_sharing_schedule,
    partialloading_dp,
    partialloading_dp_edf,
    partialloading_greedy,
    random_schedule,
)

__all__ = ["FIGURES", "ALGORITHMS", "DEFAULTS", "default_problem", "sweep", "fig_users", "fig_deadline",
           "fig_bandwidth", "fig_load_rate", "fig_clusters", "fig_gantt"]

#: Spec §7 defaults of the scenario.
DEFAULTS: dict[str, Any] = {"n_users": 30, "deadline": 0.3, "bandwidth_hz": 20e6, "load_rate": 8e9,
                            "gpu_memory": 40e9, "families": ("resnet50", "vit_b16", "bert_base"),
                            "models_per_cluster": 10}
_QUICK_USERS = 8

#: Algorithms of the sweeps: label -> f(problem, seed).
ALGORITHMS: dict[str, Callable[[LoadingProblem, int], LoadingResult]] = {
    "PL-DP": lambda p, s: partialloading_dp(p),
    "PL-Greedy": lambda p, s: partialloading_greedy(p),
    "PL-Greedy-Insert": lambda p, s: partialloading_greedy(p, variant="insert"),
    "PL-DP-EDF": lambda p, s: partialloading_dp_edf(p),
    "B1 no sharing (DP)": lambda p, s: no_sharing_schedule(p, scheduler="dp"),
    "B1 no sharing (greedy)": lambda p, s: no_sharing_schedule(p, scheduler="greedy"),
    "B2 FCFS": lambda p, s: fcfs_schedule(p),
    "B3 EDF": lambda p, s: edf_schedule(p, seed=s),
    "B4 model grouping": lambda p, s: grouping_schedule(p),
    "B5 random order": lambda p, s: random_schedule(p, seed=s),
    "B6 equal bandwidth": lambda p, s: equal_bandwidth_schedule(p),
}
_STYLE = {"PL-DP": ("C0", "-", "o"), "PL-Greedy": ("C1", "-", "s"), "PL-Greedy-Insert": ("C1", "--", "D"),
          "PL-DP-EDF": ("C2", "-", "^"),
          "B1 no sharing (DP)": ("C3", "--", "o"), "B1 no sharing (greedy)": ("C4", "--", "s"),
          "B2 FCFS": ("C5", ":", "x"), "B3 EDF": ("C6", ":", "+"), "B4 model grouping": ("C7", "-.", "d"),
          "B5 random order": ("C8", ":", "v"), "B6 equal bandwidth": ("C9", "-.", "*")}


def _library(n_clusters: int | None = None, seed: int = 0):
    if n_clusters is None:
        return frozen_backbone_library(DEFAULTS["families"], DEFAULTS["models_per_cluster"])
    return synthetic_library(DEFAULTS["models_per_cluster"] * n_clusters, n_families=n_clusters, nested=False,
                             shared_fraction=0.75, median_bytes=200e6, seed=seed)


def default_problem(seed: int, *, quick: bool = False, library: Any = None, **changes: Any) -> LoadingProblem:
    """The spec §7 scenario for ``seed`` with some parameters changed (``n_users``, ``deadline``, ...)."""
    params = {k: DEFAULTS[k] for k in ("n_users", "deadline", "bandwidth_hz", "load_rate", "gpu_memory")}
    if quick:
        params["n_users"] = _QUICK_USERS
    params.update(changes)
    lib = _library() if library is None else library
    k = params.pop("n_users")
    return LoadingProblem.from_random_cell(lib, k, seed=seed, **params)


# ---------------------------------------------------------------------------------------- sweeps
def sweep(out_dir: Path, name: str, x_name: str, x_values: Sequence[float],
          make: Callable[[float, int], LoadingProblem], *, seeds: int, progress: bool, workers: int = 0,
          algorithms: dict[str, Callable[[LoadingProblem, int], LoadingResult]] | None = None) -> Path:
    """Run every algorithm on ``make(x, seed)`` for every x and seed, as a resumable sweep.

    One point per (x, seed); its rows (one per algorithm) are appended to
    ``partialloading_<name>.csv`` when it finishes, and a rerun skips finished points.
    Returns the CSV path.
    """
    algorithms = ALGORITHMS if algorithms is None else algorithms
    path = Path(out_dir) / f"partialloading_{name}.csv"
    points = [{"figure": name, x_name: float(x), "seed": seed} for x in x_values for seed in range(seeds)]

    def run_point(point: dict[str, Any]) -> list[dict[str, Any]]:
        problem = make(point[x_name], point["seed"])
        rows = []
        for label, algorithm in algorithms.items():
            res = algorithm(problem, point["seed"])
            rows.append({"algorithm": label, "served": res.served, "scheduled": res.n_scheduled,
                         "n_users": problem.n_users, "served_ratio": res.served_ratio, "feasible": res.feasible,
                         "runtime_s": res.runtime_s})
        return rows

    run_sweep(path, points, run_point, progress=progress, workers=workers, description=f"partialloading {name}")
    return path


def _plot(csv_path: Path, x_name: str, x_label: str, title: str, *, log_x: bool = False,
          scale: float = 1.0) -> Path:
    return plot_bands(read_rows(csv_path), x_name, "served", "algorithm", csv_path.with_suffix(".png"),
                      xlabel=x_label, ylabel="tasks served by the deadline", title=title, logx=log_x,
                      styles=_STYLE, order=list(ALGORITHMS), x_scale=scale, figsize=(7.5, 4.8), legend_cols=2)


def fig_users(out_dir: Path, *, seeds: int = 20, quick: bool = False, progress: bool = True,
              workers: int = 0) -> Path:
    """Throughput vs number of users K (10-60; quick: 4, 8)."""
    xs = [4, 8] if quick else [10, 20, 30, 40, 50, 60]
    path = sweep(out_dir, "users", "n_users", xs, lambda x, s: default_problem(s, n_users=int(x)), seeds=seeds,
                 progress=progress, workers=workers)
    return _plot(path, "n_users", "number of users K", "Throughput vs number of users (T = 300 ms, B = 20 MHz)")


def fig_deadline(out_dir: Path, *, seeds: int = 20, quick: bool = False, progress: bool = True,
                 workers: int = 0) -> Path:
    """Throughput vs the common deadline T (0.1-1 s)."""
    xs = [0.1, 0.3] if quick else [0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0]
    path = sweep(out_dir, "deadline", "deadline_s", xs, lambda x, s: default_problem(s, quick=quick, deadline=x),
                 seeds=seeds, progress=progress, workers=workers)
    return _plot(path, "deadline_s", "deadline T (ms)", "Throughput vs deadline (K = 30, B = 20 MHz)", scale=1e3)


def fig_bandwidth(out_dir: Path, *, seeds: int = 20, quick: bool = False, progress: bool = True,
                  workers: int = 0) -> Path:
    """Throughput vs total uplink bandwidth B (5-100 MHz)."""
    xs = [5e6, 20e6] if quick else [2e6, 5e6, 10e6, 20e6, 50e6, 100e6]
    path = sweep(out_dir, "bandwidth", "bandwidth_hz", xs,
                 lambda x, s: default_problem(s, quick=quick, bandwidth_hz=x), seeds=seeds, progress=progress,
                 workers=workers)
    return _plot(path, "bandwidth_hz", "uplink bandwidth B (MHz)",
                 "Throughput vs uplink bandwidth (K = 30, T = 300 ms)", log_x=True, scale=1e-6)


def fig_load_rate(out_dir: Path, *, seeds: int = 20, quick: bool = False, progress: bool = True,
                  workers: int = 0) -> Path:
    """Throughput vs GPU loading rate R_L (1-25 GB/s)."""
    xs = [2e9, 8e9] if quick else [1e9, 2e9, 4e9, 8e9, 16e9, 25e9]
    path = sweep(out_dir, "load_rate", "load_rate_bps", xs, lambda x, s: default_problem(s, quick=quick, load_rate=x),
                 seeds=seeds, progress=progress, workers=workers)
    return _plot(path, "load_rate_bps", "loading rate R_L (GB/s)", "Throughput vs loading rate (K = 30, T = 300 ms)",
                 log_x=True, scale=1e-9)


def fig_clusters(out_dir: Path, *, seeds: int = 20, quick: bool = False, progress: bool = True,
                 workers: int = 0) -> Path:
    """Throughput vs number of clusters C (1-6, 10 models each, synthetic 200 MB models, 75 % backbone)."""
    xs = [1, 2] if quick else [1, 2, 3, 4, 5, 6]
    path = sweep(out_dir, "clusters", "n_clusters", xs,
                 lambda x, s: default_problem(s, quick=quick, library=_library(int(x), seed=s), infer_time=0.006),
                 seeds=seeds, progress=progress, workers=workers)
    return _plot(path, "n_clusters", "number of clusters C", "Throughput vs number of clusters (K = 30, T = 300 ms)")


def fig_gantt(out_dir: Path, *, seeds: int = 1, quick: bool = False, progress: bool = True,
              workers: int = 0) -> Path:
    """Gantt chart of the PL-DP schedule of one instance (seed 0): upload, loading, inference per user.

    The CSV has one row per served user in service order: upload, loading and inference
    intervals, deadline, bandwidth and model. ``seeds`` is ignored (one schedule).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    problem = default_problem(0, quick=quick)
    res = partialloading_dp(problem)
    ev = res.evaluation
    lib = problem.library
    rows = []
    prev_finish = 0.0
    for n, u in enumerate(ev.order.tolist()):
        m = int(problem.user_model[u])
        rows.append({"position": n, "user": u, "model": lib.model_names[m],
                     "family": lib.family_names[lib.model_family[m]], "upload_start": 0.0,
                     "upload_end": float(ev.upload_time[n]), "load_start": prev_finish,
                     "load_end": prev_finish + float(ev.load_time[n]), "infer_start": float(ev.start[n]),
                     "infer_end": float(ev.finish[n]), "deadline": float(problem.deadline[u]),
                     "bandwidth_hz": float(ev.bandwidth[u])})
        prev_finish = float(ev.finish[n])
    csv_path = out_dir / "partialloading_gantt.csv"
    tmp = csv_path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["position"])
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(csv_path)
    fams = list(lib.family_names)
    fig, ax = plt.subplots(figsize=(10.0, 0.28 * max(len(rows), 4) + 1.6))
    for r in rows:
        y = r["position"]
        color = f"C{fams.index(r['family']) % 10}"
        ax.barh(y, r["upload_end"] - r["upload_start"], left=r["upload_start"], height=0.3, color="0.75")
        if r["load_end"] > r["load_start"]:
            ax.barh(y, r["load_end"] - r["load_start"], left=r["load_start"], height=0.6, color=color, alpha=0.45,
                    hatch="//", edgecolor=color)
        ax.barh(y, r["infer_end"] - r["infer_start"], left=r["infer_start"], height=0.6, color=color)
    if rows:
        ax.axvline(rows[0]["deadline"], color="k", ls="--", lw=1)
    ax.set_yticks([r["position"] for r in rows], [f"u{r['user']} {r['model']}" for r in rows], fontsize=6)
    ax.invert_yaxis()
    ax.set_xlabel("time from the frame start (s)")
    ax.set_title(f"PartialLoading DP schedule: {res.served} of {problem.n_users} users served "
                 f"(T = {problem.deadline.max() * 1e3:.0f} ms)")
    handles = [Patch(color="0.75", label="upload"),
               Patch(facecolor="0.35", alpha=0.45, hatch="//", edgecolor="0.35", label="loading (model colour)"),
               Patch(color="0.35", label="inference (model colour)")]
    handles += [Patch(color=f"C{i}", label=f) for i, f in enumerate(fams)]
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    png = csv_path.with_suffix(".png")
    save_figure(fig, png, dpi=140)
    plt.close(fig)
    return png


#: Figure name -> function ``(out_dir, *, seeds, quick, progress, workers) -> Path`` (the PNG).
FIGURES: dict[str, Callable[..., Path]] = {
    "users": fig_users,
    "deadline": fig_deadline,
    "bandwidth": fig_bandwidth,
    "load_rate": fig_load_rate,
    "clusters": fig_clusters,
    "gantt": fig_gantt,
}
