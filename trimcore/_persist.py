"""Ground floor for every stored object: ``save`` / ``load`` through :mod:`trimcore.instance.io`
and a short ``repr`` (arrays as ``dtype[shape]``, never their contents).

Problems, instances and results derive from :class:`Stored`; a dataclass deriving it must be
declared with ``repr=False`` so that the short repr is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

__all__ = ["Stored", "describe_value", "short_repr"]

S = TypeVar("S", bound="Stored")


def describe_value(value: Any) -> str:
    """A short text for ``repr``: arrays as ``dtype[shape]``, floats to 4 significant digits."""
    if isinstance(value, np.ndarray):
        return f"{value.dtype}[{', '.join(str(s) for s in value.shape)}]"
    if isinstance(value, float | np.floating):
        return f"{float(value):.4g}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k!r}: {describe_value(v)}" for k, v in list(value.items())[:6]) + (
            ", ..." if len(value) > 6 else "") + "}"
    if isinstance(value, list | tuple) and len(value) > 6:
        return f"{type(value).__name__}[{len(value)}]"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def short_repr(obj: object, names: tuple[str, ...] | list[str]) -> str:
    """``Type(name=value, ...)`` with every value through :func:`describe_value` (no array dumps)."""
    parts = ", ".join(f"{n}={describe_value(getattr(obj, n))}" for n in names)
    return f"{type(obj).__name__}({parts})"


class Stored:
    """Mixin: ``save``/``load`` as one atomic, validated ``.npz`` file, and a short ``repr``.

    The file kind is the class name; :meth:`load` rebuilds the object with its constructor, so a
    loaded object is validated exactly as a constructed one. :attr:`repr_fields` names what the
    ``repr`` shows (default: every constructor field).
    """

    repr_fields: ClassVar[tuple[str, ...]] = ()

    def save(self, path: str | Path) -> Path:
        """Write the object to ``path`` (``.npz`` + JSON header, atomic; see :mod:`trimcore.instance.io`).

        Returns
        -------
        pathlib.Path
            The path written (``.npz`` appended if missing).
        """
        from trimcore.instance.io import save_dataclass

        return save_dataclass(path, type(self).__name__, self)

    @classmethod
    def load(cls: type[S], path: str | Path) -> S:
        """Read an object written by :meth:`save`; every field is validated by the constructor.

        Raises
        ------
        InstanceError
            The file is missing, damaged, of another kind, or holds invalid values (named).
        """
        from trimcore.instance.io import load_dataclass

        return load_dataclass(path, cls, cls.__name__)

    def __repr__(self) -> str:
        import dataclasses

        names = self.repr_fields or tuple(f.name for f in dataclasses.fields(self) if f.init and f.repr)  # type: ignore[arg-type]
        return short_repr(self, names)
