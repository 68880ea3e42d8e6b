"""Resumable sweeps, tidy CSV rows, and mean +- 95% confidence-band plots.

A sweep is a list of points (dicts of parameters, each with a ``seed``); ``run_point`` turns a
point into rows (dicts). Rows are appended to the CSV as each point finishes, so a killed sweep
loses at most the points in flight, and a rerun skips every point already in the file. With
``workers > 0`` (and the ``dist`` extra) points run on a local dask.distributed cluster.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["run_sweep", "read_rows", "aggregate", "plot_bands", "point_key"]


def point_key(point: dict[str, Any]) -> str:
    """Stable identity of a sweep point (its parameters as sorted JSON)."""
    return json.dumps(point, sort_keys=True, default=str)


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a tidy CSV, numbers converted back to float (and ints where exact)."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [{k: _parse(v) for k, v in row.items()} for row in rows]


def _parse(text: str | None) -> Any:
    if text is None or text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if text in ("True", "False"):
        return text == "True"
    return text


def _append(path: Path, rows: Sequence[dict[str, Any]], fields: list[str]) -> list[str]:
    new_fields = fields + [k for row in rows for k in row if k not in fields]
    new_fields = list(dict.fromkeys(new_fields))
    if path.exists() and new_fields != fields:
        # a new column appeared: rewrite the file with the wider header (temp file + rename)
        old = read_rows(path)
        tmp = path.with_suffix(path.suffix + ".tmp")
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=new_fields)
            writer.writeheader()
            writer.writerows(old)
        os.replace(tmp, path)
    exists = path.exists()
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=new_fields)
        if not exists:
            writer.writeheader()
        writer.writerows(rows)
        handle.flush()
        os.fsync(handle.fileno())
    return new_fields


def run_sweep(path: str | Path, points: Iterable[dict[str, Any]], run_point: Callable[[dict[str, Any]], list],
              *, progress: bool = True, workers: int = 0, description: str = "sweep") -> list[dict[str, Any]]:
    """Run every point not yet in ``path`` and return all rows of the file.

    Each row written carries the point's parameters plus a ``point`` column (its key), which is
    how a rerun recognises finished points.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    done = {row.get("point") for row in read_rows(path)}
    todo = [p for p in points if point_key(p) not in done]
    fields = list(read_rows(path)[0].keys()) if done else []

    def finish(point: dict[str, Any], rows: list[dict[str, Any]]) -> None:
        nonlocal fields
        key = point_key(point)
        fields = _append(path, [{**point, **row, "point": key} for row in rows], fields)

    from tqdm.auto import tqdm

    bar = tqdm(total=len(todo), desc=description, disable=not progress or not todo, leave=False)
    if workers > 0 and todo:
        try:
            from dask.distributed import Client, LocalCluster, as_completed
        except ImportError as exc:  # pragma: no cover - depends on the optional extra
            raise ImportError("workers > 0 needs the 'dist' extra: pip install 'trimcore[dist]'") from exc
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True) as cluster, \
                Client(cluster) as client:
            futures = {client.submit(run_point, p, pure=False): p for p in todo}
            for future in as_completed(futures):
                finish(futures[future], future.result())
                bar.update()
    else:
        for point in todo:
            finish(point, run_point(point))
            bar.update()
    bar.close()
    return read_rows(path)


def aggregate(rows: Sequence[dict[str, Any]], x: str, y: str, group: str) -> dict[str, dict[str, np.ndarray]]:
    """Per group: sorted x values, mean of y, and the half-width of its 95% confidence interval."""
    from scipy import stats

    out: dict[str, dict[str, np.ndarray]] = {}
    for name in dict.fromkeys(str(r[group]) for r in rows):
        sub = [r for r in rows if str(r[group]) == name and r.get(y) is not None]
        xs = sorted({r[x] for r in sub})
        mean, half = [], []
        for value in xs:
            ys = np.array([r[y] for r in sub if r[x] == value], dtype=float)
            mean.append(ys.mean())
            if ys.size > 1:
                half.append(stats.t.ppf(0.975, ys.size - 1) * ys.std(ddof=1) / np.sqrt(ys.size))
            else:
                half.append(0.0)
        out[name] = {"x": np.array(xs, dtype=float), "mean": np.array(mean), "ci": np.array(half)}
    return out


def plot_bands(rows: Sequence[dict[str, Any]], x: str, y: str, group: str, path: str | Path, *, xlabel: str,
               ylabel: str, title: str, logx: bool = False, logy: bool = False,
               styles: dict[str, tuple[str, str, str]] | None = None, order: Sequence[str] | None = None,
               x_scale: float = 1.0, figsize: tuple[float, float] = (6.4, 4.2), legend_cols: int = 1) -> Path:
    """Line per group (mean over seeds) with a shaded 95% confidence band; writes a PNG.

    ``styles`` maps a group to (colour, line style, marker); ``order`` fixes the legend order;
    ``x_scale`` multiplies the x values (units on the axis).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize, dpi=120)
    series_of = aggregate(rows, x, y, group)
    names = [n for n in order if n in series_of] if order is not None else list(series_of)
    for name in names:
        series = series_of[name]
        color, ls, marker = (styles or {}).get(name, (None, "-", "o"))
        xs = series["x"] * x_scale
        line, = ax.plot(xs, series["mean"], color=color, linestyle=ls, marker=marker, ms=3.5, label=name)
        ax.fill_between(xs, series["mean"] - series["ci"], series["mean"] + series["ci"],
                        color=line.get_color(), alpha=0.18, lw=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7.5 if legend_cols > 1 else 8, ncol=legend_cols)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
