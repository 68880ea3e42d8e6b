"""Test configuration.

The tests exercise the *installed* package (the README's ``pip install ".[test]"`` builds the
C++ extension into site-packages). ``python -m pytest`` puts the working directory first on
``sys.path``, which would shadow it with the source tree, whose ``trimcore/`` has no compiled
``_core`` in a fresh clone. So when the source tree has no built extension, it is taken off the
path. A developer who builds in place (``_core`` with an extension suffix inside ``trimcore/``;
the ``.pyi`` stub does not count) tests the tree.
"""

from __future__ import annotations

import os
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
if not any((ROOT / "trimcore" / f"_core{suffix}").exists() for suffix in EXTENSION_SUFFIXES):
    sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != ROOT]
    for name in [m for m in sys.modules if m == "trimcore" or m.startswith("trimcore.")]:
        del sys.modules[name]

# CI runs with a fixed budget: derandomized examples make failures reproducible run to run.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
