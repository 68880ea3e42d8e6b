"""Resumable sweeps, tidy CSV rows, and mean +- 95% confidence-band plots.

A sweep is a list of points (dicts of parameters, each with a ``seed``); ``run_point`` turns a
point into rows (dicts). Each finished point's rows are appended to the CSV in one write, flushed
to disk (fsync), each row carrying ``point`` (the point's key) and ``point_rows`` (how many rows the
point has). A killed sweep loses at most the points in flight, and a rerun skips every point
already in the file; a tail torn by a crash or a full disk (an incomplete line, a point with
fewer rows than ``point_rows``) is dropped with a warning and recomputed. With
``workers > 0`` (and the ``dist`` extra) points run on a local dask.distributed cluster.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trimcore.errors import InstanceError

__all__ = ["run_sweep", "read_rows", "aggregate", "plot_bands", "point_key", "save_figure"]


def point_key(point: dict[str, Any]) -> str:
    """Stable identity of a sweep point (its parameters as sorted JSON)."""
    return json.dumps(point, sort_keys=True, default=str)


#: Column that records how many rows its point wrote: a point with fewer rows in the file is torn.
ROWS_COLUMN = "point_rows"


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a tidy CSV, numbers converted back to float (and ints where exact).

    A torn tail (the last write cut short by a crash, power loss or a full disk) is left out with
    a warning: the incomplete last line and every row of a point that has fewer rows than its
    ``point_rows`` says. :func:`run_sweep` then recomputes that point.
    """
    path = Path(path)
    if not path.exists():
        return []
    fields, rows, torn = _intact(path)
    if torn:
        warnings.warn(f"{path}: {torn}; left out (a rerun of the sweep recomputes it)", RuntimeWarning,
                      stacklevel=2)
    return [{k: _parse(v) for k, v in row.items()} for row in rows]


def _intact(path: Path) -> tuple[list[str], list[dict[str, str]], str]:
    """Header, the rows of complete points, and what was torn off the tail ('' when nothing)."""
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1  # bytes after the last newline are a line cut short
    torn = [f"{len(data) - end} bytes of an incomplete last line"] if end < len(data) else []
    try:
        records = list(csv.reader(io.StringIO(data[:end].decode("utf-8"), newline="")))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InstanceError(f"{path}: not a sweep CSV ({type(exc).__name__}: {exc})") from None
    if not records:
        return [], [], "; ".join(torn)
    fields, body = records[0], records[1:]
    for line, record in enumerate(body[:-1], start=2):
        if len(record) != len(fields):
            raise InstanceError(f"{path}: line {line} has {len(record)} fields, the header {len(fields)}; "
                                "the file is damaged in the middle, not just torn at the end")
    if body and len(body[-1]) != len(fields):
        torn.append("a last row with missing fields")
        body = body[:-1]
    rows = [dict(zip(fields, record, strict=True)) for record in body]
    if ROWS_COLUMN in fields:
        count: dict[str, int] = {}
        declared: dict[str, set[str]] = {}
        for row in rows:
            key = row.get("point", "")
            count[key] = count.get(key, 0) + 1
            declared.setdefault(key, set()).add(row[ROWS_COLUMN])
        # rows written before the column existed say "": nothing to check for them
        partial = {key for key, n in count.items() if declared[key] - {""} not in (set(), {str(n)})}
        if partial:
            torn.append(f"{sum(count[k] for k in partial)} rows of {len(partial)} incomplete point(s)")
            rows = [r for r in rows if r.get("point", "") not in partial]
    return fields, rows, "; ".join(torn)


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


def _csv_text(fields: list[str], rows: Sequence[dict[str, Any]], header: bool) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _rewrite(path: Path, fields: list[str], rows: Sequence[dict[str, Any]]) -> None:
    """Replace ``path`` atomically (temporary file in its directory, fsync, rename, fsync of the directory)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(_csv_text(fields, rows, header=True))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _append(path: Path, rows: Sequence[dict[str, Any]], fields: list[str]) -> list[str]:
    """Append one point's rows in a single write, flushed to disk; returns the header now in use.

    A failed write (a full disk) is cut back to the file's previous end, so the file stays whole.
    """
    new_fields = list(dict.fromkeys(fields + [k for row in rows for k in row]))
    if path.exists() and new_fields != fields:
        # a new column appeared: rewrite the file with the wider header, atomically
        _rewrite(path, new_fields, _intact(path)[1])
    data = _csv_text(new_fields, rows, header=not path.exists())
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        start = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:  # one write() in practice; a short write (signal, quota) continues
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise
    finally:
        os.close(fd)
    return new_fields


def run_sweep(path: str | Path, points: Iterable[dict[str, Any]], run_point: Callable[[dict[str, Any]], list],
              *, progress: bool = True, workers: int = 0, description: str = "sweep") -> list[dict[str, Any]]:
    """Run every point not yet in ``path`` and return all rows of the file.

    Each row written carries the point's parameters plus a ``point`` column (its key), which is
    how a rerun recognises finished points.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fields: list[str] = []
    done: set[str] = set()
    if path.exists():
        fields, intact, torn = _intact(path)
        if torn:
            warnings.warn(f"{path}: dropped {torn} (an interrupted write); recomputing", RuntimeWarning,
                          stacklevel=2)
            if intact or fields:
                _rewrite(path, fields, intact)
            else:
                path.unlink()
        done = {row.get("point", "") for row in intact}
    todo = [p for p in points if point_key(p) not in done]

    def finish(point: dict[str, Any], rows: list[dict[str, Any]]) -> None:
        nonlocal fields
        key = point_key(point)
        fields = _append(path, [{**point, **row, "point": key, ROWS_COLUMN: len(rows)} for row in rows], fields)

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
    ``x_scale`` multiplies the x values (units on the axis). When every value of ``y`` is >= 0 (a
    ratio, a count, a time), the bands are cut at 0: a mean minus its half-width below 0 would
    show values the quantity cannot take.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize, dpi=120)
    series_of = aggregate(rows, x, y, group)
    nonnegative = all(r[y] >= 0 for r in rows if isinstance(r.get(y), int | float))
    names = [n for n in order if n in series_of] if order is not None else list(series_of)
    for name in names:
        series = series_of[name]
        color, ls, marker = (styles or {}).get(name, (None, "-", "o"))
        xs = series["x"] * x_scale
        line, = ax.plot(xs, series["mean"], color=color, linestyle=ls, marker=marker, ms=3.5, label=name)
        low = series["mean"] - series["ci"]
        ax.fill_between(xs, np.maximum(low, 0.0) if nonnegative else low, series["mean"] + series["ci"],
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
    path = save_figure(fig, path)
    plt.close(fig)
    return path


def save_figure(fig: Any, path: str | Path, **options: Any) -> Path:
    """``fig.savefig`` atomically: a temporary file beside ``path``, fsync, rename (never a torn PNG)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            fig.savefig(handle, format=path.suffix.lstrip(".") or "png", **options)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path
