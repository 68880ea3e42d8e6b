"""Exceptions raised by trimcore.

Every malformed input is refused at the boundary with :class:`InstanceError`, a
:class:`ValueError` whose message names the field, what was expected and what was given.
"""

from __future__ import annotations

__all__ = ["InstanceError", "BackendUnavailableError", "SolverError", "invalid"]


class InstanceError(ValueError):
    """An input (instance, decision, option or file) is malformed."""


class BackendUnavailableError(RuntimeError):
    """A requested computational backend (``"cpp"``, ``"numba"``) is not available."""


class SolverError(RuntimeError):
    """An external solver failed in a way that is not a property of the instance."""


def invalid(field: str, expected: str, given: object) -> InstanceError:
    """Build the standard :class:`InstanceError` message.

    Parameters
    ----------
    field : str
        Name of the offending argument or attribute, e.g. ``"block_sizes"``.
    expected : str
        What was expected, e.g. ``"finite values >= 0"``.
    given : object
        What was given; it is shortened if long.
    """
    text = given if isinstance(given, str) else repr(given)
    if len(text) > 120:
        text = text[:117] + "..."
    return InstanceError(f"{field}: expected {expected}, got {text}")
