"""Tests of trimcore.instance.io: exact round trips, atomic writes and refusal of bad files."""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trimcore.errors import InstanceError
from trimcore.instance import io as tio
from trimcore.instance.blocks import ModelLibrary
from trimcore.instance.io import (
    FORMAT_VERSION,
    load_arrays,
    load_dataclass,
    load_library,
    save_arrays,
    save_dataclass,
    save_library,
)
from trimcore.instance.zoo import (
    frozen_backbone_library,
    llm_lora_library,
    nested_sharing_library,
    random_library,
    synthetic_library,
)


def assert_same_library(a: ModelLibrary, b: ModelLibrary) -> None:
    for name in ("block_sizes", "indptr", "indices", "model_family"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)
    assert a.model_names == b.model_names
    assert a.family_names == b.family_names
    assert a.block_names == b.block_names


def _raw_npz(path, **arrays) -> None:
    """Write an .npz directly (bypassing save_arrays) to forge bad files."""
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _header(**overrides) -> np.ndarray:
    head = {"format": "trimcore", "version": FORMAT_VERSION, "kind": "library", "meta": {}, "arrays": {}}
    head.update(overrides)
    return np.frombuffer(json.dumps(head).encode(), dtype=np.uint8)


def _error_names_path(exc: pytest.ExceptionInfo, path) -> None:
    assert str(path) in str(exc.value)


# ------------------------------------------------------------------------------ round trips
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n_models=st.integers(1, 25), n_blocks=st.integers(1, 25), n_families=st.integers(1, 4), data=st.data())
def test_library_round_trip_random(tmp_path, n_models, n_blocks, n_families, data):
    kmax = data.draw(st.integers(1, n_blocks))
    seed = data.draw(st.integers(0, 2**32 - 1))
    lib = random_library(n_models, n_blocks, kmax, seed=seed, n_families=n_families,
                         size_range=(1e-3, 1e12))
    path = save_library(tmp_path / "lib", lib)
    assert path == tmp_path / "lib.npz"
    assert_same_library(lib, load_library(path))
    assert_same_library(lib, load_library(tmp_path / "lib"))  # ".npz" may be omitted when loading


@pytest.mark.parametrize("make", [
    frozen_backbone_library,
    lambda: nested_sharing_library(seed=3, split_private=True),
    lambda: llm_lora_library(12, n_bases=3, seed=1),
    lambda: synthetic_library(500, seed=2),
    lambda: synthetic_library(40, nested=False, seed=2),
])
def test_library_round_trip_zoo(tmp_path, make):
    lib = make()
    path = save_library(str(tmp_path / "zoo.npz"), lib)
    assert_same_library(lib, load_library(path))
    back = load_library(path)
    np.testing.assert_array_equal(back.model_sizes, lib.model_sizes)
    np.testing.assert_array_equal(back.block_model_count, lib.block_model_count)


def test_library_with_unicode_names_and_unused_families(tmp_path):
    lib = ModelLibrary.from_lists([1.5, 2.25, 1e-300], [[0, 1], [2], [1]],
                                  model_names=["α/β", "模型", "a\"b"], families=[2, 0, 2],
                                  family_names=["f0", "f1 (unused)", "f2", "f3 (unused)"],
                                  block_names=["x", "y", "z\n"])
    assert_same_library(lib, load_library(save_library(tmp_path / "u", lib)))


def test_arrays_round_trip_dtypes_and_meta(tmp_path):
    arrays = {
        "f": np.array([0.1, -0.0, np.inf, np.nan, 5e-324]),
        "i": np.arange(-3, 3, dtype=np.int32),
        "b": np.array([[True, False], [False, True]]),
        "u": np.array([2**64 - 1], dtype=np.uint64),
        "s": np.array(["ab", "ü"]),
        "empty": np.zeros((0, 3)),
        "scalar": np.array(7.5),
        "big_endian": np.arange(4, dtype=">f4"),
        "with.dot/and slash": np.ones(2),
    }
    meta = {"x": 1, "y": [1.5, None, "s"], "nan": float("nan"), "inf": float("-inf"), "nested": {"k": True}}
    path = save_arrays(tmp_path / "a.npz", "thing", arrays, meta)
    got, got_meta = load_arrays(path, "thing")
    assert set(got) == set(arrays)
    for name, arr in arrays.items():
        assert got[name].dtype == arr.dtype and got[name].shape == arr.shape
        np.testing.assert_array_equal(got[name], arr)
    assert got_meta["x"] == 1 and got_meta["y"] == [1.5, None, "s"] and got_meta["nested"] == {"k": True}
    assert np.isnan(got_meta["nan"]) and got_meta["inf"] == float("-inf")
    assert load_arrays(path)[1]["x"] == 1  # kind=None accepts any kind


def test_save_overwrites_and_preserves_mode(tmp_path):
    path = tmp_path / "x.npz"
    save_arrays(path, "k", {"a": np.zeros(3)}, {})
    os.chmod(path, 0o600)
    save_arrays(path, "k", {"a": np.ones(3)}, {"v": 2})
    arrays, meta = load_arrays(path, "k")
    np.testing.assert_array_equal(arrays["a"], np.ones(3))
    assert meta == {"v": 2}
    assert (os.stat(path).st_mode & 0o777) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["x.npz"]


# ------------------------------------------------------------------------------ atomicity
def _failing_savez():
    def savez(file, *args, **kwds):
        file.write(b"PK\x03\x04 partial garbage")  # some bytes reach the temporary file ...
        raise OSError("disk full")  # ... then the write fails
    return savez


@pytest.mark.parametrize("existing", [True, False])
def test_failed_write_leaves_target_and_no_temp(tmp_path, monkeypatch, existing):
    path = tmp_path / "lib.npz"
    old = frozen_backbone_library(("resnet18",), 2)
    if existing:
        save_library(path, old)
    before = path.read_bytes() if existing else None
    monkeypatch.setattr(tio.np, "savez", _failing_savez())
    with pytest.raises(OSError, match="disk full"):
        save_library(path, frozen_backbone_library(("resnet50",), 5))
    monkeypatch.undo()
    assert os.listdir(tmp_path) == (["lib.npz"] if existing else [])
    if existing:
        assert path.read_bytes() == before
        assert_same_library(old, load_library(path))


def test_failed_replace_and_interrupt_leave_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "r.npz"
    save_arrays(path, "k", {"a": np.arange(5)}, {})
    before = path.read_bytes()

    def boom(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(tio.os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        save_arrays(path, "k", {"a": np.arange(9)}, {})
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["r.npz"] and path.read_bytes() == before


def test_bad_save_arguments(tmp_path):
    good = {"a": np.zeros(2)}
    with pytest.raises(InstanceError, match="^kind"):
        save_arrays(tmp_path / "x", "", good, {})
    with pytest.raises(InstanceError, match=r"^arrays\['o'\]"):
        save_arrays(tmp_path / "x", "k", {"o": np.array([object()])}, {})
    for name in ("__header__", "file", "allow_pickle", ""):
        with pytest.raises(InstanceError, match="^arrays"):
            save_arrays(tmp_path / "x", "k", {name: np.zeros(1)}, {})
    with pytest.raises(InstanceError, match="^meta"):
        save_arrays(tmp_path / "x", "k", good, {"bad": object()})
    with pytest.raises(InstanceError, match="^path"):
        save_arrays(tmp_path / "no" / "such" / "dir" / "x", "k", good, {})
    with pytest.raises(InstanceError, match="^path"):
        save_arrays(123, "k", good, {})
    with pytest.raises(InstanceError, match="^lib"):
        save_library(tmp_path / "x", "not a library")
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------------------ bad files
@pytest.fixture
def saved(tmp_path):
    lib = synthetic_library(30, n_families=3, seed=0)
    return save_library(tmp_path / "good.npz", lib), lib


def test_missing_file(tmp_path):
    path = tmp_path / "nope.npz"
    with pytest.raises(InstanceError, match="no such file") as exc:
        load_library(path)
    _error_names_path(exc, path)
    with pytest.raises(InstanceError, match="not a regular file") as exc:
        load_arrays(tmp_path)
    _error_names_path(exc, tmp_path)


@pytest.mark.parametrize("keep", [0, 1, 10, 100, 0.25, 0.5, 0.9, -1, -22])
def test_truncated_file(saved, keep):
    path, _ = saved
    data = path.read_bytes()
    n = keep if isinstance(keep, int) and keep >= 0 else (
        len(data) + keep if isinstance(keep, int) else int(len(data) * keep))
    path.write_bytes(data[:n])
    with pytest.raises(InstanceError) as exc:
        load_library(path)
    _error_names_path(exc, path)


@pytest.mark.parametrize("content", [b"garbage bytes, not a zip", b"\x93NUMPY\x01\x00garbage",
                                     b"PK\x03\x04xx", bytes(range(256)) * 10])
def test_garbage_file(tmp_path, content):
    path = tmp_path / "garbage.npz"
    path.write_bytes(content)
    with pytest.raises(InstanceError) as exc:
        load_arrays(path)
    _error_names_path(exc, path)


def test_bare_npy_and_foreign_npz(tmp_path):
    npy = tmp_path / "bare.npz"
    with open(npy, "wb") as fh:
        np.save(fh, np.arange(3))
    with pytest.raises(InstanceError, match="not a trimcore file") as exc:
        load_arrays(npy)
    _error_names_path(exc, npy)
    foreign = tmp_path / "foreign.npz"
    _raw_npz(foreign, a=np.arange(3))
    with pytest.raises(InstanceError, match="not a trimcore file") as exc:
        load_arrays(foreign)
    _error_names_path(exc, foreign)


@pytest.mark.parametrize(("header", "message"), [
    (np.frombuffer(b"{not json", dtype=np.uint8), "malformed header JSON"),
    (np.frombuffer(b"\xff\xfe", dtype=np.uint8), "malformed header JSON"),
    (np.frombuffer(b"[1, 2]", dtype=np.uint8), "not a trimcore file"),
    (np.arange(4, dtype=np.int64), "malformed header"),
    (_header(format="other"), "not a trimcore file"),
    (_header(version=FORMAT_VERSION + 1), "unsupported format version"),
    (_header(version=0), "unsupported format version"),
    (_header(version="1"), "malformed header"),
    (_header(kind=3), "malformed header"),
    (_header(meta=[]), "malformed header"),
    (_header(arrays=None), "malformed header"),
    (_header(arrays={"ghost": ["<f8", [1]]}), "manifest"),
])
def test_malformed_headers(tmp_path, header, message):
    path = tmp_path / "h.npz"
    _raw_npz(path, __header__=header)
    with pytest.raises(InstanceError, match=message) as exc:
        load_arrays(path)
    _error_names_path(exc, path)


def test_manifest_shape_mismatch(tmp_path):
    path = tmp_path / "m.npz"
    _raw_npz(path, a=np.zeros(3), __header__=_header(arrays={"a": ["<f8", [4]]}))
    with pytest.raises(InstanceError, match="header says") as exc:
        load_arrays(path)
    _error_names_path(exc, path)


def test_wrong_version_written_by_save(saved, monkeypatch):
    path, lib = saved
    monkeypatch.setattr(tio, "FORMAT_VERSION", 2)
    save_library(path, lib)
    monkeypatch.undo()
    with pytest.raises(InstanceError, match="version 2") as exc:
        load_library(path)
    _error_names_path(exc, path)


def test_wrong_kind(saved):
    path, _ = saved
    with pytest.raises(InstanceError, match="wrong kind: expected 'result'") as exc:
        load_arrays(path, "result")
    _error_names_path(exc, path)
    other = save_arrays(path.parent / "other", "result", {"x": np.zeros(1)}, {})
    with pytest.raises(InstanceError, match="'library'.*'result'") as exc:
        load_library(other)
    _error_names_path(exc, other)


def test_invalid_library_contents_are_revalidated(tmp_path):
    lib = frozen_backbone_library(("resnet18",), 2)
    arrays = {n: np.asarray(getattr(lib, n)) for n in ("block_sizes", "indptr", "indices", "model_family")}
    meta = {n: list(getattr(lib, n)) for n in ("model_names", "family_names", "block_names")}
    cases = {
        "negative": ({**arrays, "block_sizes": -arrays["block_sizes"]}, meta, "block_sizes"),
        "out_of_range": ({**arrays, "indices": arrays["indices"] + 10}, meta, "model_blocks"),
        "indptr": ({**arrays, "indptr": np.array([0, 5, 3])}, meta, "indptr"),
        "float_indices": ({**arrays, "indices": arrays["indices"].astype(float)}, meta, "indices"),
        "names": (arrays, {**meta, "model_names": ["only one"]}, "model_names"),
        "name_types": (arrays, {**meta, "block_names": [1, 2, 3]}, "string lists"),
        "missing": ({k: v for k, v in arrays.items() if k != "indices"}, meta, "missing arrays"),
    }
    for name, (arr, met, message) in cases.items():
        path = save_arrays(tmp_path / name, "library", arr, met)
        with pytest.raises(InstanceError, match=message) as exc:
            load_library(path)
        _error_names_path(exc, path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_corruption_is_detected_or_harmless(tmp_path, data):
    lib = random_library(6, 8, 4, seed=1)
    path = save_library(tmp_path / "c.npz", lib)
    raw = bytearray(path.read_bytes())
    pos = data.draw(st.integers(0, len(raw) - 1))
    raw[pos] ^= data.draw(st.integers(1, 255))
    path.write_bytes(bytes(raw))
    try:
        back = load_library(path)
    except InstanceError as exc:
        assert str(path) in str(exc)
    else:  # only bytes zip readers ignore (e.g. timestamps, attributes) may change silently
        assert_same_library(lib, back)


def test_zip_without_crc_match_is_refused(saved):
    path, _ = saved
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("block_sizes.npy")
    raw = bytearray(path.read_bytes())
    data_start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    raw[data_start + info.file_size - 1] ^= 0xFF  # last byte of the array data
    path.write_bytes(bytes(raw))
    with pytest.raises(InstanceError) as exc:
        load_library(path)
    _error_names_path(exc, path)


# ------------------------------------------------------------------------------ dataclasses
@dataclass(frozen=True)
class _Result:
    placement: np.ndarray
    hit_ratio: float
    algorithm: str
    options: dict
    names: tuple[str, ...]
    upper_bound: float | None
    feasible: bool
    n: int
    library: ModelLibrary
    nested: tuple = ()
    derived: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "derived", float(np.sum(self.placement)))


@dataclass(frozen=True)
class _Other:
    placement: np.ndarray


def _result() -> _Result:
    return _Result(placement=np.eye(3, dtype=bool), hit_ratio=0.1 + 0.2, algorithm="trimcaching_gen",
                   options={"rule": "gain", "eps": 0.1, "order": (2, 1), "seed": None, "k": [1, 2]},
                   names=("a", "b"), upper_bound=None, feasible=np.bool_(True), n=np.int64(7),
                   library=nested_sharing_library(("resnet18",), 3, depths=[1, 2, 5]),
                   nested=((1, "x"), (np.float64(2.5),)))


def test_dataclass_round_trip(tmp_path):
    obj = _result()
    path = save_dataclass(tmp_path / "res", "placement_result", obj)
    back = load_dataclass(path, _Result, "placement_result")
    np.testing.assert_array_equal(back.placement, obj.placement)
    assert back.placement.dtype == np.bool_
    assert back.hit_ratio == obj.hit_ratio and back.algorithm == obj.algorithm
    assert back.options == {"rule": "gain", "eps": 0.1, "order": (2, 1), "seed": None, "k": [1, 2]}
    assert back.names == ("a", "b") and back.upper_bound is None
    assert back.feasible is True and back.n == 7 and type(back.n) is int
    assert back.nested == ((1, "x"), (2.5,))
    assert back.derived == 3.0
    assert_same_library(obj.library, back.library)
    arrays, _ = load_arrays(path)
    assert "library.block_sizes" in arrays and "placement" in arrays


def test_dataclass_errors(tmp_path):
    with pytest.raises(InstanceError, match="^obj"):
        save_dataclass(tmp_path / "x", "k", {"not": "a dataclass"})
    with pytest.raises(InstanceError, match="^obj"):
        save_dataclass(tmp_path / "x", "k", _Other)

    @dataclass(frozen=True)
    class WithSet:
        s: set

    with pytest.raises(InstanceError, match=r"^WithSet\.s"):
        save_dataclass(tmp_path / "x", "k", WithSet({1}))

    @dataclass(frozen=True)
    class WithObjects:
        a: np.ndarray

    with pytest.raises(InstanceError, match=r"^WithObjects\.a"):
        save_dataclass(tmp_path / "x", "k", WithObjects(np.array([None, 1])))
    assert os.listdir(tmp_path) == []

    path = save_dataclass(tmp_path / "r", "placement_result", _result())
    with pytest.raises(InstanceError, match="wrong kind") as exc:
        load_dataclass(path, _Result, "other_kind")
    _error_names_path(exc, path)
    with pytest.raises(InstanceError, match="fields do not match _Other") as exc:
        load_dataclass(path, _Other, "placement_result")
    _error_names_path(exc, path)
    with pytest.raises(InstanceError, match="^cls"):
        load_dataclass(path, dict, "placement_result")

    @dataclass(frozen=True)
    class Strict:
        placement: np.ndarray

        def __post_init__(self) -> None:
            raise InstanceError("placement: expected something else, got it")

    strict = save_dataclass(tmp_path / "s", "k", _Other(np.zeros(2)))
    with pytest.raises(InstanceError, match="invalid .*Strict: placement") as exc:
        load_dataclass(strict, Strict, "k")
    _error_names_path(exc, strict)
