"""The ``trimcore`` command.

``trimcore run`` solves the built-in default scenario (EUA Melbourne CBD, ResNet zoo with
frozen-backbone sharing, Zipf demand) with every placement algorithm, prints one table and
writes a CSV and a PNG. ``trimcore run trimcaching --figure NAME`` (or ``partialloading``)
reproduces one figure of a paper; ``--figure list`` lists them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trimcore import __version__
from trimcore.errors import InstanceError

__all__ = ["main"]

#: With ``--bound auto`` the main job adds the LP-relaxation bound (solved once for all
#: algorithms) when the LP has at most this many variables; ``--bound lp`` always adds it.
CLI_LP_LIMIT = 100_000
PAPERS = {"trimcaching": "trimcore.experiments.trimcaching", "partialloading": "trimcore.experiments.partialloading",
          "pulling": "trimcore.experiments.pulling", "online": "trimcore.experiments.online"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trimcore", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"trimcore {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="solve the default scenario, or reproduce a paper's figure")
    run.add_argument("paper", nargs="?", choices=sorted(PAPERS), help="reproduce figures of this paper")
    run.add_argument("--figure", default=None, help="figure name, 'all', or 'list'")
    run.add_argument("--scenario", default="default", help="named scenario (default: %(default)s)")
    run.add_argument("--config", type=Path, default=None, help="scenario TOML file (overrides --scenario)")
    run.add_argument("--out", type=Path, default=Path("trimcore-out"), help="output folder (default: %(default)s)")
    run.add_argument("--seeds", type=int, default=None, help="random seeds per sweep point")
    run.add_argument("--quick", action="store_true", help="small sizes (smoke run of a figure)")
    run.add_argument("--workers", type=int, default=0, help="dask.distributed workers for sweeps (0: serial)")
    run.add_argument("--bound", default="auto", choices=["auto", "lp", "submodular"],
                     help="certified upper bound attached to each placement (default: %(default)s)")
    run.add_argument("--backend", default="auto", help="kernel backend: auto, cpp, numba, reference")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    library = sub.add_parser("library", help="model libraries from weight files")
    library_sub = library.add_subparsers(dest="library_command", required=True)
    scan = library_sub.add_parser("scan", help="find the blocks checkpoints share by content; write the library")
    scan.add_argument("paths", nargs="+", type=Path,
                      help="one checkpoint per model: .safetensors, .npz, sharded or PEFT adapter directory")
    scan.add_argument("--out", type=Path, required=True, help="library file to write (.npz)")
    scan.add_argument("--granularity", choices=["tensor", "layer"], default="tensor",
                      help="a block is a distinct tensor, or a distinct layer (default: %(default)s)")
    scan.add_argument("--names", nargs="+", default=None, help="model names (default: file names)")
    scan.add_argument("--families", nargs="+", default=None,
                      help="a family name per model (default: models that share blocks)")
    scan.add_argument("--no-progress", action="store_true", help="no progress bar")
    scan.set_defaults(paper=None)
    info = sub.add_parser("info", help="version and available backends")
    info.set_defaults(paper=None)
    return parser


def _human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n:.0f} B"
        n /= 1024
    return f"{n:.1f} TiB"


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[j]) for r in cells) for j in range(len(header))]
    lines = ["  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths))) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def sharing_table(lib: Any) -> str:
    """Per family and in all: the models' sum of sizes against the size of the union of their blocks."""
    rows = [(f["family"], f["models"], _human_bytes(f["sum_model_bytes"]), _human_bytes(f["union_bytes"]),
             f"{f['saving']:.1%}") for f in lib.family_savings()]
    total = float(lib.model_sizes.sum())
    union = lib.union_size(np.arange(lib.n_models))
    rows.append(("all", lib.n_models, _human_bytes(total), _human_bytes(union), f"{1 - union / total:.1%}"))
    return _table(rows, ["family", "models", "sum of sizes", "union", "saved"])


def run_library_scan(args: argparse.Namespace) -> int:
    """``trimcore library scan``: a library from checkpoints, written atomically, and its sharing table."""
    from trimcore.instance.blocks import ModelLibrary

    _check_out(args.out.parent)  # writable before anything is read
    started = time.perf_counter()
    lib = ModelLibrary.from_weights(args.paths, granularity=args.granularity, names=args.names,
                                    families=args.families, progress=False if args.no_progress else None)
    print(f"scanned {lib.n_models} models in {time.perf_counter() - started:.2f} s: {lib.n_blocks} distinct "
          f"{args.granularity} blocks, {lib.shared_blocks.size} of them shared")
    print(sharing_table(lib))
    print(f"wrote {lib.save(args.out)}")
    return 0


def run_default(args: argparse.Namespace) -> int:
    """The main job: every placement algorithm on one scenario; table, CSV and PNG."""
    import trimcore as tc
    from trimcore.experiments import scenarios
    from trimcore.placement.ilp import lp_relaxation_bound, lp_size

    spec = scenarios.load_scenario(args.config) if args.config else scenarios.scenario(args.scenario)
    started = time.perf_counter()
    problem = scenarios.build_placement(spec)
    lib = problem.library
    print(f"trimcore {__version__} — scenario '{spec.get('name', 'custom')}' "
          f"(built in {time.perf_counter() - started:.2f} s, backend {tc.resolve_backend(args.backend)})")
    print(f"  {problem.n_servers} edge servers, {problem.n_users} users, {problem.n_models} models, "
          f"{lib.n_blocks} parameter blocks ({lib.shared_blocks.size} shared)")
    print(f"  capacity {_human_bytes(float(problem.capacity.mean()))} per server; "
          f"requests reachable in time: {_reachable_share(problem):.1%}")
    print("\nBlock sharing per family (storage of all models: sum of sizes vs size of the union):")
    print(sharing_table(lib))

    # each algorithm attaches the cheap submodular bound; the LP relaxation is solved once below
    cheap = {"bound": "submodular", "backend": args.backend}
    algorithms = [
        ("TrimCaching Gen", lambda: tc.trimcaching_gen(problem, **cheap)),
        ("TrimCaching Spec", lambda: tc.trimcaching_spec(problem, **cheap)),
        ("Independent caching", lambda: tc.independent_caching(problem, **cheap)),
        ("Popularity caching", lambda: tc.popularity_caching(problem, **cheap)),
        ("Random caching", lambda: tc.random_caching(problem, seed=0, **cheap)),
    ]
    results = []
    for label, call in algorithms:
        try:
            results.append((label, call()))
        except InstanceError as exc:  # e.g. Spec on a library with too much sharing
            print(f"  {label}: skipped ({exc})")
    # every result's bound is valid for the same optimum, so the tightest one certifies them all
    bounds = [r.upper_bound for _, r in results if r.upper_bound is not None]
    methods = {r.bound_method or "-" for _, r in results}
    if args.bound == "lp" or (args.bound == "auto" and lp_size(problem) <= CLI_LP_LIMIT):
        bounds.append(lp_relaxation_bound(problem))  # once for all algorithms
        methods.add("lp")
    best_bound = min(bounds) if bounds else None
    rows = [(label, f"{r.hit_ratio:.4f}", _human_bytes(float(r.storage_used.sum())), r.models_placed,
             "yes" if r.feasible else "NO",
             f"{max(0.0, 1 - r.hit_ratio / best_bound):.1%}" if best_bound else "-",
             f"{r.runtime_s * 1000:.1f} ms")
            for label, r in results]
    print("\nPlacement (hit ratio = expected share of requests served from the edge in time):")
    print(_table(rows, ["algorithm", "hit ratio", "storage used", "placed", "feasible", "certified gap",
                        "runtime"]))
    by_label = dict(results)
    if "Independent caching" in by_label:
        base = by_label["Independent caching"].hit_ratio
        best = max(r.hit_ratio for label, r in results if label.startswith("TrimCaching"))
        if base > 0:
            print(f"\nSharing-aware placement serves {best / base - 1:+.1%} more requests than independent caching.")
    if best_bound is not None:
        print(f"Certified gap = 1 - hit ratio / {best_bound:.4f}, the tightest upper bound on the optimal hit "
              f"ratio found ({', '.join(sorted(methods))} bounds).")

    if not results:
        raise InstanceError("every algorithm was skipped: nothing to write (see the reasons above)")
    csv_path = args.out / "placement.csv"
    _write_csv(csv_path, [{"scenario": spec.get("name", "custom"), "label": label, **r.summary(),
                           "best_upper_bound": best_bound} for label, r in results])
    png_path = _plot_default(args.out / "placement.png", results, spec.get("name", "custom"), best_bound)
    print(f"\nwrote {csv_path} and {png_path}")
    _online_section(args)
    _pulling_section(args.out)
    return 0


def _pulling_section(out: Path) -> None:
    """Model selection and block pulling (Chasing Common Knowledge) on a small paper scenario."""
    import trimcore as tc
    from trimcore.experiments.pulling import lp_row
    from trimcore.pulling.instances import paper_instance

    pp = paper_instance(30, 100, 10, 2, seed=0)
    lp = tc.pulling.solve_lp(pp)
    runs = [("Appro (rounding)", tc.pulling_rounding(pp, 20, 0, lp=lp)), ("NonShare", tc.pulling_nonshare(pp)),
            ("SC (data center)", tc.pulling_cloud(pp))]
    lp_metrics = lp_row(pp, lp)
    rows = [("LP (lower bound)", f"{lp.value:.1f}", f"{lp_metrics['mean_cost']:.1f}",
             f"{lp_metrics['mean_accuracy']:.3f}", "-")]
    rows += [(label, f"{r.total_delay:.1f}", f"{r.mean_cost:.1f}", f"{r.mean_accuracy:.3f}",
              "yes" if r.feasible else "NO") for label, r in runs]
    print(f"\nModel selection and pulling with parameter sharing ({pp.n_cloudlets} cloudlets, {pp.n_requests} "
          f"requests, {pp.n_models} models in {pp.n_families} families):")
    print(_table(rows, ["algorithm", "total delay (s)", "avg cost", "avg accuracy", "feasible"]))
    appro, nonshare = runs[0][1], runs[1][1]
    if nonshare.total_delay > 0:
        print(f"Pulling shared blocks from nearby siblings: {appro.total_delay / nonshare.total_delay - 1:+.1%} "
              f"total delay vs NonShare (Appro / LP = {appro.options['ratio_lp']:.3f}).")
    _write_csv(out / "pulling.csv", [{"label": label, **r.summary()} for label, r in runs])


def _online_section(args: argparse.Namespace) -> None:
    """Online caching (Age of Context): every policy on one trace of the default online scenario."""
    from trimcore.experiments import online

    started = time.perf_counter()
    cp = online.default_problem(0, n_slots=200)
    results = online.run_policies(cp, backend=args.backend)
    print(f"\nOnline caching (AoC / least context): {cp.n_servers} servers x {cp.memory[0] / 1e9:.0f} GB, "
          f"{cp.n_models} LLMs, {cp.n_requests} requests over 200 slots, nu = {cp.nu} "
          f"({time.perf_counter() - started:.2f} s):")
    rows = []
    for policy, r in results.items():
        c = r.outcome_counts()
        n = max(r.n_requests, 1)
        rows.append((online.POLICY_LABELS[policy], f"{r.cost:.4f}", f"{r.hit_ratio:.3f}",
                     f"{c['substitute'] / n:.3f}", f"{c['cloud'] / n:.3f}", f"{r.mean_accuracy:.3f}",
                     f"{r.loaded_gb:.0f}", f"{r.gap:.1%}" if r.gap is not None else "-"))
    print(_table(rows, ["policy", "cost/request", "hit", "substitute", "cloud", "accuracy", "loaded GB",
                        "gap to bound"]))
    lower = next(iter(results.values())).lower_bound
    print(f"Gap = 1 - {lower:.4f} / cost: the certified lower bound (every request at its cheapest option, "
          f"memory ignored).")
    csv_path = args.out / "online.csv"
    _write_csv(csv_path, [{"policy": p, **r.summary()} for p, r in results.items()])
    print(f"wrote {csv_path}")


def _reachable_share(problem: Any) -> float:
    covered = np.zeros((problem.n_models, problem.n_users), dtype=bool)
    for m in range(problem.n_servers):
        for i in range(problem.n_models):
            covered[i, problem.users_of(m, i)] = True
    return float((problem.popularity_by_model * covered).sum() / problem.total_popularity)


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write ``rows`` atomically (a temporary file of its own beside ``path``, fsync, rename)."""
    import csv
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _plot_default(path: Path, results: list, name: str, bound: float | None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.8), dpi=120)
    labels = [label for label, _ in results]
    hits = [r.hit_ratio for _, r in results]
    bars = ax.barh(labels[::-1], hits[::-1], color="#4C72B0")
    for bar, (_, r) in zip(bars, results[::-1]):
        ax.text(bar.get_width() + 0.005, bar.get_y() + bar.get_height() / 2, f"{r.hit_ratio:.3f}", va="center",
                fontsize=8)
    if bound is not None:
        ax.axvline(bound, color="#C44E52", lw=1.5, ls="--",
                   label=f"certified upper bound on the optimum ({bound:.3f})")
        ax.legend(fontsize=8, loc="lower right")
    ax.set_xlabel("cache hit ratio")
    ax.set_xlim(0, min(1.0, max([*hits, bound or 0.0]) * 1.2) or 1.0)  # all zero: nobody reachable in time
    ax.set_title(f"Model placement, scenario '{name}'", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    from trimcore.experiments.sweep import save_figure

    save_figure(fig, path)
    plt.close(fig)
    return path


def run_paper(args: argparse.Namespace) -> int:
    """``trimcore run PAPER --figure NAME``: one figure (or all) of a paper's evaluation."""
    module = importlib.import_module(PAPERS[args.paper])
    figures = module.FIGURES
    if args.figure in (None, "list"):
        print(f"figures of {args.paper}: {', '.join(sorted(figures))} (or 'all')")
        return 0 if args.figure == "list" else 2
    names = sorted(figures) if args.figure == "all" else [args.figure]
    unknown = [n for n in names if n not in figures]
    if unknown:
        print(f"trimcore: unknown figure {unknown[0]!r}; choose from {', '.join(sorted(figures))}", file=sys.stderr)
        return 2
    out = _out_dir(args)
    for name in names:
        kwargs: dict[str, Any] = {"quick": args.quick, "progress": not args.no_progress}
        if args.seeds is not None:
            kwargs["seeds"] = args.seeds
        if args.workers:
            kwargs["workers"] = args.workers
        started = time.perf_counter()
        png = figures[name](out, **kwargs)
        print(f"{args.paper} {name}: wrote {png} and its CSV ({time.perf_counter() - started:.1f} s)")
    return 0


#: Kernels the main job's algorithms and evaluators call: an explicit --backend must have them all.
MAIN_JOB_KERNELS = ("placement.greedy_placement", "placement.gen_problem", "placement.trimcaching_gen",
                    "placement.server_gains", "placement.all_server_gains",
                    "placement.coverage_view", "placement.hit_weight", "placement.storage_used",
                    "knapsack.knapsack_fptas", "knapsack.knapsack_grid")


def check_args(args: argparse.Namespace) -> None:
    """Validate every argument of ``trimcore run`` before any work is done.

    Raises
    ------
    InstanceError
        Naming the option, what it accepts and what was given.
    """
    from trimcore.errors import invalid

    paper_only = [flag for flag, value in (("--quick", args.quick), ("--seeds", args.seeds is not None),
                                           ("--workers", args.workers != 0), ("--figure", args.figure is not None))
                  if value]
    if args.paper is None and paper_only:
        raise invalid(paper_only[0], "a paper to apply to (e.g. 'trimcore run trimcaching --figure capacity "
                      f"{paper_only[0]} ...'); the main job has no such option", "no paper")
    main_only = [flag for flag, value in (("--scenario", args.scenario != "default"), ("--config", args.config),
                                          ("--bound", args.bound != "auto")) if value]
    if args.paper is not None and main_only:
        raise invalid(main_only[0], f"no {main_only[0]} for a paper's figures (it applies to the main job, "
                      "'trimcore run' without a paper)", args.paper)
    if args.seeds is not None and args.seeds < 1:
        raise invalid("--seeds", "an integer >= 1", args.seeds)
    if args.workers < 0:
        raise invalid("--workers", "an integer >= 0 (0: serial)", args.workers)
    if args.workers > 0:
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            raise invalid("--workers", "0 here (workers > 0 need the 'dist' extra: pip install 'trimcore[dist]')",
                          args.workers) from None
    _check_backend(args)
    if args.paper is None and args.config is not None and not args.config.is_file():
        raise invalid("--config", "an existing scenario TOML file", str(args.config))
    _check_out(_out_dir(args))


def _check_backend(args: argparse.Namespace) -> None:
    from trimcore.errors import invalid
    from trimcore.kernels import BACKENDS, available_backends, kernel_tiers

    if args.backend == "auto":
        return
    if args.backend not in BACKENDS:
        raise invalid("--backend", f"one of auto, {', '.join(BACKENDS)}", args.backend)
    if args.paper is not None:
        raise invalid("--backend", "auto for a paper's figures (--backend applies to the main job; set "
                      "TRIMCORE_BACKEND to steer the figures' kernels)", args.backend)
    if args.backend not in available_backends():
        raise invalid("--backend", f"a backend available here ({', '.join(available_backends())})", args.backend)
    lacking = [name for name in MAIN_JOB_KERNELS if args.backend not in kernel_tiers(name)]
    if lacking:
        fits = [b for b in BACKENDS if all(b in kernel_tiers(name) for name in MAIN_JOB_KERNELS)]
        raise invalid("--backend", f"a backend that runs the whole main job ({', '.join(['auto', *fits])}); "
                      f"{args.backend} has no {', '.join(lacking)}", args.backend)


def _out_dir(args: argparse.Namespace) -> Path:
    """Where the run writes: a quick run of a paper goes to its own folder, never over the full run."""
    if args.paper is None:
        return args.out
    return args.out / args.paper / "quick" if args.quick else args.out / args.paper


def _check_out(folder: Path) -> None:
    """Create ``folder`` and prove it writable now, not after the computation."""
    import tempfile

    from trimcore.errors import invalid

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise invalid("--out", "a folder that can be created and written", f"{folder} ({exc.strerror})") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``trimcore`` console script."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "info":
            import trimcore as tc

            print(f"trimcore {__version__}; backends available: {', '.join(tc.available_backends())}")
            return 0
        if args.command == "library":
            return run_library_scan(args)
        check_args(args)
        if args.paper is None:
            return run_default(args)
        return run_paper(args)
    except InstanceError as exc:
        print(f"trimcore: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("trimcore: interrupted; finished sweep points are kept in the CSV files", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
