"""The kernel registry: every hot kernel of every paper, by tier.

Kernels live per paper family in ``trimcore/kernels/<family>/``, one module per tier:

* ``reference.py`` — plain NumPy, the oracle every other tier must agree with (always present);
* ``jit.py`` — the ``numba`` tier (``NUMBA_CACHE_DIR`` sets where compiled code is cached);
* ``native.py`` — the ``cpp`` tier, the C++17 core through pybind11.

Each tier module exports its kernels in one table, ``KERNELS: dict[str, Callable]``, keyed by the
kernel's short name; the registry names a kernel ``"<family>.<name>"`` (``"placement.hit_weight"``).
Not every kernel has every tier: :func:`registry` says which exist, :func:`kernel_tiers` which of
them can run here.

``backend="auto"`` takes the ``TRIMCORE_BACKEND`` environment variable when it is set and the
kernel has that tier, otherwise the fastest tier the kernel has (``cpp``, then ``numba``, then
``reference``); what ran is what :func:`choose_backend` returns, and results record it. An explicit
backend a kernel lacks is an :class:`~trimcore.errors.InstanceError` naming the tiers it has; a
tier the kernel has but that cannot be imported here (no compiled extension, no Numba) is a
:class:`~trimcore.errors.BackendUnavailableError`.

Tiers are imported lazily, per family and tier, so a C++-only call never imports Numba. A tier
whose import fails for any reason (not only ``ImportError``: Numba can raise ``RuntimeError`` when
it has nowhere to cache) is unavailable, with one warning, and never takes the other tiers down.
"""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Callable, Iterable
from functools import cache
from types import ModuleType
from typing import Any

from trimcore.errors import BackendUnavailableError, invalid

__all__ = [
    "BACKENDS",
    "FAMILIES",
    "available_backends",
    "choose_backend",
    "kernel",
    "kernel_tiers",
    "registry",
    "resolve_backend",
]

#: Every backend name, fastest first.
BACKENDS: tuple[str, ...] = ("cpp", "numba", "reference")
#: The module that holds a tier inside a family package.
TIER_MODULES: dict[str, str] = {"cpp": "native", "numba": "jit", "reference": "reference"}
#: Kernel families, one package each under ``trimcore/kernels/``.
FAMILIES: tuple[str, ...] = ("placement", "knapsack", "coverage", "loading", "online", "pulling")
# Where a whole tier can be probed without importing any family (the extension, Numba itself).
_TIER_PROBES: dict[str, str] = {"cpp": "trimcore._core", "numba": "numba"}


def _import(name: str) -> ModuleType | None:
    """Import ``name``; None when it (not something it imports) does not exist; warn on breakage."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name or (exc.name and name.startswith(exc.name + ".")):
            return None
        _warn_broken(name, exc)
    except Exception as exc:  # noqa: BLE001 - a broken tier must not break the others
        _warn_broken(name, exc)
    return None


@cache
def _warn_broken(name: str, exc: BaseException) -> None:
    warnings.warn(f"trimcore: {name} is unavailable ({type(exc).__name__}: {exc}); other tiers still run",
                  RuntimeWarning, stacklevel=3)


@cache
def _tier_present(backend: str) -> bool:
    """Whether the tier's runtime (compiled extension, Numba) imports here at all."""
    probe = _TIER_PROBES.get(backend)
    return probe is None or _import(probe) is not None


@cache
def _table(family: str, backend: str) -> dict[str, Callable[..., Any]] | None:
    """The ``KERNELS`` table of one family's tier, or None when the tier is absent or unavailable."""
    if family not in FAMILIES:
        raise invalid("kernel family", f"one of {FAMILIES}", family)
    if not _tier_present(backend):
        return None
    module = _import(f"trimcore.kernels.{family}.{TIER_MODULES[backend]}")
    if module is None:
        return None
    table = getattr(module, "KERNELS", None)
    if not isinstance(table, dict):
        raise TypeError(f"{module.__name__} must define KERNELS: dict[str, Callable]")
    return table


@cache
def _declared(family: str, backend: str) -> bool:
    """Whether the family has a module for ``backend`` in the source (available here or not)."""
    from importlib.util import find_spec

    try:
        return find_spec(f"trimcore.kernels.{family}.{TIER_MODULES[backend]}") is not None
    except (ImportError, ValueError):
        return False


def _split(name: str) -> tuple[str, str]:
    family, dot, short = name.partition(".")
    if not dot or family not in FAMILIES or not short:
        raise invalid("kernel", f"'<family>.<name>' with a family in {FAMILIES}", name)
    return family, short


def available_backends() -> tuple[str, ...]:
    """Backends whose runtime imports here (the compiled extension, Numba), fastest first."""
    return tuple(b for b in BACKENDS if _tier_present(b))


def kernel_tiers(name: str) -> tuple[str, ...]:
    """Tiers of kernel ``name`` that can run here, fastest first."""
    return kernel_tiers_on(name, BACKENDS)


def kernel_tiers_on(name: str, backends: tuple[str, ...]) -> tuple[str, ...]:
    """The tiers among ``backends`` that kernel ``name`` has here (imports only those tiers)."""
    family, short = _split(name)
    return tuple(b for b in backends if short in (_table(family, b) or {}))


def _declared_tiers(name: str) -> tuple[str, ...]:
    family, short = _split(name)
    out = []
    for b in BACKENDS:
        table = _table(family, b)
        if (table is not None and short in table) or (table is None and _declared(family, b)):
            out.append(b)
    return tuple(out)


def _requested(backend: str) -> tuple[str, str]:
    """(tier name or "auto", the field it came from), checked against :data:`BACKENDS`."""
    if not isinstance(backend, str):
        raise invalid("backend", f"one of {('auto', *BACKENDS)}", backend)
    name, field = backend.strip().lower(), "backend"
    if name == "auto":
        name, field = os.environ.get("TRIMCORE_BACKEND", "").strip().lower() or "auto", "TRIMCORE_BACKEND"
    if name != "auto" and name not in BACKENDS:
        raise invalid(field, f"one of {('auto', *BACKENDS)}", name)
    return name, field


def resolve_backend(backend: str = "auto") -> str:
    """Turn ``"auto"`` (or an explicit name) into an available backend name, ignoring kernels.

    Raises
    ------
    InstanceError
        If ``backend`` (or ``TRIMCORE_BACKEND``) is not a known name.
    BackendUnavailableError
        If the named backend cannot be imported here.
    """
    name, _ = _requested(backend)
    if name == "auto":
        return available_backends()[0]
    if not _tier_present(name):
        raise BackendUnavailableError(
            f"backend {name!r} is not available here (installed: {', '.join(available_backends())})")
    return name


def choose_backend(kernels: str | Iterable[str], backend: str = "auto", *, algorithm: str | None = None) -> str:
    """The one tier that runs ``kernels`` (all of them) for a ``backend`` request.

    Parameters
    ----------
    kernels : str or iterable of str
        Registry names of the kernels an algorithm calls on its hot path.
    backend : str
        ``"auto"`` or a tier name.
    algorithm : str, optional
        Named in error messages (defaults to the kernel names).

    Returns
    -------
    str
        A tier every kernel has and that is available here; never ``"auto"``.

    Raises
    ------
    InstanceError
        An explicit ``backend`` that one of the kernels does not have (the message names the tiers
        they have), or an unknown name.
    BackendUnavailableError
        A tier they have that cannot be imported here, or no common tier at all.
    """
    names = [kernels] if isinstance(kernels, str) else list(kernels)
    what = algorithm or ", ".join(names)

    def runs_all(b: str) -> bool:  # imports only the tier asked about
        return all(b in kernel_tiers_on(n, (b,)) for n in names)

    name, field = _requested(backend)
    if name != "auto" and runs_all(name):
        return name
    if name == "auto" or field == "TRIMCORE_BACKEND":  # the environment is a preference only
        for b in BACKENDS:  # fastest first; stops at the first tier that has every kernel
            if runs_all(b):
                return b
    declared = [b for b in BACKENDS if all(b in _declared_tiers(n) for n in names)]
    if name == "auto":
        raise BackendUnavailableError(f"{what}: no tier runs here (tiers in the code: {', '.join(declared) or 'none'};"
                                      f" available here: {', '.join(available_backends())})")
    if name not in declared:
        raise invalid(field, f"a tier that {what} has ({', '.join(declared) or 'none'})", name)
    raise BackendUnavailableError(
        f"{what}: backend {name!r} is not available here (installed: {', '.join(available_backends())};"
        f" tiers of {what}: {', '.join(declared)})")


def kernel(name: str, backend: str = "auto") -> Callable[..., Any]:
    """The function of kernel ``name`` on the tier :func:`choose_backend` picks for ``backend``."""
    family, short = _split(name)
    table = _table(family, choose_backend(name, backend))
    assert table is not None
    return table[short]


def registry(*, declared: bool = False) -> dict[str, dict[str, Callable[..., Any] | None]]:
    """``{kernel: {tier: function}}`` over every family, for the tests and the docs' tier matrix.

    With ``declared=True`` a tier that exists in the code but cannot be imported here appears with
    the value None (its kernel names are then unknown; the tier is listed under every kernel of
    the family that has a reference).
    """
    out: dict[str, dict[str, Callable[..., Any] | None]] = {}
    for family in FAMILIES:
        for backend in BACKENDS:
            for short, fn in (_table(family, backend) or {}).items():
                out.setdefault(f"{family}.{short}", {})[backend] = fn
    if declared:
        for name, tiers in out.items():
            family, _ = _split(name)
            for backend in BACKENDS:
                if backend not in tiers and _table(family, backend) is None and _declared(family, backend):
                    tiers[backend] = None
    return {name: {b: tiers[b] for b in BACKENDS if b in tiers} for name, tiers in sorted(out.items())}
