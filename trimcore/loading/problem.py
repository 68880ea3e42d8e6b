"""The PartialLoading problem (spec §2-§4), its evaluator (§5.1) and its sharing tree (§5.3).

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from trimcore._validate import float_array, index_array, integer, make_rng, positive_scalar
from trimcore.errors import InstanceError, invalid
from trimcore.instance import radio
from trimcore.instance.blocks import ModelLibrary
from trimcore.kernels import kernel

__all__ = [
    "LoadingProblem",
    "Evaluation",
    "SharingTree",
    "sharing_tree",
    "make_loading_instance",
    "DEADLINE_RTOL",
    "DEADLINE_ATOL",
    "BANDWIDTH_RTOL",
    "ALGO_BANDWIDTH_RTOL",
    "MEMORY_RTOL",
    "LOADING_MODES",
    "RATE_MODELS",
    "SPREADS",
    "INFER_TIME_S",
    "INPUT_BITS",
]

#: Relative tolerance of every deadline check: on time iff ``F <= T + DEADLINE_ATOL + DEADLINE_RTOL * T``.
DEADLINE_RTOL = 1e-9
#: Absolute tolerance of the deadline check, seconds.
DEADLINE_ATOL = 1e-12
#: Relative tolerance of the GPU memory check ``D_{m_k} + M^act_k <= Q (1 + MEMORY_RTOL)`` (eq. 3).
MEMORY_RTOL = 1e-9
#: Relative tolerance of the evaluator's bandwidth check ``sum b <= B (1 + BANDWIDTH_RTOL)``.
BANDWIDTH_RTOL = 1e-9
#: Tighter bandwidth tolerance used inside the algorithms, so that what they accept the evaluator accepts.
ALGO_BANDWIDTH_RTOL = 1e-12
#: ``loading`` options: spec eq. 1 (blocks missing from the resident model) or eq. 2' (no sharing).
LOADING_MODES = ("partial", "full")
#: ``rate_model`` options: Shannon with noise proportional to bandwidth (eq. 4) or fixed PSD (linear rate).
RATE_MODELS = ("shannon", "fixed_psd")
#: ``spread`` options: how the bandwidth left over after ``beta`` is handed out (spec §4 P2).
SPREADS = ("proportional", "equal", "none")
_BW_METHODS = ("lambertw", "bisection")

#: Default batch-1 inference time per architecture (spec §7; resnet18/34 and the LLM are INFERRED).
INFER_TIME_S: dict[str, float] = {"resnet18": 0.002, "resnet34": 0.0035, "resnet50": 0.005, "vit_b16": 0.008,
                                  "bert_base": 0.006, "llama2_7b": 1.0, "default": 0.005}
#: Default input size per architecture in bits (spec §7): a 224x224x3 8-bit image, or 128 tokens.
INPUT_BITS: dict[str, float] = {"resnet18": 1_204_224.0, "resnet34": 1_204_224.0, "resnet50": 1_204_224.0,
                                "vit_b16": 1_204_224.0, "bert_base": 4_096.0, "llama2_7b": 4_096.0,
                                "default": 1_204_224.0}




# ---------------------------------------------------------------------------------------- evaluation
@dataclass(frozen=True, eq=False)
class Evaluation:
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

    @property
    def makespan(self) -> float:
        """Finish time of the last task (0 for an empty order)."""
        return float(self.finish[-1]) if self.finish.size else 0.0


# ---------------------------------------------------------------------------------------- sharing tree
@dataclass(frozen=True, eq=False)
class SharingTree:
    """Laminar (tree) block sharing, the structure behind ``partialloading_dp`` (spec §5.3, A1).

    Inner nodes are the distinct *owner sets* ``{models containing block j}``; a node's size is
    the total size of the blocks with that owner set. Every model ``i`` also has a leaf of size 0
    below the deepest node that contains it, so a model's blocks are the nodes on its
    leaf-to-root path and ``L(i -> i')`` is the size of the nodes on ``i'``'s path below the
    lowest common ancestor. The root has size 0.

    Attributes
    ----------
    parent : ndarray of int64, shape (V,)
        Parent node, ``-1`` at the root.
    node_bytes : ndarray of float64, shape (V,)
    children_ptr, children : ndarray of int64
        CSR lists of children, ascending node id.
    leaf_model : ndarray of int64, shape (V,)
        Model of a leaf, ``-1`` for other nodes.
    model_leaf : ndarray of int64, shape (I,)
    postorder : ndarray of int64, shape (V,)
        Children before parents, root last.
    root : int
    """

    parent: np.ndarray
    node_bytes: np.ndarray
    children_ptr: np.ndarray
    children: np.ndarray
    leaf_model: np.ndarray
    model_leaf: np.ndarray
    postorder: np.ndarray
    root: int

    @property
    def n_nodes(self) -> int:
        """Number of nodes V (inner nodes, one leaf per model, the root)."""
        return self.parent.shape[0]

    def children_of(self, node: int) -> np.ndarray:
        """Children of ``node``, ascending id."""
        return self.children[self.children_ptr[node]:self.children_ptr[node + 1]]

    def path(self, model: int) -> list[int]:
        """Nodes from the leaf of ``model`` up to the root."""
        out, v = [], int(self.model_leaf[model])
        while v >= 0:
            out.append(v)
            v = int(self.parent[v])
        return out


def _seqsum(values: np.ndarray) -> float:
    return float(np.cumsum(values)[-1]) if values.size else 0.0


def sharing_tree(library: ModelLibrary, loading: str = "partial") -> SharingTree:
    """The sharing tree of ``library`` under ``loading`` (see :class:`SharingTree`).

    With ``loading="full"`` every model is its own node (no sharing), which is always a tree.

    Raises
    ------
    InstanceError
        If the sharing is not laminar: two blocks are shared by model sets that overlap without
        one containing the other (assumption A1 of spec §5.3 violated).
    """
    if not isinstance(loading, str) or loading not in LOADING_MODES:
        raise invalid("loading", f"one of {LOADING_MODES}", loading)
    n_models = library.n_models
    sets: list[tuple[int, ...]] = []
    node_blocks: list[list[int]] = []
    if loading == "full":
        for i in range(n_models):
            sets.append((i,))
            node_blocks.append(library.blocks_of(i).tolist())
    else:
        ptr, owners = library.block_models
        index: dict[tuple[int, ...], int] = {}
        for j in range(library.n_blocks):
            key = tuple(owners[ptr[j]:ptr[j + 1]].tolist())
            if not key:
                continue
            if key not in index:
                index[key] = len(sets)
                sets.append(key)
                node_blocks.append([])
            node_blocks[index[key]].append(j)
    n_sets = len(sets)
    member: list[list[int]] = [[] for _ in range(n_models)]
    for s, key in enumerate(sets):
        for i in key:
            member[i].append(s)
    root = n_sets + n_models
    parent = np.full(root + 1, -1, dtype=np.int64)
    checked: set[tuple[int, int]] = set()
    for i in range(n_models):
        chain = sorted(member[i], key=lambda s: (-len(sets[s]), s))
        for a, b in zip(chain, chain[1:]):
            if (a, b) not in checked:
                if not set(sets[b]) <= set(sets[a]) or (parent[b] >= 0 and parent[b] != a):
                    raise invalid(
                        "model_blocks",
                        "laminar (tree) sharing, assumption A1 of partialloading_dp: block sets shared by "
                        "nested or disjoint groups of models",
                        f"block {node_blocks[a][0]} is shared by models {list(sets[a])} and block "
                        f"{node_blocks[b][0]} by models {list(sets[b])}, which overlap without nesting")
                checked.add((a, b))
            parent[b] = a
        parent[chain[0]] = root
        parent[n_sets + i] = chain[-1]
    node_bytes = np.zeros(root + 1)
    for s, blocks in enumerate(node_blocks):
        node_bytes[s] = _seqsum(library.block_sizes[np.asarray(blocks, dtype=np.int64)])
    leaf_model = np.full(root + 1, -1, dtype=np.int64)
    leaf_model[n_sets:root] = np.arange(n_models)
    kids = parent[:root]
    order = np.argsort(kids, kind="stable")
    counts = np.bincount(kids, minlength=root + 1)
    children_ptr = np.zeros(root + 2, dtype=np.int64)
    np.cumsum(counts, out=children_ptr[1:])
    children = np.arange(root, dtype=np.int64)[order]
    post: list[int] = []
    stack = [(root, False)]
    while stack:
        v, done = stack.pop()
        if done:
            post.append(v)
            continue
        stack.append((v, True))
        for c in children[children_ptr[v]:children_ptr[v + 1]][::-1].tolist():
            stack.append((c, False))
    arrays = [parent, node_bytes, children_ptr, children, leaf_model]
    model_leaf = np.arange(n_sets, root, dtype=np.int64)
    postorder = np.asarray(post, dtype=np.int64)
    for a in (*arrays, model_leaf, postorder):
        a.setflags(write=False)
    return SharingTree(parent, node_bytes, children_ptr, children, leaf_model, model_leaf, postorder, root)


# ---------------------------------------------------------------------------------------- the problem
def _per_user(field_name: str, value: Any, n_users: int, **kw: Any) -> np.ndarray:
    arr = float_array(field_name, value, **kw)
    if arr.ndim == 0:
        arr = np.full(n_users, float(arr))
        arr.setflags(write=False)
    elif arr.shape != (n_users,):
        raise invalid(field_name, f"a scalar or shape ({n_users},) (one value per user)", f"shape {arr.shape}")
    return arr


@dataclass(frozen=True, eq=False)
class LoadingProblem:
    """User scheduling and uplink bandwidth allocation on one GPU (PartialLoading, spec §1-§4).

    Build it with :meth:`from_arrays`, :meth:`build` (a library, users in a cell, Zipf demand,
    radio parameters) or :func:`make_loading_instance`. The constructor validates every field
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
    bandwidth : float
        Total uplink bandwidth ``B`` in Hz, > 0.
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
    bandwidth: float
    load_rate: float
    gpu_memory: float
    initial_model: int = -1
    act_memory: np.ndarray | float | None = None
    loading: str = "partial"
    rate_model: str = "shannon"
    bw_method: str = "lambertw"
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

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
        values["bandwidth"] = positive_scalar("bandwidth", self.bandwidth)
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
        """Build a problem from plain arrays (the API contract of ``ARCHITECTURE.md``).

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
            Total uplink bandwidth in Hz.
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
        return cls(library, user_model, infer_time, deadline, input_bits, snr_bw, bandwidth, load_rate,
                   gpu_memory, initial_model, act_memory, loading, rate_model, bw_method)

    @classmethod
    def build(
        cls,
        library: ModelLibrary,
        n_users: int = 30,
        *,
        seed: Any = None,
        deadline: float | Sequence[float] | np.ndarray = 0.3,
        bandwidth_hz: float = 20e6,
        load_rate: float = 8e9,
        gpu_memory: float = 40e9,
        infer_time: float | Sequence[float] | Mapping[str, float] | None = None,
        input_bits: float | Sequence[float] | Mapping[str, float] | None = None,
        act_memory: float = 0.0,
        radius_m: float = 250.0,
        min_distance_m: float = 20.0,
        tx_power_dbm: float = 23.0,
        noise_dbm_per_hz: float = -174.0,
        fading: str = "rayleigh",
        zipf_exponent: float = 0.8,
        ranking: str = "global",
        initial_model: int = -1,
        loading: str = "partial",
        rate_model: str = "shannon",
        bw_method: str = "lambertw",
    ) -> LoadingProblem:
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
        deadline : float or array_like of shape (K,), default 0.3
            Common or per-user deadline in s.
        bandwidth_hz, load_rate, gpu_memory, act_memory, initial_model, loading, rate_model, bw_method
            See :class:`LoadingProblem` (defaults: 20 MHz, 8 GB/s, 40 GB).
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
        LoadingProblem
        """
        if not isinstance(library, ModelLibrary):
            raise invalid("library", "a ModelLibrary", type(library).__name__)
        from trimcore.instance.demand import zipf_popularity

        k = integer("n_users", n_users, 1)
        r_max = positive_scalar("radius_m", radius_m)
        r_min = positive_scalar("min_distance_m", min_distance_m, allow_zero=True)
        if r_min > r_max:
            raise invalid("min_distance_m", f"a value <= radius_m = {r_max}", r_min)
        if not isinstance(fading, str) or fading not in ("rayleigh", "none"):
            raise invalid("fading", "'rayleigh' or 'none'", fading)
        b = positive_scalar("bandwidth_hz", bandwidth_hz)
        pos_rng, fade_rng, req_rng = _streams(seed, 3)
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
        t_model = _per_model("infer_time", infer_time, library, INFER_TIME_S)
        s_model = _per_model("input_bits", input_bits, library, INPUT_BITS)
        return cls(library, models, t_model[models], deadline, s_model[models], snr, b, load_rate, gpu_memory,
                   initial_model, act_memory, loading, rate_model, bw_method)

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
        return self.bandwidth * (1.0 + BANDWIDTH_RTOL)

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
        b_total = self.bandwidth
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


def _streams(seed: Any, n: int) -> list[np.random.Generator]:
    if isinstance(seed, np.random.Generator):
        return list(seed.spawn(n))
    if isinstance(seed, np.random.SeedSequence):
        return [np.random.default_rng(s) for s in seed.spawn(n)]
    make_rng(seed)  # validates
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


def _family_key(name: str) -> str:
    return name.split("-")[0]


def _per_model(field_name: str, value: Any, library: ModelLibrary, table: dict[str, float]) -> np.ndarray:
    n = library.n_models
    if value is None or isinstance(value, Mapping):
        src = dict(table)
        if isinstance(value, Mapping):
            src.update({str(key): v for key, v in value.items()})
        fams = [_family_key(library.family_names[f]) for f in library.model_family.tolist()]
        full = [library.family_names[f] for f in library.model_family.tolist()]
        vals = [src.get(fn, src.get(fk, src["default"])) for fn, fk in zip(full, fams)]
        return float_array(field_name, vals, (n,), minimum=0.0)
    arr = float_array(field_name, value, minimum=0.0)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.shape != (n,):
        raise invalid(field_name, f"a scalar, one value per model ({n}) or a mapping family -> value",
                      f"shape {arr.shape}")
    return arr


def make_loading_instance(
    n_users: int,
    n_models: int,
    n_clusters: int,
    seed: Any = 0,
    *,
    deadline: float | None = None,
    bandwidth_hz: float | None = None,
    served_fraction: float = 0.5,
    **build_options: Any,
) -> LoadingProblem:
    """Seeded backbone-sharing instance for benchmarks and scale tests.

    The library is :func:`~trimcore.instance.zoo.synthetic_library` with ``n_models`` models in
    ``n_clusters`` families and one shared backbone per family (``nested=False``; 75 % of a
    model's 150 MB median size is the backbone); users are placed by :meth:`LoadingProblem.build`.

    Parameters
    ----------
    n_users, n_models, n_clusters : int
        K, I and the number of clusters.
    seed : int, default 0
    deadline : float, optional
        Common deadline in s. Default: ``served_fraction`` times the makespan of serving every
        user with models grouped (union of the requested blocks / ``R_L`` plus all inference
        times), so roughly that fraction of the users can be served.
    bandwidth_hz : float, optional
        Default ``20 MHz * n_users / 30`` (the spec's 20 MHz cell of 30 users, scaled).
    served_fraction : float, default 0.5
    **build_options
        Passed to :meth:`LoadingProblem.build`.
    """
    from trimcore.instance.zoo import synthetic_library

    k = integer("n_users", n_users, 1)
    lib_seed, cell_seed = np.random.SeedSequence(integer("seed", seed, 0)).spawn(2)
    library = synthetic_library(n_models, n_families=n_clusters, nested=False, shared_fraction=0.75,
                                median_bytes=150e6, seed=np.random.default_rng(lib_seed))
    bw = 20e6 * k / 30.0 if bandwidth_hz is None else bandwidth_hz
    build_options.setdefault("infer_time", 0.006)
    lp = LoadingProblem.build(library, k, seed=cell_seed, deadline=1.0 if deadline is None else deadline,
                              bandwidth_hz=bw, **build_options)
    if deadline is None:
        frac = positive_scalar("served_fraction", served_fraction)
        total = library.union_size(np.unique(lp.user_model)) / lp.load_rate + float(lp.infer_time.sum())
        lp = lp.with_options(deadline=frac * total)
    return lp
