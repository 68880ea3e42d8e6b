"""Print (or check) the kernel x tier matrix of docs/architecture.md from the registry.

Use: ``python scripts/tier_matrix.py`` prints it; ``--write docs/architecture.md`` replaces the
file's matrix (between the two marker lines); ``--check docs/architecture.md`` exits 1 when it
differs from the registry's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

BEGIN, END = "<!-- tier-matrix:begin -->", "<!-- tier-matrix:end -->"


def matrix() -> str:
    """The markdown table: one row per kernel, a column per tier, as the code declares them."""
    from trimcore.kernels import BACKENDS, registry

    lines = ["| kernel | " + " | ".join(BACKENDS) + " |", "| --- |" + " :---: |" * len(BACKENDS)]
    for name, tiers in registry(declared=True).items():
        lines.append(f"| `{name}` | " + " | ".join("yes" if b in tiers else "" for b in BACKENDS) + " |")
    return "\n".join(lines)


def embedded(text: str) -> str:
    """The matrix between the markers of ``text`` ('' when absent)."""
    if BEGIN not in text or END not in text:
        return ""
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", type=Path, help="a markdown file whose embedded matrix must be current")
    parser.add_argument("--write", type=Path, help="a markdown file whose embedded matrix to regenerate")
    args = parser.parse_args(argv)
    table = matrix()
    if args.write is not None:
        text = args.write.read_text()
        if BEGIN not in text or END not in text:
            print(f"{args.write}: no {BEGIN} ... {END} markers", file=sys.stderr)
            return 1
        head, rest = text.split(BEGIN, 1)
        args.write.write_text(f"{head}{BEGIN}\n{table}\n{END}{rest.split(END, 1)[1]}")
        return 0
    if args.check is None:
        print(table)
        return 0
    if embedded(args.check.read_text()) != table:
        print(f"{args.check}: the tier matrix is out of date; regenerate it with "
              f"{Path(__file__).name} --write {args.check}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
