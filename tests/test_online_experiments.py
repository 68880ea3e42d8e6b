"""``trimcore run online``: figure listing, a quick figure (CSV + PNG, resumable) and the main job's section."""

from __future__ import annotations

from trimcore.cli import main
from trimcore.experiments import online
from trimcore.experiments.sweep import read_rows


def test_figure_list(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["run", "online", "--figure", "list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in online.FIGURES)


def test_quick_figure_resumes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    png = online.fig_memory(tmp_path, seeds=2, quick=True, progress=False)
    assert png.exists() and png.stat().st_size > 0
    rows = read_rows(tmp_path / "online_memory.csv")
    assert len(rows) == 2 * 2 * len(online.POLICY_LABELS)
    assert {r["policy"] for r in rows} == set(online.POLICY_LABELS.values())
    for r in rows:
        parts = sum(r[f"cost_{c}"] for c in ("latency", "accuracy", "switching", "cloud", "energy"))
        assert abs(parts - r["cost"]) < 1e-9 and r["lower_bound"] <= r["cost"]
    online.fig_memory(tmp_path, seeds=2, quick=True, progress=False)  # finished points are skipped
    assert len(read_rows(tmp_path / "online_memory.csv")) == len(rows)


def test_block_figure_shows_sharing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    online.fig_block(tmp_path, seeds=1, quick=True, progress=False)
    rows = read_rows(tmp_path / "online_block.csv")
    tight = {r["policy"]: r["cost"] for r in rows if r["memory_gb"] == 16.0}
    assert tight["LC (block-aware)"] < tight["LC (model-granular)"]


def test_main_job_has_an_online_table(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["run", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Online caching" in out and "Belady (offline)" in out
    assert (tmp_path / "online.csv").exists()
