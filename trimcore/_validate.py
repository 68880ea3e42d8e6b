"""Boundary validation helpers: convert user input to canonical arrays or raise InstanceError."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from trimcore.errors import invalid

__all__ = ["float_array", "bool_array", "index_array", "positive_scalar", "integer", "real", "make_rng"]


def _where(mask: np.ndarray) -> str:
    idx = tuple(int(t) for t in np.argwhere(mask)[0])
    return str(idx[0]) if len(idx) == 1 else str(idx)


def _shape_check(field: str, arr: np.ndarray, shape: tuple[int | None, ...] | None) -> None:
    if shape is None:
        return
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        raise invalid(field, f"shape {want}", f"array of shape {arr.shape}")


def float_array(
    field: str,
    value: Any,
    shape: tuple[int | None, ...] | None = None,
    *,
    minimum: float | None = None,
    strictly_positive: bool = False,
    allow_inf: bool = False,
) -> np.ndarray:
    """Return ``value`` as a C-contiguous read-only float64 array, or raise InstanceError."""
    if isinstance(value, np.ndarray) and value.dtype == np.bool_:
        raise invalid(field, "a real-valued array", "a boolean array")
    try:
        arr = np.array(value, dtype=np.float64, copy=True, order="C")
    except (TypeError, ValueError) as exc:
        raise invalid(field, "a real-valued array", f"{type(value).__name__} ({exc})") from None
    _shape_check(field, arr, shape)
    if np.isnan(arr).any():
        raise invalid(field, "no NaN values", f"NaN at index {_where(np.isnan(arr))}")
    if not allow_inf and np.isinf(arr).any():
        raise invalid(field, "finite values", f"inf at index {_where(np.isinf(arr))}")
    if strictly_positive and arr.size and (arr <= 0).any():
        raise invalid(field, "values > 0", f"{float(arr[arr <= 0][0])} at index {_where(arr <= 0)}")
    if minimum is not None and arr.size and (arr < minimum).any():
        raise invalid(field, f"values >= {minimum}",
                      f"{float(arr[arr < minimum][0])} at index {_where(arr < minimum)}")
    arr.setflags(write=False)
    return arr


def bool_array(field: str, value: Any, shape: tuple[int | None, ...] | None = None) -> np.ndarray:
    """Return ``value`` as a read-only bool array; integers 0/1 are accepted, anything else refused."""
    arr = np.asarray(value)
    if arr.dtype != np.bool_:
        if arr.dtype.kind in "iu" or (arr.dtype.kind == "f" and np.isfinite(arr).all()):
            if arr.size and not np.isin(arr, (0, 1)).all():
                raise invalid(field, "a boolean array (or 0/1 values)", f"dtype {arr.dtype} with values "
                              f"other than 0/1")
        else:
            raise invalid(field, "a boolean array", f"dtype {arr.dtype}")
    arr = np.array(arr, dtype=np.bool_, order="C", copy=True)
    _shape_check(field, arr, shape)
    arr.setflags(write=False)
    return arr


def index_array(field: str, value: Any, upper: int, *, shape: tuple[int | None, ...] | None = None,
                lower: int = 0) -> np.ndarray:
    """Return integer indices in ``[lower, upper)`` as read-only int64, or raise InstanceError.

    The range is checked in the given dtype, before any cast: a uint64 id of ``2**63`` or an
    int64 id of ``2**32`` is refused, never wrapped; floats must be integral (never truncated).
    """
    arr = np.asarray(value)
    if arr.size == 0:
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iuf":
        raise invalid(field, "integer indices", f"dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not (np.isfinite(arr).all() and (arr == np.round(arr)).all()):
        bad = arr[~(np.isfinite(arr) & (arr == np.round(arr)))][0]
        raise invalid(field, "integer indices", f"dtype {arr.dtype} with the non-integer value {float(bad)}")
    _shape_check(field, arr, shape)
    if arr.size:
        outside = (arr < lower) | (arr >= upper)  # compared in arr's own dtype: exact, no wrap-around
        if outside.any():
            bad = arr[outside][0]
            raise invalid(field, f"indices in [{lower}, {upper})", int(bad) if arr.dtype.kind != "f" else float(bad))
    arr = np.array(arr, dtype=np.int64, order="C", copy=True)
    arr.setflags(write=False)
    return arr


def positive_scalar(field: str, value: Any, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a finite float > 0 (or >= 0), or raise InstanceError (strings refused)."""
    if isinstance(value, str | bytes):
        raise invalid(field, "a real number", f"the string {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise invalid(field, "a real number", value) from None
    if not np.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
        raise invalid(field, "a finite number " + (">= 0" if allow_zero else "> 0"), value)
    return x


def integer(field: str, value: object, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as a Python int in ``[minimum, maximum]`` or raise InstanceError (bools refused)."""
    if isinstance(value, (bool, np.bool_)):
        raise invalid(field, "an integer", value)
    try:
        out = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise invalid(field, "an integer", value) from None
    if minimum is not None and out < minimum:
        raise invalid(field, f"an integer >= {minimum}", out)
    if maximum is not None and out > maximum:
        raise invalid(field, f"an integer <= {maximum}", out)
    return int(out)


def real(field: str, value: object, *, low: float | None = None, high: float | None = None,
           low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite float within the given bounds or raise InstanceError (bools, strings refused)."""
    if isinstance(value, bool | np.bool_ | str | bytes):
        raise invalid(field, "a real number", f"the string {value!r}" if isinstance(value, str | bytes) else value)
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise invalid(field, "a real number", value) from None
    lo_bad = low is not None and (x <= low if low_open else x < low)
    hi_bad = high is not None and (x >= high if high_open else x > high)
    if not np.isfinite(x) or lo_bad or hi_bad:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low}"
        hi = "" if high is None else f"{'<' if high_open else '<='} {high}"
        raise invalid(field, "a finite number " + " and ".join(t for t in (lo, hi) if t), value)
    return x


def make_rng(seed: object) -> np.random.Generator:
    """A numpy Generator from ``seed`` (None, an int >= 0, a SeedSequence or a Generator)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (bool, np.bool_)):
        raise invalid("seed", "None, a non-negative integer or a numpy Generator", seed)
    try:
        return np.random.default_rng(seed)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise invalid("seed", "None, a non-negative integer or a numpy Generator", seed) from None


def make_streams(seed: object, n: int) -> list[np.random.Generator]:
    """``n`` independent generators derived from ``seed`` (validated as in :func:`make_rng`).

    Child ``t`` comes from ``SeedSequence(seed).spawn(n)[t]``, whose spawn key does not depend on
    ``n``: a builder that adds a stream later does not change the earlier ones. A Generator
    spawns its own children; a SeedSequence spawns directly (both advance their spawn counter).
    """
    if isinstance(seed, np.random.Generator):
        return list(seed.spawn(n))
    if isinstance(seed, np.random.SeedSequence):
        return [np.random.default_rng(child) for child in seed.spawn(n)]
    make_rng(seed)  # validates
    return [np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(n)]  # type: ignore[arg-type]
