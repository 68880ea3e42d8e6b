"""TrimCaching figures: every figure runs quick into a temp dir; sweeps resume without recomputing."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("matplotlib")

from trimcore.experiments import trimcaching as tcx  # noqa: E402
from trimcore.experiments.sweep import read_rows  # noqa: E402

# extra outputs each figure writes besides trimcaching_<name>.{csv,png}
EXTRA = {
    "capacity": ["capacity_gain.csv", "capacity_gain.png", "capacity_gain.md"],
    "spec_vs_gen": ["spec_vs_gen_nested.csv", "spec_vs_gen_nested.png"],
    "eps": ["eps_runtime.png"],
    "mobility": ["mobility_replace.png"],
}


def test_figures_registry():
    assert set(tcx.FIGURES) == {"capacity", "users", "servers", "latency", "zipf", "spec_vs_gen", "eps", "runtime",
                                "mobility"}


@pytest.mark.parametrize("name", sorted(tcx.FIGURES))
def test_figure_quick_writes_csv_and_png(name, tmp_path):
    png = tcx.FIGURES[name](tmp_path, quick=True, progress=False)
    assert png == tmp_path / f"trimcaching_{name}.png"
    assert png.stat().st_size > 1000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = read_rows(tmp_path / f"trimcaching_{name}.csv")
    assert rows, "empty CSV"
    assert {r["seed"] for r in rows} == {0, 1}  # quick: 2 seeds
    for extra in EXTRA.get(name, []):
        assert (tmp_path / f"trimcaching_{extra}").stat().st_size > 0
    for r in rows:
        if r.get("hit_ratio") is not None:
            assert 0.0 <= r["hit_ratio"] <= 1.0 + 1e-9
        if r.get("feasible") is not None:
            assert r["feasible"] is True


def test_capacity_rows_are_tidy_and_bounded(tmp_path):
    tcx.fig_capacity(tmp_path, quick=True, progress=False)
    rows = read_rows(tmp_path / "trimcaching_capacity.csv")
    points = {r["point"] for r in rows}
    # one row per algorithm per point
    assert len(rows) == len(points) * len(tcx.ALGORITHMS)
    for point in points:
        algos = [r["algorithm"] for r in rows if r["point"] == point]
        assert sorted(algos) == sorted(tcx.ALGORITHMS)
        gen = next(r for r in rows if r["point"] == point and r["algorithm"] == tcx.GEN)
        assert gen["upper_bound"] >= max(r["hit_ratio"] for r in rows if r["point"] == point) - 1e-9
    gains = read_rows(tmp_path / "trimcaching_capacity_gain.csv")
    assert len(gains) == 2 * len(points)  # Gen and Spec vs Independent, per point
    for g in gains:
        assert math.isclose(g["gain_abs"], g["hit_ratio"] - g["baseline_hit_ratio"], abs_tol=1e-12)
    table = (tmp_path / "trimcaching_capacity_gain.md").read_text()
    assert table.count("\n") == 2 + len({r["capacity_mb"] for r in rows})


def test_spec_vs_gen_ratios_respect_optimum(tmp_path):
    tcx.fig_spec_vs_gen(tmp_path, quick=True, progress=False)
    for name in ("spec_vs_gen", "spec_vs_gen_nested"):
        rows = read_rows(tmp_path / f"trimcaching_{name}.csv")
        for r in rows:
            if r["opt_status"] != "optimal":
                continue
            if r["algorithm"].startswith("certified bound"):
                assert r["ratio_to_opt"] >= 1.0 - 1e-6
            else:
                assert r["ratio_to_opt"] <= 1.0 + 1e-6
            if r["algorithm"] == tcx.SPEC:
                assert r["ratio_to_opt"] >= (1 - 0.1) / 2 - 1e-9


def test_resumed_sweep_neither_recomputes_nor_duplicates(tmp_path, monkeypatch):
    calls = []
    original = tcx.run_algorithms_point

    def counting(point):
        calls.append(point)
        return original(point)

    monkeypatch.setattr(tcx, "run_algorithms_point", counting)
    tcx.fig_zipf(tmp_path, quick=True, progress=False)
    first = read_rows(tmp_path / "trimcaching_zipf.csv")
    n_points = len(calls)
    assert n_points == 3 * 2  # 3 exponents x 2 seeds
    tcx.fig_zipf(tmp_path, quick=True, progress=False)
    assert len(calls) == n_points  # nothing recomputed
    assert read_rows(tmp_path / "trimcaching_zipf.csv") == first  # nothing duplicated


def test_more_seeds_extend_an_existing_sweep(tmp_path, monkeypatch):
    calls = []
    original = tcx.run_algorithms_point
    monkeypatch.setattr(tcx, "run_algorithms_point", lambda p: calls.append(p) or original(p))
    monkeypatch.setattr(tcx, "_seeds", lambda seeds, quick: range(seeds))
    tcx.fig_latency(tmp_path, seeds=1, quick=True, progress=False)
    assert len(calls) == 3
    tcx.fig_latency(tmp_path, seeds=2, quick=True, progress=False)
    assert len(calls) == 6 and {p["seed"] for p in calls[3:]} == {1}
    rows = read_rows(tmp_path / "trimcaching_latency.csv")
    assert len(rows) == 6 * len(tcx.ALGORITHMS)


def test_interrupted_sweep_resumes(tmp_path, monkeypatch):
    original = tcx.run_algorithms_point
    done = []

    def dies_on_third(point):
        if len(done) == 2:
            raise KeyboardInterrupt
        done.append(point)
        return original(point)

    monkeypatch.setattr(tcx, "run_algorithms_point", dies_on_third)
    with pytest.raises(KeyboardInterrupt):
        tcx.fig_users(tmp_path, quick=True, progress=False)
    assert len({r["point"] for r in read_rows(tmp_path / "trimcaching_users.csv")}) == 2
    calls = []
    monkeypatch.setattr(tcx, "run_algorithms_point", lambda p: calls.append(p) or original(p))
    tcx.fig_users(tmp_path, quick=True, progress=False)
    assert len(calls) == 3 * 2 - 2
    rows = read_rows(tmp_path / "trimcaching_users.csv")
    assert len({r["point"] for r in rows}) == 6 and len(rows) == 6 * len(tcx.ALGORITHMS)


def test_gain_table_numbers():
    rows = []
    for seed, (gen, spec, ind) in enumerate([(0.6, 0.5, 0.4), (0.3, 0.3, 0.2)]):
        for name, hit in ((tcx.GEN, gen), (tcx.SPEC, spec), (tcx.IND, ind)):
            rows.append({"point": f"p{seed}", "capacity_mb": 100, "seed": seed, "algorithm": name, "hit_ratio": hit})
    gains = tcx.gain_rows(rows)
    assert [round(g["gain_pct"], 9) for g in gains if g["comparison"].startswith(tcx.GEN)] == [50.0, 50.0]
    table = tcx.gain_table(rows)
    assert "| 100 | 0.4500 | 0.4000 | 0.3000 | +50.00 | +50.00 ± 0.00 | +33.33 | 2 |" in table


def test_bad_seed_count(tmp_path):
    with pytest.raises(ValueError, match="seeds"):
        tcx.fig_capacity(tmp_path, seeds=0, progress=False)
