"""Radio model: hand-computed values, Lambert-W minimum bandwidth against bisection."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import lambertw

from trimcore.errors import InstanceError
from trimcore.instance.radio import (
    channel_gain,
    dbm_to_watt,
    min_bandwidth,
    min_bandwidth_fixed_psd,
    noise_psd_w_per_hz,
    path_loss_db,
    shannon_rate,
    snr_bandwidth,
    watt_to_dbm,
)

LN2 = math.log(2.0)


# ------------------------------------------------------------------------------ hand-computed values
def test_path_loss_by_hand():
    # 1 km: 128.1 + 37.6 * log10(1) = 128.1 dB
    # 100 m: 128.1 + 37.6 * log10(0.1) = 128.1 - 37.6 = 90.5 dB
    # 10 km: 128.1 + 37.6 = 165.7 dB
    # 0.5 m is clamped to 1 m: 128.1 + 37.6 * log10(0.001) = 128.1 - 112.8 = 15.3 dB
    got = path_loss_db([1000.0, 100.0, 10_000.0, 0.5, 0.0])
    assert got == pytest.approx([128.1, 90.5, 165.7, 15.3, 15.3], abs=1e-12)
    # clamp at 10 m instead: 128.1 + 37.6 * log10(0.01) = 128.1 - 75.2 = 52.9 dB
    assert path_loss_db(3.0, min_distance_m=10.0) == pytest.approx(52.9, abs=1e-12)
    assert isinstance(path_loss_db(100.0), float)


def test_gain_and_power_conversions_by_hand():
    # g(100 m) = 10^(-90.5/10) = 10^-9.05 = 8.9125e-10
    assert channel_gain(100.0) == pytest.approx(8.912509381337e-10, rel=1e-12)
    # 43 dBm = 10^(13/10) W = 19.9526 W; 30 dBm = 1 W; 0 dBm = 1 mW
    assert dbm_to_watt([43.0, 30.0, 0.0]) == pytest.approx([19.952623149689, 1.0, 1e-3], rel=1e-12)
    assert dbm_to_watt(-np.inf) == 0.0
    assert watt_to_dbm([1.0, 1e-3, 19.952623149689]) == pytest.approx([30.0, 0.0, 43.0], abs=1e-9)
    assert watt_to_dbm(0.0) == -np.inf
    # -174 dBm/Hz = 10^(-17.4) mW/Hz = 10^(-20.4) W/Hz = 3.981e-21 W/Hz
    assert noise_psd_w_per_hz() == pytest.approx(3.981071705535e-21, rel=1e-12)
    assert noise_psd_w_per_hz(-144.0) == pytest.approx(10 ** -17.4, rel=1e-12)


def test_shannon_rate_by_hand():
    # alpha = P g / N0 at P = 1 W (30 dBm), d = 1 km (PL 128.1 dB), N0 = -174 dBm/Hz:
    #   30 - 128.1 + 174 = 75.9 dB -> alpha = 10^7.59 = 3.89045e7 Hz
    # B = 20 MHz: SNR = alpha / B = 1.945226, log2(2.945226) = 1.558378,
    #   R = 2e7 * 1.558378 = 3.11676e7 bit/s
    alpha = snr_bandwidth(dbm_to_watt(30.0), channel_gain(1000.0), noise_psd_w_per_hz(-174.0))
    assert alpha == pytest.approx(3.8904514499e7, rel=1e-9)
    assert shannon_rate(20e6, alpha) == pytest.approx(3.1167564157e7, rel=1e-9)
    # b = 1 MHz, alpha = 3 MHz: 1e6 * log2(1 + 3) = 2e6 bit/s exactly; b = alpha gives alpha.
    assert shannon_rate(1e6, 3e6) == pytest.approx(2e6, rel=1e-15)
    assert shannon_rate(5e5, 5e5) == pytest.approx(5e5, rel=1e-15)
    # b = 0 -> 0, b = inf -> the supremum alpha / ln 2, alpha = 0 -> 0
    assert shannon_rate([0.0, np.inf, 1e6], [1e6, 1e6, 0.0]) == pytest.approx([0.0, 1e6 / LN2, 0.0])


def test_shannon_rate_increasing_concave_bounded():
    b = np.geomspace(1.0, 1e12, 400)
    r = shannon_rate(b, 1e7)
    assert (np.diff(r) > 0).all()
    assert (r < 1e7 / LN2).all()
    assert r[-1] == pytest.approx(1e7 / LN2, rel=1e-5)  # deficit ~ (alpha / b) / 2 = 5e-6
    # concave on a linear grid: second differences <= 0
    lin = shannon_rate(np.linspace(1.0, 1e8, 200), 1e7)
    assert (np.diff(lin, 2) <= 1e-6).all()


def test_broadcasting_and_shapes():
    r = shannon_rate(np.array([[1e6], [2e6]]), np.array([1e6, 2e6, 3e6]))
    assert r.shape == (2, 3)
    b = min_bandwidth(np.full((4, 1), 1e6), np.array([1e6, 1e7]))
    assert b.shape == (4, 2)
    assert isinstance(min_bandwidth(1e6, 1e7), float)


# ------------------------------------------------------------------------------ min bandwidth
def test_min_bandwidth_by_hand():
    # 1e6 * log2(1 + 3e6/1e6) = 2e6: the unique root of b log2(1 + 3e6 / b) = 2e6 is b = 1 MHz
    assert min_bandwidth(2e6, 3e6) == pytest.approx(1e6, rel=1e-12)
    # b = alpha gives rate alpha: root of b log2(1 + 1e6 / b) = 1e6 is 1e6
    assert min_bandwidth(1e6, 1e6) == pytest.approx(1e6, rel=1e-12)
    assert min_bandwidth(1e6, 1e6, method="bisection") == pytest.approx(1e6, rel=1e-12)
    # rate 0 -> 0; rate >= alpha / ln 2 = 1.4427e6 -> inf; alpha = 0 -> inf
    out = min_bandwidth([0.0, 1.5e6, 1e6 / LN2, np.inf, 1.0], [1e6, 1e6, 1e6, 1e6, 0.0])
    assert out[0] == 0.0
    assert np.isinf(out[1:]).all()


def test_min_bandwidth_is_lower_branch_closed_form():
    # y = -W_{-1}(-c e^{-c}) / c, b = alpha / (y - 1) with c = R ln2 / alpha
    alpha, rate = 4e7, 2.5e7
    c = rate * LN2 / alpha
    y = -lambertw(-c * math.exp(-c), k=-1).real / c
    assert min_bandwidth(rate, alpha) == pytest.approx(alpha / (y - 1.0), rel=1e-10)
    # the principal branch gives the trivial root y = 1 (b = inf)
    assert -lambertw(-c * math.exp(-c), k=0).real / c == pytest.approx(1.0, rel=1e-12)


def _check_root(b: float, rate: float, alpha: float) -> None:
    assert np.isfinite(b) and b > 0
    assert shannon_rate(b, alpha) >= rate  # meets the target (guaranteed in floating point)
    assert shannon_rate(b, alpha) == pytest.approx(rate, rel=1e-9)
    assert shannon_rate(0.99 * b, alpha) < rate  # 1% less bandwidth misses it


@settings(max_examples=300, deadline=None)
@given(log_alpha=st.floats(0.0, 12.0), log_c=st.floats(-8.0, math.log10(1.0 - 1e-6)))
def test_min_bandwidth_lambert_matches_bisection(log_alpha, log_c):
    alpha = 10.0 ** log_alpha
    rate = 10.0 ** log_c * alpha / LN2
    b_w = float(min_bandwidth(rate, alpha))
    b_b = float(min_bandwidth(rate, alpha, method="bisection"))
    assert b_w == pytest.approx(b_b, rel=1e-7)
    _check_root(b_w, rate, alpha)
    _check_root(b_b, rate, alpha)


@settings(max_examples=100, deadline=None)
@given(log_alpha=st.floats(0.0, 12.0), t=st.floats(2.0, 7.0))
def test_min_bandwidth_near_supremum(log_alpha, t):
    # c = 1 - 10^-t: the argument of W_{-1} is close to -1/e; the bisection fallback must hold
    alpha = 10.0 ** log_alpha
    rate = (1.0 - 10.0 ** -t) * alpha / LN2
    b_w = float(min_bandwidth(rate, alpha))
    assert b_w == pytest.approx(float(min_bandwidth(rate, alpha, method="bisection")), rel=1e-7)
    _check_root(b_w, rate, alpha)
    # x = alpha / b ~ 2 (1 - c) near the supremum (ln(1+x)/x = 1 - x/2 + O(x^2))
    assert alpha / b_w == pytest.approx(2.0 * 10.0 ** -t, rel=0.02)


@settings(max_examples=100, deadline=None)
@given(rates=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30), log_alpha=st.floats(3.0, 10.0))
def test_min_bandwidth_vectorised_equals_scalar(rates, log_alpha):
    alpha = 10.0 ** log_alpha
    r = np.array(rates) * 1.1 * alpha / LN2  # some infeasible (> supremum)
    vec = min_bandwidth(r, alpha)
    for i, ri in enumerate(r):
        assert vec[i] == min_bandwidth(ri, alpha)
    feasible = r < alpha / LN2
    assert np.isinf(vec[~feasible]).all()
    assert np.isfinite(vec[feasible]).all()


def test_min_bandwidth_monotone_in_rate():
    alpha = 1e8
    r = np.linspace(0.0, 0.999, 500) * alpha / LN2
    b = min_bandwidth(r, alpha)
    assert (np.diff(b) > 0).all()


def test_min_bandwidth_extreme_small_rate():
    # rate << alpha: b is tiny; b log2(1 + alpha / b) = rate still holds
    for rate in (1e-30, 1e-200):
        b = float(min_bandwidth(rate, 1e9))
        assert shannon_rate(b, 1e9) == pytest.approx(rate, rel=1e-9)
        assert b == pytest.approx(float(min_bandwidth(rate, 1e9, method="bisection")), rel=1e-7)


def test_min_bandwidth_fixed_psd_by_hand():
    # snr = 3 -> log2(4) = 2 bit/s/Hz -> 1e6 bit/s needs 5e5 Hz; snr = 1 -> 1 bit/s/Hz
    assert min_bandwidth_fixed_psd([1e6, 1e6, 0.0], [3.0, 1.0, 3.0]) == pytest.approx([5e5, 1e6, 0.0])
    assert np.isinf(min_bandwidth_fixed_psd(1.0, 0.0))
    assert min_bandwidth_fixed_psd(0.0, 0.0) == 0.0


@pytest.mark.parametrize("call, field", [
    (lambda: min_bandwidth(-1.0, 1e6), "rate_bps"),
    (lambda: min_bandwidth(np.nan, 1e6), "rate_bps"),
    (lambda: min_bandwidth(1.0, -1e6), "snr_bw_hz"),
    (lambda: min_bandwidth(1.0, np.inf), "snr_bw_hz"),
    (lambda: min_bandwidth(1.0, 1e6, method="newton"), "method"),
    (lambda: min_bandwidth(np.ones(3), np.ones(2)), "snr_bw_hz"),
    (lambda: shannon_rate(-1.0, 1e6), "bandwidth_hz"),
    (lambda: shannon_rate(1.0, "x"), "snr_bw_hz"),
    (lambda: path_loss_db(-5.0), "distance_m"),
    (lambda: path_loss_db(5.0, min_distance_m=0.0), "min_distance_m"),
    (lambda: snr_bandwidth(1.0, 1.0, 0.0), "noise_psd"),
    (lambda: snr_bandwidth(-1.0, 1.0, 1.0), "tx_power_w"),
    (lambda: watt_to_dbm(-1.0), "w"),
    (lambda: dbm_to_watt(np.nan), "dbm"),
    (lambda: min_bandwidth_fixed_psd(1.0, -1.0), "snr_per_hz"),
])
def test_bad_inputs_raise_instance_error(call, field):
    with pytest.raises(InstanceError, match=f"^{field}:"):
        call()
