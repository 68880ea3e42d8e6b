"""Every malformed input is refused with an InstanceError naming the field; nothing crashes."""

from __future__ import annotations

import numpy as np
import pytest

import trimcore as tc
from trimcore import _core

GOOD = dict(block_sizes=[6.0, 2.0, 2.0, 5.0], model_blocks=[[0, 1], [0, 2], [3]], capacity=[10.0, 4.0],
            eligible=np.ones((2, 3, 3), bool), popularity=np.full((3, 3), 0.1))


def build(**changes):
    args = {**GOOD, **changes}
    return tc.PlacementProblem.from_arrays(**args)


@pytest.mark.parametrize("changes, field, fragment", [
    ({"block_sizes": [6.0, -2.0, 2.0, 5.0]}, "block_sizes", "> 0"),
    ({"block_sizes": [6.0, np.nan, 2.0, 5.0]}, "block_sizes", "NaN"),
    ({"block_sizes": [6.0, np.inf, 2.0, 5.0]}, "block_sizes", "finite"),
    ({"block_sizes": [6.0, 0.0, 2.0, 5.0]}, "block_sizes", "> 0"),
    ({"block_sizes": [[6.0, 2.0, 2.0, 5.0]]}, "block_sizes", "shape"),
    ({"block_sizes": ["a", "b", "c", "d"]}, "block_sizes", "real-valued"),
    ({"model_blocks": [[0, 1], [0, 4], [3]]}, "model_blocks[1]", "[0, 4)"),
    ({"model_blocks": [[0, 1], [0, -1], [3]]}, "model_blocks[1]", "[0, 4)"),
    ({"model_blocks": [[0, 1], [], [3]]}, "model_blocks[1]", "at least one block"),
    ({"model_blocks": [[0, 1], [0, 0], [3]]}, "model_blocks[1]", "distinct"),
    ({"model_blocks": [[0, 1], [0.5], [3]]}, "model_blocks[1]", "integer"),
    ({"model_blocks": []}, "model_blocks", "at least one model"),
    ({"capacity": [10.0, -1.0]}, "capacity", ">= 0"),
    ({"capacity": [10.0]}, "capacity", "shape"),
    ({"capacity": [10.0, np.nan]}, "capacity", "NaN"),
    ({"eligible": np.ones((2, 3, 2), bool)}, "eligible", "shape"),
    ({"eligible": np.ones((2, 3), bool)}, "eligible", "3-d"),
    ({"eligible": np.full((2, 3, 3), 0.5)}, "eligible", "boolean"),
    ({"eligible": np.full((2, 3, 3), "x")}, "eligible", "boolean"),
    ({"popularity": np.full((3, 2), 0.1)}, "popularity", "shape"),
    ({"popularity": np.full((4, 3), 0.1)}, "popularity", "shape"),
    ({"popularity": -np.full((3, 3), 0.1)}, "popularity", ">= 0"),
    ({"popularity": np.where(np.eye(3) > 0, np.nan, 0.1)}, "popularity", "NaN"),
    ({"popularity": np.zeros((3, 3))}, "popularity", "positive total"),
])
def test_bad_problem_input(changes, field, fragment):
    with pytest.raises(tc.InstanceError) as info:
        build(**changes)
    assert str(info.value).startswith(field + ":")
    assert fragment in str(info.value)


def test_instance_error_is_value_error():
    assert issubclass(tc.InstanceError, ValueError)


@pytest.mark.parametrize("placement, fragment", [
    (np.ones((2, 2), bool), "shape"),
    (np.ones((3, 2), bool), "shape"),
    (np.ones(6, bool), "shape"),
    (np.full((2, 3), 2), "0/1"),
    (np.full((2, 3), "yes"), "boolean"),
])
def test_bad_placement(placement, fragment):
    prob = build()
    for method in (prob.hit_ratio, prob.storage_used, prob.is_feasible):
        with pytest.raises(tc.InstanceError, match=fragment):
            method(placement)


def test_integer_placement_is_accepted():
    prob = build()
    assert prob.hit_ratio(np.array([[1, 1, 0], [0, 0, 0]])) == pytest.approx(2 / 3)


def test_compact_inputs():
    lib = tc.ModelLibrary.from_lists([1.0, 2.0], [[0], [0, 1]])
    with pytest.raises(tc.InstanceError, match="max_size"):
        tc.PlacementProblem.from_library(lib, 1.0, np.ones((2, 2)), -np.ones((3, 2)))
    with pytest.raises(tc.InstanceError, match="popularity"):
        tc.PlacementProblem.from_library(lib, 1.0, np.ones((3, 2)), np.ones((3, 2)))
    with pytest.raises(tc.InstanceError, match="library"):
        tc.PlacementProblem.from_library("lib", 1.0, np.ones((2, 2)), np.ones((3, 2)))


# ---------------------------------------------------------------- the native bindings check again
def test_bindings_refuse_bad_arrays():
    prob = build()
    x = np.ones((2, 3), bool)
    args = [x, prob.pair_ptr, prob.pair_len, prob.pair_users, prob.popularity_by_model]
    assert _core.hit_weight(*args) == pytest.approx(0.9)
    bad_cases = [
        (0, x.astype(np.int64), "dtype"),
        (0, np.ones((2, 4), bool), "shape"),
        (0, np.ones((2, 6), bool)[:, ::2], "C-contiguous"),
        (1, prob.pair_ptr + 1000, "outside"),
        (2, prob.pair_len + 100, "outside"),
        (3, prob.pair_users + 50, "user ids"),
        (3, -prob.pair_users - 1, "user ids"),
        (4, prob.popularity_by_model.astype(np.float32), "dtype"),
        (1, "not an array", "NumPy array"),
    ]
    for position, value, fragment in bad_cases:
        call = list(args)
        call[position] = value
        with pytest.raises(tc.InstanceError, match=fragment):
            _core.hit_weight(*call)


def test_storage_binding_refuses_bad_bitsets():
    lib = tc.ModelLibrary.from_lists([1.0, 2.0, 3.0], [[0], [1, 2]])
    x = np.ones((1, 2), bool)
    assert list(_core.storage_used(x, lib.bitsets, lib.block_sizes)) == [6.0]
    stray = lib.bitsets.copy()
    stray[0, 0] |= np.uint64(1 << 40)
    with pytest.raises(tc.InstanceError, match="past the last block"):
        _core.storage_used(x, stray, lib.block_sizes)
    with pytest.raises(tc.InstanceError, match="words"):
        _core.storage_used(x, np.zeros((2, 2), np.uint64), lib.block_sizes)
    with pytest.raises(tc.InstanceError, match="shape"):
        _core.storage_used(np.ones((1, 3), bool), lib.bitsets, lib.block_sizes)


def test_pickled_problem_works_on_every_backend():
    """Unpickled arrays carry equal but distinct dtype objects: the bindings compare by equivalence."""
    import pickle

    prob = pickle.loads(pickle.dumps(build()))
    x = np.array([[1, 1, 0], [0, 0, 1]], bool)
    for backend in tc.available_backends():
        assert prob.hit_ratio(x, backend=backend) == pytest.approx(1.0)
        assert prob.storage_used(x, backend=backend).tolist() == [10.0, 5.0]
    assert tc.trimcaching_gen(prob).feasible


def test_coverage_index_validates_once_and_owns_its_data():
    prob = build()
    x = np.ones((2, 3), bool)
    index = _core.CoverageIndex(prob.pair_ptr, prob.pair_len, prob.pair_users, 2, 3, 3)
    assert _core.hit_weight_indexed(x, index, prob.popularity_by_model) == pytest.approx(0.9)
    with pytest.raises(tc.InstanceError, match="user ids"):
        _core.CoverageIndex(prob.pair_ptr, prob.pair_len, prob.pair_users + 7, 2, 3, 3)
    with pytest.raises(tc.InstanceError, match="shape"):
        _core.hit_weight_indexed(np.ones((3, 3), bool), index, prob.popularity_by_model)
    # the problem keeps one view per tier: built once, then only placements are checked
    native_view = prob.coverage_view("cpp")
    assert prob.coverage_view("cpp") is native_view and isinstance(native_view, _core.CoverageIndex)
    assert prob.coverage_view("reference")[2] is prob.pair_users
    from trimcore.kernels.placement import native

    with pytest.raises(tc.InstanceError, match="user ids"):
        native.coverage_view(prob.pair_ptr, prob.pair_len, prob.pair_users + 7, 2, 3, 3)


def test_make_streams_is_the_one_stream_helper():
    from trimcore._validate import make_streams

    a, b = make_streams(7, 2)
    (first,) = make_streams(7, 1)
    assert a.integers(1 << 30) == first.integers(1 << 30)  # stream t does not depend on n
    assert make_streams(7, 2)[1].integers(1 << 30) == b.integers(1 << 30)
    x, y = make_streams(None, 2)
    assert x.integers(1 << 62) != y.integers(1 << 62)
    assert len(make_streams(np.random.default_rng(0), 3)) == 3
    assert len(make_streams(np.random.SeedSequence(1), 2)) == 2
    for bad in (True, -1, "seed", 1.5):
        with pytest.raises(tc.InstanceError, match="seed"):
            make_streams(bad, 2)
