#!/usr/bin/env python3
"""Markdown tables from asv results: one table per benchmark class, a targets table, the machine.

Reads ``<results_dir>/<machine>/<commit>-<env>.json`` (asv results format 2) and
``<results_dir>/benchmarks.json`` (benchmark metadata), both written by ``asv run``. For each
benchmark class (or module, for module-level benchmarks) it prints one table with a row per
parameter combination and a column per benchmark: median time (``time_*``, ``timeraw_*``), peak
memory (``peakmem_*``) and tracked values (``track_*``). ``n/a`` marks combinations the benchmark
skips, ``failed`` those that raised.

Usage::

    python scripts/perf_table.py                       # newest results file of the only machine
    python scripts/perf_table.py --machine vm --commit a1997b2 --env existing
    python scripts/perf_table.py --write docs/performance.md --lscpu
    python scripts/perf_table.py --write docs/performance.md --keep-missing   # after a partial asv run -b

``--write`` replaces what lies between the ``<!-- perf_table:begin -->`` and
``<!-- perf_table:end -->`` lines of the file (and leaves the rest as it is); with
``--keep-missing`` the tables and target rows that this results file lacks (a partial run) are
kept from the block it replaces, each marked with the results file it came from.

Standard library only, so it runs in any environment.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import json
import math
import re
import subprocess
import sys
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BEGIN = "<!-- perf_table:begin -->"
END = "<!-- perf_table:end -->"
GIB = 2**30
MIB = 2**20

# ----------------------------------------------------------------------------- loading


@dataclass
class Bench:
    """One benchmark of one results file."""

    name: str  # e.g. bench_placement.Gen.time_trimcaching_gen
    kind: str  # time | peakmemory | track | memory
    unit: str
    param_names: list[str]
    params: list[list[str]]  # repr strings, as asv stores them
    values: list[Any]  # flat over the cartesian product of params; None = failed, NaN = skipped
    q25: list[Any] | None = None
    q75: list[Any] | None = None

    def combos(self) -> list[tuple[str, ...]]:
        return list(itertools.product(*self.params)) if self.params else [()]

    def value(self, *combo: Any) -> Any:
        """The value for one parameter combination, given as Python values (``"cpp"``, ``True``, ``0``)."""
        wanted = tuple(repr(c) for c in combo)
        for got, value in zip(self.combos(), self.values):
            if got == wanted:
                return value
        raise KeyError(f"{self.name}{list(combo)}")


def _load_json(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def find_results(results_dir: Path, machine: str | None, commit: str | None, env: str | None = None) -> Path:
    """The results file to tabulate.

    Of ``machine`` (default: the only one), of ``commit`` (hash prefix; default: the newest commit
    by commit date) and, when several environments ran that commit, of the environment whose
    name contains ``env`` (otherwise the choice is refused rather than guessed).
    """
    machines = sorted(p for p in results_dir.iterdir() if p.is_dir()) if results_dir.is_dir() else []
    if machine is not None:
        machines = [m for m in machines if m.name == machine]
    if not machines:
        sys.exit(f"perf_table: no results for machine {machine!r} in {results_dir} (run `asv run` first)")
    if len(machines) > 1:
        sys.exit(f"perf_table: several machines in {results_dir} ({', '.join(m.name for m in machines)}); "
                 "choose one with --machine")
    files = {p: _load_json(p) for p in machines[0].glob("*.json") if p.name != "machine.json"}
    if commit is not None:
        files = {p: d for p, d in files.items() if str(d.get("commit_hash", "")).startswith(commit)}
    if env is not None:
        files = {p: d for p, d in files.items() if env in str(d.get("env_name", ""))}
    if not files:
        sys.exit(f"perf_table: no results file for commit {commit!r} / env {env!r} in {machines[0]}")
    newest = max(files.values(), key=lambda d: d.get("date") or 0)["commit_hash"]
    chosen = [p for p, d in files.items() if d.get("commit_hash") == newest]
    if len(chosen) > 1:
        names = ", ".join(files[p]["env_name"] for p in chosen)
        sys.exit(f"perf_table: commit {newest[:8]} ran in several environments ({names}); "
                 "choose one with --env (a part of its name) or --file")
    return chosen[0]


def load_benches(results_file: Path, benchmarks_json: Path | None) -> tuple[dict[str, Any], dict[str, Bench]]:
    data = _load_json(results_file)
    meta = _load_json(benchmarks_json) if benchmarks_json and benchmarks_json.is_file() else {}
    columns = data["result_columns"]
    benches: dict[str, Bench] = {}
    for name, row in data["results"].items():
        row = dict(zip(columns, row))
        info = meta.get(name, {})
        values = row.get("result")
        params = row.get("params") or []
        n = len(list(itertools.product(*params))) if params else 1
        if values is None:
            values = [None] * n
        kind = info.get("type") or _kind_from_name(name)
        benches[name] = Bench(name=name, kind=kind, unit=info.get("unit", _unit_of(kind)),
                              param_names=info.get("param_names") or [f"p{i}" for i in range(len(params))],
                              params=params, values=values, q25=row.get("stats_q_25"), q75=row.get("stats_q_75"))
    return data, benches


def _kind_from_name(name: str) -> str:
    short = name.rsplit(".", 1)[-1]
    for prefix, kind in (("time", "time"), ("timeraw", "time"), ("peakmem", "peakmemory"), ("track", "track"),
                         ("mem", "memory")):
        if short.startswith(prefix + "_"):
            return kind
    return "track"


def _unit_of(kind: str) -> str:
    return {"time": "seconds", "peakmemory": "bytes", "memory": "bytes"}.get(kind, "unit")


# ----------------------------------------------------------------------------- formatting
def _missing(value: Any) -> str | None:
    if value is None:
        return "failed"
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    return None


def fmt_seconds(value: Any) -> str:
    miss = _missing(value)
    if miss:
        return miss
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns")):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.3g} s"


def fmt_bytes(value: Any) -> str:
    miss = _missing(value)
    if miss:
        return miss
    return f"{value / MIB:.0f} MiB" if value >= 100 * MIB else f"{value / MIB:.1f} MiB"


def fmt_value(value: Any, unit: str) -> str:
    """A tracked value; its unit is in the column title."""
    miss = _missing(value)
    if miss:
        return miss
    return f"{value:.4g}"


def fmt(bench: Bench, value: Any) -> str:
    if bench.kind == "time":
        return fmt_seconds(value)
    if bench.kind in ("peakmemory", "memory"):
        return fmt_bytes(value)
    return fmt_value(value, bench.unit)


def show_param(text: str) -> str:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return str(value)


def column_title(bench: Bench) -> str:
    short = bench.name.rsplit(".", 1)[-1]
    if bench.kind == "time":
        return f"{short} (median)"
    if bench.kind == "track" and bench.unit not in ("unit", ""):
        return f"{short} [{bench.unit}]"
    return short


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- tables
def group_tables(benches: dict[str, Bench]) -> str:
    """One table per class (benchmarks of a class share their parameters)."""
    groups: OrderedDict[tuple[str, tuple], list[Bench]] = OrderedDict()
    for name in sorted(benches):
        bench = benches[name]
        group = name.rsplit(".", 1)[0]
        key = (group, tuple(bench.param_names), tuple(map(tuple, bench.params)))
        groups.setdefault(key, []).append(bench)
    out = []
    for (group, param_names, _), members in groups.items():
        header = [*param_names, *(column_title(b) for b in members)]
        rows = []
        for idx, combo in enumerate(members[0].combos()):
            cells = [fmt(b, b.values[idx] if idx < len(b.values) else None) for b in members]
            if all(c == "n/a" for c in cells):
                continue  # a combination every benchmark skips
            rows.append([*(show_param(c) for c in combo), *cells])
        if not header:
            header = ["benchmark", "value"]
        out.append(f"#### `{group}`\n\n" + markdown_table(header or ["value"], rows or [["(no results)"]]))
    return "\n\n".join(out)


# ----------------------------------------------------------------------------- targets
LARGE, MEDIUM, SPEC, OPTIMAL_SEEDS = "100x10000x1000", "10x1000x100", "10x300x100-special", (0, 1, 2)
EVAL, GEN = "bench_placement.Evaluators.", "bench_placement.Gen.time_trimcaching_gen"
BUILD, GEN_MEM = "bench_placement.Build.peakmem_build", "bench_placement.Gen.peakmem_trimcaching_gen"
SPEC_TIME, DP_TIME = "bench_placement.Spec.time_trimcaching_spec", "bench_loading.DP.time_dp"
STREAMING = tuple(f"bench_coverage.StreamingPass.{n}" for n in
                  ("track_kernel_over_streaming_pass", "time_native_kernel", "time_streaming_pass"))


@dataclass
class Target:
    text: str
    benchmarks: tuple[str, ...]  # the asv benchmarks it reads (checked against the suite)
    measure: Callable[[dict[str, Bench]], tuple[Any, str]]  # -> (ok: bool | None, measured text)


def _get(benches: dict[str, Bench], name: str, *combo: Any) -> Any:
    bench = benches.get(name)
    if bench is None:
        raise KeyError(name)
    value = bench.value(*combo)
    if _missing(value):
        raise KeyError(f"{name}{list(combo)}: {_missing(value)}")
    return value


def _speedup(evaluator: str, minimum: float) -> Callable[[dict[str, Bench]], tuple[Any, str]]:
    def measure(b):
        name = f"bench_placement.Evaluators.{evaluator}"
        cpp, ref = _get(b, name, LARGE, "cpp"), _get(b, name, LARGE, "reference")
        return ref / cpp >= minimum, f"{ref / cpp:.1f}x ({fmt_seconds(cpp)} vs {fmt_seconds(ref)})"
    return measure


def _at_most_seconds(name: str, combo: tuple[str, ...], limit: float):
    def measure(b):
        value = _get(b, name, *combo)
        return value <= limit, fmt_seconds(value)
    return measure


def _below_bytes(name: str, combo: tuple[str, ...], limit: float):
    def measure(b):
        value = _get(b, name, *combo)
        return value < limit, fmt_bytes(value)
    return measure


def _gen_speedup(b):
    name = "bench_placement.Gen.time_trimcaching_gen"
    cpp, ref = _get(b, name, MEDIUM, "cpp", True), _get(b, name, MEDIUM, "reference", True)
    return ref / cpp >= 30, f"{ref / cpp:.0f}x ({fmt_seconds(cpp)} vs {fmt_seconds(ref)})"


def _optimal(b):
    proven = [_get(b, "bench_placement.Optimal.track_optimal_proven", s) for s in OPTIMAL_SEEDS]
    times = [_get(b, "bench_placement.Optimal.time_optimal_placement", s) for s in OPTIMAL_SEEDS]
    ok = all(p == 1.0 for p in proven) and max(times) <= 60.0
    return ok, f"proven {int(sum(proven))}/{len(proven)} seeds, slowest {fmt_seconds(max(times))}"


def _evaluate_linear(b):
    name = "bench_loading.Evaluate.time_evaluate"
    small, large = _get(b, name, 1_000, "numba"), _get(b, name, 100_000, "numba")
    per_small, per_large = small / 1_000, large / 100_000
    # linear: the time per user does not grow (constant overheads make small sizes dearer per user)
    return per_large <= 1.5 * per_small, (f"{fmt_seconds(small)} at 1k, {fmt_seconds(large)} at 100k "
                                          f"({per_large / per_small:.2f}x the time per user)")


def _coverage_ratio(threads: int):
    def measure(b):
        size = "200000x20000x2000"
        ratio = _get(b, "bench_coverage.StreamingPass.track_kernel_over_streaming_pass", size, threads)
        kernel = _get(b, "bench_coverage.StreamingPass.time_native_kernel", size, threads)
        floor = _get(b, "bench_coverage.StreamingPass.time_streaming_pass", size, 1)
        return ratio <= 5.0, f"{ratio:.1f}x (kernel {fmt_seconds(kernel)}, pass {fmt_seconds(floor)})"
    return measure


def _quality(b):
    name = "bench_placement.Quality.track_mean_ratio_to_optimum"
    worst = "bench_placement.Quality.track_min_ratio_to_optimum"
    parts = []
    for algo in ("trimcaching_gen", "trimcaching_spec"):
        for lib in ("nested", "special"):
            parts.append(f"{algo.split('_')[1].capitalize()} {lib}: {_get(b, name, lib, algo):.3f} "
                         f"(min {_get(b, worst, lib, algo):.3f})")
    return None, "; ".join(parts)


CITY_RATIO = "bench_scale.GenBound.track_default_over_unbounded"
FIRST_CPP = "bench_import.ImportCompile.timeraw_first_cpp_call"


LOADING_SCALE = "bench_scale.LoadingScale."
PL_TIME, PL_MEM = LOADING_SCALE + "time_schedule", LOADING_SCALE + "peakmem_schedule"
PL_TARGET_USERS = 100_000


def _loading_scale(algorithm: str, seconds: float, bytes_limit: float | None = None):
    """A #15 PartialLoading target at K=100,000: median time (and whole-process peak RSS) within the limits."""
    def measure(b):
        t = _get(b, PL_TIME, PL_TARGET_USERS, algorithm)
        if bytes_limit is None:
            return t <= seconds, fmt_seconds(t)
        peak = _get(b, PL_MEM, PL_TARGET_USERS, algorithm)
        return t <= seconds and peak <= bytes_limit, f"{fmt_seconds(t)}, peak RSS {fmt_bytes(peak)}"
    return measure


def _city_ratio(b):
    ratio = _get(b, CITY_RATIO, "default")
    return ratio <= 1.5, f"{ratio:.2f}x"


TARGETS = [
    Target("#2 hit_ratio: C++ >= 20x faster than the NumPy reference (M=100, K=10,000, I=1,000)",
           (EVAL + "time_hit_ratio",), _speedup("time_hit_ratio", 20)),
    Target("#2 hit_weight (kernel path of hit_ratio): C++ >= 20x faster than reference",
           (EVAL + "time_hit_weight",), _speedup("time_hit_weight", 20)),
    Target("#2 storage_used: C++ >= 20x faster than reference", (EVAL + "time_storage_used",),
           _speedup("time_storage_used", 20)),
    Target("#2 compact build of M=100, K=10,000, I=1,000: peak memory < 1 GiB",
           (BUILD,), _below_bytes(BUILD, (LARGE,), GIB)),
    Target("#3 trimcaching_gen, M=100, K=10,000, I=1,000 nested, C++: <= 2 s", (GEN,),
           _at_most_seconds(GEN, (LARGE, "cpp", True), 2.0)),
    Target("#3 trimcaching_gen, same instance: peak memory < 1 GiB",
           (GEN_MEM,), _below_bytes(GEN_MEM, (LARGE, "cpp", True), GIB)),
    Target("#3 trimcaching_gen C++ >= 30x faster than the NumPy reference (M=10, K=1,000, I=100)", (GEN,),
           _gen_speedup),
    Target("#3 trimcaching_spec, M=10, K=300, I=100, eps=0.1, C++: <= 5 s",
           (SPEC_TIME,), _at_most_seconds(SPEC_TIME, (SPEC, "cpp"), 5.0)),
    Target("#3 optimal_placement proves optimality at M=4, K=30, I=15 within 60 s",
           ("bench_placement.Optimal.track_optimal_proven", "bench_placement.Optimal.time_optimal_placement"),
           _optimal),
    Target("#3 mean ratio to the optimum, 10 small instances (reported, no threshold)",
           ("bench_placement.Quality.track_mean_ratio_to_optimum",
            "bench_placement.Quality.track_min_ratio_to_optimum"),
           _quality),
    Target("#4 partialloading_dp, K=10,000, 100 models in 10 clusters, Numba: <= 1 s",
           (DP_TIME,), _at_most_seconds(DP_TIME, (10_000, "numba"), 1.0)),
    Target("#4 partialloading_greedy, K=1,000, Numba: <= 2 s", ("bench_loading.Greedy.time_greedy",),
           _at_most_seconds("bench_loading.Greedy.time_greedy", (1_000, "numba"), 2.0)),
    Target("#4 LoadingProblem.evaluate linear in the schedule length (time per user, 1k -> 100k, Numba)",
           ("bench_loading.Evaluate.time_evaluate",), _evaluate_linear),
    Target("#5 max_coverage native kernel, 200,000 sets / 20,000 elements / k=2,000, 1 thread: within 5x of "
           "one streaming pass (C++, 1 thread)", STREAMING, _coverage_ratio(1)),
    Target("#5 the same, kernel on 2 threads (first pass and index build), against the 1-thread pass", STREAMING,
           _coverage_ratio(2)),
    Target("#15 the default trimcaching_gen call (submodular bound) within 1.5x of Gen with bound=None, "
           "M=3,200, K=10,000, I=1,000 (both timed in one process)", (CITY_RATIO,), _city_ratio),
    Target("#15 partialloading_dp (DP-PL), K=100,000 (make_loading_problem), Numba: <= 1 s", (PL_TIME,),
           _loading_scale("dp", 1.0)),
    Target("#15 partialloading_greedy (Greedy-PL), K=100,000, Numba: <= 10 s", (PL_TIME,),
           _loading_scale("greedy", 10.0)),
    Target("#15 partialloading_dp_edf (DP-EDF), K=100,000, Numba: <= 10 s and <= 2 GiB (peak RSS of the whole "
           "benchmark process)", (PL_TIME, PL_MEM), _loading_scale("dp_edf", 10.0, 2 * GIB)),
    Target("#15 first C++ kernel calls after import trimcore (hit_ratio + storage_used): <= 30 ms",
           (FIRST_CPP,), _at_most_seconds(FIRST_CPP, (), 0.030)),
]


def unknown_benchmarks(known: set[str]) -> list[str]:
    """Benchmarks the targets read that the suite does not have (renamed or removed)."""
    return sorted({name for t in TARGETS for name in t.benchmarks} - known)


def targets_table(benches: dict[str, Bench], known: set[str] | None = None) -> str:
    rows = []
    for target in TARGETS:
        missing = sorted(set(target.benchmarks) - known) if known is not None else []
        if missing:  # the suite lost it: say so, never a quiet "not measured"
            rows.append([target.text, f"**no such benchmark**: {', '.join(missing)} (renamed?)", "?"])
            continue
        try:
            ok, measured = target.measure(benches)
            met = "—" if ok is None else ("yes" if ok else "**no**")
        except KeyError as exc:
            measured, met = f"not measured ({exc})", "?"
        rows.append([target.text, measured, met])
    return markdown_table(["target", "measured", "met"], rows)


# ----------------------------------------------------------------------------- machine
def machine_section(data: dict[str, Any], with_lscpu: bool) -> str:
    params = data.get("params", {})
    keys = ("machine", "cpu", "num_cpu", "arch", "os", "ram", "python")
    rows = [[k, str(params[k])] for k in keys if k in params]
    if "ram" in params and str(params["ram"]).isdigit():
        rows = [[k, f"{int(v) / GIB:.1f} GiB" if k == "ram" else v] for k, v in rows]
    rows.append(["commit", str(data.get("commit_hash", "?"))])
    rows.append(["environment", str(data.get("env_name", "?"))])
    text = markdown_table(["", "value"], rows)
    if with_lscpu:
        try:
            out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            out = ""
        wanted = ("Architecture", "Model name", "CPU(s)", "Thread(s) per core", "Core(s) per socket", "CPU MHz",
                  "BogoMIPS", "L1d cache", "L2 cache", "L3 cache", "Hypervisor vendor", "Virtualization type")
        lines = [line.strip() for line in out.splitlines() if line.split(":")[0].strip() in wanted]
        if lines:
            text += "\n\n`lscpu` (excerpt):\n\n```\n" + "\n".join(lines) + "\n```"
    return text


# ----------------------------------------------------------------------------- main
def suite_names(benchmarks_json: Path | None, benches: dict[str, Bench]) -> set[str]:
    """Every benchmark asv discovered (``benchmarks.json``), else those in the results file."""
    if benchmarks_json is not None and benchmarks_json.is_file():
        return {k for k in _load_json(benchmarks_json) if k != "version"}
    return set(benches)


def render(results_file: Path, benchmarks_json: Path | None, with_lscpu: bool) -> str:
    data, benches = load_benches(results_file, benchmarks_json)
    parts = [
        f"Generated by `python scripts/perf_table.py` from `{results_file.as_posix()}`.",
        "### Machine (as asv recorded it)\n\n" + machine_section(data, with_lscpu),
        "### Targets\n\n" + targets_table(benches, suite_names(benchmarks_json, benches)),
        "### Results per benchmark class\n\nTimes are medians of the asv samples; peak memory is the maximum "
        "resident set size of the whole benchmark process (interpreter, imports and the loaded instance "
        "included: see `peakmem_import_baseline` and `LoadInstance.peakmem_load_instance` for the floor); "
        "`n/a` = skipped combination, `failed` = the benchmark raised.\n\n" + group_tables(benches),
    ]
    return "\n\n".join(parts) + "\n"


# ----------------------------------------------------------------------------- carrying over
CARRIED = "carried over from"
_ROW_CELLS = re.compile(r"(?<!\\)\|")


def _block_of(text: str) -> str | None:
    if BEGIN not in text or END not in text:
        return None
    return text.split(BEGIN, 1)[1].split(END, 1)[0]


def _source_of(block: str) -> str:
    found = re.search(r"from `([^`]+)`", block)
    return found.group(1) if found else "an earlier run"


def _class_sections(block: str) -> OrderedDict[str, str]:
    """``{group: section text}`` of the per-class tables of a generated block (heading included)."""
    sections: OrderedDict[str, str] = OrderedDict()
    for chunk in re.split(r"\n(?=#### `)", block):
        found = re.match(r"#### `([^`]+)`", chunk)
        if found:
            sections[found.group(1)] = chunk.strip("\n")
    return sections


def _target_rows(block: str) -> dict[str, tuple[str, str]]:
    """``{target text: (measured, met)}`` of the Targets table of a generated block."""
    section = block.split("### Targets", 1)[-1].split("\n### ", 1)[0] if "### Targets" in block else ""
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in _ROW_CELLS.split(line.strip())[1:-1]]
        if len(cells) == 3 and cells[0] not in ("target", "---"):
            rows[cells[0]] = (cells[1], cells[2])
    return rows


def carry_over(generated: str, previous: str) -> str:
    """``generated`` with what it lacks taken from ``previous`` (an earlier generated block), marked so.

    A per-class table of a class this run did not measure (e.g. a partial ``asv run -b``) is kept
    from ``previous`` under a line naming the results file it came from; a target row this run
    could not measure ("not measured", met ``?``) takes the earlier row's measurement, with the
    same note. Rows and tables this run measured always win; a target naming a benchmark the
    suite lost stays flagged.
    """
    name = Path(_source_of(previous)).name
    source = f"commit {name.split('-', 1)[0]}" if "-" in name else f"`{name}`"  # results files: <commit>-<env>.json
    note = f"_{CARRIED} {source} (not in this run)_"
    old_rows = _target_rows(previous)
    lines = []
    for line in generated.split("\n"):
        cells = [c.strip() for c in _ROW_CELLS.split(line.strip())[1:-1]] if line.startswith("| ") else []
        if len(cells) == 3 and cells[1].startswith("not measured") and cells[2] == "?" and cells[0] in old_rows:
            measured, met = old_rows[cells[0]]
            if met != "?":
                if CARRIED not in measured:
                    measured = f"{measured} ({CARRIED} {source})"
                line = f"| {cells[0]} | {measured} | {met} |"
        lines.append(line)
    out = "\n".join(lines)
    have = _class_sections(out)
    kept = []
    for group, section in _class_sections(previous).items():
        if group in have:
            continue
        if CARRIED not in section:
            heading, _, body = section.partition("\n")
            section = f"{heading}\n\n{note}\n{body}"
        kept.append(section)
    if kept:
        out = out.rstrip("\n") + "\n\n" + "\n\n".join(kept) + "\n"
    return out


def write_between_markers(path: Path, generated: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else f"{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        sys.exit(f"perf_table: {path} has no {BEGIN} ... {END} block")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{generated}{END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results-dir", type=Path, default=Path(".asv/results"))
    parser.add_argument("--machine", help="machine name (a sub-directory of the results dir)")
    parser.add_argument("--commit", help="commit hash (prefix) of the results file; default: the newest file")
    parser.add_argument("--env", help="part of the environment name, when several ran the commit")
    parser.add_argument("--file", type=Path, help="an explicit results JSON file (overrides machine/commit/env)")
    parser.add_argument("--write", type=Path, help="replace the generated block of this markdown file")
    parser.add_argument("--lscpu", action="store_true", help="add an lscpu excerpt to the machine section")
    parser.add_argument("--keep-missing", action="store_true",
                        help="with --write: keep the file's tables and target rows of benchmarks this run lacks")
    args = parser.parse_args(argv)
    results_file = args.file or find_results(args.results_dir, args.machine, args.commit, args.env)
    benchmarks_json = args.results_dir / "benchmarks.json"
    generated = render(results_file, benchmarks_json, args.lscpu)
    if args.write:
        previous = _block_of(args.write.read_text(encoding="utf-8")) if args.write.exists() else None
        if args.keep_missing and previous:
            generated = carry_over(generated, previous)
        write_between_markers(args.write, generated)
        print(f"perf_table: wrote {args.write}", file=sys.stderr)
    else:
        sys.stdout.write(generated)
    _, benches = load_benches(results_file, benchmarks_json)
    lost = unknown_benchmarks(suite_names(benchmarks_json, benches))
    if lost:
        print(f"perf_table: targets read benchmarks the suite does not have: {', '.join(lost)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
