"""Backend dispatch for the hot kernels.

Every kernel exists in three tiers with the same name and signature:

* ``reference`` — :mod:`trimcore.kernels.reference`, plain NumPy, the oracle;
* ``numba`` — :mod:`trimcore.kernels.jit`, compiled with Numba (``NUMBA_CACHE_DIR`` sets where
  the compiled code is cached);
* ``cpp`` — :mod:`trimcore.kernels.native`, the C++17 core through pybind11.

``backend="auto"`` takes the ``TRIMCORE_BACKEND`` environment variable when it is set, otherwise
the fastest available tier (``cpp``, then ``numba``, then ``reference``).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from functools import cache
from types import ModuleType
from typing import Any

from trimcore.errors import BackendUnavailableError, invalid

__all__ = ["BACKENDS", "available_backends", "resolve_backend", "kernel", "kernel_backends"]

#: Every backend name, fastest first.
BACKENDS: tuple[str, ...] = ("cpp", "numba", "reference")
# Each tier may span several modules (one per paper family of kernels); the first module of a
# tier decides whether the tier is available at all.
_MODULES = {
    "cpp": ("trimcore.kernels.native",),
    "numba": ("trimcore.kernels.jit", "trimcore.kernels.jit_loading"),
    "reference": ("trimcore.kernels.reference", "trimcore.kernels.reference_loading"),
}


class _Tier:
    """The kernels of one backend, looked up across its modules."""

    def __init__(self, modules: list[ModuleType]) -> None:
        self._modules = modules

    def __getattr__(self, name: str) -> Any:
        for module in self._modules:
            if hasattr(module, name):
                return getattr(module, name)
        raise AttributeError(name)


@cache
def _module(backend: str) -> _Tier | None:
    names = _MODULES[backend]
    try:
        modules = [importlib.import_module(names[0])]
    except ImportError:
        return None
    for name in names[1:]:
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real import error inside an existing module must surface
                raise
    return _Tier(modules)


def available_backends() -> tuple[str, ...]:
    """Backends that can run here, fastest first."""
    return tuple(b for b in BACKENDS if _module(b) is not None)


def resolve_backend(backend: str = "auto") -> str:
    """Turn ``"auto"`` (or an explicit name) into an available backend name.

    Raises
    ------
    InstanceError
        If ``backend`` (or ``TRIMCORE_BACKEND``) is not a known name.
    BackendUnavailableError
        If the named backend cannot be imported here.
    """
    name = backend
    if backend == "auto":
        name = os.environ.get("TRIMCORE_BACKEND", "").strip().lower() or "auto"
        if name == "auto":
            return available_backends()[0]
        field = "TRIMCORE_BACKEND"
    else:
        field = "backend"
    if name not in BACKENDS:
        raise invalid(field, f"one of {('auto', *BACKENDS)}", name)
    if _module(name) is None:
        raise BackendUnavailableError(
            f"backend {name!r} is not available here (installed: {', '.join(available_backends())})")
    return name


def kernel_backends(name: str) -> tuple[str, ...]:
    """Available backends that implement kernel ``name``, fastest first."""
    return tuple(b for b in available_backends() if hasattr(_module(b), name))


def kernel(name: str, backend: str = "auto") -> Callable[..., Any]:
    """The kernel ``name`` of the resolved ``backend``.

    Not every kernel has every tier. With ``backend="auto"`` the tier named by
    ``TRIMCORE_BACKEND`` (or the fastest available) is used when it has the kernel, otherwise
    the fastest tier that has it; an explicit ``backend`` that lacks it raises
    :class:`BackendUnavailableError`.
    """
    chosen = resolve_backend(backend)
    module = _module(chosen)
    if hasattr(module, name):
        return getattr(module, name)
    having = kernel_backends(name)
    if backend == "auto" and having:
        return getattr(_module(having[0]), name)
    raise BackendUnavailableError(
        f"kernel {name!r} has no {chosen!r} tier; it exists for: {', '.join(having) or 'no tier'}")
