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

import math
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from trimcore.experiments.sweep import plot_bands, read_rows, run_sweep, save_figure
from trimcore.kernels.online.reference import LC, CacheView
from trimcore.online import CachingProblem, CachingResult, make_caching_instance, simulate_caching

__all__ = ["FIGURES", "DEFAULT_SCENARIO", "DEFAULT_FLAGS", "ADMISSIONS", "POLICY_LABELS", "BASELINES",
           "LC_VARIANTS",
           "REGIME_KEYS",
           "DRIFT_KEYS", "default_problem", "run_policies", "churn", "victim_agreement", "regime_gaps"]

#: Scenario of every figure unless the figure changes one entry.
DEFAULT_SCENARIO: dict[str, Any] = {"n_servers": 3, "library": "llm", "memory_gb": 40.0, "n_slots": 500,
                                    "arrival_rate": 5.0, "zipf": 0.8, "nu": 0.9, "load_bandwidth": 25e9}
#: Decision flags of every run (cost-based admission, substitution allowed).
DEFAULT_FLAGS: dict[str, Any] = {"greedy_admission": False, "allow_substitution": True, "admission_horizon": 50.0}
#: Admission rules of the figures: ``"cost"`` (the default: the §5.0 cost comparison, one-off load costs
#: spread over ``admission_horizon`` requests) and ``"reactive"`` (the spec's ``greedy_admission``: every
#: miss on a model that fits loads it, the classic setting that isolates the replacement rule).
ADMISSIONS: dict[str, dict[str, Any]] = {"cost": DEFAULT_FLAGS,
                                         "reactive": {**DEFAULT_FLAGS, "greedy_admission": True}}
#: The online baselines LC is compared with (spec §7 claim 1: LC <= LFU/LRU/FIFO/Random).
BASELINES: tuple[str, ...] = ("lru", "lfu", "fifo", "random")
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
            "cloud_ratio": counts["cloud"] / n, "mean_accuracy": res.mean_accuracy,
            "loaded_gb": res.loaded_gb, "requests": res.n_requests,
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


def _admission(admission: str) -> tuple[str, dict[str, Any], str]:
    """CSV suffix, decision flags and title note of an admission rule (:data:`ADMISSIONS`)."""
    if admission not in ADMISSIONS:
        raise ValueError(f"admission must be one of {tuple(ADMISSIONS)}, not {admission!r}")
    if admission == "cost":
        return "", ADMISSIONS[admission], ""
    return f"_{admission}", ADMISSIONS[admission], f", {admission} cache (every miss loads)"


def fig_memory(out_dir: Path, *, seeds: int = 10, quick: bool = False, progress: bool = True, workers: int = 0,
               admission: str = "cost") -> Path:
    """System cost vs GPU memory per server (16-160 GB)."""
    tag, flags, note = _admission(admission)
    xs = [24, 80] if quick else [16, 24, 40, 80, 160]
    path = sweep(out_dir, "memory" + tag, "memory_gb", xs, lambda x, s: default_problem(s, quick=quick, memory_gb=x),
                 seeds=seeds, progress=progress, workers=workers, flags=lambda x: flags)
    return _plot(path, "memory_gb", "GPU memory per server (GB)",
                 f"System cost vs GPU memory (LLM table, nu = 0.9{note})")


def fig_nu(out_dir: Path, *, seeds: int = 10, quick: bool = False, progress: bool = True, workers: int = 0,
           admission: str = "cost") -> Path:
    """System cost vs the vanishing factor nu, down to the nu -> 0 ablation (context worthless at once)."""
    tag, flags, note = _admission(admission)
    xs = [0.0, 0.9] if quick else [0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99]
    path = sweep(out_dir, "nu" + tag, "nu", xs, lambda x, s: default_problem(s, quick=quick, nu=x), seeds=seeds,
                 progress=progress, workers=workers, flags=lambda x: flags)
    return _plot(path, "nu", "vanishing factor nu", f"System cost vs nu (40 GB; nu = 0: the ablation{note})")


def fig_zipf(out_dir: Path, *, seeds: int = 10, quick: bool = False, progress: bool = True, workers: int = 0,
             admission: str = "cost") -> Path:
    """System cost vs the Zipf exponent of popularity (0.5-1.2)."""
    tag, flags, note = _admission(admission)
    xs = [0.5, 1.2] if quick else [0.5, 0.6, 0.8, 1.0, 1.2]
    path = sweep(out_dir, "zipf" + tag, "zipf", xs, lambda x, s: default_problem(s, quick=quick, zipf=x),
                 seeds=seeds, progress=progress, workers=workers, flags=lambda x: flags)
    return _plot(path, "zipf", "Zipf exponent", f"System cost vs popularity skew (40 GB, nu = 0.9{note})")


def fig_arrival(out_dir: Path, *, seeds: int = 10, quick: bool = False, progress: bool = True,
                workers: int = 0, admission: str = "cost") -> Path:
    """System cost vs the arrival rate per server per slot (1-20)."""
    tag, flags, note = _admission(admission)
    xs = [1, 10] if quick else [1, 2, 5, 10, 20]
    path = sweep(out_dir, "arrival" + tag, "arrival_rate", xs,
                 lambda x, s: default_problem(s, quick=quick, arrival_rate=x), seeds=seeds, progress=progress,
                 workers=workers, flags=lambda x: flags)
    return _plot(path, "arrival_rate", "requests per server per slot (Poisson mean)",
                 f"System cost vs arrival rate (40 GB, nu = 0.9{note})", logx=True)


def fig_drift(out_dir: Path, *, seeds: int = 10, quick: bool = False, progress: bool = True,
              workers: int = 0, admission: str = "cost") -> Path:
    """System cost vs popularity drift (beyond the spec): every ``popularity_period`` slots each server's
    Zipf rank order is drawn afresh; 500 slots = no change within the trace (the stationary default)."""
    tag, flags, note = _admission(admission)
    xs = [25, 500] if quick else [10, 25, 50, 100, 250, 500]
    path = sweep(out_dir, "drift" + tag, "popularity_period", xs,
                 lambda x, s: default_problem(s, quick=quick, popularity_period=int(x)), seeds=seeds,
                 progress=progress, workers=workers, flags=lambda x: flags)
    return _plot(path, "popularity_period", "slots between changes of the popularity ranking",
                 f"System cost vs popularity drift (40 GB, nu = 0.9{note})", logx=True)


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


def churn(cp: CachingProblem, res: CachingResult, *, young_slots: int = 5) -> dict[str, float]:
    """How a run uses its memory: loads and evictions per request, and the share of evictions whose
    victim had been loaded fewer than ``young_slots`` slots before (a newcomer thrown out again: the
    new-item problem of spec §5.1, where LC's extra loads come from)."""
    n = max(res.n_requests, 1)
    load_slot: dict[tuple[int, int], int] = {}
    young = total = 0
    for r in np.flatnonzero(res.outcome == 2).tolist():
        s, t = int(cp.server[r]), int(cp.slot[r])
        for v in res.evicted[res.evict_ptr[r]:res.evict_ptr[r + 1]].tolist():
            total += 1
            young += t - load_slot.get((s, int(v)), -young_slots) < young_slots
        load_slot[(s, int(cp.model[r]))] = t
    return {"load_ratio": res.outcome_counts()["load"] / n, "evictions_per_request": total / n,
            "young_evictions": young / total if total else math.nan}


class _Agreement(LC):
    """LC's victim rule that also records, per eviction, whether LFU's and LRU's rules pick the same model."""

    name = "lc_agreement"

    def __init__(self) -> None:
        super().__init__("min_value")
        self.same_lfu = self.same_lru = self.calls = 0

    def select_victim(self, candidates: list[int], view: CacheView) -> int:
        v = super().select_victim(candidates, view)
        self.calls += 1
        self.same_lfu += v == min(candidates, key=lambda u: (view.frequency(u), view.last_use(u), u))
        self.same_lru += v == min(candidates, key=lambda u: (view.last_use(u), u))
        return v


def victim_agreement(cp: CachingProblem, **flags: Any) -> dict[str, float]:
    """Replay LC on the reference tier and count, at every victim choice, whether LFU's rule (fewest uses)
    and LRU's rule (oldest use) would have evicted the same model from the same candidates.

    Returns ``cost`` (LC's, identical to ``simulate_caching(cp, "lc")``), ``choices`` and the shares
    ``same_as_lfu``, ``same_as_lru`` (NaN without a choice).
    """
    pol = _Agreement()
    res = simulate_caching(cp, policy=pol, backend="reference", bound=False, **{**DEFAULT_FLAGS, **flags})
    c = pol.calls
    return {"cost": res.cost, "choices": float(c), "same_as_lfu": pol.same_lfu / c if c else math.nan,
            "same_as_lru": pol.same_lru / c if c else math.nan}


_REGIME_POLICIES = ("lc", "lc_task", *BASELINES)
#: The cell of a ``regime`` row.
REGIME_KEYS: tuple[str, ...] = ("admission", "zipf", "arrival_rate", "memory_gb", "nu")


def fig_regime(out_dir: Path, *, seeds: int = 5, quick: bool = False, progress: bool = True,
               workers: int = 0) -> Path:
    """Regime map: (LC - best online baseline) / best baseline over memory x nu, per Zipf exponent and
    arrival rate, for both admission rules (heat maps; a star marks cells whose paired 95 % interval
    over seeds excludes 0)."""
    grid: dict[str, list[Any]]
    if quick:
        grid = {"admission": list(ADMISSIONS), "zipf": [0.8], "arrival_rate": [5.0], "memory_gb": [24.0, 40.0],
                "nu": [0.0, 0.9]}
    else:
        grid = {"admission": list(ADMISSIONS), "zipf": [0.5, 0.8, 1.2], "arrival_rate": [1.0, 5.0, 20.0],
                "memory_gb": [16.0, 24.0, 32.0, 40.0, 60.0, 80.0], "nu": [0.0, 0.5, 0.9, 0.99]}
    path = Path(out_dir) / "online_regime.csv"
    points = [{"figure": "regime", "admission": a, "zipf": z, "arrival_rate": lam, "memory_gb": mem, "nu": nu,
               "seed": sd} for a in grid["admission"] for z in grid["zipf"] for lam in grid["arrival_rate"]
              for mem in grid["memory_gb"] for nu in grid["nu"] for sd in range(seeds)]

    def run_point(point: dict[str, Any]) -> list[dict[str, Any]]:
        cp = default_problem(point["seed"], quick=quick, memory_gb=point["memory_gb"], nu=point["nu"],
                             zipf=point["zipf"], arrival_rate=point["arrival_rate"])
        rows = []
        for p, r in run_policies(cp, _REGIME_POLICIES, seed=point["seed"], bound=False,
                                 **ADMISSIONS[point["admission"]]).items():
            counts = r.outcome_counts()
            n = max(r.n_requests, 1)
            rows.append({"policy": POLICY_LABELS[p], "cost": r.cost, "hit_ratio": r.hit_ratio,
                         "substitute_ratio": counts["substitute"] / n, "cloud_ratio": counts["cloud"] / n,
                         "loaded_gb": r.loaded_gb, **churn(cp, r)})
        return rows

    rows = run_sweep(path, points, run_point, progress=progress, workers=workers, description="online regime")
    _write_cells(rows, Path(out_dir) / "online_regime_cells.csv")
    return _plot_regime(rows, path.with_suffix(".png"))


def _write_cells(rows: Sequence[dict[str, Any]], path: Path, keys: tuple[str, ...] = REGIME_KEYS) -> None:
    """One line per regime cell: the gap and its interval, plus LC's and the best baseline's churn (means)."""
    import csv

    means: dict[tuple[Any, ...], dict[str, list[float]]] = {}
    for r in rows:
        bucket = means.setdefault((*(r[k] for k in keys), str(r["policy"])), {})
        for col in ("cost", "load_ratio", "young_evictions", "loaded_gb"):
            if r.get(col) is not None and not math.isnan(float(r[col])):
                bucket.setdefault(col, []).append(float(r[col]))

    def mean(key: tuple[Any, ...], label: str, col: str) -> float:
        values = means.get((*key, label), {}).get(col, [])
        return float(np.mean(values)) if values else math.nan

    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow([*keys, "seeds", "gap", "gap_ci95", "best_baseline", "gap_vs_lru", "lc_cost", "best_cost",
                      "lc_load_ratio", "best_load_ratio", "lc_loaded_gb", "best_loaded_gb"])
        for key, cell in sorted(regime_gaps(rows, keys).items(), key=lambda kv: tuple(map(str, kv[0]))):
            out.writerow([*key, cell["seeds"], cell["gap"], cell["ci"], cell["best"], cell["vs_lru"],
                          mean(key, "LC", "cost"), mean(key, cell["best"], "cost"), mean(key, "LC", "load_ratio"),
                          mean(key, cell["best"], "load_ratio"), mean(key, "LC", "loaded_gb"),
                          mean(key, cell["best"], "loaded_gb")])


def regime_gaps(rows: Sequence[dict[str, Any]], keys: tuple[str, ...] = REGIME_KEYS
                ) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Per cell (the values of ``keys``, default ``(admission, zipf, arrival_rate, memory_gb, nu)``) of a
    regime CSV: ``gap`` = (mean LC cost - mean cost of the best baseline) / the latter, that baseline's
    label, the paired 95 % half-width of the gap over seeds (``ci``, 0 with one seed) and ``vs_lru`` (LC
    against LRU, same scale)."""
    from scipy import stats

    cells: dict[tuple[Any, ...], dict[str, dict[int, float]]] = {}
    for r in rows:
        cells.setdefault(tuple(r[k] for k in keys), {}).setdefault(str(r["policy"]), {})[int(r["seed"])] = \
            float(r["cost"])
    out = {}
    labels = [POLICY_LABELS[b] for b in BASELINES]
    for key, by in cells.items():
        seeds = sorted(set.intersection(*(set(by[lab]) for lab in ["LC", *labels])))
        mean = {lab: float(np.mean([by[lab][s] for s in seeds])) for lab in ["LC", *labels]}
        best = min(labels, key=lambda lab: (mean[lab], lab))
        diff = np.array([(by["LC"][s] - by[best][s]) / mean[best] for s in seeds])
        ci = float(stats.t.ppf(0.975, diff.size - 1) * diff.std(ddof=1) / np.sqrt(diff.size)) if diff.size > 1 \
            else 0.0
        out[key] = {"gap": (mean["LC"] - mean[best]) / mean[best], "best": best, "ci": ci,
                    "vs_lru": (mean["LC"] - mean["LRU"]) / mean["LRU"], "seeds": len(seeds)}
    return out


def _plot_regime(rows: Sequence[dict[str, Any]], png: Path, keys: tuple[str, ...] = REGIME_KEYS,
                 rows_by: tuple[str, ...] = ("admission", "arrival_rate"), cols_by: str = "zipf",
                 y: str = "memory_gb", x: str = "nu", ylabel: str = "GPU memory (GB)") -> Path:
    """Heat maps of :func:`regime_gaps`: one panel per (``rows_by`` values, ``cols_by`` value), ``y`` by ``x``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gaps = regime_gaps(rows, keys)
    pos = {k: i for i, k in enumerate(keys)}

    def values(k: str) -> list[Any]:
        found = {key[pos[k]] for key in gaps}
        return [a for a in ADMISSIONS if a in found] if k == "admission" else sorted(found)

    lines = [()] if not rows_by else [(v,) for v in values(rows_by[0])]
    for k in rows_by[1:]:
        lines = [(*line, v) for line in lines for v in values(k)]
    cols, ys, xs = values(cols_by), values(y), values(x)
    fig, axes = plt.subplots(len(lines), len(cols), figsize=(3.1 * len(cols) + 1.2, 2.4 * len(lines) + 0.6),
                             dpi=110, squeeze=False, layout="constrained")
    limit = 5.0
    image = None
    for row, line in enumerate(lines):
        for col, c in enumerate(cols):
            ax = axes[row][col]
            fixed = {**dict(zip(rows_by, line, strict=True)), cols_by: c}
            grid = np.full((len(ys), len(xs)), np.nan)
            for yi, yv in enumerate(ys):
                for xi, xv in enumerate(xs):
                    cell = gaps.get(tuple({**fixed, y: yv, x: xv}[k] for k in keys))
                    if cell is None:
                        continue
                    grid[yi, xi] = 100.0 * cell["gap"]
                    sig = cell["ci"] > 0 and abs(cell["gap"]) > cell["ci"]
                    ax.text(xi, yi, f"{grid[yi, xi]:+.1f}{'*' if sig else ''}\n{cell['best']}", ha="center",
                            va="center", fontsize=5.5)
            image = ax.imshow(grid, cmap="RdBu_r", vmin=-limit, vmax=limit, origin="lower", aspect="auto")
            ax.set_xticks(range(len(xs)), [f"{v:g}" for v in xs], fontsize=7)
            ax.set_yticks(range(len(ys)), [f"{v:g}" for v in ys], fontsize=7)
            ax.set_title(", ".join(f"{k} {v:g}" if not isinstance(v, str) else f"{v} admission"
                                   for k, v in fixed.items()), fontsize=7.5)
            if row == len(lines) - 1:
                ax.set_xlabel(x, fontsize=7.5)
            if col == 0:
                ax.set_ylabel(ylabel, fontsize=7.5)
    if image is not None:
        bar = fig.colorbar(image, ax=axes, shrink=0.6, pad=0.02)
        bar.set_label("(LC - best baseline) / best baseline, %", fontsize=8)
    fig.suptitle("LC against the best of LRU / LFU / FIFO / Random (cell: gap %, that baseline; blue: LC cheaper;\n"
                 "* the paired 95 % interval over seeds excludes 0)", fontsize=9)
    save_figure(fig, png)
    plt.close(fig)
    return png


DRIFT_KEYS: tuple[str, ...] = ("admission", "memory_gb", "popularity_period", "nu")


def fig_drift_regime(out_dir: Path, *, seeds: int = 10, quick: bool = False, progress: bool = True,
                     workers: int = 0) -> Path:
    """Regime map under popularity drift (beyond the spec): LC's gap to the best baseline over the drift
    period x nu, per admission rule and GPU memory (Zipf 0.8, rate 5)."""
    grid: dict[str, list[Any]]
    if quick:
        grid = {"admission": list(ADMISSIONS), "memory_gb": [40.0], "popularity_period": [25], "nu": [0.9]}
    else:
        grid = {"admission": list(ADMISSIONS), "memory_gb": [24.0, 40.0], "popularity_period": [25, 100, 250, 500],
                "nu": [0.5, 0.9, 0.99]}
    path = Path(out_dir) / "online_drift_regime.csv"
    points = [{"figure": "drift_regime", "admission": a, "memory_gb": mem, "popularity_period": per, "nu": nu,
               "seed": sd} for a in grid["admission"] for mem in grid["memory_gb"]
              for per in grid["popularity_period"] for nu in grid["nu"] for sd in range(seeds)]

    def run_point(point: dict[str, Any]) -> list[dict[str, Any]]:
        cp = default_problem(point["seed"], quick=quick, memory_gb=point["memory_gb"], nu=point["nu"],
                             popularity_period=int(point["popularity_period"]))
        return [{"policy": POLICY_LABELS[p], "cost": r.cost, **churn(cp, r)}
                for p, r in run_policies(cp, _REGIME_POLICIES, seed=point["seed"], bound=False,
                                         **ADMISSIONS[point["admission"]]).items()]

    rows = run_sweep(path, points, run_point, progress=progress, workers=workers, description="online drift map")
    _write_cells(rows, Path(out_dir) / "online_drift_regime_cells.csv", DRIFT_KEYS)
    return _plot_regime(rows, path.with_suffix(".png"), DRIFT_KEYS, rows_by=("admission",), cols_by="memory_gb",
                        y="popularity_period", x="nu", ylabel="slots between popularity changes")


def fig_mechanism(out_dir: Path, *, seeds: int = 5, quick: bool = False, progress: bool = True,
                  workers: int = 0) -> Path:
    """Why LC behaves like LFU: at every LC eviction (reactive cache), does LFU's / LRU's rule pick the
    same victim? Share of agreeing choices vs nu, per GPU memory (reference tier, 200 slots)."""
    xs = [0.5, 0.99] if quick else [0.0, 0.3, 0.5, 0.7, 0.9, 0.99]
    mems = [24.0] if quick else [24.0, 40.0]
    path = Path(out_dir) / "online_mechanism.csv"
    points = [{"figure": "mechanism", "memory_gb": mem, "nu": nu, "seed": sd} for mem in mems for nu in xs
              for sd in range(seeds)]

    def run_point(point: dict[str, Any]) -> list[dict[str, Any]]:
        cp = default_problem(point["seed"], quick=quick, n_slots=200, memory_gb=point["memory_gb"], nu=point["nu"])
        agree = victim_agreement(cp, **ADMISSIONS["reactive"])
        return [{"policy": f"{rule} ({point['memory_gb']:g} GB)", "share": agree[f"same_as_{rule.lower()}"],
                 "choices": agree["choices"]} for rule in ("LFU", "LRU")]

    run_sweep(path, points, run_point, progress=progress, workers=workers, description="online mechanism")
    styles = {f"{rule} ({mem:g} GB)": (c, ls, mk) for rule, c, mk in (("LFU", "C2", "^"), ("LRU", "C0", "s"))
              for mem, ls in zip(mems, ("-", "--"), strict=False)}
    return plot_bands([r for r in read_rows(path) if not math.isnan(r["share"])], "nu", "share", "policy",
                      path.with_suffix(".png"), xlabel="vanishing factor nu",
                      ylabel="share of LC's victims the rule also picks",
                      title="LC's victim vs LFU's and LRU's on the same candidates (reactive cache)",
                      styles=styles, order=list(styles), figsize=(7.0, 4.4))


#: LC variants of the ``remedies`` figure: label -> (policy, decision flags, problem options).
LC_VARIANTS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "LC": ("lc", {}, {}),
    "LC, grace 2 slots": ("lc", {"lc_grace_slots": 2}, {}),
    "LC, grace 10 slots": ("lc", {"lc_grace_slots": 10}, {}),
    "LC, prior 2": ("lc", {}, {"lc_prior": 2.0}),
    "LC, prior 8": ("lc", {}, {"lc_prior": 8.0}),
    "LC, max_age": ("lc", {"lc_order": "max_age"}, {}),
    "LC (task-aware)": ("lc_task", {}, {}),
}


def fig_remedies(out_dir: Path, *, seeds: int = 10, quick: bool = False, progress: bool = True,
                 workers: int = 0) -> Path:
    """The spec's remedies for LC's new-item problem (grace period, prior) and its variants (max_age,
    task-aware) against the best of LRU / LFU / FIFO / Random, both admission rules, tight and default
    memory, nu 0.9 and 0.99 (bars: mean gap over seeds)."""
    cells = [(24.0, 0.99)] if quick else [(24.0, 0.9), (24.0, 0.99), (40.0, 0.9), (40.0, 0.99)]
    path = Path(out_dir) / "online_remedies.csv"
    points = [{"figure": "remedies", "admission": a, "memory_gb": mem, "nu": nu, "seed": sd} for a in ADMISSIONS
              for mem, nu in cells for sd in range(seeds)]

    def run_point(point: dict[str, Any]) -> list[dict[str, Any]]:
        base = {"memory_gb": point["memory_gb"], "nu": point["nu"]}
        flags = ADMISSIONS[point["admission"]]
        rows = [{"policy": POLICY_LABELS[p], "cost": r.cost}
                for p, r in run_policies(default_problem(point["seed"], quick=quick, **base), BASELINES,
                                         seed=point["seed"], bound=False, **flags).items()]
        for label, (policy, extra, options) in LC_VARIANTS.items():
            cp = default_problem(point["seed"], quick=quick, **base, **options)
            r = simulate_caching(cp, policy=policy, seed=point["seed"], bound=False, **{**flags, **extra})
            rows.append({"policy": label, "cost": r.cost})
        return rows

    rows = run_sweep(path, points, run_point, progress=progress, workers=workers, description="online remedies")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(ADMISSIONS), figsize=(11, 4.4), dpi=120, sharey=True, squeeze=False)
    width = 0.8 / len(LC_VARIANTS)
    for ax, adm in zip(axes[0], ADMISSIONS, strict=True):
        for v, label in enumerate(LC_VARIANTS):
            gaps = []
            for mem, nu in cells:
                sel = [r for r in rows if (r["admission"], r["memory_gb"], r["nu"]) == (adm, mem, nu)]
                mean = {p: float(np.mean([r["cost"] for r in sel if r["policy"] == p]))
                        for p in {str(r["policy"]) for r in sel}}
                best = min(mean[POLICY_LABELS[b]] for b in BASELINES)
                gaps.append(100.0 * (mean[label] - best) / best)
            ax.bar(np.arange(len(cells)) + (v - (len(LC_VARIANTS) - 1) / 2) * width, gaps, width, label=label)
        ax.axhline(0.0, color="k", lw=0.8)
        ax.set_xticks(range(len(cells)), [f"{mem:g} GB, nu {nu:g}" for mem, nu in cells], fontsize=8)
        ax.set_title(f"{adm} admission", fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    axes[0][0].set_ylabel("(variant - best baseline) / best baseline, %")
    axes[0][-1].legend(fontsize=7)
    fig.suptitle("LC's remedies and variants against the best of LRU / LFU / FIFO / Random (below 0: LC wins)",
                 fontsize=10)
    fig.tight_layout()
    png = save_figure(fig, path.with_suffix(".png"))
    plt.close(fig)
    return png


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
    "memory_reactive": partial(fig_memory, admission="reactive"),
    "nu_reactive": partial(fig_nu, admission="reactive"),
    "zipf_reactive": partial(fig_zipf, admission="reactive"),
    "arrival_reactive": partial(fig_arrival, admission="reactive"),
    "drift": fig_drift,
    "drift_reactive": partial(fig_drift, admission="reactive"),
    "drift_regime": fig_drift_regime,
    "regime": fig_regime,
    "mechanism": fig_mechanism,
    "remedies": fig_remedies,
}
