"""Where servers and users are: positions, the EUA Melbourne CBD data, mobility, eligibility.

A :class:`Topology` holds edge-server and user positions in metres inside the rectangle
``[0, width] x [0, height]``. Builders: :meth:`Topology.uniform`, :meth:`Topology.grid` and
:meth:`Topology.eua` (real base-station and user positions of the Melbourne CBD, shipped in
``trimcore/data/eua``). :meth:`Topology.random_walk` moves the users (TrimCaching spec §5.3).

:func:`max_deliverable_size` turns positions into TrimCaching's latency eligibility in compact
form (spec §3.2): the largest model, in bytes, that server ``m`` can deliver to user ``k``
within ``k``'s latency limit. Model ``i`` is eligible for ``(m, k)`` iff its size is at most
that value (:func:`eligibility` expands it to the dense ``bool[M, K, I]`` array).

Seeds: every builder takes ``seed`` = None, an int, a :class:`numpy.random.SeedSequence` or a
:class:`numpy.random.Generator`. Server and user draws come from two independent child streams
(``SeedSequence(seed).spawn(2)``), so for a fixed seed the users do not depend on the number or
layout of servers: ``uniform`` and ``grid`` with the same seed and ``n_users`` place the same users.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import math
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from trimcore._persist import Stored
from trimcore._validate import float_array, integer, make_rng, make_streams, positive_scalar
from trimcore.errors import invalid
from trimcore.instance import radio

__all__ = [
    "Topology",
    "EARTH_RADIUS_M",
    "EUA_N_SITES",
    "EUA_N_USERS",
    "downlink_rates",
    "max_deliverable_size",
    "eligibility",
    "latency_limits",
]

#: Earth radius used by the local equirectangular projection of the EUA data, metres.
EARTH_RADIUS_M = 6_371_000.0
#: Number of base-station sites in the shipped EUA Melbourne CBD file.
EUA_N_SITES = 125
#: Number of users in the shipped EUA Melbourne CBD file.
EUA_N_USERS = 816

_EUA_SITES = "site-optus-melbCBD.csv"
_EUA_USERS = "users-melbcbd-generated.csv"
_VARIANTS = ("direct", "backhaul")


# ---------------------------------------------------------------------------------------- helpers
def _fold(x: np.ndarray, length: float) -> np.ndarray:
    """Reflect ``x`` into ``[0, length]`` (mirror images at every multiple of ``length``)."""
    r = np.mod(x, 2.0 * length)
    return np.where(r > length, 2.0 * length - r, r)


def _read_csv(name: str) -> list[dict[str, str]]:
    text = (resources.files("trimcore") / "data" / "eua" / name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@functools.lru_cache(maxsize=1)
def _eua_data() -> tuple[np.ndarray, np.ndarray, float, float, tuple[str, ...]]:
    """Projected EUA sites and users (read-only), width, height, site names."""
    sites = _read_csv(_EUA_SITES)
    users = _read_csv(_EUA_USERS)
    s_lat = np.array([float(r["LATITUDE"]) for r in sites])
    s_lon = np.array([float(r["LONGITUDE"]) for r in sites])
    u_lat = np.array([float(r["Latitude"]) for r in users])
    u_lon = np.array([float(r["Longitude"]) for r in users])
    names = tuple(r["NAME"].strip() for r in sites)
    lat = np.concatenate([s_lat, u_lat])
    lon = np.concatenate([s_lon, u_lon])
    lat_min, lat_max = float(lat.min()), float(lat.max())
    lon_min, lon_max = float(lon.min()), float(lon.max())
    lat0 = math.radians(0.5 * (lat_min + lat_max))

    def project(la: np.ndarray, lo: np.ndarray) -> np.ndarray:
        x = EARTH_RADIUS_M * math.cos(lat0) * np.radians(lo - lon_min)
        y = EARTH_RADIUS_M * np.radians(la - lat_min)
        return np.stack([x, y], axis=1)

    s_xy, u_xy = project(s_lat, s_lon), project(u_lat, u_lon)
    width = EARTH_RADIUS_M * math.cos(lat0) * math.radians(lon_max - lon_min)
    height = EARTH_RADIUS_M * math.radians(lat_max - lat_min)
    # Rounding may put the extreme points an ulp outside the box: clamp them onto its border.
    for xy in (s_xy, u_xy):
        np.clip(xy[:, 0], 0.0, width, out=xy[:, 0])
        np.clip(xy[:, 1], 0.0, height, out=xy[:, 1])
        xy.setflags(write=False)
    return s_xy, u_xy, width, height, names


# ---------------------------------------------------------------------------------------- topology
@dataclass(frozen=True, eq=False, repr=False)
class Topology(Stored):
    """Edge-server and user positions in a ``width x height`` rectangle (metres).

    The constructor validates and stores read-only float64 copies.

    Attributes
    ----------
    server_xy : ndarray of float64, shape (M, 2)
        Server positions in metres, M >= 1, inside ``[0, width] x [0, height]``.
    user_xy : ndarray of float64, shape (K, 2)
        User positions in metres, K >= 1, inside the same rectangle.
    width, height : float
        Size of the area in metres, > 0.
    server_names : tuple of str
        Empty, or one label per server.

    Raises
    ------
    InstanceError
        On a malformed field (shape, NaN/inf, position outside the area, wrong name count).
    """

    server_xy: np.ndarray
    user_xy: np.ndarray
    width: float
    height: float
    server_names: tuple[str, ...] = field(default=())

    repr_fields: ClassVar[tuple[str, ...]] = ("n_servers", "n_users", "width", "height")

    def __post_init__(self) -> None:
        width = positive_scalar("width", self.width)
        height = positive_scalar("height", self.height)
        arrays = {}
        for name in ("server_xy", "user_xy"):
            xy = float_array(name, getattr(self, name), (None, 2))
            if xy.shape[0] == 0:
                raise invalid(name, "at least one position", "an empty array")
            outside = (xy[:, 0] < 0) | (xy[:, 0] > width) | (xy[:, 1] < 0) | (xy[:, 1] > height)
            if outside.any():
                row = int(np.flatnonzero(outside)[0])
                raise invalid(name, f"positions inside [0, {width}] x [0, {height}]",
                              f"{tuple(float(v) for v in xy[row])} at row {row}")
            arrays[name] = xy
        names = self.server_names
        if isinstance(names, str) or not isinstance(names, tuple | list):
            raise invalid("server_names", "a tuple of str", type(names).__name__)
        names = tuple(names)
        if names and (len(names) != arrays["server_xy"].shape[0] or
                      not all(isinstance(n, str) for n in names)):
            raise invalid("server_names", f"empty or {arrays['server_xy'].shape[0]} strings",
                          f"{len(names)} entries")
        object.__setattr__(self, "server_xy", arrays["server_xy"])
        object.__setattr__(self, "user_xy", arrays["user_xy"])
        object.__setattr__(self, "width", width)
        object.__setattr__(self, "height", height)
        object.__setattr__(self, "server_names", names)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(
        cls,
        server_xy: ArrayLike,
        user_xy: ArrayLike,
        width: float,
        height: float,
        server_names: tuple[str, ...] | list[str] = (),
    ) -> Topology:
        """Validate and build a topology from array-likes (same rules as the constructor)."""
        names = server_names if isinstance(server_names, str) else tuple(server_names)
        return cls(np.asarray(server_xy), np.asarray(user_xy), width, height, names)

    @classmethod
    def uniform(
        cls, n_servers: int, n_users: int, width: float = 1000.0, height: float = 1000.0, seed: Any = None
    ) -> Topology:
        """Servers and users i.i.d. uniform in the rectangle (spec §7.1 default: 1 km x 1 km).

        Parameters
        ----------
        n_servers, n_users : int
            Counts, >= 1.
        width, height : float
            Area in metres, > 0.
        seed : None, int, SeedSequence or Generator
            Servers and users come from independent child streams.
        """
        m = integer("n_servers", n_servers, 1)
        k = integer("n_users", n_users, 1)
        w = positive_scalar("width", width)
        h = positive_scalar("height", height)
        rs, ru = make_streams(seed, 2)
        servers = rs.uniform(0.0, 1.0, (m, 2)) * (w, h)
        users = ru.uniform(0.0, 1.0, (k, 2)) * (w, h)
        return cls(servers, users, w, h)

    @classmethod
    def grid(
        cls,
        rows: int,
        cols: int,
        n_users: int,
        width: float = 1000.0,
        height: float = 1000.0,
        seed: Any = None,
    ) -> Topology:
        """Servers at the centres of a ``rows x cols`` grid of equal cells, users uniform.

        Server ``r * cols + c`` sits at ``((c + 0.5) width / cols, (r + 0.5) height / rows)``
        (row-major, row 0 at the bottom). Users are drawn exactly as in :meth:`uniform` with
        the same seed.
        """
        nr = integer("rows", rows, 1)
        nc = integer("cols", cols, 1)
        k = integer("n_users", n_users, 1)
        w = positive_scalar("width", width)
        h = positive_scalar("height", height)
        _, ru = make_streams(seed, 2)
        yy, xx = np.meshgrid((np.arange(nr) + 0.5) * (h / nr), (np.arange(nc) + 0.5) * (w / nc),
                             indexing="ij")
        servers = np.stack([xx.ravel(), yy.ravel()], axis=1)
        users = ru.uniform(0.0, 1.0, (k, 2)) * (w, h)
        return cls(servers, users, w, h)

    @classmethod
    def eua(cls, n_servers: int | None = None, n_users: int | None = None, seed: Any = None) -> Topology:
        """Real Melbourne CBD positions from the EUA dataset (125 Optus sites, 816 users).

        Latitude/longitude are projected to metres with a local equirectangular projection:
        ``x = R cos(lat0) (lon - lon_min)``, ``y = R (lat - lat_min)`` (angles in radians,
        ``R = 6,371,000 m``, ``lat0`` = mid-latitude of the box). The box is the bounding box
        of all sites and all users together (about 2.02 km x 1.45 km), whatever subset is
        drawn, and its south-west corner is the origin. All 125 site coordinates are distinct,
        so no site is dropped; server names are the sites' ``NAME`` field.

        Parameters
        ----------
        n_servers, n_users : int, optional
            ``None`` takes every site / user in file order. An int ``n`` takes a seeded
            random subset without replacement: the first ``n`` entries of a random permutation
            of the file, so for one seed a smaller subset is a prefix of a larger one. More
            than available (125 sites, 816 users) raises InstanceError; no synthetic users are
            added (use :meth:`with_users` for that).
        seed : None, int, SeedSequence or Generator
            Sites and users are subsampled from independent child streams.

        Notes
        -----
        Data: Lai et al., ICSOC 2018 (EUA dataset), MIT licence, see ``trimcore/data/eua/LICENSE``.
        """
        s_xy, u_xy, w, h, names = _eua_data()
        rs, ru = make_streams(seed, 2)
        s_idx = _subset("n_servers", n_servers, s_xy.shape[0], rs)
        u_idx = _subset("n_users", n_users, u_xy.shape[0], ru)
        return cls(s_xy[s_idx], u_xy[u_idx], w, h, tuple(names[i] for i in s_idx))

    def with_users(self, user_xy: ArrayLike) -> Topology:
        """The same servers and area with new user positions (validated)."""
        return dataclasses.replace(self, user_xy=np.asarray(user_xy))

    # ------------------------------------------------------------------ queries
    @property
    def n_servers(self) -> int:
        """Number of servers M."""
        return self.server_xy.shape[0]

    @property
    def n_users(self) -> int:
        """Number of users K."""
        return self.user_xy.shape[0]

    def distances(self, servers: slice = slice(None)) -> np.ndarray:
        """Euclidean server-user distances in metres, float64[M, K] (the rows of ``servers`` only)."""
        d = self.server_xy[servers, None, :] - self.user_xy[None, :, :]
        return np.hypot(d[..., 0], d[..., 1])

    def random_walk(self, speed_mps: float, slot_s: float, n_slots: int, seed: Any = None) -> np.ndarray:
        """User trajectories of a reflecting random walk (spec §5.3).

        In every slot each user moves ``speed_mps * slot_s`` metres in an independent,
        uniformly random direction; a move that crosses the border of the area is reflected
        (mirrored) back inside, as often as needed.

        Parameters
        ----------
        speed_mps : float
            Speed in m/s, >= 0.
        slot_s : float
            Slot length in s, > 0.
        n_slots : int
            Number of slots, >= 0.
        seed : None, int, SeedSequence or Generator

        Returns
        -------
        ndarray of float64, shape (n_slots + 1, K, 2)
            Positions; index 0 is :attr:`user_xy`. Every position is inside
            ``[0, width] x [0, height]``. Use ``topology.with_users(path[t])`` per slot.

        Notes
        -----
        Implemented by folding the free walk (cumulative sum of the steps) into the box
        ("method of images"). Reflecting a step mirrors the direction of the later steps of the
        free walk. Directions are uniform and mirror-symmetric, so the result has the law of the
        step-by-step reflecting walk. A step that does not touch the border has length exactly
        ``speed_mps * slot_s`` (up to rounding); a reflected one is shorter.
        """
        v = positive_scalar("speed_mps", speed_mps, allow_zero=True)
        dt = positive_scalar("slot_s", slot_s)
        n = integer("n_slots", n_slots, 0)
        rng = make_rng(seed)
        theta = rng.uniform(0.0, 2.0 * np.pi, (n, self.n_users))
        step = v * dt
        moves = np.stack([np.cos(theta), np.sin(theta)], axis=-1) * step
        free = np.empty((n + 1, self.n_users, 2))
        free[0] = self.user_xy
        np.cumsum(moves, axis=0, out=free[1:])
        free[1:] += self.user_xy
        free[..., 0] = _fold(free[..., 0], self.width)
        free[..., 1] = _fold(free[..., 1], self.height)
        return free


def _subset(name: str, n: int | None, available: int, rng: np.random.Generator) -> np.ndarray:
    if n is None:
        return np.arange(available)
    n = integer(name, n, 1)
    if n > available:
        raise invalid(name, f"at most {available} (entries in the EUA Melbourne CBD data)", n)
    return rng.permutation(available)[:n]


# ---------------------------------------------------------------------------------------- eligibility
#: Servers per block of :func:`downlink_rates` (bounds its temporaries to RATE_BLOCK x K).
RATE_BLOCK = 256


def downlink_rates(
    topology: Topology,
    *,
    bandwidth_hz: float = 20e6,
    tx_power_dbm: float | ArrayLike = 43.0,
    noise_dbm_per_hz: float = -174.0,
    min_distance_m: float = 1.0,
) -> np.ndarray:
    """Shannon downlink rate ``R[m, k] = B log2(1 + P_m g_mk / (N0 B))`` in bit/s, float64[M, K].

    Parameters
    ----------
    topology : Topology
    bandwidth_hz : float, default 20e6
        Bandwidth ``B`` of one download (fixed per download, spec §3.2 default), > 0.
    tx_power_dbm : float or array_like of shape (M,), default 43.0
        Server transmit power in dBm (one value, or one per server).
    noise_dbm_per_hz : float, default -174.0
        Noise power spectral density in dBm/Hz.
    min_distance_m : float, default 1.0
        Distances are clamped below at this value in the path loss.
    """
    if not isinstance(topology, Topology):
        raise invalid("topology", "a Topology", type(topology).__name__)
    b = positive_scalar("bandwidth_hz", bandwidth_hz)
    p_dbm = float_array("tx_power_dbm", tx_power_dbm, allow_inf=True)
    if p_dbm.ndim == 0:
        p_dbm = np.full(topology.n_servers, float(p_dbm))
    elif p_dbm.shape != (topology.n_servers,):
        raise invalid("tx_power_dbm", f"a scalar or shape ({topology.n_servers},)", f"shape {p_dbm.shape}")
    if (p_dbm == np.inf).any():
        raise invalid("tx_power_dbm", "finite values (or -inf for a silent server)", "+inf")
    power = np.asarray(radio.dbm_to_watt(p_dbm))[:, None]
    noise = radio.noise_psd_w_per_hz(noise_dbm_per_hz)
    out = np.empty((topology.n_servers, topology.n_users))
    # a block of servers at a time: the temporaries (coordinate differences, gains, SNRs) are then
    # RATE_BLOCK x K, not M x K each; every operation is elementwise, so the values are the same
    for lo in range(0, topology.n_servers, RATE_BLOCK):
        rows = slice(lo, min(lo + RATE_BLOCK, topology.n_servers))
        gain = radio.channel_gain(topology.distances(rows), min_distance_m=min_distance_m)
        out[rows] = radio.shannon_rate(b, radio.snr_bandwidth(power[rows], gain, noise))
    return out


def max_deliverable_size(
    topology: Topology,
    latency_limit_s: float | ArrayLike,
    *,
    bandwidth_hz: float = 20e6,
    tx_power_dbm: float | ArrayLike = 43.0,
    noise_dbm_per_hz: float = -174.0,
    variant: str = "direct",
    backhaul_bps: float = 1e9,
    min_distance_m: float = 1.0,
) -> np.ndarray:
    """Largest model size (bytes) server ``m`` can deliver to user ``k`` within ``k``'s limit.

    This is TrimCaching's eligibility ``I1(m, k, i) = 1[T_{m,k,i} <= limit_k]`` in compact
    form: model ``i`` of ``S_i`` bytes is eligible for ``(m, k)`` iff ``S_i <= smax[m, k]``.

    * ``variant="direct"`` (spec §3.2 A, default): any server sends straight to the user,
      ``T = 8 S / R[m, k]``, hence ``smax = limit_k R[m, k] / 8``.
    * ``variant="backhaul"`` (spec §3.2 B): user ``k`` is attached to
      ``a(k) = argmax_m g[m, k]`` (largest channel gain, i.e. nearest server; lowest index on
      ties). A model held elsewhere first crosses the backhaul:
      ``T = 8 S / R[a(k), k] + 1[m != a(k)] 8 S / R_bh``, hence
      ``smax = limit_k / (8 / R[a(k), k] + 1[m != a(k)] 8 / R_bh)``.

    ``R`` is :func:`downlink_rates` (fixed bandwidth per download, average channel, no
    interference).

    Parameters
    ----------
    topology : Topology
    latency_limit_s : float or array_like of shape (K,)
        Latency limit of each user in s, >= 0 (``inf``: no limit, every size fits).
    bandwidth_hz, tx_power_dbm, noise_dbm_per_hz, min_distance_m
        See :func:`downlink_rates`.
    variant : {"direct", "backhaul"}
    backhaul_bps : float, default 1e9
        Backhaul rate in bit/s, > 0 (``inf``: free backhaul); used by ``"backhaul"`` only.

    Returns
    -------
    ndarray of float64, shape (M, K)
        Sizes in bytes (0 where the rate is 0 or the limit is 0).
    """
    if not isinstance(variant, str) or variant not in _VARIANTS:
        raise invalid("variant", "'direct' or 'backhaul'", variant)
    rates = downlink_rates(topology, bandwidth_hz=bandwidth_hz, tx_power_dbm=tx_power_dbm,
                           noise_dbm_per_hz=noise_dbm_per_hz, min_distance_m=min_distance_m)
    k = topology.n_users
    limit = float_array("latency_limit_s", latency_limit_s, minimum=0.0, allow_inf=True)
    if limit.ndim == 0:
        limit = np.full(k, float(limit))
    elif limit.shape != (k,):
        raise invalid("latency_limit_s", f"a scalar or shape ({k},)", f"shape {limit.shape}")
    bh = float_array("backhaul_bps", backhaul_bps, (), strictly_positive=True, allow_inf=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        if variant == "direct":
            smax = limit[None, :] * rates / 8.0
            return np.where(rates > 0, smax, 0.0)
        gain = radio.channel_gain(topology.distances(), min_distance_m=min_distance_m)
        attach = np.argmax(gain, axis=0)
        r_att = rates[attach, np.arange(k)]
        per_byte = 8.0 / r_att[None, :] + (np.arange(topology.n_servers)[:, None] != attach[None, :]) * (
            8.0 / float(bh))
        smax = limit[None, :] / per_byte
        return np.where(np.isinf(per_byte) | (limit[None, :] == 0), 0.0, smax)


def eligibility(smax_bytes: ArrayLike, model_sizes: ArrayLike) -> np.ndarray:
    """Dense eligibility ``bool[M, K, I]``: ``model_sizes[i] <= smax_bytes[m, k]``.

    Parameters
    ----------
    smax_bytes : array_like of float, shape (M, K)
        Output of :func:`max_deliverable_size`.
    model_sizes : array_like of float, shape (I,)
        Model sizes in bytes, > 0 (e.g. ``ModelLibrary.model_sizes``).
    """
    smax = float_array("smax_bytes", smax_bytes, (None, None), minimum=0.0, allow_inf=True)
    sizes = float_array("model_sizes", model_sizes, (None,), strictly_positive=True)
    return sizes[None, None, :] <= smax[:, :, None]


def latency_limits(n_users: int, low: float = 1.0, high: float = 5.0, seed: Any = None) -> np.ndarray:
    """Per-user latency limits i.i.d. uniform in ``[low, high]`` seconds (spec §7.1: U[1, 5] s).

    Parameters
    ----------
    n_users : int
        Number of users, >= 1.
    low, high : float
        Bounds in s, ``0 <= low <= high`` (``low == high`` gives a constant limit).
    seed : None, int, SeedSequence or Generator

    Returns
    -------
    ndarray of float64, shape (n_users,)
    """
    k = integer("n_users", n_users, 1)
    lo = positive_scalar("low", low, allow_zero=True)
    hi = positive_scalar("high", high, allow_zero=True)
    if hi < lo:
        raise invalid("high", f"a value >= low ({lo})", high)
    return make_rng(seed).uniform(lo, hi, k)
