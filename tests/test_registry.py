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
