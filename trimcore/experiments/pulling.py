"""Chasing Common Knowledge experiments: the paper's Tests 1-6 axes and the online curves (spec §9-§10).

Every figure function has the signature ``(out_dir, *, seeds, quick, progress, workers) -> Path``.
It writes a tidy CSV (one row per x value, seed and algorithm; resumable through
:func:`trimcore.experiments.sweep.run_sweep`) and a PNG next to it, ``pulling_<figure>.csv`` /
``.png``, and returns the PNG path. Plots show the mean over seeds with 95 % t-confidence bands.

Offline figures run LP (the relaxation's value; its cost and accuracy are the fractional
averages), Appro (:func:`~trimcore.pulling.pulling_rounding`), NBS, NonShare and SC on
:func:`~trimcore.pulling.instances.paper_instance` (the authors' generators on the EUA sites,
under our default model: per-request pull delay, per-cloudlet memory, data center as a source),
and plot total delay, average cost, average accuracy and runtime. ``online`` runs OL, MAB and
ADMS and plots the EMA-smoothed (beta 0.9) regret and penalty per round.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trimcore.experiments.sweep import aggregate, read_rows, run_sweep
from trimcore.pulling import (
    PullingProblem,
    ema,
    pulling_cloud,
    pulling_nbs,
    pulling_nonshare,
    pulling_online,
    pulling_rounding,
    solve_lp,
)
from trimcore.pulling.instances import paper_instance, realistic_instance

__all__ = ["FIGURES", "OFFLINE", "ONLINE", "run_offline", "headline", "lp_row"]

OFFLINE = ("LP", "Appro", "NBS", "NonShare", "SC")
ONLINE = ("OL", "MAB", "ADMS")
_STYLE = {"LP": ("k", "--", "x"), "Appro": ("C0", "-", "o"), "NBS": ("C1", "-", "s"), "NonShare": ("C2", "-", "^"),
          "SC": ("C3", "-", "v"), "OL": ("C0", "-", ""), "MAB": ("C1", "-", ""), "ADMS": ("C2", "-", "")}
_METRICS = (("total_delay", "total delay (s)"), ("mean_cost", "average cost"),
            ("mean_accuracy", "average accuracy"), ("runtime_s", "running time (s)"))


def lp_row(pp: PullingProblem, lp: Any) -> dict[str, Any]:
    """The LP's plotted metrics: its value and the fraction-weighted cost and accuracy (None when
    the LP, hence the instance, is infeasible: the point is left out of the LP curve)."""
    if lp.status != "optimal":
        return {"algorithm": "LP", "total_delay": None, "mean_cost": None, "mean_accuracy": None,
                "feasible": False, "runtime_s": lp.runtime_s}
    frac = lp.fraction
    nr = pp.nearest
    pull = np.where(frac > 0, nr["pull"], 0.0)
    cost = pp.infer_cost + pp.trans_power[pp.home][:, None] * (pull + pp.trans_delay)
    j = max(pp.n_requests, 1)
    return {"algorithm": "LP", "total_delay": lp.value, "mean_cost": float((frac * cost).sum() / j),
            "mean_accuracy": float((frac * pp.accuracy).sum() / j), "feasible": lp.status == "optimal",
            "runtime_s": lp.runtime_s}


def run_offline(pp: PullingProblem, seed: int, *, repeats: int = 50) -> list[dict[str, Any]]:
    """One row per offline algorithm on ``pp`` (LP solved once, shared by Appro)."""
    lp = solve_lp(pp)
    rows = [lp_row(pp, lp)]
    runs: list[tuple[str, Callable[[], Any]]] = [
        ("Appro", lambda: pulling_rounding(pp, repeats, seed, lp=lp)),
        ("NBS", lambda: pulling_nbs(pp, seed=seed)),
        ("NonShare", lambda: pulling_nonshare(pp)),
        ("SC", lambda: pulling_cloud(pp)),
    ]
    for label, call in runs:
        res = call()
        runtime = res.runtime_s + (lp.runtime_s if label == "Appro" else 0.0)
        rows.append({"algorithm": label, "total_delay": res.total_delay, "mean_cost": res.mean_cost,
                     "mean_accuracy": res.mean_accuracy, "feasible": res.feasible, "runtime_s": runtime})
    return rows


def _plot_panels(rows: Sequence[dict[str, Any]], x: str, xlabel: str, title: str, path: Path,
                 names: Sequence[str], metrics: Sequence[tuple[str, str]] = _METRICS, logx: bool = False) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(metrics), figsize=(4.0 * len(metrics), 3.4), dpi=110)
    for ax, (metric, label) in zip(np.atleast_1d(axes), metrics):
        series_of = aggregate(rows, x, metric, "algorithm")
        for name in names:
            if name not in series_of:
                continue
            s = series_of[name]
            color, ls, marker = _STYLE.get(name, (None, "-", "o"))
            line, = ax.plot(s["x"], s["mean"], color=color, linestyle=ls, marker=marker or None, ms=3.5, label=name)
            low = s["mean"] - s["ci"]
            if metric == "runtime_s":  # log axis: a band reaching below 0 is drawn down to a fifth of the mean
                low = np.maximum(low, 0.2 * s["mean"])
            ax.fill_between(s["x"], low, s["mean"] + s["ci"], color=line.get_color(), alpha=0.18, lw=0)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(label)
        if logx:
            ax.set_xscale("log")
        if metric == "runtime_s":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].legend(fontsize=7.5)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _offline_figure(name: str, x_name: str, xs: Sequence[float], make: Callable[[float, int], PullingProblem],
                    xlabel: str, title: str, out_dir: Path, *, seeds: int, progress: bool, workers: int,
                    repeats: int = 50) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"pulling_{name}.csv"
    points = [{"figure": name, x_name: float(x), "seed": s} for x in xs for s in range(seeds)]

    def run_point(point: dict[str, Any]) -> list[dict[str, Any]]:
        pp = make(point[x_name], point["seed"])
        return run_offline(pp, point["seed"], repeats=repeats)

    run_sweep(path, points, run_point, progress=progress, workers=workers, description=f"pulling {name}")
    return _plot_panels(read_rows(path), x_name, xlabel, title, path.with_suffix(".png"), OFFLINE)


def fig_cloudlets(out_dir: Path, *, seeds: int = 5, quick: bool = False, progress: bool = True,
                  workers: int = 0) -> Path:
    """Test 1: vs cloudlets n in {30, 50, 100, 300, 500}; 300 requests, 10 models, K/10 families."""
    xs = [10, 20] if quick else [30, 50, 100, 300, 500]
    j = 30 if quick else 300
    return _offline_figure("cloudlets", "n_cloudlets", xs, lambda x, s: paper_instance(int(x), j, 10, 1, seed=s),
                           "number of cloudlets", f"Test 1: {j} requests, 10 models", out_dir, seeds=seeds,
                           progress=progress, workers=workers)


def fig_requests(out_dir: Path, *, seeds: int = 5, quick: bool = False, progress: bool = True,
                 workers: int = 0) -> Path:
    """Test 2: vs requests in {10, 30, 50, 100, 300, 500}; 100 cloudlets, 10 models, K/5 families."""
    xs = [10, 30] if quick else [10, 30, 50, 100, 300, 500]
    n = 20 if quick else 100
    return _offline_figure("requests", "n_requests", xs, lambda x, s: paper_instance(n, int(x), 10, 2, seed=s),
                           "number of requests", f"Test 2: {n} cloudlets, 10 models", out_dir, seeds=seeds,
                           progress=progress, workers=workers)


def fig_models(out_dir: Path, *, seeds: int = 5, quick: bool = False, progress: bool = True,
               workers: int = 0) -> Path:
    """Test 3: vs models K in {10, 30, 50, 70, 100}; 100 cloudlets, 300 requests, K/5 families."""
    xs = [5, 10] if quick else [10, 30, 50, 70, 100]
    n, j = (20, 30) if quick else (100, 300)
    return _offline_figure("models", "n_models", xs,
                           lambda x, s: paper_instance(n, j, int(x), max(1, int(x) // 5), seed=s),
                           "number of models", f"Test 3: {n} cloudlets, {j} requests", out_dir, seeds=seeds,
                           progress=progress, workers=workers)


def fig_families(out_dir: Path, *, seeds: int = 5, quick: bool = False, progress: bool = True,
                 workers: int = 0) -> Path:
    """Families (PFM service types) in {1, 2, 5, 10, 25, 50} with 50 models, 100 cloudlets, 300 requests."""
    xs = [1, 5] if quick else [1, 2, 5, 10, 25, 50]
    n, j, k = (20, 30, 10) if quick else (100, 300, 50)
    return _offline_figure("families", "n_families", xs, lambda x, s: paper_instance(n, j, k, int(x), seed=s),
                           "number of model families", f"{n} cloudlets, {j} requests, {k} models", out_dir,
                           seeds=seeds, progress=progress, workers=workers)


def fig_memory(out_dir: Path, *, seeds: int = 5, quick: bool = False, progress: bool = True,
               workers: int = 0) -> Path:
    """Test 4: vs cloudlet memory C in {10, 30, 50, 70, 90} GB; 100 models, K/2 families."""
    xs = [10, 50] if quick else [10, 30, 50, 70, 90]
    n, j, k = (20, 30, 10) if quick else (100, 300, 100)
    return _offline_figure("memory", "memory_gb", xs,
                           lambda x, s: paper_instance(n, j, k, max(1, k // 2), seed=s, memory=x),
                           "cloudlet memory C (GB)", f"Test 4: {n} cloudlets, {j} requests, {k} models", out_dir,
                           seeds=seeds, progress=progress, workers=workers)


def fig_accuracy(out_dir: Path, *, seeds: int = 5, quick: bool = False, progress: bool = True,
                 workers: int = 0) -> Path:
    """Test 6: vs the accuracy requirement A in {0.1, ..., 0.7}; 10 models, K/2 families."""
    xs = [0.1, 0.5] if quick else [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    n, j = (20, 30) if quick else (100, 300)
    return _offline_figure("accuracy", "min_accuracy", xs,
                           lambda x, s: paper_instance(n, j, 10, 5, seed=s, min_accuracy=x),
                           "accuracy requirement", f"Test 6: {n} cloudlets, {j} requests, 10 models", out_dir,
                           seeds=seeds, progress=progress, workers=workers)


def fig_budget(out_dir: Path, *, seeds: int = 5, quick: bool = False, progress: bool = True,
               workers: int = 0) -> Path:
    """Cost budget B in {1e4, ..., 5e4} (CODE's cost sweep); 10 models, K/2 families."""
    xs = [1e4, 5e4] if quick else [1e4, 2e4, 3e4, 4e4, 5e4]
    n, j = (20, 30) if quick else (100, 300)
    return _offline_figure("budget", "budget", xs, lambda x, s: paper_instance(n, j, 10, 5, seed=s, budget=x),
                           "cost budget", f"{n} cloudlets, {j} requests, 10 models", out_dir, seeds=seeds,
                           progress=progress, workers=workers)


def fig_realistic(out_dir: Path, *, seeds: int = 5, quick: bool = False, progress: bool = True,
                  workers: int = 0) -> Path:
    """The realistic scenario (Llama-2-7B bases + LoRA adapters, Gbps backhaul, 50 EUA cloudlets,
    20 models in 4 families) vs the number of requests in {50, 100, 200, 400}."""
    xs = [10, 30] if quick else [50, 100, 200, 400]
    n, k, f = (10, 8, 2) if quick else (50, 20, 4)
    return _offline_figure("realistic", "n_requests", xs, lambda x, s: realistic_instance(n, int(x), k, f, seed=s),
                           "number of requests", f"Realistic: {n} cloudlets, {k} LoRA models on {f} 7B bases, "
                           "1-10 Gbps links", out_dir, seeds=seeds, progress=progress, workers=workers)


def fig_online(out_dir: Path, *, seeds: int = 5, quick: bool = False, progress: bool = True,
               workers: int = 0) -> Path:
    """Regret and penalty per round (EMA-smoothed) of OL, MAB and ADMS (CODE's convergence test:
    400 requests, 50 models, K/5 families, N = 50 features, d = 25, 100 cloudlets)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    n, j, k, nf, d = (10, 60, 10, 10, 5) if quick else (100, 400, 50, 50, 25)
    path = out_dir / "pulling_online.csv"
    points = [{"figure": "online", "seed": s} for s in range(seeds)]

    def run_point(point: dict[str, Any]) -> list[dict[str, Any]]:
        pp = paper_instance(n, j, k, max(1, k // 5), seed=point["seed"])
        rows = []
        for label, policy in (("OL", "ts"), ("MAB", "mab"), ("ADMS", "adms")):
            res = pulling_online(pp, policy, point["seed"], n_features=nf, d=d)
            reg, pen = ema(res.regret), ema(res.penalty)
            for t in range(j):
                rows.append({"algorithm": label, "round": t, "regret": float(reg[t]), "penalty": float(pen[t]),
                             "regret_raw": float(res.regret[t]), "penalty_raw": float(res.penalty[t]),
                             "total_delay": res.total_delay, "mean_cost": res.mean_cost,
                             "mean_accuracy": res.mean_accuracy, "runtime_s": res.runtime_s})
        return rows

    run_sweep(path, points, run_point, progress=progress, workers=workers, description="pulling online")
    return _plot_panels(read_rows(path), "round", "request (round)",
                        f"Online: {j} requests, {k} models, N = {nf}, d = {d} (EMA 0.9)", path.with_suffix(".png"),
                        ONLINE, metrics=(("regret", "regret (EMA)"), ("penalty", "penalty (EMA)")))


def headline(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Appro against the best comparator (NBS, NonShare, SC) over all rows: mean relative change of
    total delay and cost (negative = lower) and of accuracy, per (x, seed) point."""
    by_point: dict[tuple[Any, ...], dict[str, dict[str, Any]]] = {}
    for r in rows:
        key = tuple(sorted((k, v) for k, v in r.items() if k not in ("algorithm", "total_delay", "mean_cost",
                                                                     "mean_accuracy", "feasible", "runtime_s")))
        by_point.setdefault(key, {})[r["algorithm"]] = r
    out: dict[str, list[float]] = {"delay": [], "cost": [], "accuracy": []}
    for algs in by_point.values():
        if "Appro" not in algs:
            continue
        others = [algs[a] for a in ("NBS", "NonShare", "SC") if a in algs]
        if not others:
            continue
        a = algs["Appro"]
        out["delay"].append(a["total_delay"] / min(o["total_delay"] for o in others) - 1)
        out["cost"].append(a["mean_cost"] / min(o["mean_cost"] for o in others) - 1)
        out["accuracy"].append(a["mean_accuracy"] / max(o["mean_accuracy"] for o in others) - 1)
    return {k: float(np.mean(v)) if v else float("nan") for k, v in out.items()}


#: Figure name -> function ``(out_dir, *, seeds, quick, progress, workers) -> Path`` (the PNG).
FIGURES: dict[str, Callable[..., Path]] = {
    "cloudlets": fig_cloudlets,
    "requests": fig_requests,
    "models": fig_models,
    "families": fig_families,
    "memory": fig_memory,
    "accuracy": fig_accuracy,
    "budget": fig_budget,
    "realistic": fig_realistic,
    "online": fig_online,
}
