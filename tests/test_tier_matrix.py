"""docs/architecture.md carries the registry's kernel x tier matrix as it is."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"


def _script():
    path = ROOT / "scripts" / "tier_matrix.py"
    if not path.exists() or not DOC.exists():
        pytest.skip("the source tree's scripts/ and docs/ are not here")
    spec = importlib.util.spec_from_file_location("tier_matrix", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_documented_tier_matrix_is_current():
    script = _script()
    assert script.embedded(DOC.read_text()) == script.matrix()
    assert "`placement.greedy_placement` | yes |  | yes |" in script.matrix()


def test_check_mode_fails_on_a_stale_matrix(tmp_path):
    script = _script()
    stale = tmp_path / "a.md"
    stale.write_text(f"{script.BEGIN}\n| kernel |\n{script.END}\n")
    assert script.main(["--check", str(stale)]) == 1
    assert script.main(["--check", str(DOC)]) == 0
