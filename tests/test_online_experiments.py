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


def _idle_context_trace() -> online.CachingProblem:
    """A x5 at slot 0, then B, C, B, C, B, C one per slot; memory for two of the three 1 GB models."""
    slots = [0] * 5 + [1, 2, 3, 4, 5, 6]
    return online.CachingProblem.from_arrays([1e9] * 3, [[0], [1], [2]], [2e9], slots, [0] * 11,
                                             [0] * 5 + [1, 2] * 3)


def test_churn_and_victim_agreement_on_a_hand_trace() -> None:
    """Pure LC keeps the idle A and throws the newcomers out: every eviction is of a model loaded one slot
    before, LFU's rule (A has 5 uses) agrees with every choice and LRU's (A is the oldest) with none."""
    cp = _idle_context_trace()
    reactive = {"greedy_admission": True, "allow_substitution": False}
    lc = online.simulate_caching(cp, policy="lc", **reactive)
    ch = online.churn(cp, lc)
    assert ch["load_ratio"] == 7 / 11 and ch["evictions_per_request"] == 5 / 11 and ch["young_evictions"] == 1.0
    lru = online.simulate_caching(cp, policy="lru", **reactive)
    # LRU evicts A (loaded at slot 0) at slot 2; LC's victims were all loaded the slot before
    assert online.churn(cp, lru, young_slots=2)["young_evictions"] == 0.0
    assert online.churn(cp, lc, young_slots=2)["young_evictions"] == 1.0
    assert online.churn(cp, lru, young_slots=3)["young_evictions"] == 1.0
    agree = online.victim_agreement(cp, **reactive)
    assert agree == {"cost": lc.cost, "choices": 5.0, "same_as_lfu": 1.0, "same_as_lru": 0.0}


def test_reactive_figures_use_greedy_admission(tmp_path) -> None:  # type: ignore[no-untyped-def]
    online.FIGURES["memory_reactive"](tmp_path, seeds=1, quick=True, progress=False)
    rows = read_rows(tmp_path / "online_memory_reactive.csv")
    assert len(rows) == 2 * len(online.POLICY_LABELS)
    cp = online.default_problem(0, quick=True, memory_gb=24)
    want = online.simulate_caching(cp, policy="lc", seed=0, greedy_admission=True, admission_horizon=50.0).cost
    got = next(r["cost"] for r in rows if r["memory_gb"] == 24 and r["policy"] == "LC")
    assert got == want
    cost_based = online.simulate_caching(cp, policy="lc", seed=0, admission_horizon=50.0).cost
    assert got != cost_based  # the two admission rules differ on this trace


def test_regime_figure_and_gaps(tmp_path) -> None:  # type: ignore[no-untyped-def]
    png = online.fig_regime(tmp_path, seeds=2, quick=True, progress=False)
    assert png.exists() and png.stat().st_size > 0
    rows = read_rows(tmp_path / "online_regime.csv")
    assert len(rows) == 2 * 2 * 2 * 2 * 6  # admissions x memory x nu x seeds x policies
    gaps = online.regime_gaps(rows)
    assert len(gaps) == 8
    cells = read_rows(tmp_path / "online_regime_cells.csv")
    assert len(cells) == 8
    for c in cells:
        g = gaps[(c["admission"], c["zipf"], c["arrival_rate"], c["memory_gb"], c["nu"])]
        assert c["gap"] == g["gap"] and c["best_baseline"] == g["best"]
        assert abs(c["lc_cost"] / c["best_cost"] - 1.0 - g["gap"]) < 1e-12
    for (adm, z, lam, mem, nu), cell in gaps.items():
        cost = {s: {r["policy"]: r["cost"] for r in rows if (r["admission"], r["zipf"], r["arrival_rate"],
                                                               r["memory_gb"], r["nu"], r["seed"])
                    == (adm, z, lam, mem, nu, s)} for s in (0, 1)}
        mean = {p: (cost[0][p] + cost[1][p]) / 2 for p in cost[0]}
        best = min(("LRU", "LFU", "FIFO", "Random"), key=lambda p: mean[p])
        assert cell["best"] == best and cell["seeds"] == 2
        assert abs(cell["gap"] - (mean["LC"] - mean[best]) / mean[best]) < 1e-12 and cell["ci"] >= 0


def test_regime_gaps_by_hand() -> None:
    base = {"admission": "cost", "zipf": 0.8, "arrival_rate": 5.0, "memory_gb": 24.0, "nu": 0.9}
    costs = {"LC": (9.0, 11.0), "LRU": (10.0, 12.0), "LFU": (10.0, 10.0), "FIFO": (12.0, 12.0),
             "Random": (13.0, 13.0)}
    rows = [{**base, "seed": s, "policy": p, "cost": c[s]} for p, c in costs.items() for s in (0, 1)]
    cell = online.regime_gaps(rows)[(base["admission"], 0.8, 5.0, 24.0, 0.9)]
    # LFU is the best baseline (mean 10); LC's mean is 10 too; per seed the gaps are -0.1 and +0.1
    assert cell["best"] == "LFU" and cell["gap"] == 0.0 and cell["vs_lru"] == (10.0 - 11.0) / 11.0
    assert abs(cell["ci"] - 12.706204736174703 * 0.1) < 1e-9  # t(0.975, 1) x std 0.1414 / sqrt(2)


def test_remedies_figure(tmp_path) -> None:  # type: ignore[no-untyped-def]
    png = online.fig_remedies(tmp_path, seeds=1, quick=True, progress=False)
    assert png.exists() and png.stat().st_size > 0
    rows = read_rows(tmp_path / "online_remedies.csv")
    assert len(rows) == 2 * (len(online.BASELINES) + len(online.LC_VARIANTS))
    # each variant is the named policy with its flags / problem options on the same trace
    cp = online.default_problem(0, quick=True, memory_gb=24.0, nu=0.99, lc_prior=8.0)
    want = online.simulate_caching(cp, policy="lc", seed=0, greedy_admission=True, admission_horizon=50.0).cost
    assert next(r["cost"] for r in rows if r["admission"] == "reactive" and r["policy"] == "LC, prior 8") == want


def test_drift_figures(tmp_path) -> None:  # type: ignore[no-untyped-def]
    for name in ("drift", "drift_reactive"):
        png = online.FIGURES[name](tmp_path, seeds=1, quick=True, progress=False)
        assert png.exists()
    rows = read_rows(tmp_path / "online_drift_reactive.csv")
    cp = online.default_problem(0, quick=True, popularity_period=25)
    want = online.simulate_caching(cp, policy="lfu", seed=0, greedy_admission=True, admission_horizon=50.0).cost
    assert next(r["cost"] for r in rows if r["popularity_period"] == 25 and r["policy"] == "LFU") == want


def test_drift_regime_figure(tmp_path) -> None:  # type: ignore[no-untyped-def]
    png = online.FIGURES["drift_regime"](tmp_path, seeds=2, quick=True, progress=False)
    assert png.exists()
    cells = read_rows(tmp_path / "online_drift_regime_cells.csv")
    assert {c["admission"] for c in cells} == set(online.ADMISSIONS) and len(cells) == 2
    rows = read_rows(tmp_path / "online_drift_regime.csv")
    gaps = online.regime_gaps(rows, online.DRIFT_KEYS)
    for c in cells:
        assert gaps[(c["admission"], c["memory_gb"], c["popularity_period"], c["nu"])]["gap"] == c["gap"]
