"""Radio model: path loss, Shannon rate and the minimum bandwidth that carries a given rate.

All functions are vectorised over NumPy arrays (inputs broadcast against each other) and
return a NumPy scalar for scalar input. Units are SI throughout: metres, watts, hertz, bit/s;
dB / dBm only where the name says so.

The rate model is the one shared by TrimCaching (downlink, spec §3.2) and PartialLoading
(uplink, spec §3.4): a link with bandwidth ``b`` and "SNR-bandwidth product"
``alpha = P g / N0`` (Hz) carries

.. math:: r(b) = b \\log_2(1 + \\alpha / b)

bit/s. ``r`` is increasing and concave in ``b``, ``r(0) = 0`` and ``r(b) -> alpha / ln 2`` as
``b -> inf``, so a rate at or above ``alpha / ln 2`` is unattainable with any bandwidth.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from trimcore._tolerances import LAMBERT_IMAG_RTOL, VERIFY_RTOL
from trimcore._validate import float_array, positive_scalar
from trimcore.errors import invalid

__all__ = [
    "PL_INTERCEPT_DB",
    "PL_SLOPE_DB",
    "path_loss_db",
    "dbm_to_watt",
    "watt_to_dbm",
    "channel_gain",
    "noise_psd_w_per_hz",
    "snr_bandwidth",
    "shannon_rate",
    "min_bandwidth",
    "min_bandwidth_fixed_psd",
]

#: Path-loss intercept (dB at 1 km) of the 3GPP macro-cell model ``128.1 + 37.6 log10(d / km)``.
PL_INTERCEPT_DB = 128.1
#: Path-loss slope (dB per decade of distance) of the same model.
PL_SLOPE_DB = 37.6

_LN2 = math.log(2.0)
_EPS = float(np.finfo(np.float64).eps)
_TINY = float(np.finfo(np.float64).tiny)
# The closed form is used only for 1e-250 < c <= 1 - _CLOSED_FORM_MARGIN, c = rate ln2 / alpha.
# Near c = 1 the argument of W_{-1} approaches the branch point -1/e, where W is ill-conditioned
# (an absolute error 1e-17 in the argument becomes a relative error ~3e-17/(1-c)^2 in b).
_CLOSED_FORM_MARGIN = 1e-3
_LOG_C_MIN = -575.0  # c < ~1e-250: -c e^{-c} is (nearly) subnormal, W_{-1} loses accuracy


def _out(arr: np.ndarray) -> np.ndarray | float:
    """Return a 0-d result as a NumPy scalar, anything else unchanged."""
    return arr[()] if arr.ndim == 0 else arr


def _broadcast(names: tuple[str, ...], *arrays: np.ndarray) -> list[np.ndarray]:
    try:
        return [np.array(a) for a in np.broadcast_arrays(*arrays)]
    except ValueError:
        shapes = ", ".join(f"{n} {a.shape}" for n, a in zip(names, arrays, strict=True))
        raise invalid(names[-1], f"shapes that broadcast together ({shapes})",
                      "incompatible shapes") from None


# ---------------------------------------------------------------------------------------- conversions
def path_loss_db(
    distance_m: ArrayLike,
    *,
    min_distance_m: float = 1.0,
    intercept_db: float = PL_INTERCEPT_DB,
    slope_db: float = PL_SLOPE_DB,
) -> np.ndarray | float:
    """Macro-cell path loss ``PL(d) = 128.1 + 37.6 log10(d / 1 km)`` in dB.

    Parameters
    ----------
    distance_m : array_like of float
        Link distances in metres, finite and >= 0.
    min_distance_m : float, default 1.0
        Distances below this are clamped to it (the log-distance model diverges at d = 0).
    intercept_db, slope_db : float
        Model coefficients; the defaults are the 3GPP macro model used by both specs.

    Returns
    -------
    ndarray or float
        Path loss in dB, same shape as ``distance_m``.

    Examples
    --------
    At 100 m: 128.1 + 37.6 * log10(0.1) = 128.1 - 37.6 = 90.5 dB.
    """
    d = float_array("distance_m", distance_m, minimum=0.0)
    dmin = positive_scalar("min_distance_m", min_distance_m)
    a = float_array("intercept_db", intercept_db, ())
    s = float_array("slope_db", slope_db, ())
    return _out(float(a) + float(s) * np.log10(np.maximum(d, dmin) / 1000.0))


def dbm_to_watt(dbm: ArrayLike) -> np.ndarray | float:
    """Convert dBm to watts: ``10 ** ((dbm - 30) / 10)`` (``-inf`` dBm is 0 W)."""
    x = float_array("dbm", dbm, allow_inf=True)
    return _out(np.power(10.0, (x - 30.0) / 10.0))


def watt_to_dbm(w: ArrayLike) -> np.ndarray | float:
    """Convert watts (>= 0) to dBm: ``10 log10(w) + 30`` (0 W is ``-inf`` dBm)."""
    x = float_array("w", w, minimum=0.0, allow_inf=True)
    with np.errstate(divide="ignore"):
        return _out(10.0 * np.log10(x) + 30.0)


def channel_gain(
    distance_m: ArrayLike,
    *,
    min_distance_m: float = 1.0,
    intercept_db: float = PL_INTERCEPT_DB,
    slope_db: float = PL_SLOPE_DB,
) -> np.ndarray | float:
    """Average channel power gain ``g = 10 ** (-PL(d) / 10)`` (no fading), see :func:`path_loss_db`."""
    pl = path_loss_db(distance_m, min_distance_m=min_distance_m, intercept_db=intercept_db,
                      slope_db=slope_db)
    return _out(np.power(10.0, -np.asarray(pl) / 10.0))


def noise_psd_w_per_hz(dbm_per_hz: ArrayLike = -174.0) -> np.ndarray | float:
    """Noise power spectral density in W/Hz from dBm/Hz (-174 dBm/Hz = 3.981e-21 W/Hz)."""
    x = float_array("dbm_per_hz", dbm_per_hz)
    return _out(np.power(10.0, (x - 30.0) / 10.0))


def snr_bandwidth(tx_power_w: ArrayLike, gain: ArrayLike, noise_psd: ArrayLike) -> np.ndarray | float:
    """SNR-bandwidth product ``alpha = P g / N0`` in Hz (the SNR over a 1 Hz band).

    Parameters
    ----------
    tx_power_w : array_like of float
        Transmit power in W, >= 0.
    gain : array_like of float
        Channel power gain (linear), >= 0.
    noise_psd : array_like of float
        Noise power spectral density in W/Hz, > 0.
    """
    p = float_array("tx_power_w", tx_power_w, minimum=0.0)
    g = float_array("gain", gain, minimum=0.0)
    n0 = float_array("noise_psd", noise_psd, strictly_positive=True)
    p, g, n0 = _broadcast(("tx_power_w", "gain", "noise_psd"), p, g, n0)
    return _out(p * g / n0)


# ---------------------------------------------------------------------------------------- rate
def _rate(b: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``b log2(1 + alpha / b)`` without validation; 0 at b = 0, ``alpha / ln 2`` at b = inf."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = alpha / b
        # alpha / b overflows only for b tiny: then log1p(alpha / b) = log(alpha) - log(b).
        lg = np.where(np.isinf(ratio) & (b > 0), np.log(alpha) - np.log(b), np.log1p(ratio))
        r = b * lg / _LN2
    r = np.where(b == 0.0, 0.0, r)
    return np.where(np.isinf(b), alpha / _LN2, r)


def shannon_rate(bandwidth_hz: ArrayLike, snr_bw_hz: ArrayLike) -> np.ndarray | float:
    """Shannon rate ``b log2(1 + alpha / b)`` in bit/s.

    Parameters
    ----------
    bandwidth_hz : array_like of float
        Bandwidth ``b`` in Hz, >= 0 (``inf`` gives the supremum ``alpha / ln 2``).
    snr_bw_hz : array_like of float
        SNR-bandwidth product ``alpha = P g / N0`` in Hz, finite and >= 0.

    Returns
    -------
    ndarray or float
        Rate in bit/s; 0 where ``b = 0``.
    """
    b = float_array("bandwidth_hz", bandwidth_hz, minimum=0.0, allow_inf=True)
    a = float_array("snr_bw_hz", snr_bw_hz, minimum=0.0)
    b, a = _broadcast(("bandwidth_hz", "snr_bw_hz"), b, a)
    return _out(_rate(b, a))


# ---------------------------------------------------------------------------------------- min bandwidth
def _bisection(rate: np.ndarray, alpha: np.ndarray, log_c: np.ndarray) -> np.ndarray:
    """Smallest ``b`` with ``_rate(b, alpha) >= rate`` (floating-point), for 0 < c < 1.

    Bracket (from ``x / (1 + x) <= ln(1 + x) <= x / sqrt(1 + x)``, ``x = alpha / b``):
    ``alpha c^2 / (1 - c^2) <= b* <= alpha c / (1 - c)``; widened if rounding breaks it.
    Geometric bisection, then returns the upper end, which always meets the rate.
    Entries whose rate is not reached even far beyond the bracket (targets within a few ulps
    of the supremum ``alpha / ln 2``) return ``inf``.
    """
    c = np.exp(log_c)
    log_a = np.log(alpha)
    with np.errstate(over="ignore", under="ignore"):
        hi = np.exp(log_a + log_c - np.log1p(-c))
        lo = np.exp(log_a + 2.0 * log_c - np.log1p(-c * c))
    hi = np.clip(hi, _TINY, np.finfo(np.float64).max)
    lo = np.clip(lo, _TINY, hi)
    for _ in range(64):  # widen the bracket until it is valid in floating point
        bad_hi = _rate(hi, alpha) < rate
        bad_lo = (_rate(lo, alpha) >= rate) & (lo > _TINY)
        if not (bad_hi.any() or bad_lo.any()):
            break
        hi = np.where(bad_hi, hi * 2.0, hi)
        lo = np.where(bad_lo, np.maximum(lo * 0.5, _TINY), lo)
    unreachable = (_rate(hi, alpha) < rate) | ~np.isfinite(hi)
    at_floor = _rate(lo, alpha) >= rate  # b* below the smallest normal float: return that
    for _ in range(200):
        mid = np.sqrt(lo) * np.sqrt(hi)
        active = (hi > lo * (1.0 + 2.0 * _EPS)) & (mid > lo) & (mid < hi) & ~at_floor
        if not active.any():
            break
        ge = _rate(mid, alpha) >= rate
        hi = np.where(active & ge, mid, hi)
        lo = np.where(active & ~ge, mid, lo)
    return np.where(unreachable, np.inf, np.where(at_floor, lo, hi))


def _closed_form(rate: np.ndarray, alpha: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Lambert-W root, one Newton polish in ``x = alpha / b``, then nudged up to meet the rate.

    Entries that fail verification (non-finite, or rate off by more than 1e-9 relative) are NaN.
    """
    z = -c * np.exp(-c)
    from scipy.special import lambertw  # imported here: scipy.special costs ~0.5 s to import

    w = lambertw(z, k=-1, tol=1e-15)
    y = -w.real / c
    x = y - 1.0
    with np.errstate(all="ignore"):
        # Newton on h(x) = ln(1 + x) - c x; h' = 1/(1+x) - c < 0 at the non-trivial root.
        h = np.log1p(x) - c * x
        dh = 1.0 / (1.0 + x) - c
        x_new = x - h / dh
        x = np.where(np.isfinite(x_new) & (x_new > 0), x_new, x)
        b = alpha / x
    ok = np.isfinite(b) & (b > 0) & (np.abs(w.imag) <= LAMBERT_IMAG_RTOL * np.abs(w.real))
    r = _rate(np.where(ok, b, 1.0), alpha)
    ok &= np.abs(r - rate) <= VERIFY_RTOL * rate
    # Guarantee shannon_rate(b) >= rate in floating point by nudging b up (at most ~1e-6 here).
    for j in range(60):
        short = ok & (r < rate)
        if not short.any():
            break
        b = np.where(short, b * (1.0 + (2.0 ** j) * _EPS), b)
        r = np.where(short, _rate(b, alpha), r)
    ok &= r >= rate
    return np.where(ok, b, np.nan)


def min_bandwidth(
    rate_bps: ArrayLike, snr_bw_hz: ArrayLike, *, method: str = "lambertw"
) -> np.ndarray | float:
    r"""Smallest bandwidth ``b`` with ``b log2(1 + alpha / b) >= rate`` (Hz).

    Parameters
    ----------
    rate_bps : array_like of float
        Target rate ``R`` in bit/s, >= 0 (``inf`` is infeasible).
    snr_bw_hz : array_like of float
        SNR-bandwidth product ``alpha = P g / N0`` in Hz, finite and >= 0.
    method : {"lambertw", "bisection"}, default "lambertw"
        ``"lambertw"``: closed form (below) with automatic bisection fallback where it is
        numerically unreliable; ``"bisection"``: bisection only (the oracle).

    Returns
    -------
    ndarray or float
        Bandwidth in Hz: 0 where ``R = 0``; ``inf`` where ``R >= alpha / ln 2`` (the
        supremum of the rate as ``b -> inf``, unattainable), in particular where ``alpha = 0``
        and ``R > 0``. Every finite result satisfies ``shannon_rate(b, alpha) >= R`` in
        floating point (the root is nudged up by a few ulps if rounding falls short).

    Raises
    ------
    InstanceError
        On NaN or negative inputs, incompatible shapes or an unknown ``method``.

    Notes
    -----
    Derivation. With ``x = alpha / b`` the equation ``b log2(1 + alpha / b) = R`` reads

    .. math:: \frac{\ln(1 + x)}{x} = c, \qquad c = \frac{R \ln 2}{\alpha}.

    ``ln(1 + x) / x`` decreases from 1 (x -> 0, i.e. b -> inf) to 0 (x -> inf, b -> 0), so a
    root with ``b < inf`` exists iff ``0 < c < 1``, i.e. ``R < alpha / ln 2``; it is unique
    and, ``r`` being increasing, it is the smallest feasible ``b``. Put ``y = 1 + x > 1``:

    .. math:: \ln y = c (y - 1) \iff y e^{-c y} = e^{-c}
              \iff (-c y)\, e^{-c y} = -c\, e^{-c}.

    So ``-c y = W(-c e^{-c})`` for a branch of the Lambert W function. The argument lies in
    ``(-1/e, 0)`` for ``0 < c < 1``, where W has two real branches. The principal branch
    gives ``W_0(-c e^{-c}) = -c``, i.e. the trivial root ``y = 1`` (``b = inf``). The
    non-trivial root ``y > 1`` (so ``-c y < -1``) is on the lower branch:

    .. math:: y = -\frac{W_{-1}(-c\, e^{-c})}{c}, \qquad b = \frac{\alpha}{y - 1}.

    Numerics. ``scipy.special.lambertw(z, k=-1)`` is evaluated at tolerance 1e-15 and the
    root is polished by one Newton step on ``h(x) = ln(1 + x) - c x``. It is then verified:
    the rate at ``b`` must match ``R`` to 1e-9 relative. Bisection (geometric, on the
    bracket ``alpha c^2/(1-c^2) <= b <= alpha c/(1-c)``) is used instead where
    ``c > 1 - 1e-3`` (the argument of W is within ~1e-7 of the branch point ``-1/e``, where
    W is ill-conditioned and scipy returns NaN at ``-1/e`` itself), where ``c < 1e-250``
    (the argument underflows), and wherever verification fails. Near ``c = 1`` the problem
    itself is ill-conditioned: a relative change ``e`` of ``R`` moves ``b`` by about
    ``e / (1 - c)``.

    Examples
    --------
    >>> float(min_bandwidth(0.0, 1e9))
    0.0
    >>> b = min_bandwidth(1e6, 1e9)
    >>> bool(shannon_rate(b, 1e9) >= 1e6)
    True
    """
    if not isinstance(method, str) or method not in ("lambertw", "bisection"):
        raise invalid("method", "'lambertw' or 'bisection'", method)
    rate = float_array("rate_bps", rate_bps, minimum=0.0, allow_inf=True)
    alpha = float_array("snr_bw_hz", snr_bw_hz, minimum=0.0)
    rate, alpha = _broadcast(("rate_bps", "snr_bw_hz"), rate, alpha)
    out = np.zeros(rate.shape, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_c = np.log(rate) - np.log(alpha) + math.log(_LN2)  # +inf for alpha = 0 or rate = inf
    positive = rate > 0
    feasible = positive & (log_c < 0)
    out[positive & ~feasible] = np.inf
    if not feasible.any():
        return _out(out)
    r, a, lc = rate[feasible], alpha[feasible], log_c[feasible]
    res = np.full(r.shape, np.nan)
    if method == "lambertw":
        c = np.exp(lc)
        use = (lc > _LOG_C_MIN) & (c <= 1.0 - _CLOSED_FORM_MARGIN)
        if use.any():
            res[use] = _closed_form(r[use], a[use], c[use])
    todo = np.isnan(res)
    if todo.any():
        res[todo] = _bisection(r[todo], a[todo], lc[todo])
    out[feasible] = res
    return _out(out)


def min_bandwidth_fixed_psd(rate_bps: ArrayLike, snr_per_hz: ArrayLike) -> np.ndarray | float:
    """Minimum bandwidth when the transmitter keeps a fixed power spectral density.

    The SNR ``p g / N0`` does not depend on ``b`` then, so the rate ``b log2(1 + snr)`` is
    linear in ``b`` and ``b = R / log2(1 + snr)``.

    Parameters
    ----------
    rate_bps : array_like of float
        Target rate in bit/s, >= 0 (``inf`` gives ``inf``).
    snr_per_hz : array_like of float
        Linear SNR ``p g / N0`` (``p`` in W/Hz), finite and >= 0.

    Returns
    -------
    ndarray or float
        Bandwidth in Hz: 0 where ``R = 0``, ``inf`` where ``snr = 0`` and ``R > 0``.
    """
    rate = float_array("rate_bps", rate_bps, minimum=0.0, allow_inf=True)
    snr = float_array("snr_per_hz", snr_per_hz, minimum=0.0)
    rate, snr = _broadcast(("rate_bps", "snr_per_hz"), rate, snr)
    eta = np.log1p(snr) / _LN2
    with np.errstate(divide="ignore", invalid="ignore"):
        b = rate / eta
    return _out(np.where(rate == 0.0, 0.0, b))
