"""Save and load instances and results: versioned ``.npz`` files, atomic writes, no pickle.

File format (``FORMAT_VERSION = 1``): an ``.npz`` archive (written by :func:`numpy.savez` with
``allow_pickle=False``) holding the user's arrays plus one extra ``uint8`` array named
``__header__``: the UTF-8 JSON text of ::

    {"format": "trimcore", "version": 1, "kind": <str>, "meta": <dict>,
     "arrays": {<name>: [<dtype str>, <shape list>], ...}}

``kind`` says what the file holds (``"library"``, a problem, a result ...); ``arrays`` is a
manifest checked on load. Writes go to a temporary file in the target's directory which is
flushed, fsync'ed and then moved over the target with :func:`os.replace`, so a reader never
sees a half-written file and a failed write leaves an existing target untouched. Loading never
unpickles anything; every defect (missing, truncated or corrupted file, foreign file, malformed
header, other version or kind) raises :class:`~trimcore.errors.InstanceError` naming the file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import stat
import sys
import tempfile
import typing
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from trimcore.errors import InstanceError, invalid
from trimcore.instance.blocks import ModelLibrary

__all__ = [
    "FORMAT_VERSION",
    "load_arrays",
    "load_dataclass",
    "load_library",
    "save_arrays",
    "save_dataclass",
    "save_library",
]

#: Version of the file layout written by :func:`save_arrays`; files of other versions are refused.
FORMAT_VERSION = 1

_HEADER = "__header__"
_FORMAT = "trimcore"
# Names np.savez cannot take as keyword arguments, plus our header.
_RESERVED = frozenset({_HEADER, "file", "allow_pickle"})
_LIBRARY_ARRAYS = ("block_sizes", "indptr", "indices", "model_family")
_LIBRARY_NAMES = ("model_names", "family_names", "block_names")

T = TypeVar("T")


# ---------------------------------------------------------------------------------- paths
def _as_path(path: object) -> Path:
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise invalid("path", "a str or os.PathLike file path", type(path).__name__)
    return Path(os.fspath(path))


def _npz_path(path: object) -> Path:
    """``path`` with ``.npz`` appended unless it already ends with it."""
    p = _as_path(path)
    return p if p.suffix == ".npz" else p.with_name(p.name + ".npz")


def _existing_path(path: object) -> Path:
    """The file to read: ``path`` itself if it exists, else ``path + ".npz"`` (as written by save)."""
    p = _as_path(path)
    if not p.exists() and p.suffix != ".npz":
        q = p.with_name(p.name + ".npz")
        if q.exists():
            return q
    return p


# ---------------------------------------------------------------------------------- arrays
def save_arrays(path: str | os.PathLike[str], kind: str, arrays: Mapping[str, np.ndarray],
                meta: Mapping[str, Any]) -> Path:
    """Atomically write ``arrays`` and a JSON header into an ``.npz`` file.

    Parameters
    ----------
    path : str or path-like
        Target file; ``".npz"`` is appended if missing. Its directory must exist.
    kind : str
        What the file holds, checked by :func:`load_arrays`; non-empty.
    arrays : mapping str -> ndarray
        Arrays to store. Names must be non-empty strings other than ``"__header__"``, ``"file"``
        and ``"allow_pickle"``; object arrays are refused (they would need pickle).
    meta : mapping
        JSON-serialisable metadata (str keys). It comes back as parsed JSON: tuples become lists;
        NaN and infinities are kept.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    InstanceError
        Bad ``kind``, array names or dtypes, non-JSON ``meta``, or a missing directory.
    OSError
        If writing fails; the temporary file is removed and an existing target is untouched.
    """
    target = _npz_path(path)
    if not isinstance(kind, str) or not kind:
        raise invalid("kind", "a non-empty string", kind)
    if not isinstance(arrays, Mapping):
        raise invalid("arrays", "a mapping name -> ndarray", type(arrays).__name__)
    if not isinstance(meta, Mapping):
        raise invalid("meta", "a mapping with str keys", type(meta).__name__)
    store: dict[str, np.ndarray] = {}
    manifest: dict[str, list[Any]] = {}
    for name, value in arrays.items():
        if not isinstance(name, str) or not name or name in _RESERVED:
            raise invalid("arrays", f"non-empty names other than {sorted(_RESERVED)}", name)
        arr = np.asarray(value)
        if arr.dtype.hasobject:
            raise invalid(f"arrays[{name!r}]", "an array without Python objects", f"dtype {arr.dtype}")
        store[name] = arr
        manifest[name] = [arr.dtype.str, list(arr.shape)]
    header = {"format": _FORMAT, "version": FORMAT_VERSION, "kind": kind, "meta": dict(meta),
              "arrays": manifest}
    try:
        text = json.dumps(header, allow_nan=True, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise invalid("meta", "JSON-serialisable values with str keys", str(exc)) from None
    store[_HEADER] = np.frombuffer(text, dtype=np.uint8)

    directory = target.parent
    if not directory.is_dir():
        raise invalid("path", "a file in an existing directory", str(target))
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, allow_pickle=False, **store)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            mode = 0o644
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(directory)
    return target


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable (POSIX); silently skipped where directories cannot be opened."""
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def _bad(path: Path, what: str) -> InstanceError:
    return InstanceError(f"{path}: {what}")


def _parse_header(path: Path, raw: np.ndarray, kind: str | None) -> dict[str, Any]:
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise _bad(path, f"malformed header (expected a uint8 vector, got {raw.dtype} {raw.shape})")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad(path, f"malformed header JSON ({exc})") from None
    except RecursionError:  # a crafted header nested deeper than the interpreter's stack
        raise _bad(path, f"malformed header JSON (nested deeper than {sys.getrecursionlimit()} levels)") from None
    if not isinstance(header, dict) or header.get("format") != _FORMAT:
        raise _bad(path, "not a trimcore file (header lacks format 'trimcore')")
    version = header.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise _bad(path, f"malformed header (version {version!r} is not an integer)")
    if version != FORMAT_VERSION:
        newer = " (written by a newer trimcore)" if version > FORMAT_VERSION else ""
        raise _bad(path, f"unsupported format version {version}{newer}; this trimcore reads "
                         f"version {FORMAT_VERSION}")
    if not isinstance(header.get("kind"), str):
        raise _bad(path, "malformed header (kind is not a string)")
    if kind is not None and header["kind"] != kind:
        raise _bad(path, f"wrong kind: expected {kind!r}, the file holds {header['kind']!r}")
    if not isinstance(header.get("meta"), dict):
        raise _bad(path, "malformed header (meta is not an object)")
    if not isinstance(header.get("arrays"), dict):
        raise _bad(path, "malformed header (arrays manifest is not an object)")
    return header


#: A compressed member may inflate at most this many times (plus 1 MiB): trimcore writes stored
#: (uncompressed) members, so more is a crafted decompression bomb, refused before reading it.
MAX_INFLATION = 64


def _check_inflation(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except Exception:  # noqa: BLE001 - any damage: np.load below reports what the file is
        return
    for member in members:
        if member.file_size > MAX_INFLATION * member.compress_size + 2**20:
            raise _bad(path, f"member {member.filename!r} would inflate from {member.compress_size} to "
                             f"{member.file_size} bytes (more than {MAX_INFLATION}x: a decompression bomb?)")


def load_arrays(path: str | os.PathLike[str], kind: str | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """Read a file written by :func:`save_arrays`.

    Parameters
    ----------
    path : str or path-like
        The file (``".npz"`` may be omitted, as in :func:`save_arrays`).
    kind : str, optional
        Required kind; ``None`` accepts any.

    Returns
    -------
    arrays : dict str -> ndarray
        The stored arrays (writable copies), without the header.
    meta : dict
        The stored metadata.

    Raises
    ------
    InstanceError
        Missing, truncated or corrupted file, not a trimcore file, malformed header, other format
        version, wrong kind, or arrays that do not match the header's manifest. The message starts
        with the file path.
    """
    p = _existing_path(path)
    if kind is not None and (not isinstance(kind, str) or not kind):
        raise invalid("kind", "None or a non-empty string", kind)
    if not p.exists():
        raise _bad(p, "no such file")
    if not p.is_file():
        raise _bad(p, "not a regular file")
    _check_inflation(p)
    try:
        loaded = np.load(p, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise _bad(p, "not a trimcore file (a bare .npy array, not an .npz archive)")
        with loaded as npz:
            if _HEADER not in npz.files:
                raise _bad(p, "not a trimcore file (no __header__ entry)")
            header = _parse_header(p, npz[_HEADER], kind)
            arrays = {name: npz[name] for name in npz.files if name != _HEADER}
    except InstanceError:
        raise
    except Exception as exc:  # any decoding failure of an untrusted file is an input error
        raise _bad(p, f"truncated, corrupted or not an .npz file ({type(exc).__name__}: {exc})") from exc
    manifest = header["arrays"]
    if set(manifest) != set(arrays):
        raise _bad(p, f"arrays {sorted(arrays)} do not match the header manifest {sorted(manifest)}")
    for name, arr in arrays.items():
        spec = manifest[name]
        if (not isinstance(spec, list) or len(spec) != 2 or spec[0] != arr.dtype.str
                or spec[1] != list(arr.shape)):
            raise _bad(p, f"array {name!r} is {arr.dtype.str} {list(arr.shape)}, the header says {spec}")
    return arrays, header["meta"]


# ---------------------------------------------------------------------------------- libraries
def library_parts(lib: ModelLibrary, prefix: str = "") -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Arrays (names prefixed with ``prefix``) and name metadata that store ``lib`` in a file."""
    arrays = {prefix + name: np.asarray(getattr(lib, name)) for name in _LIBRARY_ARRAYS}
    meta = {name: list(getattr(lib, name)) for name in _LIBRARY_NAMES}
    return arrays, meta


def library_from_parts(path: Path, arrays: Mapping[str, np.ndarray], meta: object,
                        prefix: str = "") -> ModelLibrary:
    """Rebuild (and re-validate) a library stored by :func:`library_parts`; errors name ``path``."""
    where = f"library {prefix[:-1]!r}" if prefix else "library"
    missing = [prefix + n for n in _LIBRARY_ARRAYS if prefix + n not in arrays]
    if missing:
        raise _bad(path, f"{where}: missing arrays {missing}")
    if not isinstance(meta, dict) or any(
            not isinstance(meta.get(n), list) or not all(isinstance(s, str) for s in meta[n])
            for n in _LIBRARY_NAMES):
        raise _bad(path, f"{where}: metadata must hold string lists {list(_LIBRARY_NAMES)}")
    sizes, indptr, indices, family = (arrays[prefix + n] for n in _LIBRARY_ARRAYS)
    for name, arr in (("indptr", indptr), ("indices", indices), ("model_family", family)):
        if arr.ndim != 1 or arr.dtype.kind not in "iu":
            raise _bad(path, f"{where}: {name} must be a 1-D integer array, got {arr.dtype} {arr.shape}")
    if (indptr.size < 2 or indptr[0] != 0 or (np.diff(indptr) < 0).any()
            or indptr[-1] != indices.size):
        raise _bad(path, f"{where}: indptr is not a valid CSR pointer for {indices.size} indices")
    bounds = indptr.astype(np.int64).tolist()
    blocks = [indices[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    block_names = meta["block_names"] or None  # a library built without block names
    try:
        return ModelLibrary.from_lists(sizes, blocks, model_names=meta["model_names"], families=family,
                                       family_names=meta["family_names"], block_names=block_names)
    except InstanceError as exc:
        raise _bad(path, f"{where}: {exc}") from exc


def save_library(path: str | os.PathLike[str], lib: ModelLibrary) -> Path:
    """Atomically save a :class:`ModelLibrary` (kind ``"library"``); returns the path written."""
    if not isinstance(lib, ModelLibrary):
        raise invalid("lib", "a ModelLibrary", type(lib).__name__)
    arrays, meta = library_parts(lib)
    return save_arrays(path, "library", arrays, meta)


def load_library(path: str | os.PathLike[str]) -> ModelLibrary:
    """Load a library saved by :func:`save_library`, re-validated by :meth:`ModelLibrary.from_lists`.

    Raises
    ------
    InstanceError
        Any file defect (see :func:`load_arrays`) or a library that fails validation; the message
        names the file.
    """
    arrays, meta = load_arrays(path, "library")
    return library_from_parts(_existing_path(path), arrays, meta)


# ---------------------------------------------------------------------------------- dataclasses
def _encode(value: object, where: str, arrays: dict[str, np.ndarray] | None = None, prefix: str = "") -> Any:
    """Exact JSON encoding of scalars and tuple / list / dict containers of them.

    With ``arrays``, an ndarray inside a container is stored there (as ``<prefix>values.<n>``) and
    encoded as a reference to it.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.ndarray) and arrays is not None:
        if value.dtype.hasobject:
            raise invalid(where, "an array without Python objects", f"dtype {value.dtype}")
        name = f"{prefix}values.{len(arrays)}"  # unique: the dict only grows
        arrays[name] = value
        return {"__array__": name}
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, f"{where}[{t}]", arrays, prefix) for t, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, f"{where}[{t}]", arrays, prefix) for t, v in enumerate(value)]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise invalid(where, "a dict with str keys", list(value)[:5])
        return {"__dict__": {k: _encode(v, f"{where}[{k!r}]", arrays, prefix) for k, v in value.items()}}
    raise invalid(where, "an ndarray, a ModelLibrary, None, bool, int, float, str, or a tuple / list / "
                         "dict (str keys) of those", type(value).__name__)


#: Deepest nesting of containers a stored dataclass value may have (deeper: a crafted file).
MAX_VALUE_DEPTH = 100


def _decode(value: Any, depth: int = 0, arrays: Mapping[str, np.ndarray] | None = None) -> Any:
    if depth > MAX_VALUE_DEPTH:
        raise ValueError(f"values nested deeper than {MAX_VALUE_DEPTH} levels")
    if isinstance(value, list):
        return [_decode(v, depth + 1, arrays) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(_decode(v, depth + 1, arrays) for v in value["__tuple__"])
        if set(value) == {"__dict__"}:
            return {k: _decode(v, depth + 1, arrays) for k, v in value["__dict__"].items()}
        if set(value) == {"__array__"}:
            if arrays is None or not isinstance(value["__array__"], str) or value["__array__"] not in arrays:
                raise ValueError(f"a value refers to the missing array {value['__array__']!r}")
            return arrays[value["__array__"]]
        raise ValueError(f"unknown encoded object with keys {sorted(value)}")
    return value


def save_dataclass(path: str | os.PathLike[str], kind: str, obj: object) -> Path:
    """Atomically save a dataclass instance (e.g. a problem or a result).

    Supported field values: ``numpy.ndarray`` (stored as an array named after the field), other
    dataclass instances (stored the same way, recursively, under ``"<field>."``; the loader
    finds their class from the field's type annotation),
    :class:`ModelLibrary` (stored as arrays ``"<field>.block_sizes"``, ``"<field>.indptr"``,
    ``"<field>.indices"``, ``"<field>.model_family"`` plus its names in the metadata), and
    ``None`` / ``bool`` / ``int`` / ``float`` / ``str`` (NumPy scalars included) or tuples,
    lists and str-keyed dicts of those (stored exactly in the JSON metadata, tuples stay tuples).
    Fields declared with ``init=False`` are not stored (the constructor recomputes them).

    Parameters
    ----------
    path : str or path-like
        Target file (``".npz"`` appended if missing).
    kind : str
        File kind checked by :func:`load_dataclass`.
    obj : dataclass instance

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    InstanceError
        ``obj`` is not a dataclass instance or a field has an unsupported type (named in the
        message).
    """
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        raise invalid("obj", "a dataclass instance", type(obj).__name__)
    arrays: dict[str, np.ndarray] = {}
    meta = _dataclass_parts(obj, "", arrays)
    return save_arrays(path, kind, arrays, meta)


def _dataclass_parts(obj: Any, prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Metadata of one dataclass instance; its arrays go into ``arrays`` under ``prefix``."""
    libraries: dict[str, Any] = {}
    values: dict[str, Any] = {}
    nested: dict[str, Any] = {}
    array_fields: list[str] = []
    for f in dataclasses.fields(obj):
        if not f.init:
            continue
        value = getattr(obj, f.name)
        where = f"{type(obj).__name__}.{f.name}"
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject:
                raise invalid(where, "an array without Python objects", f"dtype {value.dtype}")
            arrays[prefix + f.name] = value
            array_fields.append(f.name)
        elif isinstance(value, ModelLibrary):
            lib_arrays, libraries[f.name] = library_parts(value, prefix=f"{prefix}{f.name}.")
            arrays.update(lib_arrays)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            nested[f.name] = _dataclass_parts(value, f"{prefix}{f.name}.", arrays)
        else:
            values[f.name] = _encode(value, where, arrays, prefix)
    return {"class": type(obj).__qualname__, "array_fields": array_fields, "libraries": libraries,
            "values": values, "nested": nested}


def _nested_type(p: Path, cls: type, name: str) -> type:
    """The dataclass type that field ``name`` of ``cls`` declares (``X`` or ``X | None``)."""
    try:
        hint = typing.get_type_hints(cls)[name]
    except (KeyError, NameError, TypeError) as exc:
        raise _bad(p, f"{cls.__qualname__}.{name} has no resolvable type ({type(exc).__name__})") from None
    for candidate in (hint, *typing.get_args(hint)):
        if isinstance(candidate, type) and dataclasses.is_dataclass(candidate):
            return candidate
    raise _bad(p, f"{cls.__qualname__}.{name} is stored as a dataclass but declared {hint}")


def _build_dataclass(p: Path, cls: type[T], arrays: Mapping[str, np.ndarray], meta: Any, prefix: str) -> T:
    """``cls(**fields)`` from the parts :func:`_dataclass_parts` wrote under ``prefix``."""
    try:
        array_fields = list(meta["array_fields"])
        libraries = dict(meta["libraries"])
        values = {k: _decode(v, 0, arrays) for k, v in dict(meta["values"]).items()}
        nested = dict(meta.get("nested", {}))
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise _bad(p, f"malformed dataclass metadata ({type(exc).__name__}: {exc})") from None
    kwargs: dict[str, Any] = {}
    for name in array_fields:
        if prefix + name not in arrays:
            raise _bad(p, f"array field {prefix + name!r} is missing")
        kwargs[name] = arrays[prefix + name]
    for name, lib_meta in libraries.items():
        kwargs[name] = library_from_parts(p, arrays, lib_meta, prefix=f"{prefix}{name}.")
    kwargs.update(values)
    init_fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    for name, sub in nested.items():
        if name in init_fields:
            kwargs[name] = _build_dataclass(p, _nested_type(p, cls, name), arrays, sub, f"{prefix}{name}.")
        else:
            kwargs[name] = sub
    unknown = sorted(set(kwargs) - set(init_fields))
    missing = sorted(n for n, f in init_fields.items() if n not in kwargs
                     and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
    if unknown or missing:
        raise _bad(p, f"fields do not match {cls.__qualname__}: unknown {unknown}, missing {missing}")
    try:
        return cls(**kwargs)
    except InstanceError as exc:
        raise _bad(p, f"invalid {cls.__qualname__}: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise _bad(p, f"cannot build {cls.__qualname__} ({type(exc).__name__}: {exc})") from exc


def load_dataclass(path: str | os.PathLike[str], cls: type[T], kind: str) -> T:
    """Load a dataclass saved by :func:`save_dataclass` and rebuild it with ``cls(**fields)``.

    Libraries are re-validated through :meth:`ModelLibrary.from_lists`; ``cls``'s constructor
    validates the rest.

    Parameters
    ----------
    path : str or path-like
        The file.
    cls : dataclass type
        The class to build; the stored fields must be ``init`` fields of it, and every field of it
        without a default must be stored.
    kind : str
        Required file kind.

    Raises
    ------
    InstanceError
        File defects (see :func:`load_arrays`), fields that do not match ``cls``, or a
        constructor that rejects the stored values; the message names the file.
    """
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise invalid("cls", "a dataclass type", cls)
    arrays, meta = load_arrays(path, kind)
    return _build_dataclass(_existing_path(path), cls, arrays, meta, "")
