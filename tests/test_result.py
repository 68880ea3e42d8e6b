"""The shared result protocol: validation on construction and load, relative gap, short repr."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

import trimcore as tc
from trimcore.result import Result


@dataclass(frozen=True, eq=False, repr=False, kw_only=True)
class _Max(Result):
    objective_name = "hit_ratio"
    decision_fields = ("placement",)
    placement: np.ndarray


@dataclass(frozen=True, eq=False, repr=False, kw_only=True)
class _Min(Result):
    objective_name = "total_delay"
    sense = "min"


def _base(**kw):
    out = dict(objective=0.5, feasible=True, status="feasible", runtime_s=0.1, algorithm="algo",
               options={"backend": "cpp"})
    out.update(kw)
    return out


def test_gap_is_relative_for_both_senses():
    assert _Max(placement=np.zeros(2, bool), **_base(upper_bound=0.8)).gap == pytest.approx(0.375)
    assert _Max(placement=np.zeros(2, bool), **_base()).gap is None
    assert _Min(**_base(objective=4.0, lower_bound=3.0)).gap == pytest.approx(0.25)
    assert _Min(**_base(objective=0.0, lower_bound=0.0)).gap == 0.0


def test_repr_has_no_array_dump_and_summary_is_flat():
    r = _Max(placement=np.zeros((300, 400), bool), **_base(upper_bound=1.0))
    assert "bool[300, 400]" in repr(r) and len(repr(r)) < 200
    row = r.summary()
    assert row["hit_ratio"] == 0.5 and row["backend"] == "cpp"
    assert all(not isinstance(v, np.ndarray) for v in row.values())


@pytest.mark.parametrize("bad", [dict(objective="lots"), dict(feasible="maybe"), dict(status="heuristic?"),
                                 dict(runtime_s=-1.0), dict(options={"backend": "auto"}), dict(algorithm=""),
                                 dict(upper_bound=float("nan"))])
def test_bad_fields_are_refused(bad):
    with pytest.raises(tc.InstanceError):
        _Min(**_base(**bad))


def test_save_load_round_trip(tmp_path):
    r = _Max(placement=np.eye(3, dtype=bool), **_base(upper_bound=0.9, bound_method="lp"))
    back = _Max.load(r.save(tmp_path / "r"))
    assert repr(back) == repr(r) and back.bound_method == "lp"
    np.testing.assert_array_equal(back.placement, r.placement)
