"""ALG / LP and ALG / OPT of every rounding variant of :func:`trimcore.pulling.pulling_rounding`.

For each instance: the exact optimum (reduced ILP, proved optimal), the reduced and the full LP,
and the rounding variants: the default conditional draw on the reduced LP, the conditional draw
on the full LP (spec §6.1: sources drawn ``y* / x*``), the derandomized one (conditional
expectations), and CODE's unconditional ½-scaled draw (§6.2) with and without the repair. ALG /
LP is against the LP each variant rounds (its ``lower_bound``), ALG / OPT against the ILP.
Prints a Markdown table (the one in ``docs/pulling.md``)::

    PYTHONPATH=. python scripts/pulling_ratios.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import numpy as np

import trimcore as tc
from trimcore.pulling import PullingProblem, solve_lp
from trimcore.pulling.instances import paper_instance, realistic_instance

#: (label, instance builder of a seed)
INSTANCES: list[tuple[str, Callable[[int], PullingProblem]]] = [
    ("paper 100 / 300 / 10", lambda s: paper_instance(100, 300, 10, 1, seed=s)),
    ("paper 100 / 300 / 10, memory 6 GB", lambda s: paper_instance(100, 300, 10, 1, seed=s, memory=6.0)),
    ("realistic 50 / 400 / 20", lambda s: realistic_instance(50, 400, 20, 4, seed=s)),
]


def variants(pp: PullingProblem, seed: int) -> list[tuple[str, Any]]:
    """(label, result) of each rounding variant on ``pp`` (each LP solved once)."""
    red, full = solve_lp(pp, "reduced"), solve_lp(pp, "full")
    return [
        ("conditional, reduced LP (default)", tc.pulling_rounding(pp, 50, seed, lp=red)),
        ("conditional, full LP (§6.1)", tc.pulling_rounding(pp, 50, seed, formulation="full", lp=full)),
        ("derandomized, reduced LP", tc.pulling_rounding(pp, derandomize=True, lp=red)),
        ("CODE unconditional (§6.2), repair", tc.pulling_rounding(pp, 50, seed, rounding="code", lp=full)),
        ("CODE unconditional, repeats=1, no repair",
         tc.pulling_rounding(pp, 1, seed, rounding="code", repair=False, lp=full)),
    ]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args(argv)
    rows: dict[tuple[str, str], list[tuple[float, float, bool]]] = {}
    for name, build in INSTANCES:
        for seed in args.seeds:
            pp = build(seed)
            opt = tc.pulling_optimal(pp, time_limit=60.0)
            if opt.status != "optimal":
                print(f"# {name} seed {seed}: ILP {opt.status}, skipped", flush=True)
                continue
            for label, res in variants(pp, seed):
                ev = pp.evaluate(res.model, res.shareable_source, res.remaining_source)
                assert ev.total_delay == res.objective
                rows.setdefault((name, label), []).append(
                    (res.objective / res.lower_bound, res.objective / opt.objective, bool(res.feasible)))
            print(f"# {name} seed {seed}: OPT {opt.objective:.6g}", flush=True)
    print("| instance | rounding | ALG / LP mean (max) | ALG / OPT mean (max) | feasible |")
    print("|---|---|---|---|---|")
    for (name, label), vals in rows.items():
        a = np.array(vals)
        print(f"| {name} | {label} | {a[:, 0].mean():.4f} ({a[:, 0].max():.4f}) | "
              f"{a[:, 1].mean():.4f} ({a[:, 1].max():.4f}) | {int(a[:, 2].sum())}/{len(a)} |")


if __name__ == "__main__":
    main()
