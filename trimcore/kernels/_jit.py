"""The ``njit`` of every Numba tier: compiled code is cached on disk when Numba can cache here.

Numba refuses ``cache=True`` at decoration time (``RuntimeError: cannot cache function ... no
locator available``) when it finds no writable cache directory: a read-only installation and an
unwritable HOME (a system site-packages, a container). The kernels then compile in memory on each
run, with one warning, instead of the tier failing to import. No fallback directory is invented:
Numba's cache files are pickles, and a predictable shared directory (``/tmp/...``) would let another
user plant code; ``NUMBA_CACHE_DIR`` is the way to choose one.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

import numba

__all__ = ["njit"]

F = TypeVar("F", bound=Callable[..., Any])


def njit(**options: Any) -> Callable[[F], F]:
    """``numba.njit(cache=True, **options)``, or ``cache=False`` with one warning when Numba cannot cache."""

    def decorate(func: F) -> F:
        try:
            return numba.njit(cache=True, **options)(func)
        except RuntimeError as exc:
            if "no locator available" not in str(exc):
                raise
            _warn_no_cache()
            return numba.njit(cache=False, **options)(func)

    return decorate


@cache
def _warn_no_cache() -> None:
    warnings.warn("trimcore: Numba has no writable cache directory here (set NUMBA_CACHE_DIR); the numba "
                  "kernels are compiled in memory on every run", RuntimeWarning, stacklevel=4)
