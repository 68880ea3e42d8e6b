"""scripts/perf_table.py: the targets name benchmarks the suite has, and a lost one is loud."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PREFIXES = ("time_", "timeraw_", "peakmem_", "mem_", "track_")


def _script():
    path = ROOT / "scripts" / "perf_table.py"
    if not path.exists() or not (ROOT / "benchmarks").is_dir():
        pytest.skip("the source tree's scripts/ and benchmarks/ are not here")
    spec = importlib.util.spec_from_file_location("perf_table", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["perf_table"] = module  # dataclasses resolve their module
    spec.loader.exec_module(module)
    return module


def _suite() -> set[str]:
    """Benchmark names as asv forms them (module.Class.method, module.function)."""
    sys.path.insert(0, str(ROOT))
    try:
        names = set()
        for path in sorted((ROOT / "benchmarks").glob("*.py")):
            if path.stem == "__init__":
                continue
            module = importlib.import_module(f"benchmarks.{path.stem}")
            for attr, value in vars(module).items():
                if inspect.isclass(value) and value.__module__ == module.__name__:
                    names |= {f"{path.stem}.{attr}.{m}" for m in dir(value) if m.startswith(PREFIXES)}
                elif inspect.isfunction(value) and attr.startswith(PREFIXES):
                    names.add(f"{path.stem}.{attr}")
        return names
    finally:
        sys.path.remove(str(ROOT))


def test_every_target_reads_a_benchmark_of_the_suite():
    script = _script()
    assert script.unknown_benchmarks(_suite()) == []


def _results(tmp_path: Path, names: list[str]) -> tuple[Path, Path]:
    results = {name: [[0.5], [["'cpp'"]]] for name in names}
    data = {"result_columns": ["result", "params"], "results": results, "commit_hash": "abc123",
            "env_name": "existing-py", "date": 1, "params": {"machine": "box", "num_cpu": "2"}}
    machine = tmp_path / "box"
    machine.mkdir()
    (machine / "abc123-existing.json").write_text(json.dumps(data))
    meta = {name: {"type": "time", "unit": "seconds", "param_names": ["backend"]} for name in names}
    (tmp_path / "benchmarks.json").write_text(json.dumps({**meta, "version": 2}))
    return machine / "abc123-existing.json", tmp_path / "benchmarks.json"


def test_a_renamed_benchmark_is_flagged_and_fails(tmp_path, capsys):
    script = _script()
    results, meta = _results(tmp_path, ["bench_x.Renamed.time_it"])
    text = script.render(results, meta, False)
    assert "no such benchmark" in text and "bench_placement.Gen.time_trimcaching_gen" in text
    assert "| `bench_x.Renamed` |" not in text and "#### `bench_x.Renamed`" in text  # tables come from results
    assert script.main(["--results-dir", str(tmp_path)]) == 1
    assert "targets read benchmarks the suite does not have" in capsys.readouterr().err


def test_write_replaces_only_the_generated_block(tmp_path):
    script = _script()
    _results(tmp_path, sorted({n for t in script.TARGETS for n in t.benchmarks}))
    doc = tmp_path / "perf.md"
    doc.write_text(f"# reading\n{script.BEGIN}\nstale table\n{script.END}\nafter\n")
    assert script.main(["--results-dir", str(tmp_path), "--write", str(doc)]) == 0
    text = doc.read_text()
    assert text.startswith("# reading\n") and text.endswith("after\n") and "stale table" not in text
    assert "no such benchmark" not in text


def test_keep_missing_carries_over_only_what_the_run_lacks(tmp_path):
    script = _script()
    names = sorted({n for t in script.TARGETS for n in t.benchmarks})
    _results(tmp_path, names)
    doc = tmp_path / "perf.md"
    first = script.render(next((tmp_path / "box").glob("*.json")), tmp_path / "benchmarks.json", False)
    first = first.replace("not measured", "12 ms").replace("| ? |", "| yes |")  # a fuller earlier run
    doc.write_text(f"# reading\n{script.BEGIN}\n{first}{script.END}\nafter\n")
    # a partial run: one benchmark only, of a class the earlier block also has
    (tmp_path / "box" / "abc123-existing.json").unlink()
    partial = tmp_path / "partial"
    partial.mkdir()
    _results(partial, [names[0]])
    (partial / "benchmarks.json").write_text((tmp_path / "benchmarks.json").read_text())
    assert script.main(["--results-dir", str(partial), "--write", str(doc), "--keep-missing"]) == 0
    text = doc.read_text()
    block = text.split(script.BEGIN)[1].split(script.END)[0]
    assert text.startswith("# reading\n") and text.endswith("after\n")
    measured_now = names[0].rsplit(".", 1)[0]
    assert block.count(f"#### `{measured_now}`") == 1  # the run's own table, not a second copy
    carried = [g for g in {n.rsplit(".", 1)[0] for n in names} if g != measured_now]
    assert carried and all(f"#### `{g}`\n\n_carried over from" in block for g in carried)
    assert "not measured" not in block and "| yes |" in block
    assert all("(carried over from commit abc123)" in line for line in block.splitlines() if line.startswith("| #"))
    # without the flag nothing is carried
    assert script.main(["--results-dir", str(partial), "--write", str(doc)]) == 0
    assert "carried over" not in doc.read_text() and "not measured" in doc.read_text()
