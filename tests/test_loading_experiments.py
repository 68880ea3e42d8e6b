"""PartialLoading figures: quick runs write tidy CSVs and PNGs, and sweeps resume."""

from __future__ import annotations

import csv

import pytest

from trimcore.experiments.partialloading import ALGORITHMS, FIGURES, sweep


def _rows(path):
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("name", [n for n in FIGURES if n != "gantt"])
def test_quick_sweep_writes_csv_and_png(tmp_path, name):
    png = FIGURES[name](tmp_path, seeds=2, quick=True, progress=False)
    assert png.exists() and png.suffix == ".png" and png.stat().st_size > 1000
    rows = _rows(png.with_suffix(".csv"))
    assert len(rows) == 2 * 2 * len(ALGORITHMS)                       # 2 x values, 2 seeds
    assert {r["algorithm"] for r in rows} == set(ALGORITHMS)
    assert all(r["feasible"] == "True" for r in rows)
    assert all(0 <= int(r["served"]) <= int(r["n_users"]) for r in rows)


def test_gantt(tmp_path):
    png = FIGURES["gantt"](tmp_path, seeds=1, quick=True, progress=False)
    rows = _rows(png.with_suffix(".csv"))
    assert png.exists() and rows
    for r in rows:
        assert float(r["load_start"]) <= float(r["load_end"]) <= float(r["infer_start"]) + 1e-12
        assert float(r["upload_end"]) <= float(r["infer_start"]) + 1e-12
        assert float(r["infer_end"]) <= float(r["deadline"]) * (1 + 1e-9)


def test_sweep_resumes(tmp_path):
    from trimcore.experiments.partialloading import default_problem

    calls = []

    def make(x, seed):
        calls.append((x, seed))
        return default_problem(seed, quick=True, deadline=x)

    algos = {k: ALGORITHMS[k] for k in ("PL-DP", "B2 FCFS")}
    path = sweep(tmp_path, "resume", "deadline_s", [0.1, 0.2], make, seeds=2, progress=False, algorithms=algos)
    assert len(_rows(path)) == 8 and len(calls) == 4
    sweep(tmp_path, "resume", "deadline_s", [0.1, 0.2], make, seeds=2, progress=False, algorithms=algos)
    assert len(_rows(path)) == 8 and len(calls) == 4                   # nothing recomputed
    rows = _rows(path)[:4]                              # a killed run: the first two finished points
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    sweep(tmp_path, "resume", "deadline_s", [0.1, 0.2], make, seeds=3, progress=False, algorithms=algos)
    final = _rows(path)
    assert len(final) == 12
    assert len({(r["deadline_s"], r["seed"], r["algorithm"]) for r in final}) == 12
    assert len(calls) == 4 + 4                                          # only the lost and the new points
