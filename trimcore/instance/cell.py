"""A random cell (PartialLoading spec §7): users around one edge server, their requests and radio.

The instance layer draws the users; :meth:`trimcore.loading.LoadingProblem.from_random_cell`
adds the server's side (GPU, deadlines, loading model) and validates the whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trimcore._validate import integer, make_streams, positive_scalar
from trimcore.errors import invalid
from trimcore.instance import radio
from trimcore.instance.blocks import ModelLibrary
from trimcore.instance.demand import zipf_popularity
from trimcore.instance.zoo import INFER_TIME_S, INPUT_BITS, per_model_values

__all__ = ["Cell", "random_cell"]


@dataclass(frozen=True, eq=False)
class Cell:
    """The users of a random cell: per user, the model requested, its inference time and input
    size, and the SNR per Hz ``alpha_k`` of its uplink; plus the cell's total bandwidth in Hz."""

    user_model: np.ndarray
    infer_time: np.ndarray
    input_bits: np.ndarray
    snr_bw: np.ndarray
    bandwidth_hz: float


def random_cell(
    library: ModelLibrary,
    n_users: int = 30,
    *,
    seed: Any = None,
    bandwidth_hz: float = 20e6,
    infer_time: float | Sequence[float] | Mapping[str, float] | None = None,
    input_bits: float | Sequence[float] | Mapping[str, float] | None = None,
    radius_m: float = 250.0,
    min_distance_m: float = 20.0,
    tx_power_dbm: float = 23.0,
    noise_dbm_per_hz: float = -174.0,
    fading: str = "rayleigh",
    zipf_exponent: float = 0.8,
    ranking: str = "global",
    rate_model: str = "shannon",
) -> Cell:
    """A cell scenario (spec §7): users in a disc around the server, Zipf requests, radio.

    Users are uniform (by area) in the annulus ``min_distance_m <= d <= radius_m`` around the
    server; the channel gain is the path loss ``128.1 + 37.6 log10(d / km)`` times Rayleigh
    fading ``|h|^2 ~ Exp(1)`` (``fading="none"``: average channel); ``alpha_k = P g / N0``
    (:mod:`trimcore.instance.radio`). With ``rate_model="fixed_psd"`` the power is spread
    over the whole band (PSD ``P / B``), so the SNR is ``alpha_k / B``. Each user requests one
    model drawn from a Zipf popularity (:func:`trimcore.instance.demand.zipf_popularity`).

    Parameters
    ----------
    library : ModelLibrary
    n_users : int, default 30
    seed : None, int, SeedSequence or Generator
        Positions, fading and requests come from three independent child streams.
    bandwidth_hz : float, default 20 MHz
        Total uplink bandwidth of the cell (sets the SNR under ``rate_model="fixed_psd"``).
    rate_model : {"shannon", "fixed_psd"}
        As in :class:`~trimcore.loading.LoadingProblem`.
    infer_time, input_bits : float, per-model sequence, mapping family -> value, or None
        None: per architecture from :data:`INFER_TIME_S` / :data:`INPUT_BITS` (the family
        name up to a ``"-"``; unknown families get the ``"default"`` entry).
    radius_m, min_distance_m : float
        Cell radius and minimum distance in m (250 m and 20 m).
    tx_power_dbm, noise_dbm_per_hz : float
        23 dBm and -174 dBm/Hz.
    fading : {"rayleigh", "none"}
    zipf_exponent : float, default 0.8
    ranking : {"global", "per_user"}
        One random popularity ranking for all users (default) or one per user.

    Returns
    -------
    Cell
    """
    if not isinstance(library, ModelLibrary):
        raise invalid("library", "a ModelLibrary", type(library).__name__)
    k = integer("n_users", n_users, 1)
    r_max = positive_scalar("radius_m", radius_m)
    r_min = positive_scalar("min_distance_m", min_distance_m, allow_zero=True)
    if r_min > r_max:
        raise invalid("min_distance_m", f"a value <= radius_m = {r_max}", r_min)
    if not isinstance(fading, str) or fading not in ("rayleigh", "none"):
        raise invalid("fading", "'rayleigh' or 'none'", fading)
    b = positive_scalar("bandwidth_hz", bandwidth_hz)
    pos_rng, fade_rng, req_rng = make_streams(seed, 3)
    dist = np.sqrt(pos_rng.uniform(r_min ** 2, r_max ** 2, k))
    gain = np.asarray(radio.channel_gain(dist, min_distance_m=max(r_min, 1e-3)))
    if fading == "rayleigh":
        gain = gain * fade_rng.exponential(1.0, k)
    alpha = np.asarray(radio.snr_bandwidth(radio.dbm_to_watt(tx_power_dbm), gain,
                                           radio.noise_psd_w_per_hz(noise_dbm_per_hz)), dtype=np.float64)
    snr = alpha / b if rate_model == "fixed_psd" else alpha
    pop = zipf_popularity(k, library.n_models, zipf_exponent, ranking=ranking, seed=req_rng)
    cum = np.cumsum(pop, axis=1)
    u = req_rng.random(k) * cum[:, -1]
    models = np.minimum((cum <= u[:, None]).sum(axis=1), library.n_models - 1).astype(np.int64)
    t_model = per_model_values("infer_time", infer_time, library, INFER_TIME_S)
    s_model = per_model_values("input_bits", input_bits, library, INPUT_BITS)
    return Cell(user_model=models, infer_time=t_model[models], input_bits=s_model[models], snr_bw=snr,
                bandwidth_hz=b)
