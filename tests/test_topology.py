"""Topology: builders, the EUA Melbourne data, random walk, eligibility (max deliverable size)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trimcore.errors import InstanceError
from trimcore.instance.topology import (
    EARTH_RADIUS_M,
    Topology,
    _fold,
    downlink_rates,
    eligibility,
    latency_limits,
    max_deliverable_size,
)

MB = 2.0**20


# ------------------------------------------------------------------------------ construction
def test_uniform_shapes_inside_and_seeded():
    t = Topology.uniform(7, 40, width=300.0, height=200.0, seed=3)
    assert t.server_xy.shape == (7, 2) and t.user_xy.shape == (40, 2)
    assert t.n_servers == 7 and t.n_users == 40
    for xy in (t.server_xy, t.user_xy):
        assert (xy >= 0).all() and (xy[:, 0] <= 300).all() and (xy[:, 1] <= 200).all()
    again = Topology.uniform(7, 40, width=300.0, height=200.0, seed=3)
    assert np.array_equal(t.server_xy, again.server_xy) and np.array_equal(t.user_xy, again.user_xy)
    other = Topology.uniform(7, 40, width=300.0, height=200.0, seed=4)
    assert not np.array_equal(t.user_xy, other.user_xy)
    # users come from their own stream: independent of the number of servers
    assert np.array_equal(Topology.uniform(2, 40, 300.0, 200.0, seed=3).user_xy, t.user_xy)
    assert not t.server_xy.flags.writeable and not t.user_xy.flags.writeable


def test_grid_positions_by_hand():
    # 2 rows x 3 cols in 900 x 400: cell 300 x 200, centres x in {150, 450, 750}, y in {100, 300}
    t = Topology.grid(2, 3, 5, width=900.0, height=400.0, seed=1)
    expected = [[150, 100], [450, 100], [750, 100], [150, 300], [450, 300], [750, 300]]
    assert np.allclose(t.server_xy, expected)
    assert np.array_equal(t.user_xy, Topology.uniform(1, 5, 900.0, 400.0, seed=1).user_xy)


def test_distances_by_hand():
    t = Topology.from_arrays([[0, 0], [30, 40]], [[0, 0], [3, 4], [30, 0]], 100.0, 100.0, ["a", "b"])
    assert np.allclose(t.distances(), [[0, 5, 30], [50, 45, 40]])
    assert t.server_names == ("a", "b")


def test_with_users_validates_and_keeps_servers():
    t = Topology.uniform(3, 4, seed=0)
    u = t.with_users(np.full((6, 2), 500.0))
    assert np.array_equal(u.server_xy, t.server_xy) and u.user_xy.shape == (6, 2)
    with pytest.raises(InstanceError, match="^user_xy:"):
        t.with_users([[1e6, 0.0]])


@pytest.mark.parametrize("kwargs, field", [
    (dict(server_xy=np.zeros((0, 2))), "server_xy"),
    (dict(server_xy=np.zeros((2, 3))), "server_xy"),
    (dict(user_xy=[[np.nan, 1.0]]), "user_xy"),
    (dict(user_xy=[[-1.0, 1.0]]), "user_xy"),
    (dict(user_xy=[[1.0, 101.0]]), "user_xy"),
    (dict(width=0.0), "width"),
    (dict(height=-3.0), "height"),
    (dict(height=np.inf), "height"),
    (dict(server_names=("only one",)), "server_names"),
    (dict(server_names="ab"), "server_names"),
])
def test_bad_topology_raises(kwargs, field):
    args = dict(server_xy=[[1.0, 1.0], [2.0, 2.0]], user_xy=[[5.0, 5.0]], width=100.0, height=100.0)
    args.update(kwargs)
    with pytest.raises(InstanceError, match=f"^{field}:"):
        Topology.from_arrays(**args)


@pytest.mark.parametrize("call, field", [
    (lambda: Topology.uniform(0, 5), "n_servers"),
    (lambda: Topology.uniform(3, 2.0), "n_users"),
    (lambda: Topology.uniform(3, True), "n_users"),
    (lambda: Topology.uniform(3, 5, seed="x"), "seed"),
    (lambda: Topology.grid(0, 2, 5), "rows"),
    (lambda: Topology.eua(n_servers=126), "n_servers"),
    (lambda: Topology.eua(n_users=817), "n_users"),
    (lambda: Topology.eua(n_users=0), "n_users"),
    (lambda: latency_limits(0), "n_users"),
    (lambda: latency_limits(3, low=5.0, high=1.0), "high"),
    (lambda: latency_limits(3, low=-1.0), "low"),
])
def test_bad_builder_args_raise(call, field):
    with pytest.raises(InstanceError, match=f"^{field}:"):
        call()


# ------------------------------------------------------------------------------ EUA
def test_eua_full_dataset():
    t = Topology.eua()
    assert t.n_servers == 125 and t.n_users == 816
    assert len(t.server_names) == 125 and t.server_names[0].startswith("Spring and Flinders")
    for xy in (t.server_xy, t.user_xy):
        assert (xy >= 0).all() and (xy[:, 0] <= t.width).all() and (xy[:, 1] <= t.height).all()
    # the box is the bounding box of sites and users together: every side is touched
    both = np.vstack([t.server_xy, t.user_xy])
    assert both[:, 0].min() == 0.0 and both[:, 1].min() == 0.0
    assert both[:, 0].max() == pytest.approx(t.width) and both[:, 1].max() == pytest.approx(t.height)
    # extent: longitudes 144.9517447..144.97476 (0.0230153 deg) at lat ~ -37.8144:
    #   6371 km * cos(37.8144 deg) * 0.0230153 deg * pi/180 = 2.022 km
    # latitudes -37.82091..-37.80783693 (0.01307307 deg): 6371 km * 0.01307307 * pi/180 = 1.454 km
    assert t.width == pytest.approx(2021.8, abs=1.0)
    assert t.height == pytest.approx(1453.7, abs=1.0)
    # site 1 (-37.81517, 144.97476) is the easternmost point: x = width,
    #   y = 6371 km * (-37.81517 + 37.82091) deg * pi/180 = 638.3 m
    assert t.server_xy[0, 0] == pytest.approx(t.width)
    assert t.server_xy[0, 1] == pytest.approx(EARTH_RADIUS_M * math.radians(0.00574), rel=1e-6)
    # all sites distinct (nothing dropped); every user within ~700 m of some site
    assert len(np.unique(t.server_xy, axis=0)) == 125
    assert t.distances().min(axis=0).max() < 700.0


def test_eua_projection_against_haversine():
    t = Topology.eua()
    i, j = 1, 3  # rows 2 and 4 of the file: Spencer/Lonsdale and Federation Square, ~1.5 km apart
    lat = np.radians([-37.81524, -37.81679])
    lon = np.radians([144.95256, 144.96918])
    h = (np.sin((lat[1] - lat[0]) / 2) ** 2
         + np.cos(lat[0]) * np.cos(lat[1]) * np.sin((lon[1] - lon[0]) / 2) ** 2)
    great_circle = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(h))
    planar = np.hypot(*(t.server_xy[i] - t.server_xy[j]))
    assert planar > 1000.0
    assert planar == pytest.approx(great_circle, rel=1e-4)


def test_eua_subsampling_reproducible():
    a = Topology.eua(10, 50, seed=7)
    b = Topology.eua(10, 50, seed=7)
    c = Topology.eua(10, 50, seed=8)
    assert a.n_servers == 10 and a.n_users == 50
    assert np.array_equal(a.server_xy, b.server_xy) and np.array_equal(a.user_xy, b.user_xy)
    assert a.server_names == b.server_names
    assert not np.array_equal(a.server_xy, c.server_xy)
    # subsets without replacement, drawn from the file, same box as the full data
    full = Topology.eua()
    assert len(np.unique(a.server_xy, axis=0)) == 10
    assert all(((full.server_xy == p).all(axis=1)).any() for p in a.server_xy)
    assert all(((full.user_xy == p).all(axis=1)).any() for p in a.user_xy)
    assert (a.width, a.height) == (full.width, full.height)
    # nested: for one seed, a smaller subset is a prefix of a larger one; users ignore n_servers
    big = Topology.eua(40, 50, seed=7)
    assert np.array_equal(big.server_xy[:10], a.server_xy)
    assert np.array_equal(big.user_xy, a.user_xy)
    idx = [full.server_names.index(n) for n in a.server_names]
    assert np.array_equal(full.server_xy[idx], a.server_xy)


# ------------------------------------------------------------------------------ mobility
def test_fold_by_hand():
    # reflect into [0, 1000]: 1010 -> 990, -10 -> 10, 2010 -> 10 (two reflections), 1000 -> 1000
    assert np.allclose(_fold(np.array([1010.0, -10.0, 2010.0, 1000.0, 0.0, 500.0]), 1000.0),
                       [990, 10, 10, 1000, 0, 500])


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), speed=st.floats(0.0, 30.0), slot=st.sampled_from([1.0, 10.0]),
       n_slots=st.integers(0, 60))
def test_random_walk_inside_and_step_lengths(seed, speed, slot, n_slots):
    t = Topology.uniform(3, 25, width=400.0, height=250.0, seed=seed)
    path = t.random_walk(speed, slot, n_slots, seed=seed)
    assert path.shape == (n_slots + 1, 25, 2)
    assert np.array_equal(path[0], t.user_xy)
    assert (path >= 0).all() and (path[..., 0] <= 400.0).all() and (path[..., 1] <= 250.0).all()
    step = speed * slot
    lengths = np.hypot(*np.moveaxis(np.diff(path, axis=0), -1, 0))
    assert (lengths <= step + 1e-9).all()
    # a step starting farther than `step` from every border cannot be reflected: exact length
    start = path[:-1]
    margin = np.minimum.reduce([start[..., 0], 400.0 - start[..., 0], start[..., 1], 250.0 - start[..., 1]])
    free = margin > step
    assert np.allclose(lengths[free], step, rtol=1e-9, atol=1e-9)


def test_random_walk_reproducible_and_long_steps():
    t = Topology.uniform(2, 10, seed=0)
    a = t.random_walk(5.0, 1.0, 20, seed=11)
    assert np.array_equal(a, t.random_walk(5.0, 1.0, 20, seed=11))
    assert not np.array_equal(a, t.random_walk(5.0, 1.0, 20, seed=12))
    assert np.array_equal(t.random_walk(0.0, 1.0, 5, seed=1), np.broadcast_to(t.user_xy, (6, 10, 2)))
    # steps longer than the area are reflected as often as needed
    far = t.random_walk(3000.0, 1.0, 10, seed=2)
    assert (far >= 0).all() and (far <= 1000.0).all()
    # usable as a topology per slot
    assert t.with_users(a[-1]).n_users == 10


def test_random_walk_spreads_users_uniformly():
    # a long reflecting walk from one corner fills the box: mean position near the centre
    t = Topology.from_arrays([[1.0, 1.0]], np.zeros((2000, 2)), 100.0, 100.0)
    path = t.random_walk(10.0, 1.0, 300, seed=5)
    assert path[-1].mean(axis=0) == pytest.approx([50.0, 50.0], abs=3.0)


@pytest.mark.parametrize("kwargs, field", [
    (dict(speed_mps=-1.0), "speed_mps"),
    (dict(slot_s=0.0), "slot_s"),
    (dict(n_slots=-1), "n_slots"),
    (dict(n_slots=2.5), "n_slots"),
])
def test_random_walk_bad_args(kwargs, field):
    args = dict(speed_mps=1.0, slot_s=1.0, n_slots=3)
    args.update(kwargs)
    with pytest.raises(InstanceError, match=f"^{field}:"):
        Topology.uniform(2, 3, seed=0).random_walk(**args)


# ------------------------------------------------------------------------------ eligibility
def test_max_deliverable_size_by_hand():
    # server at (0, 0), user at 100 m: PL = 90.5 dB; alpha = P g / N0 with P = 43 dBm = 13 dBW,
    #   N0 = -174 dBm/Hz = -204 dBW/Hz: 13 - 90.5 + 204 = 126.5 dB Hz -> alpha = 10^12.65 = 4.466836e12 Hz
    # B = 20 MHz: SNR = alpha / B = 223341.8, log2(223342.8) = 17.768900, R = 3.553780e8 bit/s
    # limit 2 s: smax = 2 * R / 8 = 8.884450e7 bytes
    t = Topology.from_arrays([[0.0, 0.0]], [[100.0, 0.0]], 1000.0, 1000.0)
    assert downlink_rates(t)[0, 0] == pytest.approx(3.553780039e8, rel=1e-9)
    assert max_deliverable_size(t, 2.0)[0, 0] == pytest.approx(8.884450098e7, rel=1e-9)
    # backhaul with a single server: the user is attached to it, no backhaul hop
    assert max_deliverable_size(t, 2.0, variant="backhaul")[0, 0] == pytest.approx(8.884450098e7, rel=1e-9)


def test_backhaul_by_hand():
    # user at 100 m from server 0 and 300 m from server 1 -> attached to 0.
    # smax[1] = limit / (8/R_0 + 8/R_bh), R_0 = 3.553780e8 (see above), R_bh = 1e9:
    #   2 / (2.251124e-8 + 8e-9) = 6.554961e7 bytes
    t = Topology.from_arrays([[0.0, 0.0], [400.0, 0.0]], [[100.0, 0.0]], 1000.0, 1000.0)
    s = max_deliverable_size(t, [2.0], variant="backhaul")
    assert s[0, 0] == pytest.approx(8.884450098e7, rel=1e-9)
    assert s[1, 0] == pytest.approx(6.554961104e7, rel=1e-9)
    # ties (two servers at the same distance): the lowest index is the attachment point
    tie = Topology.from_arrays([[0.0, 0.0], [200.0, 0.0]], [[100.0, 0.0]], 1000.0, 1000.0)
    st_ = max_deliverable_size(tie, 2.0, variant="backhaul")
    assert st_[0, 0] > st_[1, 0]


def _brute_latency(t: Topology, m: int, k: int, size_bytes: float, variant: str, *, bw=20e6,
                   p_dbm=43.0, n0_dbm=-174.0, bh=1e9) -> float:
    """Per-pair latency written from the spec with the math module only (no radio.py)."""
    def rate(mm: int) -> float:
        d = math.dist(t.server_xy[mm], t.user_xy[k])
        pl = 128.1 + 37.6 * math.log10(max(d, 1.0) / 1000.0)
        alpha = 10 ** ((p_dbm - 30) / 10) * 10 ** (-pl / 10) / 10 ** ((n0_dbm - 30) / 10)
        return bw * math.log2(1 + alpha / bw)

    bits = 8.0 * size_bytes
    if variant == "direct":
        return bits / rate(m)
    dists = [math.dist(t.server_xy[mm], t.user_xy[k]) for mm in range(t.n_servers)]
    a = int(np.argmin(dists))
    return bits / rate(a) + (bits / bh if m != a else 0.0)


@pytest.mark.parametrize("variant", ["direct", "backhaul"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_max_deliverable_size_matches_brute_force(variant, seed):
    rng = np.random.default_rng(seed)
    t = Topology.uniform(6, 15, seed=seed)
    limits = latency_limits(15, seed=seed)
    smax = max_deliverable_size(t, limits, variant=variant)
    assert smax.shape == (6, 15) and smax.dtype == np.float64
    # random sizes around the threshold and the spec's ResNet model sizes
    resnets = [44.59 * MB, 83.15 * MB, 97.49 * MB]
    sizes = np.concatenate([rng.uniform(0.0, 2.0 * np.median(smax), 20), resnets])
    for m in range(6):
        for k in range(15):
            for s in sizes:
                ok = _brute_latency(t, m, k, s, variant) <= limits[k]
                assert ok == (s <= smax[m, k]), (m, k, s)


def test_max_deliverable_size_options():
    t = Topology.uniform(4, 6, seed=9)
    base = max_deliverable_size(t, 2.0)
    # scalar limit == the same value per user; linear in the limit for "direct"
    assert np.allclose(max_deliverable_size(t, np.full(6, 2.0)), base)
    assert np.allclose(max_deliverable_size(t, 4.0), 2.0 * base)
    # per-server power: a silent server (-inf dBm) delivers nothing
    p = np.array([43.0, -np.inf, 30.0, 43.0])
    s = max_deliverable_size(t, 2.0, tx_power_dbm=p)
    assert (s[1] == 0).all() and np.allclose(s[[0, 3]], base[[0, 3]]) and (s[2] < base[2]).all()
    # limit 0 -> nothing; inf -> everything; free backhaul -> every server like the attached one
    assert (max_deliverable_size(t, 0.0) == 0).all()
    assert np.isinf(max_deliverable_size(t, np.inf)).all()
    free = max_deliverable_size(t, 2.0, variant="backhaul", backhaul_bps=np.inf)
    assert np.allclose(free, free.max(axis=0, keepdims=True))
    # the attached server is at least as good as any other in "backhaul"; never above "direct" max
    bh = max_deliverable_size(t, 2.0, variant="backhaul")
    assert np.allclose(bh.max(axis=0), base.max(axis=0))


@pytest.mark.parametrize("kwargs, field", [
    (dict(latency_limit_s=[1.0, 2.0]), "latency_limit_s"),
    (dict(latency_limit_s=-1.0), "latency_limit_s"),
    (dict(variant="cloud"), "variant"),
    (dict(backhaul_bps=0.0), "backhaul_bps"),
    (dict(bandwidth_hz=0.0), "bandwidth_hz"),
    (dict(tx_power_dbm=[43.0, 43.0]), "tx_power_dbm"),
    (dict(min_distance_m=-1.0), "min_distance_m"),
    (dict(topology="not a topology"), "topology"),
])
def test_max_deliverable_size_bad_args(kwargs, field):
    args = dict(topology=Topology.uniform(3, 4, seed=0), latency_limit_s=2.0)
    args.update(kwargs)
    with pytest.raises(InstanceError, match=f"^{field}:"):
        max_deliverable_size(**args)


def test_eligibility_dense():
    smax = np.array([[10.0, 0.0], [5.0, np.inf]])
    e = eligibility(smax, [5.0, 10.0, 11.0])
    assert e.shape == (2, 2, 3) and e.dtype == np.bool_
    assert e[0, 0].tolist() == [True, True, False]
    assert e[0, 1].tolist() == [False, False, False]
    assert e[1, 0].tolist() == [True, False, False]
    assert e[1, 1].all()
    with pytest.raises(InstanceError, match="^model_sizes:"):
        eligibility(smax, [0.0])


def test_latency_limits():
    a = latency_limits(1000, seed=4)
    assert a.shape == (1000,) and (a >= 1.0).all() and (a <= 5.0).all()
    assert a.mean() == pytest.approx(3.0, abs=0.15)
    assert np.array_equal(a, latency_limits(1000, seed=4))
    assert np.array_equal(latency_limits(3, 2.0, 2.0, seed=1), [2.0, 2.0, 2.0])
