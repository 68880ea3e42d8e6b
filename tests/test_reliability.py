"""Regression tests of issue #10: crafted inputs that crashed the process, lost rows or passed unchecked."""

from __future__ import annotations

import numpy as np
import pytest

import trimcore as tc
from trimcore.errors import InstanceError
from trimcore.instance.io import load_arrays, save_arrays


# ------------------------------------------------------------------------------ problem files
@pytest.fixture
def pair_file(tmp_path):
    """A small explicit-pairs problem file and a writer of crafted variants of it."""
    prob = tc.PlacementProblem.from_arrays([1.0, 1.0], [[0], [1]], [1.0, 1.0], np.ones((2, 3, 2), bool),
                                           np.ones((3, 2)))
    arrays, meta = load_arrays(prob.save(tmp_path / "p"))

    def variant(**changes):
        crafted = {k: v for k, v in {**arrays, **changes}.items() if v is not None}
        return save_arrays(tmp_path / "crafted", "PlacementProblem", crafted, meta)

    return variant


@pytest.mark.parametrize(("changes", "match"), [
    # ptr + len overflows int64: passed the old `ptr + len > size` check, then segfaulted in Numba
    ({"pair_ptr": np.array([0, 2**62, 1, 0]), "pair_len": np.array([1, 2**62, 1, 1])}, "pair_ptr"),
    ({"pair_ptr": np.array([0, 3, 6, 2**63 - 1])}, "pair_ptr"),
    ({"pair_len": np.array([3, 3, 3, -1])}, "pair_len"),
    ({"pair_ptr": np.array([0, 3, 6, 10])}, "pair_ptr/pair_len"),
    # int64 user 2**32 was wrapped to user 0 by the int32 cast
    ({"pair_users": np.array([0, 1, 2**32, 0, 1, 2, 0, 1, 2, 0, 1, 2])}, "pair_users"),
    ({"pair_users": np.full(12, 2**63, dtype=np.uint64)}, "pair_users"),
    # a float pointer was truncated
    ({"pair_ptr": np.array([0.0, 3.5, 6.0, 9.0])}, "pair_ptr"),
    ({"pair_ptr": np.array([0.0, 3.0, 6.0, 9.0])}, "pair_ptr: expected an integer dtype"),
    ({"pair_users": np.array([0, 0, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2])}, "pair_users"),  # user 0 counted twice
    ({"popularity_by_model": np.ones(3)}, "popularity_by_model: expected a 2-d array"),  # was IndexError
    ({"capacity": np.array(1.0)}, "capacity: expected a 1-d array"),  # was IndexError
    ({"pair_len": None}, "pair_len"),
    ({"pair_users": np.zeros((3, 4), dtype=np.int32)}, "pair_users: expected a 1-d array"),
])
def test_crafted_pair_extents_are_refused(pair_file, changes, match):
    path = pair_file(**changes)
    with pytest.raises(InstanceError, match=match) as info:
        tc.PlacementProblem.load(path)
    assert str(path) in str(info.value)


def test_valid_pairs_in_other_integer_dtypes_still_load(pair_file):
    path = pair_file(pair_ptr=np.array([0, 3, 6, 9], dtype=np.uint64),
                     pair_users=np.array([0, 1, 2] * 4, dtype=np.int64))
    prob = tc.PlacementProblem.load(path)
    assert prob.pair_users.dtype == np.int32 and prob.pair_ptr.dtype == np.int64
    for backend in tc.kernels.kernel_tiers("placement.hit_weight"):
        assert prob.hit_ratio(np.ones((2, 2), bool), backend=backend) == 1.0
