"""The PartialLoading problem (spec §2-§4) and its evaluator (§5.1); its sharing tree: loading/tree.py.

One edge server with one GPU serves one inference request per user. Serving a request needs
its model in GPU memory; only the blocks missing from the resident model are loaded (spec eq. 1),
or, with ``loading="full"``, every different model is reloaded in full (eq. 2'). Users upload
their inputs in parallel over an FDMA uplink of total bandwidth ``B``; the GPU timeline is spec
eqs. 6-7 and a task counts if it finishes by its deadline.

:meth:`LoadingProblem.evaluate` checks an order with the decoupling theorem of spec §4: the
order is feasible iff the GPU-only chain meets every deadline and the minimum bandwidths
``beta_k(S^late_k)`` (Lambert-W closed form, spec §5.2, from :mod:`trimcore.instance.radio`) sum
to at most ``B``. It then simulates the timeline with the resulting (or a given) allocation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from trimcore._persist import Stored
from trimcore._tolerances import ALGO_BANDWIDTH_RTOL, BANDWIDTH_RTOL, DEADLINE_ATOL, DEADLINE_RTOL, MEMORY_RTOL
from trimcore._validate import float_array, index_array, integer, positive_scalar
from trimcore.errors import InstanceError, invalid
from trimcore.instance import radio
from trimcore.instance.blocks import ModelLibrary
from trimcore.kernels import kernel
from trimcore.loading.tree import LOADING_MODES, SharingTree, sharing_tree

__all__ = [
    "LoadingProblem",
    "Evaluation",
    "DEADLINE_RTOL",
    "DEADLINE_ATOL",
    "BANDWIDTH_RTOL",
    "ALGO_BANDWIDTH_RTOL",
    "MEMORY_RTOL",
    "LOADING_MODES",
    "RATE_MODELS",
    "SPREADS",
]

#: ``rate_model`` options: Shannon with noise proportional to bandwidth (eq. 4) or fixed PSD (linear rate).
RATE_MODELS = ("shannon", "fixed_psd")
#: ``spread`` options: how the bandwidth left over after ``beta`` is handed out (spec §4 P2).
SPREADS = ("proportional", "equal", "none")
_BW_METHODS = ("lambertw", "bisection")

# ---------------------------------------------------------------------------------------- evaluation
@dataclass(frozen=True, eq=False, repr=False)
class Evaluation(Stored):
    """What :meth:`LoadingProblem.evaluate` finds for one service order.

    Position arrays (length N) follow the order; user arrays (length K) are indexed by user and
    are 0 for users not in the order.

    Attributes
    ----------
    order : ndarray of int64, shape (N,)
    feasible : bool
        Every user fits in GPU memory (eq. 3), the allocation is within ``B`` and every task
        finishes by its deadline in the simulated timeline (and, when the allocation was derived
        from the theorem, conditions (a) and (b) of spec §4 hold).
    reason : str
        ``"ok"`` or the first violated condition: ``"memory"``, ``"deadline"`` (GPU-only chain,
        condition (a)), ``"upload"`` (some ``beta`` is infinite), ``"bandwidth"`` (``sum > B``),
        ``"late"`` (a given allocation leaves a task late).
    served : int
        Tasks that fit in memory and finish by their deadline in the simulated timeline; 0 when
        the allocation exceeds ``B``.
    load_time, gpu_finish, latest_start : ndarray of float64, shape (N,)
        ``lambda_n`` (eq. 6), the no-stall finish ``F~_n`` and the latest start ``S^late_n`` (§4).
    min_bandwidth : ndarray of float64, shape (K,)
        ``beta_k(S^late_k)``: the least bandwidth of every scheduled user (decoupling theorem).
    total_min_bandwidth : float
        ``sum_k beta_k`` (``inf`` if some user cannot upload in time at any bandwidth).
    bandwidth : ndarray of float64, shape (K,)
        The allocation simulated: the given one, or ``beta`` plus the spread leftover when
        ``sum beta <= B``; otherwise ``beta`` scaled down to fit ``B`` (users with infinite
        ``beta`` get 0), which keeps ``served`` a count under a valid allocation.
    upload_time, start, finish : ndarray of float64, shape (N,)
        Upload end, inference start and finish per position (eq. 7 with that allocation).
    on_time : ndarray of bool, shape (N,)
    gpu_feasible : bool
        Condition (a) of spec §4: the no-stall chain ``F~`` meets every deadline.
    """

    order: np.ndarray
    feasible: bool
    reason: str
    served: int
    load_time: np.ndarray
    gpu_finish: np.ndarray
    latest_start: np.ndarray
    min_bandwidth: np.ndarray
    total_min_bandwidth: float
    bandwidth: np.ndarray
    upload_time: np.ndarray
    start: np.ndarray
    finish: np.ndarray
    on_time: np.ndarray
    gpu_feasible: bool = True

    repr_fields: ClassVar[tuple[str, ...]] = ("served", "feasible", "reason", "order", "bandwidth")

    @property
    def makespan(self) -> float:
        """Finish time of the last task (0 for an empty order)."""
        return float(self.finish[-1]) if self.finish.size else 0.0


# ---------------------------------------------------------------------------------------- the problem
def _per_user(field_name: str, value: Any, n_users: int, **kw: Any) -> np.ndarray:
    arr = float_array(field_name, value, **kw)
    if arr.ndim == 0:
        arr = np.full(n_users, float(arr))
        arr.setflags(write=False)
    elif arr.shape != (n_users,):
        raise invalid(field_name, f"a scalar or shape ({n_users},) (one value per user)", f"shape {arr.shape}")
    return arr


@dataclass(frozen=True, eq=False, repr=False)
class LoadingProblem(Stored):
    """User scheduling and uplink bandwidth allocation on one GPU (PartialLoading, spec §1-§4).

    Build it with :meth:`from_arrays`, :meth:`from_random_cell` (a library, users in a cell, Zipf
    demand, radio parameters) or :func:`trimcore.experiments.scenarios.make_loading_instance`.
    The constructor validates every field
    and raises :class:`~trimcore.errors.InstanceError` naming it.

    Attributes
    ----------
    library : ModelLibrary
        Blocks and models.
    user_model : ndarray of int64, shape (K,)
        Model requested by each user.
    infer_time : ndarray of float64, shape (K,)
        Inference time ``t^inf_k`` in s, >= 0.
    deadline : ndarray of float64, shape (K,)
        Deadline ``T_k`` in s from the frame start, finite and >= 0.
    input_bits : ndarray of float64, shape (K,)
        Upload size ``s_k`` in bits, >= 0.
    snr_bw : ndarray of float64, shape (K,)
        ``alpha_k = P_k g_k / N0`` in Hz (rate ``b log2(1 + alpha/b)``); with
        ``rate_model="fixed_psd"`` the linear SNR ``p_k g_k / N0`` of a fixed power spectral
        density (rate ``b log2(1 + snr)``).
    bandwidth_hz : float
        Total uplink bandwidth ``B`` in Hz, > 0. (In loading, ``bandwidth`` always names a per-user
        allocation in Hz, ``bandwidth_hz`` the total; :meth:`from_arrays` keeps the contract's
        positional name ``bandwidth`` for the total.)
    load_rate : float
        GPU loading rate ``R_L`` in bytes/s, > 0.
    gpu_memory : float
        GPU memory ``Q`` in bytes, > 0.
    initial_model : int
        Model resident at t = 0, ``-1`` for an empty GPU.
    act_memory : ndarray of float64, shape (K,)
        Activation memory ``M^act_k`` in bytes (eq. 3), default 0.
    loading : {"partial", "full"}
        Partial loading (eq. 1, default) or full reloads without sharing (eq. 2').
    rate_model : {"shannon", "fixed_psd"}
    bw_method : {"lambertw", "bisection"}
        How :func:`trimcore.instance.radio.min_bandwidth` computes ``beta`` (Shannon model).
    """

    library: ModelLibrary
    user_model: np.ndarray
    infer_time: np.ndarray
    deadline: np.ndarray
    input_bits: np.ndarray
    snr_bw: np.ndarray
    bandwidth_hz: float
    load_rate: float
    gpu_memory: float
    initial_model: int = -1
    act_memory: np.ndarray | Sequence[float] | float | None = None
    loading: str = "partial"
    rate_model: str = "shannon"
    bw_method: str = "lambertw"
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    repr_fields: ClassVar[tuple[str, ...]] = ("n_users", "n_models", "bandwidth_hz", "gpu_memory", "loading", "library")

    def __post_init__(self) -> None:
        if not isinstance(self.library, ModelLibrary):
            raise invalid("library", "a ModelLibrary", type(self.library).__name__)
        lib = self.library
        users = index_array("user_model", self.user_model, lib.n_models, shape=(None,))
        k = users.shape[0]
        if k == 0:
            raise invalid("user_model", "at least one user", "an empty array")
        values: dict[str, Any] = {"user_model": users}
        values["infer_time"] = _per_user("infer_time", self.infer_time, k, minimum=0.0)
        values["deadline"] = _per_user("deadline", self.deadline, k, minimum=0.0)
        values["input_bits"] = _per_user("input_bits", self.input_bits, k, minimum=0.0)
        values["snr_bw"] = _per_user("snr_bw", self.snr_bw, k, minimum=0.0)
        act = 0.0 if self.act_memory is None else self.act_memory
        values["act_memory"] = _per_user("act_memory", act, k, minimum=0.0)
        values["bandwidth_hz"] = positive_scalar("bandwidth_hz", self.bandwidth_hz)
        values["load_rate"] = positive_scalar("load_rate", self.load_rate)
        values["gpu_memory"] = positive_scalar("gpu_memory", self.gpu_memory)
        values["initial_model"] = integer("initial_model", self.initial_model, -1, lib.n_models - 1)
        for name, allowed in (("loading", LOADING_MODES), ("rate_model", RATE_MODELS),
                              ("bw_method", _BW_METHODS)):
            if not isinstance(getattr(self, name), str) or getattr(self, name) not in allowed:
                raise invalid(name, f"one of {allowed}", getattr(self, name))
        for name, value in values.items():
            object.__setattr__(self, name, value)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(
        cls,
        block_sizes: Sequence[float] | np.ndarray,
        model_blocks: Sequence[Sequence[int]],
        user_model: Sequence[int] | np.ndarray,
        infer_time: Sequence[float] | np.ndarray | float,
        deadline: Sequence[float] | np.ndarray | float,
        input_bits: Sequence[float] | np.ndarray | float,
        snr_bw: Sequence[float] | np.ndarray | float,
        bandwidth: float,
        load_rate: float,
        gpu_memory: float,
        initial_model: int = -1,
        *,
        act_memory: Sequence[float] | np.ndarray | float = 0.0,
        loading: str = "partial",
        rate_model: str = "shannon",
        bw_method: str = "lambertw",
    ) -> LoadingProblem:
        """Build a problem from plain arrays (the published API contract, see ``docs/architecture.md``).

        Parameters
        ----------
        block_sizes : array_like of float, shape (J,)
            Block sizes in bytes, > 0.
        model_blocks : list of lists of int
            Block ids of each of the I models.
        user_model : array_like of int, shape (K,)
            Model requested by user k.
        infer_time, deadline, input_bits, snr_bw : array_like of float, shape (K,), or scalar
            See the class attributes (a scalar applies to every user).
        bandwidth : float
            Total uplink bandwidth in Hz (the problem's :attr:`bandwidth_hz`; the name is the
            published contract's).
        load_rate : float
            Bytes per second into GPU memory.
        gpu_memory : float
            Bytes.
        initial_model : int, default -1
            Model resident at t = 0, -1 for none.
        act_memory, loading, rate_model, bw_method
            See the class attributes.

        Raises
        ------
        InstanceError
            On any malformed input, naming the field.
        """
        library = ModelLibrary.from_lists(block_sizes, model_blocks)
        # the constructor validates and normalises array-likes into the fields' arrays
        return cls(library, user_model, infer_time, deadline, input_bits, snr_bw,  # type: ignore[arg-type]
                   bandwidth, load_rate, gpu_memory, initial_model, act_memory, loading, rate_model, bw_method)

    @classmethod
    def from_random_cell(
        cls,
        library: ModelLibrary,
        n_users: int = 30,
        *,
        seed: Any = None,
        deadline: float | Sequence[float] | np.ndarray = 0.3,
        bandwidth_hz: float = 20e6,
        load_rate: float = 8e9,
        gpu_memory: float = 40e9,
        act_memory: float = 0.0,
        initial_model: int = -1,
        loading: str = "partial",
        rate_model: str = "shannon",
        bw_method: str = "lambertw",
        **cell_options: Any,
    ) -> LoadingProblem:
        """A cell scenario (spec §7): the users of :func:`trimcore.instance.cell.random_cell` around
        one server with this GPU.

        Parameters
        ----------
        library : ModelLibrary
        n_users : int, default 30
        seed : None, int, SeedSequence or Generator
            Positions, fading and requests come from three independent child streams.
        deadline : float or array_like of shape (K,), default 0.3
            Common or per-user deadline in s.
        bandwidth_hz, load_rate, gpu_memory, act_memory, initial_model, loading, rate_model, bw_method
            See :class:`LoadingProblem` (defaults: 20 MHz, 8 GB/s, 40 GB).
        **cell_options
            The user side, see :func:`~trimcore.instance.cell.random_cell` (``infer_time``,
            ``input_bits``, ``radius_m``, ``min_distance_m``, ``tx_power_dbm``,
            ``noise_dbm_per_hz``, ``fading``, ``zipf_exponent``, ``ranking``).

        Returns
        -------
        LoadingProblem
        """
        from trimcore.instance.cell import random_cell

        cell = random_cell(library, n_users, seed=seed, bandwidth_hz=bandwidth_hz, rate_model=rate_model,
                           **cell_options)
        return cls(library, cell.user_model, cell.infer_time, deadline, cell.input_bits,  # type: ignore[arg-type]
                   cell.snr_bw,
                   cell.bandwidth_hz, load_rate, gpu_memory, initial_model, act_memory, loading, rate_model,
                   bw_method)

    def with_options(self, **changes: Any) -> LoadingProblem:
        """A copy with some fields replaced (validated again), e.g. ``with_options(loading="full")``."""
        unknown = [n for n in changes if n not in {f.name for f in dataclasses.fields(self) if f.init}]
        if unknown:
            raise invalid("changes", "names of LoadingProblem fields", unknown)
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ shape and derived data
    @property
    def n_users(self) -> int:
        """Number of users K."""
        return self.user_model.shape[0]

    @property
    def n_models(self) -> int:
        """Number of models I."""
        return self.library.n_models

    @cached_property
    def deadline_limit(self) -> np.ndarray:
        """``T_k`` plus the evaluator's tolerance: a finish time is on time iff ``<=`` this."""
        out = self.deadline + (DEADLINE_ATOL + DEADLINE_RTOL * self.deadline)
        out.setflags(write=False)
        return out

    @property
    def bandwidth_limit(self) -> float:
        """``B (1 + BANDWIDTH_RTOL)``: the evaluator's bandwidth budget."""
        return self.bandwidth_hz * (1.0 + BANDWIDTH_RTOL)

    @property
    def common_deadline(self) -> float | None:
        """The deadline if every user has the same one, else None."""
        t0 = float(self.deadline[0])
        return t0 if bool((self.deadline == t0).all()) else None

    @cached_property
    def fits_memory(self) -> np.ndarray:
        """Eq. 3 per user: ``D_{m_k} + M^act_k <= Q`` (relative tolerance :data:`MEMORY_RTOL`), bool[K]."""
        out = self.library.model_sizes[self.user_model] + self.act_memory <= self.gpu_memory * (1.0 + MEMORY_RTOL)
        out.setflags(write=False)
        return out

    @cached_property
    def upload_demand(self) -> np.ndarray:
        """``s_k / alpha_k`` (Shannon) or ``s_k / log2(1 + snr_k)`` (fixed PSD), float[K]; inf if no rate.

        The ordering key of spec §5.3 step 6 and §5.4: larger means the user needs more bandwidth.
        """
        if self.rate_model == "shannon":
            scale = self.snr_bw
        else:
            scale = np.asarray(radio.shannon_rate(1.0, self.snr_bw), dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(self.input_bits == 0.0, 0.0, self.input_bits / scale)
        out.setflags(write=False)
        return out

    @cached_property
    def own_min_bandwidth(self) -> np.ndarray:
        """``beta_k(T_k - t_k)``: a user's least bandwidth if it were alone and last, float[K]."""
        out = self.min_bandwidth(np.arange(self.n_users), self.deadline - self.infer_time)
        out.setflags(write=False)
        return out

    @cached_property
    def schedulable(self) -> np.ndarray:
        """Users that can be in some feasible order, bool[K] (a necessary condition).

        The model fits in GPU memory, ``t_k <= T_k`` and ``beta_k(T_k - t_k) <= B``: appending
        other users only moves a user's latest start earlier, so a user failing this is never
        served.
        """
        beta = self.own_min_bandwidth
        out = (self.fits_memory & (self.infer_time <= self.deadline_limit) & np.isfinite(beta)
               & (beta <= self.bandwidth_limit))
        out.setflags(write=False)
        return out

    @cached_property
    def sharing_tree(self) -> SharingTree:
        """:func:`sharing_tree` of the library under this problem's ``loading`` (raises if not laminar)."""
        return sharing_tree(self.library, self.loading)

    @property
    def is_laminar(self) -> bool:
        """Whether the sharing is a tree (assumption A1 of ``partialloading_dp``)."""
        try:
            self.sharing_tree  # noqa: B018
        except InstanceError:
            return False
        return True

    def switch_matrix(self, backend: str = "auto") -> np.ndarray:
        """Loading times ``L[p, q]`` from model ``p`` (row ``I``: empty GPU) to model ``q``, float[I + 1, I]."""
        key = ("switch_matrix", backend)
        if key not in self._cache:
            lib = self.library
            mat = kernel("loading.switch_matrix", backend)(
                self.loading == "full", lib.indptr, lib.indices, lib.block_sizes, self.load_rate)
            mat.setflags(write=False)
            self._cache[key] = mat
        return self._cache[key]

    def switch_row(self, prev: int, backend: str = "auto") -> np.ndarray:
        """Loading times from model ``prev`` (``-1``: empty GPU) to every model, float[I]."""
        lib = self.library
        return kernel("loading.switch_row", backend)(
            int(prev), self.loading == "full", lib.indptr, lib.indices, lib.block_sizes, self.load_rate)

    def start_state(self) -> int:
        """Row of :meth:`switch_matrix` for the initial GPU content."""
        return self.initial_model if self.initial_model >= 0 else self.n_models

    # ------------------------------------------------------------------ radio
    def min_bandwidth(self, users: np.ndarray, latest_start: np.ndarray) -> np.ndarray:
        """``beta_k(tau)``: least bandwidth that uploads user ``k``'s input by ``tau`` (spec §5.2).

        0 if ``s_k = 0``; ``inf`` if ``tau <= 0`` or the rate ``s_k / tau`` is unattainable.
        Shannon model: :func:`trimcore.instance.radio.min_bandwidth` (Lambert W, or bisection
        with ``bw_method="bisection"``); fixed PSD: :func:`~trimcore.instance.radio.min_bandwidth_fixed_psd`.
        """
        users = np.asarray(users, dtype=np.int64)
        tau = np.asarray(latest_start, dtype=np.float64)
        s = self.input_bits[users]
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(s == 0.0, 0.0, np.where(tau > 0.0, s / np.where(tau > 0.0, tau, 1.0), np.inf))
        if self.rate_model == "shannon":
            out = radio.min_bandwidth(rate, self.snr_bw[users], method=self.bw_method)
        else:
            out = radio.min_bandwidth_fixed_psd(rate, self.snr_bw[users])
        return np.asarray(out, dtype=np.float64).reshape(users.shape)

    def upload_time(self, users: np.ndarray, bandwidth: np.ndarray) -> np.ndarray:
        """``s_k / r_k(b_k)`` in s (0 if ``s_k = 0``, inf if the rate is 0)."""
        users = np.asarray(users, dtype=np.int64)
        b = np.asarray(bandwidth, dtype=np.float64)
        if self.rate_model == "shannon":
            rate = np.asarray(radio.shannon_rate(b, self.snr_bw[users]), dtype=np.float64)
        else:
            rate = b * np.asarray(radio.shannon_rate(1.0, self.snr_bw[users]), dtype=np.float64)
        s = self.input_bits[users]
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(s == 0.0, 0.0, np.where(rate > 0.0, s / np.where(rate > 0.0, rate, 1.0), np.inf))
        return out.reshape(users.shape)

    # ------------------------------------------------------------------ evaluator
    def check_order(self, order: Any) -> np.ndarray:
        """``order`` as int64 user indices, distinct and in ``[0, K)``, or raise InstanceError."""
        if np.ndim(order) != 1:
            raise invalid("order", "a 1-d sequence of user indices", f"{np.ndim(order)}-d input")
        arr = index_array("order", order, self.n_users, shape=(None,))
        if arr.size > 1:
            seen = np.bincount(arr, minlength=self.n_users)
            if (seen > 1).any():
                raise invalid("order", "distinct user indices", f"user {int(np.argmax(seen > 1))} twice")
        return arr

    def load_times(self, order: Any, backend: str = "auto") -> np.ndarray:
        """``lambda_n`` of every position of ``order`` (spec eq. 6), float[N]."""
        arr = self.check_order(order)
        lib = self.library
        return kernel("loading.order_times", backend)(
            self.user_model[arr], self.initial_model, self.loading == "full", lib.indptr, lib.indices,
            lib.block_sizes, self.load_rate)

    def latest_starts(self, order: np.ndarray, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """No-stall finish ``F~``, suffix-minimum slack and ``S^late`` for an order (spec §4).

        ``F~_n = F~_{n-1} + (lambda_n + t_n)`` and ``S^late_n = (F~_n - t_n) + min_{m >= n}(T_m - F~_m)``,
        which equals the backward recursion of spec §4.
        """
        t = self.infer_time[order]
        fin = np.cumsum(lam + t)
        slack = self.deadline[order] - fin
        smin = np.minimum.accumulate(slack[::-1])[::-1] if slack.size else slack
        return fin, smin, (fin - t) + smin

    def evaluate(self, order: Any, bandwidth: Any = None, *, spread: str = "proportional",
                 backend: str = "auto") -> Evaluation:
        """Check a service order: GPU timeline, deadlines, minimum bandwidths, feasibility (spec §5.1).

        Parameters
        ----------
        order : array_like of int, shape (N,)
            Distinct users in service order.
        bandwidth : array_like of float, shape (K,), optional
            An allocation to simulate. None: use the decoupling theorem, ``b = beta(S^late)``
            plus the leftover spread by ``spread``.
        spread : {"proportional", "equal", "none"}
            How ``B - sum beta`` is handed out (ignored when ``bandwidth`` is given):
            proportionally to ``beta`` (spec default; equally if ``sum beta = 0``), equally among
            the scheduled users, or not at all.
        backend : str
            Kernel tier.

        Returns
        -------
        Evaluation

        Raises
        ------
        InstanceError
            If ``order`` is not a list of distinct user indices or ``bandwidth`` is malformed.
        """
        if not isinstance(spread, str) or spread not in SPREADS:
            raise invalid("spread", f"one of {SPREADS}", spread)
        arr = self.check_order(order)
        k, n = self.n_users, arr.shape[0]
        lam = self.load_times(arr, backend)
        fin, smin, late = self.latest_starts(arr, lam)
        beta_pos = self.min_bandwidth(arr, late)
        total_beta = float(np.sum(beta_pos)) if n else 0.0
        beta = np.zeros(k)
        beta[arr] = beta_pos
        limit = self.deadline_limit[arr]
        memory_ok = bool(self.fits_memory[arr].all())
        gpu_ok = bool((fin <= limit).all())
        upload_ok = bool(np.isfinite(beta_pos).all())
        band_ok = upload_ok and total_beta <= self.bandwidth_limit
        if bandwidth is None:
            alloc = self._allocate(arr, beta_pos, total_beta, band_ok, spread)
            alloc_ok = True
            reasons = [(memory_ok, "memory"), (gpu_ok, "deadline"), (upload_ok, "upload"), (band_ok, "bandwidth")]
        else:
            alloc = float_array("bandwidth", bandwidth, (k,), minimum=0.0).copy()
            alloc_ok = float(np.sum(alloc)) <= self.bandwidth_limit
            reasons = [(memory_ok, "memory"), (alloc_ok, "bandwidth")]
        up = self.upload_time(arr, alloc[arr])
        start, finish = kernel("loading.simulate", backend)(lam, up, self.infer_time[arr])
        on_time = finish <= limit
        reasons.append((bool(on_time.all()), "late"))
        reason = next((name for ok, name in reasons if not ok), "ok")
        served = int((on_time & self.fits_memory[arr]).sum()) if alloc_ok else 0
        for a in (arr, lam, fin, late, beta, alloc, up, start, finish, on_time):
            a.setflags(write=False)
        return Evaluation(order=arr, feasible=reason == "ok", reason=reason, served=served, load_time=lam,
                          gpu_finish=fin, latest_start=late, min_bandwidth=beta, total_min_bandwidth=total_beta,
                          bandwidth=alloc, upload_time=up, start=start, finish=finish, on_time=on_time,
                          gpu_feasible=gpu_ok)

    def _allocate(self, arr: np.ndarray, beta_pos: np.ndarray, total: float, band_ok: bool,
                  spread: str) -> np.ndarray:
        """Bandwidth per user from ``beta`` (see :class:`Evaluation` ``bandwidth``)."""
        alloc = np.zeros(self.n_users)
        n = arr.shape[0]
        if n == 0:
            return alloc
        b_total = self.bandwidth_hz
        if not band_ok:
            finite = np.where(np.isfinite(beta_pos), beta_pos, 0.0)
            s = float(finite.sum())
            alloc[arr] = finite * (b_total / s) if s > b_total else finite
            return alloc
        left = b_total - total
        if spread == "none" or left <= 0.0:
            alloc[arr] = beta_pos
        elif spread == "equal" or total <= 0.0:
            alloc[arr] = beta_pos + left / n
        else:
            alloc[arr] = beta_pos * (b_total / total)
        return alloc

    def served(self, order: Any, bandwidth: Any = None) -> int:
        """Number of tasks served on time (:attr:`Evaluation.served`)."""
        return self.evaluate(order, bandwidth).served


