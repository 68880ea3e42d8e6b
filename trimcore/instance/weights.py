"""Model libraries from real weight files: the shared blocks found by content.

Each path is one model:

* a ``.safetensors`` file;
* a sharded checkpoint directory (``model.safetensors.index.json`` naming its shards);
* a ``.npz`` archive (``numpy.savez`` / ``savez_compressed``: every member a ``.npy``);
* a PEFT adapter directory (``adapter_config.json`` + ``adapter_model.safetensors``) whose
  ``base_model_name_or_path`` names another listed model: the adapter's tensors are its own
  blocks, and it shares every block of its base;
* a directory holding exactly one ``.safetensors`` file (a plain Hugging Face model folder).

Identity is content: two tensors are the same block when their dtype, shape and bytes agree
(a BLAKE2b digest of the bytes, never the names), so renamed-but-identical tensors are shared
and same-named but changed ones are not. Files are read through memory maps (``.npz`` members
through zip streams), in chunks, in parallel over files: a checkpoint is never in memory whole.

``granularity="tensor"``: a block is one distinct tensor, its size its byte count, its name the
tensor's (aliases counted). ``granularity="layer"``: the tensors of one model are grouped by their
layer prefix (``model.layers.7.``, ``transformer.h.7.``, ``encoder.layer.7.``, ``blocks.7.``); a
layer is one block whose identity is the multiset of its tensors' contents, so two models share a
layer only when every tensor of it agrees. Tensors outside any numbered layer stay single-tensor
blocks. Zero-byte tensors carry no parameters and are skipped.
"""

from __future__ import annotations

import hashlib
import json
import math
import mmap
import os
import re
import struct
import zipfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trimcore.errors import InstanceError, invalid
from trimcore.instance.blocks import ModelLibrary

__all__ = ["library_from_weights", "scan_checkpoint", "Checkpoint", "TensorRecord", "GRANULARITIES",
           "SAFETENSORS_DTYPES"]

GRANULARITIES = ("tensor", "layer")
#: Bytes per element of every safetensors dtype.
SAFETENSORS_DTYPES: dict[str, int] = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2, "I16": 2, "F16": 2, "BF16": 2,
    "U32": 4, "I32": 4, "F32": 4, "U64": 8, "I64": 8, "F64": 8, "C64": 8,
}
#: The same dtypes in NumPy's spelling, so that a tensor stored in a .safetensors file and in an
#: .npz archive is one content (bfloat16 and float8 have no NumPy name and keep theirs).
_NUMPY_NAME = {"BOOL": "|b1", "U8": "|u1", "I8": "|i1", "U16": "<u2", "I16": "<i2", "F16": "<f2", "U32": "<u4",
               "I32": "<i4", "F32": "<f4", "U64": "<u8", "I64": "<i8", "F64": "<f8", "C64": "<c8"}
#: Largest safetensors JSON header accepted (the format's own limit is 100 MB).
MAX_HEADER_BYTES = 100_000_000
#: Bytes hashed per step: large enough that hashlib releases the GIL and the loop costs nothing.
CHUNK_BYTES = 8 << 20
#: Show a progress bar from this many bytes to hash on (with ``progress=None``).
PROGRESS_FROM_BYTES = 256 << 20
_LAYER = re.compile(r"^(.*?(?:^|\.)(?:layers|layer|h|blocks|block)\.\d+)\.")
_INDEX = "model.safetensors.index.json"
_ADAPTER_CONFIG, _ADAPTER_WEIGHTS = "adapter_config.json", "adapter_model.safetensors"


@dataclass(frozen=True)
class TensorRecord:
    """One tensor of a checkpoint: where its bytes are and what identifies its content."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    file: Path
    offset: int  # first byte in ``file`` (safetensors) or in the zip member's data (npz)
    nbytes: int
    member: str | None = None  # the .npy member of an .npz archive
    digest: str = ""

    @property
    def key(self) -> tuple[str, tuple[int, ...], str]:
        """Content identity: dtype, shape and the digest of the bytes."""
        return self.dtype, self.shape, self.digest


@dataclass
class Checkpoint:
    """The tensors of one model, and the model it extends (a PEFT adapter's base)."""

    path: Path
    name: str
    tensors: list[TensorRecord] = field(default_factory=list)
    base: str | None = None


# ---------------------------------------------------------------------------------- reading
def _bad(path: Path, what: str) -> InstanceError:
    return InstanceError(f"{path}: {what}")


def _safetensors_header(path: Path) -> tuple[dict[str, Any], int, int]:
    """The JSON header of a safetensors file, the data start and the file size (all checked)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(8)
            if len(head) < 8:
                raise _bad(path, f"not a safetensors file ({size} bytes, shorter than its 8-byte header length)")
            (n,) = struct.unpack("<Q", head)
            if n < 2 or n > MAX_HEADER_BYTES or 8 + n > size:
                raise _bad(path, f"corrupt or truncated safetensors header (declares {n} header bytes in a "
                                 f"{size}-byte file)")
            raw = handle.read(n)
    except OSError as exc:
        raise _bad(path, f"cannot read ({exc.strerror or exc})") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise _bad(path, f"corrupt safetensors header ({type(exc).__name__}: {exc})") from None
    if not isinstance(header, dict):
        raise _bad(path, "corrupt safetensors header (not a JSON object)")
    return header, 8 + n, size


def _safetensors_records(path: Path, wanted: set[str] | None = None) -> list[TensorRecord]:
    header, start, size = _safetensors_header(path)
    records = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if wanted is not None and name not in wanted:
            continue
        try:
            dtype, shape, (begin, end) = info["dtype"], tuple(int(s) for s in info["shape"]), info["data_offsets"]
            begin, end = int(begin), int(end)
        except (KeyError, TypeError, ValueError) as exc:
            raise _bad(path, f"tensor {name!r}: malformed header entry ({type(exc).__name__}: {exc})") from None
        if dtype not in SAFETENSORS_DTYPES:
            raise _bad(path, f"tensor {name!r}: unknown dtype {dtype!r}")
        if any(s < 0 for s in shape) or not 0 <= begin <= end or start + end > size:
            raise _bad(path, f"tensor {name!r}: bytes [{begin}, {end}) lie outside the {size - start}-byte data "
                             "buffer (truncated file?)")
        expected = math.prod(shape) * SAFETENSORS_DTYPES[dtype]
        if end - begin != expected:
            raise _bad(path, f"tensor {name!r}: {end - begin} bytes for shape {list(shape)} of {dtype} "
                             f"({expected} expected)")
        records.append(TensorRecord(name, f"{_NUMPY_NAME.get(dtype, dtype)}/C", shape, path, start + begin,
                                    end - begin))
    return records


def _npz_records(path: Path) -> list[TensorRecord]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _bad(path, f"not an .npz archive ({exc})") from None
    records = []
    with archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                raise _bad(path, f"member {info.filename!r} is not a .npy array")
            try:
                with archive.open(info) as member:
                    shape, fortran, dtype = _npy_header(member)
                    offset = member.tell()
            except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
                raise _bad(path, f"member {info.filename!r}: not a readable .npy ({exc})") from None
            if dtype.hasobject:
                raise _bad(path, f"member {info.filename!r}: an object array (pickled data is never read)")
            nbytes = math.prod(shape) * dtype.itemsize
            if offset + nbytes != info.file_size:
                raise _bad(path, f"member {info.filename!r}: {info.file_size - offset} data bytes for shape "
                                 f"{list(shape)} of {dtype} ({nbytes} expected)")
            order = "F" if fortran else "C"
            records.append(TensorRecord(info.filename[:-4], f"{dtype.str}/{order}", tuple(shape), path, offset,
                                        nbytes, member=info.filename))
    return records


def _npy_header(member: Any) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Shape, Fortran order and dtype of a .npy stream, read without touching its data."""
    fmt = np.lib.format
    version = fmt.read_magic(member)
    if version == (1, 0):
        return fmt.read_array_header_1_0(member)
    if version == (2, 0):
        return fmt.read_array_header_2_0(member)
    reader = getattr(fmt, "_read_array_header", None)  # version 3.0 (utf-8 field names)
    if reader is None:
        raise ValueError(f".npy format version {version} is not supported")
    return reader(member, version)


def scan_checkpoint(path: str | os.PathLike[str], name: str | None = None) -> Checkpoint:
    """The tensors of one model's checkpoint (headers only; see the module doc for the formats).

    Raises
    ------
    InstanceError
        A missing path, a file that is not a checkpoint, a corrupt or truncated header, an index
        naming a missing shard or tensor, an adapter directory without its config or weights;
        the message names the file and what is wrong.
    """
    p = Path(path)
    label = name or (p.stem if p.is_file() else p.name)
    if not p.exists():
        raise _bad(p, "no such file or directory")
    if p.is_file():
        if p.suffix == ".npz":
            return Checkpoint(p, label, _npz_records(p))
        if p.suffix == ".safetensors":
            return Checkpoint(p, label, _safetensors_records(p))
        raise _bad(p, "not a checkpoint (expected .safetensors, .npz, a sharded or a PEFT adapter directory)")
    if (p / _ADAPTER_CONFIG).exists():
        try:
            config = json.loads((p / _ADAPTER_CONFIG).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise _bad(p / _ADAPTER_CONFIG, f"unreadable adapter config ({type(exc).__name__})") from None
        base = config.get("base_model_name_or_path") if isinstance(config, dict) else None
        if not isinstance(base, str) or not base:
            raise _bad(p / _ADAPTER_CONFIG, "no base_model_name_or_path: an adapter needs its base model")
        if not (p / _ADAPTER_WEIGHTS).exists():
            raise _bad(p, f"adapter directory without {_ADAPTER_WEIGHTS}")
        return Checkpoint(p, label, _safetensors_records(p / _ADAPTER_WEIGHTS), base=base)
    if (p / _INDEX).exists():
        try:
            index = json.loads((p / _INDEX).read_text(encoding="utf-8"))
            weight_map = index["weight_map"]
            if not isinstance(weight_map, dict):
                raise TypeError("weight_map is not an object")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, RecursionError) as exc:
            raise _bad(p / _INDEX, f"unreadable shard index ({type(exc).__name__}: {exc})") from None
        shards: dict[str, set[str]] = {}
        for tensor, shard in weight_map.items():
            if not isinstance(shard, str) or "/" in shard or "\\" in shard or shard in ("", ".", ".."):
                raise _bad(p / _INDEX, f"tensor {tensor!r}: shard {shard!r} is not a file name in the directory")
            shards.setdefault(shard, set()).add(tensor)
        records = []
        for shard, wanted in sorted(shards.items()):
            if not (p / shard).is_file():
                raise _bad(p / _INDEX, f"names the missing shard {shard!r}")
            found = _safetensors_records(p / shard, wanted)
            lost = wanted - {r.name for r in found}
            if lost:
                raise _bad(p / shard, f"lacks tensors the index places there: {sorted(lost)[:3]}")
            records += found
        return Checkpoint(p, label, records)
    files = sorted(p.glob("*.safetensors"))
    if len(files) == 1:
        return Checkpoint(p, label, _safetensors_records(files[0]))
    raise _bad(p, f"not a checkpoint directory (no {_INDEX}, no {_ADAPTER_CONFIG}, "
                  f"{len(files)} .safetensors files)")


# ---------------------------------------------------------------------------------- hashing
def _hash_file(records: list[TensorRecord]) -> list[TensorRecord]:
    """Digests of the records of one file, read once through a memory map (or zip streams)."""
    if not records:
        return []
    path = records[0].file
    out = []
    if records[0].member is not None:
        with zipfile.ZipFile(path) as archive:
            for r in records:
                digest = hashlib.blake2b(digest_size=20)
                with archive.open(r.member) as member:  # type: ignore[arg-type]
                    member.seek(r.offset)
                    left = r.nbytes
                    while left:
                        chunk = member.read(min(CHUNK_BYTES, left))
                        if not chunk:
                            raise _bad(path, f"member {r.member!r} ends early")
                        digest.update(chunk)
                        left -= len(chunk)
                out.append(_with_digest(r, digest.hexdigest()))
        return out
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            return [_with_digest(r, hashlib.blake2b(digest_size=20).hexdigest()) for r in records]
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
            for r in records:
                digest = hashlib.blake2b(digest_size=20)
                for start in range(r.offset, r.offset + r.nbytes, CHUNK_BYTES):
                    stop = min(start + CHUNK_BYTES, r.offset + r.nbytes)
                    with memoryview(view)[start:stop] as window:  # no copy of the bytes
                        digest.update(window)
                    _release(view, start, stop)
                out.append(_with_digest(r, digest.hexdigest()))
    return out


def _release(view: mmap.mmap, start: int, stop: int) -> None:
    """Drop the pages of ``[start, stop)`` from this process's mapping once they are hashed, so the
    resident set stays a few chunks whatever the checkpoint's size (the page cache keeps them)."""
    advise = getattr(view, "madvise", None)
    flag = getattr(mmap, "MADV_DONTNEED", None)
    if advise is None or flag is None:
        return
    first = start - start % mmap.PAGESIZE
    if stop > first:
        advise(flag, first, stop - first)


def _with_digest(record: TensorRecord, digest: str) -> TensorRecord:
    return TensorRecord(record.name, record.dtype, record.shape, record.file, record.offset, record.nbytes,
                        record.member, digest)


def _hash_all(checkpoints: list[Checkpoint], workers: int | None, progress: bool | None) -> None:
    by_file: dict[tuple[Path, bool], list[tuple[int, int]]] = {}
    for c, ckpt in enumerate(checkpoints):
        for t, r in enumerate(ckpt.tensors):
            by_file.setdefault((r.file, r.member is not None), []).append((c, t))
    jobs = [[checkpoints[c].tensors[t] for c, t in slots] for slots in by_file.values()]
    total = sum(r.nbytes for job in jobs for r in job)
    show = total >= PROGRESS_FROM_BYTES if progress is None else bool(progress)
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="B", unit_scale=True, desc="hashing weights")
    n_workers = workers if workers is not None else min(8, os.cpu_count() or 1)
    try:
        with ThreadPoolExecutor(max_workers=max(1, n_workers)) as pool:  # hashlib releases the GIL
            for slots, hashed in zip(by_file.values(), pool.map(_hash_file, jobs)):
                for (c, t), record in zip(slots, hashed):
                    checkpoints[c].tensors[t] = record
                if bar is not None:
                    bar.update(sum(r.nbytes for r in hashed))
    finally:
        if bar is not None:
            bar.close()


# ---------------------------------------------------------------------------------- blocks
def _groups(tensors: Iterable[TensorRecord], granularity: str) -> dict[str, list[TensorRecord]]:
    groups: dict[str, list[TensorRecord]] = {}
    for r in tensors:
        if r.nbytes == 0:
            continue
        match = _LAYER.match(r.name) if granularity == "layer" else None
        groups.setdefault(match.group(1) if match else r.name, []).append(r)
    return groups


def library_from_weights(paths: Sequence[str | os.PathLike[str]], *, granularity: str = "tensor",
                         names: Sequence[str] | None = None, families: Sequence[str] | None = None,
                         workers: int | None = None, progress: bool | None = None) -> ModelLibrary:
    """A :class:`ModelLibrary` whose blocks are the distinct contents of the models' weights.

    Parameters
    ----------
    paths : sequence of path-like
        One checkpoint per model (see the module doc for the formats).
    granularity : {"tensor", "layer"}
        A block is one distinct tensor, or one distinct layer (tensors grouped by layer prefix).
    names : sequence of str, optional
        Model names (default: the file or directory names; they must be distinct). A PEFT
        adapter's ``base_model_name_or_path`` is matched against these names and the paths.
    families : sequence of str, optional
        A family name per model. Default: models that share a block are one family (connected
        components of sharing; an adapter joins its base's), named after their first model.
    workers : int, optional
        Files hashed in parallel (default: the CPUs, at most 8).
    progress : bool, optional
        Show a progress bar (default: when there are at least 256 MiB to hash).

    Returns
    -------
    ModelLibrary
        Block sizes are byte counts; block names say which tensor(s) or layer each block is.

    Raises
    ------
    InstanceError
        Bad paths or files (see :func:`scan_checkpoint`), an adapter whose base is not listed, a
        model without any non-empty tensor, duplicate names, wrong counts of names or families.
    """
    if granularity not in GRANULARITIES:
        raise invalid("granularity", f"one of {GRANULARITIES}", granularity)
    if isinstance(paths, (str, os.PathLike)) or len(paths) == 0:
        raise invalid("paths", "a non-empty sequence of checkpoint paths", paths)
    if names is not None and (isinstance(names, str) or len(names) != len(paths)):
        raise invalid("names", f"{len(paths)} model names", names)
    if families is not None and (isinstance(families, str) or len(families) != len(paths)):
        raise invalid("families", f"{len(paths)} family names", families)
    checkpoints = [scan_checkpoint(p, None if names is None else str(names[i])) for i, p in enumerate(paths)]
    labels = [c.name for c in checkpoints]
    if len(set(labels)) != len(labels):
        twice = sorted({n for n in labels if labels.count(n) > 1})
        raise invalid("names", "distinct model names (pass names=...)", f"{twice} more than once")
    _hash_all(checkpoints, workers, progress)

    # the base of every adapter, by name or path
    lookup = {c.name: i for i, c in enumerate(checkpoints)}
    lookup.update({str(c.path): i for i, c in enumerate(checkpoints)})
    lookup.update({str(c.path.resolve()): i for i, c in enumerate(checkpoints)})
    base_of: list[int | None] = []
    for c in checkpoints:
        if c.base is None:
            base_of.append(None)
            continue
        hit = lookup.get(c.base, lookup.get(Path(c.base).name, lookup.get(str(Path(c.base).resolve()))))
        if hit is None:
            raise _bad(c.path, f"adapter of base {c.base!r}, which is not among the listed models "
                               f"({', '.join(labels)})")
        base_of.append(hit)

    block_of: dict[tuple[Any, ...], int] = {}
    sizes: list[int] = []
    block_names: list[list[str]] = []
    own: list[set[int]] = []
    for c in checkpoints:
        mine: set[int] = set()
        for group, members in _groups(c.tensors, granularity).items():
            key = tuple(sorted(r.key for r in members)) if granularity == "layer" else members[0].key
            b = block_of.get(key)
            if b is None:
                b = block_of[key] = len(sizes)
                sizes.append(sum(r.nbytes for r in members))
                block_names.append([])
            if group not in block_names[b]:
                block_names[b].append(group)
            mine.add(b)
        own.append(mine)
    model_blocks = [set(s) for s in own]
    for i in range(len(checkpoints)):  # an adapter has its base's blocks (and its base's base's)
        seen, j = set(), base_of[i]
        while j is not None and j not in seen:
            seen.add(j)
            model_blocks[i] |= own[j]
            j = base_of[j]
        if j is not None:
            raise _bad(checkpoints[i].path, "adapters whose bases form a cycle")
    empty = [checkpoints[i].path for i, b in enumerate(model_blocks) if not b]
    if empty:
        raise _bad(empty[0], "holds no non-empty tensor")

    if families is None:
        fam_ids, fam_names = _sharing_components(model_blocks, base_of, labels)
    else:
        fam_names = list(dict.fromkeys(str(f) for f in families))
        fam_ids = [fam_names.index(str(f)) for f in families]
    shown = [n[0] if len(n) == 1 else f"{n[0]} (+{len(n) - 1} aliases)" for n in block_names]
    return ModelLibrary.from_lists(np.asarray(sizes, dtype=np.float64), [sorted(b) for b in model_blocks],
                                   model_names=labels, families=fam_ids, family_names=fam_names,
                                   block_names=shown)


def _sharing_components(model_blocks: list[set[int]], base_of: list[int | None],
                        labels: list[str]) -> tuple[list[int], list[str]]:
    """Family ids: connected components of 'shares a block' (and 'is an adapter of')."""
    parent = list(range(len(model_blocks)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_model: dict[int, int] = {}
    for i, blocks in enumerate(model_blocks):
        for b in blocks:
            j = first_model.setdefault(b, i)
            parent[root(i)] = root(j)
        if base_of[i] is not None:
            parent[root(i)] = root(base_of[i])  # type: ignore[arg-type]
    ids: dict[int, int] = {}
    fam = [ids.setdefault(root(i), len(ids)) for i in range(len(model_blocks))]
    names = [labels[fam.index(f)] for f in range(len(ids))]
    return fam, names
