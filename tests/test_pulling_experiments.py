"""Pulling experiments and CLI: figures write CSV + PNG, sweeps resume, the headline is computed."""

from __future__ import annotations

import pytest

from trimcore.cli import main
from trimcore.experiments import pulling as ex
from trimcore.experiments.sweep import read_rows


def test_figure_list(capsys):
    assert main(["run", "pulling", "--figure", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("cloudlets", "requests", "models", "families", "memory", "accuracy", "budget", "realistic", "online"):
        assert name in out


@pytest.mark.parametrize("name", ["requests", "online"])
def test_quick_figure_writes_and_resumes(tmp_path, name):
    png = ex.FIGURES[name](tmp_path, seeds=2, quick=True, progress=False)
    csv = png.with_suffix(".csv")
    assert png.exists() and csv.exists()
    rows = read_rows(csv)
    algorithms = {r["algorithm"] for r in rows}
    assert algorithms == set(ex.ONLINE if name == "online" else ex.OFFLINE)
    assert {r["seed"] for r in rows} == {0, 1}
    ex.FIGURES[name](tmp_path, seeds=2, quick=True, progress=False)  # resumes: nothing recomputed
    assert len(read_rows(csv)) == len(rows)
    if name == "requests":
        for r in rows:  # LP is a lower bound of every feasible algorithm's delay at its point
            if r["algorithm"] != "LP" and r["feasible"]:
                lp = next(q for q in rows if q["point"] == r["point"] and q["algorithm"] == "LP")
                assert lp["total_delay"] <= r["total_delay"] * (1 + 1e-7)
        h = ex.headline(rows)
        assert h["delay"] < 0  # Appro beats every comparator on these instances


def test_headline_arithmetic():
    rows = [{"x": 1, "seed": 0, "algorithm": "Appro", "total_delay": 60.0, "mean_cost": 5.0, "mean_accuracy": 0.7},
            {"x": 1, "seed": 0, "algorithm": "NonShare", "total_delay": 100.0, "mean_cost": 10.0,
             "mean_accuracy": 0.9},
            {"x": 1, "seed": 0, "algorithm": "SC", "total_delay": 200.0, "mean_cost": 20.0, "mean_accuracy": 0.9}]
    h = ex.headline(rows)
    assert h["delay"] == pytest.approx(-0.4) and h["cost"] == pytest.approx(-0.5)
    assert h["accuracy"] == pytest.approx(0.7 / 0.9 - 1)
