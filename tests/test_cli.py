"""The trimcore command: the main job writes its table, CSV and PNG; bad input is a clean error."""

from __future__ import annotations

import csv

import pytest

from trimcore.cli import main


def test_main_job_on_the_default_scenario(tmp_path, capsys):
    assert main(["run", "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "125 edge servers, 816 users, 30 models" in out
    for family in ("resnet18", "resnet34", "resnet50"):
        assert family in out
    for label in ("TrimCaching Gen", "TrimCaching Spec", "Independent caching"):
        assert label in out
    rows = list(csv.DictReader(open(tmp_path / "placement.csv")))
    assert {r["algorithm"] for r in rows} >= {"trimcaching_gen", "trimcaching_spec", "independent_caching"}
    assert all(r["feasible"] == "True" for r in rows)
    hit = {r["algorithm"]: float(r["hit_ratio"]) for r in rows}
    bound = float(rows[0]["best_upper_bound"])
    assert hit["trimcaching_gen"] > hit["independent_caching"]  # the paper's claim on this scenario
    assert all(h <= bound + 1e-9 for h in hit.values())
    assert (tmp_path / "placement.png").stat().st_size > 10_000
    # the pulling section (issue #12) on its small paper scenario
    assert "Model selection and pulling with parameter sharing (30 cloudlets, 100 requests" in out
    pulling = {r["label"]: r for r in csv.DictReader(open(tmp_path / "pulling.csv"))}
    assert set(pulling) == {"Appro (rounding)", "NonShare", "SC (data center)"}
    assert pulling["Appro (rounding)"]["feasible"] == "True"
    delay = {label: float(r["total_delay"]) for label, r in pulling.items()}
    assert delay["Appro (rounding)"] < delay["NonShare"] < delay["SC (data center)"]


def test_info_and_figure_listing(capsys):
    assert main(["info"]) == 0
    assert "cpp" in capsys.readouterr().out
    assert main(["run", "trimcaching", "--figure", "list"]) == 0
    assert "capacity" in capsys.readouterr().out


def test_bad_input_is_a_clean_error(tmp_path, capsys):
    assert main(["run", "--scenario", "nowhere", "--out", str(tmp_path)]) == 2
    assert "scenario" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("capacity_mb = [")
    assert main(["run", "--config", str(bad), "--out", str(tmp_path)]) == 2
    assert main(["run", "--figure", "capacity"]) == 2
    assert main(["run", "trimcaching", "--figure", "nonsense", "--out", str(tmp_path)]) == 2
    with pytest.raises(SystemExit):
        main(["run", "nopaper"])


def test_scenario_file(tmp_path, capsys):
    config = tmp_path / "small.toml"
    config.write_text('name = "small"\ncapacity_mb = 200.0\n[topology]\nkind = "uniform"\nn_servers = 4\n'
                      'n_users = 20\n')
    assert main(["run", "--config", str(config), "--out", str(tmp_path / "o")]) == 0
    assert "4 edge servers, 20 users" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["default", "nested", "uniform-small", "llm"])
def test_every_named_scenario_builds_its_library_and_topology(name):
    """A section that switches its kind (llm: llm_lora) must not inherit the default kind's options."""
    from trimcore.experiments import scenarios

    spec = scenarios.scenario(name)
    library = scenarios.build_library(spec["library"], seed=0)
    topo = scenarios.build_topology(spec["topology"], seed=0)
    assert library.n_models > 0 and topo is not None
    if name == "llm":
        assert "families" not in spec["library"]


def test_one_version_source():
    """The installed distribution's version is read from trimcore/__init__.py at build time."""
    from importlib import metadata

    try:
        installed = metadata.version("trimcore")
    except metadata.PackageNotFoundError:
        pytest.skip("trimcore is not installed (an in-place build)")
    import trimcore

    assert installed == trimcore.__version__
