"""The ``trimcore`` command.

``trimcore run`` solves the built-in default scenario (EUA Melbourne CBD, ResNet zoo with
frozen-backbone sharing, Zipf demand) with every placement algorithm, prints one table and
writes a CSV and a PNG. ``trimcore run trimcaching --figure NAME`` (or ``partialloading``)
reproduces one figure of a paper; ``--figure list`` lists them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trimcore import __version__
from trimcore.errors import InstanceError

__all__ = ["main"]

#: The main job adds the LP-relaxation bound when the LP has at most this many variables.
CLI_LP_LIMIT = 100_000
PAPERS = {"trimcaching": "trimcore.experiments.trimcaching", "partialloading": "trimcore.experiments.partialloading",
          "online": "trimcore.experiments.online"}


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


def run_default(args: argparse.Namespace) -> int:
    """The main job: every placement algorithm on one scenario; table, CSV and PNG."""
    import trimcore as tc
    from trimcore.experiments import scenarios
    from trimcore.placement.bounds import lp_size
    from trimcore.placement.exact import lp_relaxation_bound

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
    fam_rows = [(f["family"], f["models"], _human_bytes(f["sum_model_bytes"]), _human_bytes(f["union_bytes"]),
                 f"{f['saving']:.1%}") for f in lib.family_savings()]
    total = float(lib.model_sizes.sum())
    union = lib.union_size(np.arange(lib.n_models))
    fam_rows.append(("all", lib.n_models, _human_bytes(total), _human_bytes(union), f"{1 - union / total:.1%}"))
    print(_table(fam_rows, ["family", "models", "sum of sizes", "union", "saved"]))

    algorithms = [
        ("TrimCaching Gen", lambda: tc.trimcaching_gen(problem, bound=args.bound, backend=args.backend)),
        ("TrimCaching Spec", lambda: tc.trimcaching_spec(problem, bound=args.bound, backend=args.backend)),
        ("Independent caching", lambda: tc.independent_caching(problem, bound=args.bound, backend=args.backend)),
        ("Popularity caching", lambda: tc.popularity_caching(problem, bound=args.bound, backend=args.backend)),
        ("Random caching", lambda: tc.random_caching(problem, seed=0, bound=args.bound, backend=args.backend)),
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
    if args.bound != "submodular" and "lp" not in methods and lp_size(problem) <= CLI_LP_LIMIT:
        bounds.append(lp_relaxation_bound(problem))  # once for all algorithms: the tightest cheap bound
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

    args.out.mkdir(parents=True, exist_ok=True)
    csv_path = args.out / "placement.csv"
    _write_csv(csv_path, [{"scenario": spec.get("name", "custom"), "label": label, **r.summary(),
                           "best_upper_bound": best_bound} for label, r in results])
    png_path = _plot_default(args.out / "placement.png", results, spec.get("name", "custom"), best_bound)
    print(f"\nwrote {csv_path} and {png_path}")
    _online_section(args)
    return 0


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
                     f"{c['substitute'] / n:.3f}", f"{c['cloud'] / n:.3f}", f"{float(r.accuracy.mean()):.3f}",
                     f"{float(r.loaded_bytes.sum()) / 1e9:.0f}", f"{r.gap:.1%}" if r.gap is not None else "-"))
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
    import csv

    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


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
    fig.savefig(path)
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
    out = args.out / args.paper
    out.mkdir(parents=True, exist_ok=True)
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``trimcore`` console script."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "info":
            import trimcore as tc

            print(f"trimcore {__version__}; backends available: {', '.join(tc.available_backends())}")
            return 0
        if args.paper is None:
            if args.figure is not None:
                print("trimcore: --figure needs a paper, e.g. 'trimcore run trimcaching --figure capacity'",
                      file=sys.stderr)
                return 2
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
