"""The kernel registry: layout, tier choice, errors, and a broken tier that takes nothing down."""

from __future__ import annotations

import pytest

import trimcore as tc
from trimcore import kernels
from trimcore.kernels import BACKENDS, choose_backend, kernel, kernel_tiers, registry


def test_every_kernel_has_a_reference_and_its_table_entry():
    table = registry()
    assert "placement.hit_weight" in table and "loading.minplus" in table and "coverage.max_coverage" in table
    for name, tiers in table.items():
        assert "reference" in tiers, name
        assert list(tiers) == [b for b in BACKENDS if b in tiers]  # fastest first
        assert kernel_tiers(name) == tuple(tiers)
        for backend, fn in tiers.items():
            assert kernel(name, backend) is fn


def test_auto_takes_the_fastest_tier_the_kernel_has(monkeypatch):
    monkeypatch.delenv("TRIMCORE_BACKEND", raising=False)
    for name in registry():
        assert choose_backend(name) == kernel_tiers(name)[0]
    assert "numba" not in kernel_tiers("coverage.max_coverage")
    monkeypatch.setenv("TRIMCORE_BACKEND", "numba")  # a preference: a kernel without it runs its fastest tier
    assert choose_backend("coverage.max_coverage") == kernel_tiers("coverage.max_coverage")[0]
    assert choose_backend("loading.minplus") == "numba"


def test_explicit_missing_tier_names_the_tiers_it_has():
    with pytest.raises(tc.InstanceError, match=r"max_coverage has \(.*reference\)"):
        kernel("coverage.max_coverage", "numba")
    with pytest.raises(tc.InstanceError, match="family"):
        kernel("hit_weight")
    with pytest.raises(tc.InstanceError, match="backend"):
        kernel("placement.hit_weight", "gpu")


def test_a_broken_tier_warns_once_and_leaves_the_others(monkeypatch):
    """Numba without a cache locator raises RuntimeError on import, not ImportError."""
    real = kernels.importlib.import_module

    def broken(name, *args):
        if name == "trimcore.kernels.placement.jit":
            raise RuntimeError("cannot cache function '_hit_weight': no locator available")
        return real(name, *args)

    kernels._table.cache_clear()
    monkeypatch.setattr(kernels.importlib, "import_module", broken)
    try:
        with pytest.warns(RuntimeWarning, match="no locator"):
            tiers = kernel_tiers("placement.hit_weight")
        assert "numba" not in tiers and "reference" in tiers
        assert "numba" in kernel_tiers("loading.minplus")  # another family's tier still loads
    finally:
        kernels._table.cache_clear()
        kernels._warn_broken.cache_clear()


def test_a_cpp_only_call_imports_no_other_tier(monkeypatch):
    monkeypatch.delenv("TRIMCORE_BACKEND", raising=False)
    kernels._table.cache_clear()
    try:
        assert choose_backend("coverage.max_coverage") == "cpp"
        assert kernels._table.cache_info().currsize == 1  # only coverage/native was looked at
    finally:
        kernels._table.cache_clear()


def test_a_cpp_call_imports_neither_numba_nor_the_other_tiers():
    """Issue #15: ``backend="auto"`` stops at the first tier with every kernel, so the first C++ calls
    after ``import trimcore`` load no Numba, no SciPy and no other tier (what cost 170 ms)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import trimcore

    if "cpp" not in kernel_tiers("placement.hit_weight"):
        pytest.skip("needs the compiled extension")
    code = (
        "import sys, numpy as np, trimcore as tc\n"
        "p = tc.PlacementProblem.from_arrays([1.0, 2.0], [[0], [0, 1]], [3.0], np.ones((1, 2, 2), bool),\n"
        "                                    np.ones((2, 2)))\n"
        "x = np.ones((1, 2), bool)\n"
        "before = set(sys.modules)\n"
        "p.hit_ratio(x); p.storage_used(x); tc.trimcaching_gen(p)\n"
        "print(sorted(m for m in set(sys.modules) - before if m.startswith(('numba', 'scipy'))\n"
        "             or m.startswith('trimcore.kernels.') and m.endswith(('.jit', '.reference'))))\n")
    root = str(Path(trimcore.__file__).resolve().parent.parent)
    out = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {root!r})\n" + code],
                         capture_output=True, text=True, check=True, env={**os.environ, "TRIMCORE_BACKEND": ""})
    assert out.stdout.strip() == "[]", out.stdout
