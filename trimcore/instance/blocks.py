"""The model library: parameter blocks, which models are made of which blocks, and families.

A model is a set of parameter blocks. Models fine-tuned from one backbone share the frozen
blocks, so the storage needed for a set of models is the size of the *union* of their blocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import ClassVar

import numpy as np

from trimcore._persist import Stored
from trimcore._validate import float_array
from trimcore.errors import invalid

__all__ = ["ModelLibrary", "WORD_BITS"]

#: Number of blocks per bitset word in :attr:`ModelLibrary.bitsets`.
WORD_BITS = 64


@dataclass(frozen=True, eq=False, repr=False)
class ModelLibrary(Stored):
    """Immutable block structure of a model library.

    Build it with :meth:`from_lists` (which validates); the constructor trusts its arguments.

    Attributes
    ----------
    block_sizes : ndarray of float64, shape (J,)
        Size of every block in bytes, all > 0.
    indptr, indices : ndarray of int64
        CSR membership: the blocks of model ``i`` are ``indices[indptr[i]:indptr[i + 1]]``,
        sorted ascending, without duplicates, never empty.
    model_names : tuple of str, length I
    model_family : ndarray of int64, shape (I,)
        Family id of each model (the backbone it was fine-tuned from).
    family_names : tuple of str
    block_names : tuple of str, length J
    """

    block_sizes: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    model_names: tuple[str, ...]
    model_family: np.ndarray
    family_names: tuple[str, ...]
    block_names: tuple[str, ...] = field(default=())

    repr_fields: ClassVar[tuple[str, ...]] = ("n_models", "n_blocks", "n_families", "model_names")

    def save(self, path: str | Path) -> Path:
        """Write the library to ``path`` (see :func:`trimcore.instance.io.save_library`)."""
        from trimcore.instance.io import save_library

        return save_library(path, self)

    @classmethod
    def from_weights(cls, paths: Sequence[str | Path], *, granularity: str = "tensor",
                     names: Sequence[str] | None = None, families: Sequence[str] | None = None,
                     workers: int | None = None, progress: bool | None = None) -> ModelLibrary:
        """A library from real checkpoints, its shared blocks found by content.

        See :func:`trimcore.instance.weights.library_from_weights` (the formats: ``.safetensors``,
        sharded directories, ``.npz``, PEFT adapter directories; ``granularity`` ``"tensor"`` or
        ``"layer"``).
        """
        from trimcore.instance.weights import library_from_weights

        return library_from_weights(paths, granularity=granularity, names=names, families=families,
                                    workers=workers, progress=progress)

    @classmethod
    def load(cls, path: str | Path) -> ModelLibrary:
        """Read a library written by :meth:`save`, validated again by :meth:`from_lists`."""
        from trimcore.instance.io import load_library

        return load_library(path)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_lists(
        cls,
        block_sizes: Sequence[float] | np.ndarray,
        model_blocks: Sequence[Iterable[int]],
        *,
        model_names: Sequence[str] | None = None,
        families: Sequence[int] | np.ndarray | None = None,
        family_names: Sequence[str] | None = None,
        block_names: Sequence[str] | None = None,
    ) -> ModelLibrary:
        """Validate and build a library.

        Parameters
        ----------
        block_sizes : array_like of float, shape (J,)
            Block sizes in bytes; finite and > 0.
        model_blocks : sequence of sequences of int
            ``model_blocks[i]`` lists the block ids of model ``i`` (any order, no duplicates,
            at least one block, ids in ``[0, J)``).
        model_names, family_names, block_names : sequence of str, optional
            Labels; default ``"model<i>"``, ``"family<f>"``, ``"block<j>"``.
        families : array_like of int, shape (I,), optional
            Family id of each model; default: all models in family 0.

        Raises
        ------
        InstanceError
            On any malformed input, naming the field.
        """
        sizes = float_array("block_sizes", block_sizes, (None,), strictly_positive=True)
        n_blocks = sizes.shape[0]
        if isinstance(model_blocks, (str, bytes)) or not isinstance(model_blocks, Sequence | np.ndarray):
            raise invalid("model_blocks", "a list of block-id lists, one per model", type(model_blocks).__name__)
        n_models = len(model_blocks)
        if n_models == 0:
            raise invalid("model_blocks", "at least one model", "an empty list")
        indptr = np.zeros(n_models + 1, dtype=np.int64)
        rows: list[np.ndarray] = []
        for i, blocks in enumerate(model_blocks):
            arr = np.asarray(list(blocks) if not isinstance(blocks, np.ndarray) else blocks)
            if arr.ndim != 1:
                raise invalid(f"model_blocks[{i}]", "a flat list of block ids", f"shape {arr.shape}")
            if arr.size == 0:
                raise invalid(f"model_blocks[{i}]", "at least one block", "an empty list")
            if arr.dtype.kind not in "iu":
                raise invalid(f"model_blocks[{i}]", "integer block ids", f"dtype {arr.dtype}")
            arr = arr.astype(np.int64)
            if arr.min() < 0 or arr.max() >= n_blocks:
                bad = int(arr[(arr < 0) | (arr >= n_blocks)][0])
                raise invalid(f"model_blocks[{i}]", f"block ids in [0, {n_blocks})", bad)
            arr = np.sort(arr)
            if arr.size > 1 and (np.diff(arr) == 0).any():
                dup = int(arr[1:][np.diff(arr) == 0][0])
                raise invalid(f"model_blocks[{i}]", "distinct block ids", f"block {dup} twice")
            rows.append(arr)
            indptr[i + 1] = indptr[i] + arr.size
        indices = np.concatenate(rows)

        if families is None:
            fam = np.zeros(n_models, dtype=np.int64)
        else:
            fam = np.asarray(families)
            if fam.shape != (n_models,) or fam.dtype.kind not in "iu" or (fam.size and fam.min() < 0):
                raise invalid("families", f"{n_models} non-negative integer family ids", families)
            # without names, ids past the model count would only name empty families (and 2**62
            # of them would exhaust memory building their labels)
            if family_names is None and fam.size and fam.max() >= n_models:
                raise invalid("families", f"family ids in [0, {n_models}) (or family_names naming more)",
                              int(fam.max()))
            fam = fam.astype(np.int64)
        n_fam = int(fam.max()) + 1 if fam.size else 0
        names = _labels("model_names", model_names, n_models, "model")
        fnames = _labels("family_names", family_names, n_fam, "family", at_least=True)
        bnames = _labels("block_names", block_names, n_blocks, "block")
        for a in (indptr, indices, fam):
            a.setflags(write=False)
        return cls(sizes, indptr, indices, names, fam, fnames, bnames)

    # ------------------------------------------------------------------ sizes
    @property
    def n_models(self) -> int:
        """Number of models I."""
        return self.indptr.shape[0] - 1

    @property
    def n_blocks(self) -> int:
        """Number of distinct blocks J."""
        return self.block_sizes.shape[0]

    @property
    def n_families(self) -> int:
        """Number of model families."""
        return len(self.family_names)

    def blocks_of(self, model: int) -> np.ndarray:
        """Sorted block ids of ``model``."""
        if not 0 <= model < self.n_models:
            raise invalid("model", f"an index in [0, {self.n_models})", model)
        return self.indices[self.indptr[model]:self.indptr[model + 1]]

    @cached_property
    def model_sizes(self) -> np.ndarray:
        """Size of every model in bytes (sum of its block sizes), float64[I]."""
        sizes = np.add.reduceat(self.block_sizes[self.indices], self.indptr[:-1])
        sizes.setflags(write=False)
        return sizes

    @cached_property
    def block_model_count(self) -> np.ndarray:
        """Number of models containing each block, int64[J]."""
        counts = np.bincount(self.indices, minlength=self.n_blocks).astype(np.int64)
        counts.setflags(write=False)
        return counts

    @cached_property
    def shared_blocks(self) -> np.ndarray:
        """Ids of the blocks contained in two or more models (the set J^s)."""
        ids = np.flatnonzero(self.block_model_count >= 2)
        ids.setflags(write=False)
        return ids

    @cached_property
    def block_models(self) -> tuple[np.ndarray, np.ndarray]:
        """Transposed membership (CSR block -> models): ``(block_ptr int64[J+1], models int32)``.

        The models containing block ``j`` are ``models[block_ptr[j]:block_ptr[j + 1]]``, ascending.
        """
        rows = np.repeat(np.arange(self.n_models, dtype=np.int32), np.diff(self.indptr))
        order = np.argsort(self.indices, kind="stable")
        ptr = np.zeros(self.n_blocks + 1, dtype=np.int64)
        np.cumsum(self.block_model_count, out=ptr[1:])
        models = np.ascontiguousarray(rows[order])
        for a in (ptr, models):
            a.setflags(write=False)
        return ptr, models

    def union_size(self, models: Iterable[int] | np.ndarray) -> float:
        """Size in bytes of the union of the blocks of ``models`` (ids or a boolean mask)."""
        sel = np.asarray(list(models) if not isinstance(models, np.ndarray) else models)
        if sel.dtype == np.bool_:
            if sel.shape != (self.n_models,):
                raise invalid("models", f"a boolean mask of length {self.n_models}", f"shape {sel.shape}")
            sel = np.flatnonzero(sel)
        if sel.size == 0:
            return 0.0
        if sel.dtype.kind not in "iu" or sel.min() < 0 or sel.max() >= self.n_models:
            raise invalid("models", f"model ids in [0, {self.n_models})", sel)
        present = np.zeros(self.n_blocks, dtype=np.bool_)
        for i in np.unique(sel):
            present[self.indices[self.indptr[i]:self.indptr[i + 1]]] = True
        return float(self.block_sizes[present].sum())

    def membership(self) -> np.ndarray:
        """Dense bool[I, J] model-block membership (for small libraries and tests)."""
        dense = np.zeros((self.n_models, self.n_blocks), dtype=np.bool_)
        rows = np.repeat(np.arange(self.n_models), np.diff(self.indptr))
        dense[rows, self.indices] = True
        return dense

    @property
    def n_words(self) -> int:
        """Number of 64-bit words per model in :attr:`bitsets`."""
        return (self.n_blocks + WORD_BITS - 1) // WORD_BITS

    @cached_property
    def bitsets(self) -> np.ndarray:
        """Model-block membership as bitsets, uint64[I, n_words]; bit ``j % 64`` of word ``j // 64``."""
        words = np.zeros((self.n_models, self.n_words), dtype=np.uint64)
        rows = np.repeat(np.arange(self.n_models), np.diff(self.indptr))
        bits = np.left_shift(np.uint64(1), (self.indices % WORD_BITS).astype(np.uint64))
        np.bitwise_or.at(words, (rows, self.indices // WORD_BITS), bits)
        words.setflags(write=False)
        return words

    def family_savings(self) -> list[dict[str, float | int | str]]:
        """Per family: number of models, sum of model sizes, size of the union of their blocks."""
        rows: list[dict[str, float | int | str]] = []
        for f, name in enumerate(self.family_names):
            members = np.flatnonzero(self.model_family == f)
            if members.size == 0:
                continue
            total = float(self.model_sizes[members].sum())
            union = self.union_size(members)
            rows.append({"family": name, "models": int(members.size), "sum_model_bytes": total,
                         "union_bytes": union, "saving": 1.0 - union / total})
        return rows

    def subset(self, models: Sequence[int] | np.ndarray) -> ModelLibrary:
        """Library restricted to ``models`` (in the given order), dropping unused blocks."""
        sel = np.asarray(models, dtype=np.int64)
        blocks = [self.blocks_of(int(i)) for i in sel]
        used = np.unique(np.concatenate(blocks)) if blocks else np.zeros(0, np.int64)
        remap = np.full(self.n_blocks, -1, dtype=np.int64)
        remap[used] = np.arange(used.size)
        fam = self.model_family[sel]
        fam_ids, fam_new = np.unique(fam, return_inverse=True)
        return ModelLibrary.from_lists(
            self.block_sizes[used], [remap[b] for b in blocks],
            model_names=[self.model_names[i] for i in sel], families=fam_new,
            family_names=[self.family_names[f] for f in fam_ids],
            block_names=[self.block_names[j] for j in used])


def _labels(field_name: str, labels: Sequence[str] | None, n: int, prefix: str,
            at_least: bool = False) -> tuple[str, ...]:
    if labels is None:
        return tuple(f"{prefix}{t}" for t in range(n))
    out = tuple(str(s) for s in labels)
    if len(out) < n if at_least else len(out) != n:
        raise invalid(field_name, f"{n} labels", f"{len(out)} labels")
    return out
