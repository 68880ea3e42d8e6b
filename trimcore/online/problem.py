"""The online foundation-model caching problem of the Age of Context paper (spec §3-§4).

Edge servers keep a few foundation models in GPU memory; requests arrive slot by slot; a request is
served by its model at the edge (a hit), by a cached substitute that can do its task, by loading its
model (evicting others), or in the cloud. Served requests leave in-context examples behind, which
raise the serving model's accuracy (its Age of Context, AoC) until the model is evicted.

:class:`CachingProblem` holds the library, the servers' memories, the trace and every parameter of
the cost model (spec §3.3-§3.6) as named options with the spec's defaults (:data:`DEFAULT_OPTIONS`).
:meth:`CachingProblem.lower_bound` is a certified lower bound on the mean system cost of the trace
under any policy; :meth:`CachingProblem.kernel_inputs` are the canonical arrays every tier reads.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from trimcore._numeric import sequential_sum
from trimcore._persist import Stored
from trimcore._tolerances import MEMORY_RTOL
from trimcore._validate import bool_array, float_array, index_array, real
from trimcore.errors import InstanceError, invalid
from trimcore.instance.blocks import ModelLibrary

__all__ = ["CachingProblem", "DEFAULT_OPTIONS", "MEMORY_RTOL", "COMPONENTS", "ACCURACY_CURVES"]

#: Relative tolerance of the memory check: a model fits when the used memory is ``<= G (1 + MEMORY_RTOL)``
#: (the evaluators' memory tolerance of :mod:`trimcore._tolerances`).
#: Names of the cost components, in the order of ``CachingResult.request_costs`` columns.
COMPONENTS: tuple[str, ...] = ("latency", "accuracy", "switching", "cloud", "energy")
#: ``accuracy_curve`` options (spec §3.4): saturating exponential or logarithmic.
ACCURACY_CURVES: tuple[str, ...] = ("exp", "log")

#: Every option of the cost and context model with the spec's default (all INFERRED, see docs/assumptions.md).
DEFAULT_OPTIONS: dict[str, Any] = {
    "window": 32,                   # W_i, examples per context window (§3.2, §6); int or int[I]
    "prune_eps": 1e-3,              # prune an example once nu^age < eps (§3.2)
    "persist_context_on_evict": False,  # keep a model's examples across eviction (§3.2)
    "rho_sub": 0.5,                 # weight of an example left by a substitute (§3.2)
    "rho_cross": 0.2,               # relevance rho_x between different tasks (§3.3)
    "task_relevance": None,         # float[M, M] rho(m_e, m); overrides rho_cross
    "accuracy_curve": "exp",        # "exp": a_max - (a_max - a_0) exp(-kappa K); "log": min(a_max, a_0 + beta ln(1+K))
    "kappa": 0.25,                  # kappa_j (§3.4); float or float[I]
    "log_beta": 0.05,               # beta of the log curve
    "acc_zero": 0.40,               # a_i^0 zero-shot accuracy; float or float[I]
    "acc_max": 0.62,                # a_i^max saturated accuracy; float or float[I]
    "eta_sub": 0.9,                 # accuracy factor of a substitute (§3.4)
    "example_tokens": 64.0,         # l^ex tokens per stored example (§3.5)
    "flops_per_token": None,        # phi_i; default 2 P_i with P_i = s_i / 2 bytes (fp16), i.e. s_i
    "edge_flops": 100e12,           # F_n FLOP/s; float or float[N]
    "cloud_flops": 1e15,            # F_0 FLOP/s
    "access_latency": 0.010,        # d_n s; float or float[N]
    "cloud_latency": 0.100,         # d_0 s
    "load_bandwidth": 2e9,          # B_ld bytes/s
    "w_latency": 1.0,               # w_L per s
    "w_accuracy": 10.0,             # w_A per unit accuracy loss
    "w_switch": 0.05e-9,            # w_S per byte loaded (0.05 per GB)
    "w_energy": 0.0,                # w_E
    "energy_per_flop": 1e-12,       # epsilon_gpu J/FLOP
    "w_cloud": 0.01,                # w_C per cloud call
    "cloud_price": 1.0,             # p_0(i) per call; float or float[I]
    "lc_prior": 0.0,                # K0: LC ranks a load as if it had this much AoC (decays; ranking only)
    "slot_seconds": 1.0,            # Delta (reporting only)
}


def _per(field: str, value: Any, n: int, *, minimum: float | None = 0.0, strictly: bool = False) -> np.ndarray:
    arr = float_array(field, value, None, minimum=minimum, strictly_positive=strictly)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    elif arr.shape != (n,):
        raise invalid(field, f"a number or an array of shape ({n},)", f"array of shape {arr.shape}")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False, repr=False)
class CachingProblem(Stored):
    """A validated online caching instance (build it with :meth:`from_arrays` or the builder).

    Attributes
    ----------
    library : ModelLibrary
        Blocks and models (a model is its blocks; models of one base share its blocks).
    memory : ndarray of float64, shape (N,)
        GPU memory of every edge server, bytes.
    slot, server, model, task : ndarray of int64, shape (R,)
        The trace in arrival order (slots non-decreasing).
    tokens_in, tokens_out : ndarray of float64, shape (R,)
    model_tasks : ndarray of bool, shape (I, M)
        ``model_tasks[j, m]``: model j can serve task m (substitution, spec §3.1).
    nu : float
        Vanishing factor of examples per slot.
    block_sharing : bool
        Resident models share common blocks in GPU memory.
    options : dict
        Every option of :data:`DEFAULT_OPTIONS`, resolved (arrays per model / server).
    """

    library: ModelLibrary
    memory: np.ndarray
    slot: np.ndarray
    server: np.ndarray
    model: np.ndarray
    task: np.ndarray
    tokens_in: np.ndarray
    tokens_out: np.ndarray
    model_tasks: np.ndarray
    nu: float
    block_sharing: bool
    options: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(
        cls,
        block_sizes: Sequence[float] | np.ndarray,
        model_blocks: Sequence[Sequence[int] | np.ndarray],
        memory: Sequence[float] | np.ndarray | float,
        slot: Sequence[int] | np.ndarray,
        server: Sequence[int] | np.ndarray,
        model: Sequence[int] | np.ndarray,
        task: Sequence[int] | np.ndarray | None = None,
        tokens_in: Sequence[float] | np.ndarray | None = None,
        tokens_out: Sequence[float] | np.ndarray | None = None,
        model_tasks: np.ndarray | None = None,
        nu: float = 0.9,
        block_sharing: bool = True,
        **options: Any,
    ) -> CachingProblem:
        """Validate and build a problem.

        Parameters
        ----------
        block_sizes : array_like of float, shape (J,)
            Block sizes in bytes, > 0.
        model_blocks : list of lists of int
            Block ids of each of the I models.
        memory : array_like of float, shape (N,), or float
            GPU memory per edge server in bytes, >= 0 (a scalar with ``server`` fixes N as
            ``max(server) + 1``).
        slot, server, model : array_like of int, shape (R,)
            The trace in arrival order: slot (non-decreasing, >= 0), server in [0, N), model in [0, I).
        task : array_like of int, shape (R,), optional
            Task of each request in [0, M); default: the requested model's own task (``task = model``).
        tokens_in, tokens_out : array_like of float, shape (R,), optional
            Input / output tokens, >= 0; default 144 each (the mean of the spec's U[32, 256]).
        model_tasks : array_like of bool, shape (I, M), optional
            Which tasks each model can serve; default: model i serves task i only (M = I).
        nu : float
            Vanishing factor of examples per slot, in [0, 1].
        block_sharing : bool
            True: used memory is the union of resident blocks and loads pay missing blocks only.
        **options
            Any key of :data:`DEFAULT_OPTIONS`.

        Raises
        ------
        InstanceError
            On any malformed input, naming the field.
        """
        library = ModelLibrary.from_lists(block_sizes, model_blocks)
        n_models = library.n_models
        srv = np.asarray(server)
        mem = float_array("memory", memory, None, minimum=0.0)
        if mem.ndim == 0:
            if srv.dtype.kind not in "iuf" or srv.ndim != 1:
                raise invalid("server", "a 1-d array of server ids", f"array of shape {srv.shape}")
            n_servers = int(srv.max()) + 1 if srv.size else 1
            mem = np.full(max(n_servers, 1), float(mem))
        elif mem.ndim != 1 or mem.size == 0:
            raise invalid("memory", "a number or a non-empty 1-d array (one value per server)",
                          f"array of shape {mem.shape}")
        mem.setflags(write=False)
        n_servers = mem.shape[0]
        sl = index_array("slot", slot, np.iinfo(np.int64).max, shape=(None,))
        n_req = sl.shape[0]
        if n_req and (np.diff(sl) < 0).any():
            k = int(np.flatnonzero(np.diff(sl) < 0)[0])
            raise invalid("slot", "non-decreasing slots (arrival order)", f"slot {sl[k + 1]} after {sl[k]} at "
                          f"index {k + 1}")
        sv = index_array("server", server, n_servers, shape=(n_req,))
        md = index_array("model", model, n_models, shape=(n_req,))
        if model_tasks is None:
            mt = np.eye(n_models, dtype=bool)
            mt.setflags(write=False)
        else:
            mt = bool_array("model_tasks", model_tasks)
            if mt.ndim != 2 or mt.shape[0] != n_models or mt.shape[1] == 0:
                raise invalid("model_tasks", f"a bool array of shape ({n_models}, M)", f"shape {mt.shape}")
        n_tasks = mt.shape[1]
        if task is None:
            if n_tasks != n_models:
                raise invalid("task", "the task of every request (model_tasks has M != I tasks)", None)
            tk = md
        else:
            tk = index_array("task", task, n_tasks, shape=(n_req,))
        tin = float_array("tokens_in", 144.0 if tokens_in is None else tokens_in, None, minimum=0.0)
        tout = float_array("tokens_out", 144.0 if tokens_out is None else tokens_out, None, minimum=0.0)
        if tin.ndim == 0:
            tin = np.full(n_req, float(tin))
        if tout.ndim == 0:
            tout = np.full(n_req, float(tout))
        if tin.shape != (n_req,):
            raise invalid("tokens_in", f"shape ({n_req},) (one per request)", f"shape {tin.shape}")
        if tout.shape != (n_req,):
            raise invalid("tokens_out", f"shape ({n_req},) (one per request)", f"shape {tout.shape}")
        for a in (tin, tout):
            a.setflags(write=False)
        nu_v = real("nu", nu, low=0.0, high=1.0)
        if not isinstance(block_sharing, bool | np.bool_):
            raise invalid("block_sharing", "a bool", block_sharing)
        opts = _resolve_options(options, n_models, n_servers, n_tasks, library)
        return cls(library, mem, sl, sv, md, tk, tin, tout, mt, nu_v, bool(block_sharing), opts)

    # ------------------------------------------------------------------ sizes
    @property
    def n_servers(self) -> int:
        """Number of edge servers N."""
        return int(self.memory.shape[0])

    @property
    def n_models(self) -> int:
        """Number of models I."""
        return self.library.n_models

    @property
    def n_tasks(self) -> int:
        """Number of tasks M."""
        return int(self.model_tasks.shape[1])

    @property
    def n_requests(self) -> int:
        """Length R of the trace."""
        return int(self.slot.shape[0])

    @cached_property
    def model_size(self) -> np.ndarray:
        """Full size of every model in bytes (its blocks summed in ascending order), float64[I]."""
        lib = self.library
        out = np.array([sequential_sum(lib.block_sizes[lib.indices[lib.indptr[i]:lib.indptr[i + 1]]])
                        for i in range(lib.n_models)])
        out.setflags(write=False)
        return out

    def with_options(self, **changes: Any) -> CachingProblem:
        """A copy with some of ``nu``, ``block_sharing``, ``memory`` or the options changed (validated)."""
        lib = self.library
        blocks = [lib.indices[lib.indptr[i]:lib.indptr[i + 1]] for i in range(lib.n_models)]
        base: dict[str, Any] = {k: v for k, v in self.options.items()}
        if "rho_cross" in changes and "task_relevance" not in changes:
            base["task_relevance"] = None  # the resolved matrix came from the old rho_cross
        base.update(memory=self.memory, nu=self.nu, block_sharing=self.block_sharing)
        base.update(changes)
        return CachingProblem.from_arrays(lib.block_sizes, blocks, slot=self.slot, server=self.server,
                                          model=self.model, task=self.task, tokens_in=self.tokens_in,
                                          tokens_out=self.tokens_out, model_tasks=self.model_tasks, **base)

    @classmethod
    def load(cls, path: str | Path) -> CachingProblem:
        """Read a problem written by :meth:`save`, validated again by :meth:`from_arrays`.

        Raises
        ------
        InstanceError
            The file is missing, damaged, of another kind, or holds an invalid problem (named).
        """
        from trimcore.instance.io import load_dataclass

        raw = load_dataclass(path, cls, cls.__name__)  # the library is validated on the way in
        lib = raw.library
        try:
            checked = cls.from_arrays(lib.block_sizes, [lib.blocks_of(i) for i in range(lib.n_models)], raw.memory,
                                      raw.slot, raw.server, raw.model, task=raw.task, tokens_in=raw.tokens_in,
                                      tokens_out=raw.tokens_out, model_tasks=raw.model_tasks, nu=raw.nu,
                                      block_sharing=raw.block_sharing, **dict(raw.options))
        except (InstanceError, TypeError) as exc:
            raise InstanceError(f"{path}: invalid CachingProblem: {exc}") from exc
        return dataclasses.replace(checked, library=lib)  # keep the library's names and families

    def __repr__(self) -> str:
        return (f"CachingProblem(servers={self.n_servers}, models={self.n_models}, tasks={self.n_tasks}, "
                f"requests={self.n_requests}, nu={self.nu}, block_sharing={self.block_sharing})")

    # ------------------------------------------------------------------ kernels
    @cached_property
    def next_use(self) -> np.ndarray:
        """Index of the next request for the same (server, model), ``R`` if none (Belady), int64[R]."""
        n_req = self.n_requests
        out = np.full(n_req, n_req, dtype=np.int64)
        key = self.server * self.n_models + self.model
        order = np.lexsort((np.arange(n_req), key))
        same = key[order[1:]] == key[order[:-1]]
        out[order[:-1][same]] = order[1:][same]
        out.setflags(write=False)
        return out

    def nu_table(self, span: int) -> tuple[np.ndarray, int]:
        """``nu ** age`` for ages ``0 .. span`` and the first age pruned (below ``prune_eps``)."""
        nu_pow = np.power(self.nu, np.arange(span + 1, dtype=np.float64))
        below = np.flatnonzero(nu_pow < self.options["prune_eps"])
        return nu_pow, int(below[0]) if below.size else span + 2

    def kernel_inputs(self, initial: np.ndarray | None = None, horizon_slots: int | None = None) -> dict[str, Any]:
        """The canonical arrays and scalars every tier of ``online.simulate`` reads.

        Parameters
        ----------
        initial : ndarray of bool, shape (N, I), optional
            Models resident before the first request (the edge-static placement).
        horizon_slots : int, optional
            Slots after the first request that requests may carry (default: the trace's span).
        """
        o = self.options
        lib = self.library
        if self.block_sharing:
            blk_ptr, blk_idx, blk_size = lib.indptr, lib.indices, lib.block_sizes
        else:  # model-granular: every model is one private block of its full size
            blk_ptr = np.arange(self.n_models + 1, dtype=np.int64)
            blk_idx = np.arange(self.n_models, dtype=np.int64)
            blk_size = self.model_size
        if horizon_slots is None:
            horizon_slots = int(self.slot[-1] - self.slot[0]) + 1 if self.n_requests else 1
        nu_pow, prune_age = self.nu_table(horizon_slots)
        init = np.zeros((self.n_servers, self.n_models), dtype=np.uint8) if initial is None else \
            np.ascontiguousarray(initial, dtype=np.uint8)
        return {
            "n_servers": self.n_servers, "n_models": self.n_models, "n_tasks": self.n_tasks,
            "blk_ptr": np.ascontiguousarray(blk_ptr, dtype=np.int64),
            "blk_idx": np.ascontiguousarray(blk_idx, dtype=np.int64),
            "blk_size": np.ascontiguousarray(blk_size, dtype=np.float64),
            "model_size": self.model_size, "cap": self.memory * (1.0 + MEMORY_RTOL),
            "slot": self.slot, "server": self.server, "model": self.model, "task": self.task,
            "tok_in": self.tokens_in, "tok_out": self.tokens_out, "next_use": self.next_use,
            "model_tasks": np.ascontiguousarray(self.model_tasks, dtype=np.uint8),
            "relevance": o["task_relevance"], "window": o["window"], "nu_pow": nu_pow, "prune_age": prune_age,
            "a0": o["acc_zero"], "amax": o["acc_max"], "kappa": o["kappa"],
            "curve": ACCURACY_CURVES.index(o["accuracy_curve"]), "log_beta": o["log_beta"],
            "eta_sub": o["eta_sub"], "rho_sub": o["rho_sub"], "ell_ex": o["example_tokens"],
            "phi": o["flops_per_token"], "edge_flops": o["edge_flops"], "access": o["access_latency"],
            "cloud_flops": o["cloud_flops"], "cloud_lat": o["cloud_latency"], "load_bw": o["load_bandwidth"],
            "w_L": o["w_latency"], "w_A": o["w_accuracy"], "w_S": o["w_switch"], "w_E": o["w_energy"],
            "w_C": o["w_cloud"], "energy_per_flop": o["energy_per_flop"], "cloud_price": o["cloud_price"],
            "persist": bool(o["persist_context_on_evict"]), "lc_prior": o["lc_prior"], "initial": init,
        }

    # ------------------------------------------------------------------ evaluator
    def evaluate(self, outcome: np.ndarray, served_by: np.ndarray, evict_ptr: np.ndarray, evicted: np.ndarray,
                 initial: np.ndarray | None = None) -> dict[str, Any]:
        """Score per-request decisions (any policy's, or hand-made) with the cost model, checking each one.

        Parameters
        ----------
        outcome, served_by : ndarray, shape (R,)
            0 hit, 1 substitute, 2 load, 3 cloud; the serving model (-1 for the cloud).
        evict_ptr, evicted : ndarray
            CSR of the models each request evicts, in order.
        initial : ndarray of bool, shape (N, I), optional
            Models resident before the first request.

        Returns
        -------
        dict
            ``feasible``, ``reason``, ``cost`` (the mean per request, when feasible),
            ``request_cost`` and ``request_costs`` per request, ``memory_used``.
        """
        from trimcore.kernels.online.reference import evaluate_decisions

        n = self.n_requests
        out = np.asarray(outcome, dtype=np.int64)
        sb = np.asarray(served_by, dtype=np.int64)
        ptr = np.asarray(evict_ptr, dtype=np.int64)
        ev = np.asarray(evicted, dtype=np.int64)
        if out.shape != (n,) or sb.shape != (n,):
            raise invalid("outcome / served_by", f"shape ({n},)", (out.shape, sb.shape))
        if ptr.shape != (n + 1,) or ptr[0] != 0 or ptr[-1] != ev.shape[0] or (np.diff(ptr) < 0).any():
            raise invalid("evict_ptr", f"CSR offsets of length {n + 1} ending at len(evicted)", ptr.shape)
        if ev.size and (ev.min() < 0 or ev.max() >= self.n_models):
            raise invalid("evicted", f"model ids in [0, {self.n_models})", int(ev.max()))
        res = evaluate_decisions(self.kernel_inputs(initial), out, sb, ptr, ev)
        return {"feasible": res["feasible"], "reason": res["reason"],
                "cost": float(res["cost"].sum()) / max(n, 1) if res["feasible"] else None,
                "request_cost": res["cost"], "request_costs": res["costs"], "memory_used": res["memory_used"]}

    # ------------------------------------------------------------------ bound
    def lower_bound(self) -> float:
        """A certified lower bound on the mean system cost per request of any policy on this trace.

        Each request at its cheapest option with memory, switching and loading ignored: the cloud,
        or any model that can serve it (its own, or a substitute of its task) holding the most
        favourable number of examples ``K`` in ``[0, W_j]`` (the effective examples never exceed
        the window). The ``K``-dependent part of an edge cost depends only on (server, model,
        substitute or not), so it is minimised once over the integers ``0..W_j`` (latency grows
        with ``ceil(K)``, accuracy with ``K``, so the best ``K`` of each step is an integer).
        """
        o = self.options
        n_req = self.n_requests
        if n_req == 0:
            return 0.0
        phi, a0, amax, kappa, win = o["flops_per_token"], o["acc_zero"], o["acc_max"], o["kappa"], o["window"]
        ef, acc_lat = o["edge_flops"], o["access_latency"]
        w_l, w_a, w_e, eps = o["w_latency"], o["w_accuracy"], o["w_energy"], o["energy_per_flop"]
        tok = self.tokens_in + self.tokens_out
        s, i = self.server, self.model
        cloud = (w_l * (acc_lat[s] + o["cloud_latency"] + phi[i] * tok / o["cloud_flops"])
                 + w_a * (1.0 - a0[i]) + o["w_cloud"] * o["cloud_price"][i])
        best = cloud.copy()
        # g[n, j, sub]: min over K of the K-dependent part of an edge cost
        ks = np.arange(int(win.max()) + 1, dtype=np.float64)
        if o["accuracy_curve"] == "exp":
            acc_k = amax[:, None] - (amax - a0)[:, None] * np.exp(-kappa[:, None] * ks[None, :])
        else:
            acc_k = np.minimum(amax[:, None], a0[:, None] + o["log_beta"] * np.log1p(ks)[None, :])
        valid = ks[None, :] <= win[:, None]
        per_tok = (w_l / ef)[:, None] * phi[None, :] + w_e * eps * phi[None, :]  # [N, I] cost per token
        for sub, factor in ((0, 1.0), (1, o["eta_sub"])):
            part = (per_tok[:, :, None] * (ks * o["example_tokens"])[None, None, :]
                    - w_a * factor * acc_k[None, :, :])
            part = np.where(valid[None, :, :], part, np.inf).min(axis=2)  # [N, I]
            if sub == 0:
                own = w_l * acc_lat[s] + per_tok[s, i] * tok + w_a + part[s, i]
                best = np.minimum(best, own)
            else:
                for m in range(self.n_tasks):
                    rows = np.flatnonzero(self.task == m)
                    if rows.size == 0:
                        continue
                    for j in np.flatnonzero(self.model_tasks[:, m]).tolist():
                        r = rows[i[rows] != j]
                        c = w_l * acc_lat[s[r]] + per_tok[s[r], j] * tok[r] + w_a + part[s[r], j]
                        best[r] = np.minimum(best[r], c)
        return float(best.mean())


def _resolve_options(options: Mapping[str, Any], n_models: int, n_servers: int, n_tasks: int,
                     library: ModelLibrary) -> dict[str, Any]:
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        raise invalid("options", f"names among {sorted(DEFAULT_OPTIONS)}", unknown)
    o = {**DEFAULT_OPTIONS, **options}
    out: dict[str, Any] = {}
    win = np.asarray(o["window"])
    if win.dtype.kind not in "iu" and not (win.dtype.kind == "f" and np.isfinite(win).all()
                                           and (win == np.round(win)).all()):
        raise invalid("window", "an integer number of examples (or one per model)", o["window"])
    win = np.broadcast_to(win.astype(np.int64), (n_models,)).copy() if win.ndim == 0 else win.astype(np.int64)
    if win.shape != (n_models,) or (win < 0).any():
        raise invalid("window", f"integers >= 0, a number or shape ({n_models},)", o["window"])
    win.setflags(write=False)
    out["window"] = win
    out["prune_eps"] = real("prune_eps", o["prune_eps"], low=0.0, high=1.0)
    if not isinstance(o["persist_context_on_evict"], bool | np.bool_):
        raise invalid("persist_context_on_evict", "a bool", o["persist_context_on_evict"])
    out["persist_context_on_evict"] = bool(o["persist_context_on_evict"])
    out["rho_sub"] = real("rho_sub", o["rho_sub"], low=0.0, high=1.0)
    out["rho_cross"] = real("rho_cross", o["rho_cross"], low=0.0, high=1.0)
    if o["task_relevance"] is None:
        rel = np.full((n_tasks, n_tasks), out["rho_cross"])
        np.fill_diagonal(rel, 1.0)
    else:
        rel = float_array("task_relevance", o["task_relevance"], (n_tasks, n_tasks), minimum=0.0)
        if (rel > 1.0).any():
            raise invalid("task_relevance", "values in [0, 1]", float(rel.max()))
    rel = np.ascontiguousarray(rel, dtype=np.float64)
    rel.setflags(write=False)
    out["task_relevance"] = rel
    if o["accuracy_curve"] not in ACCURACY_CURVES:
        raise invalid("accuracy_curve", f"one of {ACCURACY_CURVES}", o["accuracy_curve"])
    out["accuracy_curve"] = o["accuracy_curve"]
    out["kappa"] = _per("kappa", o["kappa"], n_models)
    out["log_beta"] = real("log_beta", o["log_beta"], low=0.0)
    out["acc_zero"] = _per("acc_zero", o["acc_zero"], n_models)
    out["acc_max"] = _per("acc_max", o["acc_max"], n_models)
    if (out["acc_max"] > 1.0).any() or (out["acc_max"] < out["acc_zero"]).any():
        raise invalid("acc_max", "accuracies with acc_zero <= acc_max <= 1", o["acc_max"])
    out["eta_sub"] = real("eta_sub", o["eta_sub"], low=0.0, high=1.0)
    out["example_tokens"] = real("example_tokens", o["example_tokens"], low=0.0)
    sizes = np.array([sequential_sum(library.block_sizes[library.indices[library.indptr[i]:library.indptr[i + 1]]])
                      for i in range(n_models)])
    out["flops_per_token"] = _per("flops_per_token", sizes if o["flops_per_token"] is None else o["flops_per_token"],
                                  n_models)
    out["edge_flops"] = _per("edge_flops", o["edge_flops"], n_servers, strictly=True)
    out["cloud_flops"] = real("cloud_flops", o["cloud_flops"], low=0.0, low_open=True)
    out["access_latency"] = _per("access_latency", o["access_latency"], n_servers)
    out["cloud_latency"] = real("cloud_latency", o["cloud_latency"], low=0.0)
    out["load_bandwidth"] = real("load_bandwidth", o["load_bandwidth"], low=0.0, low_open=True)
    for key in ("w_latency", "w_accuracy", "w_switch", "w_energy", "energy_per_flop", "w_cloud", "lc_prior"):
        out[key] = real(key, o[key], low=0.0)
    out["cloud_price"] = _per("cloud_price", o["cloud_price"], n_models)
    out["slot_seconds"] = real("slot_seconds", o["slot_seconds"], low=0.0, low_open=True)
    if not math.isfinite(out["slot_seconds"]):
        raise invalid("slot_seconds", "a finite number", out["slot_seconds"])
    return out
