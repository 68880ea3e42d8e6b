"""``simulate_caching``: replay a trace with one policy through the shared skeleton (spec §5.0)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from trimcore._tolerances import MEMORY_RTOL
from trimcore._validate import integer, make_rng, real
from trimcore.errors import invalid
from trimcore.kernels import choose_backend, kernel
from trimcore.kernels.online.reference import BUILTIN_POLICIES, Policy
from trimcore.online.problem import COMPONENTS, CachingProblem
from trimcore.online.result import CachingResult

__all__ = ["simulate_caching", "static_placement", "POLICIES", "LC_ORDERS", "MAKE_ROOM_RULES", "OUTPUTS"]

#: Built-in policy names.
POLICIES: tuple[str, ...] = BUILTIN_POLICIES
#: ``lc_order`` options (spec §3.3): evict the smallest AoC, or the largest mean example age.
LC_ORDERS: tuple[str, ...] = ("min_value", "max_age")
#: ``make_room`` options (docs/assumptions.md O20): which victim ``MAKE_ROOM`` takes next.
MAKE_ROOM_RULES: tuple[str, ...] = ("frees_first", "policy_order")
#: ``outputs`` options of :func:`simulate_caching`: every per-request array, or the decisions only.
OUTPUTS: tuple[str, ...] = ("all", "decisions")


def static_placement(cp: CachingProblem, popularity: np.ndarray | None = None) -> np.ndarray:
    """The edge-static placement (spec §5.2): per server, models by decreasing popularity / size.

    A model is added when the used memory (the union of blocks with ``block_sharing``) still fits;
    models never requested at the server are left out. ``popularity`` defaults to the request
    counts of the trace per (server, model) (the "known Zipf ranks").

    Returns
    -------
    ndarray of bool, shape (N, I)
    """
    n, i = cp.n_servers, cp.n_models
    if popularity is None:
        pop = np.zeros((n, i))
        np.add.at(pop, (cp.server, cp.model), 1.0)
    else:
        pop = np.asarray(popularity, dtype=np.float64)
        if pop.shape != (n, i) or not np.isfinite(pop).all() or (pop < 0).any():
            raise invalid("static_popularity", f"finite values >= 0 of shape ({n}, {i})", pop.shape)
    sizes = cp.model_size
    lib = cp.library
    out = np.zeros((n, i), dtype=bool)
    cap = cp.memory * (1.0 + MEMORY_RTOL)
    for s in range(n):
        order = sorted((k for k in range(i) if pop[s, k] > 0), key=lambda k: (-pop[s, k] / sizes[k], k))
        held = np.zeros(lib.n_blocks, dtype=bool)
        used = 0.0
        for k in order:
            blocks = lib.indices[lib.indptr[k]:lib.indptr[k + 1]]
            extra = float(lib.block_sizes[blocks[~held[blocks]]].sum()) if cp.block_sharing else float(sizes[k])
            if used + extra <= cap[s]:
                used += extra
                held[blocks] = True
                out[s, k] = True
    return out


def resolve_policy(policy: str | Policy, lc_task_aware: bool = False) -> str | Policy:
    """A built-in policy's canonical name (``"lc"`` with ``lc_task_aware`` is ``"lc_task"``), or the
    policy object itself; InstanceError for anything else."""
    if isinstance(policy, str):
        name = policy.strip().lower()
        if name not in POLICIES:
            raise invalid("policy", f"one of {POLICIES} or a Policy object", policy)
        return "lc_task" if name == "lc" and lc_task_aware else name
    if isinstance(policy, Policy):
        return policy
    raise invalid("policy", f"one of {POLICIES} or a Policy object", policy)


def simulation_flags(*, greedy_admission: bool = False, allow_substitution: bool = True, seed: Any = None,
                     lc_task_aware: bool = False, lc_grace_slots: int = 0, lc_order: str = "min_value",
                     lfu_reset_on_evict: bool = True, pin_models_used_this_slot: bool = False,
                     task_ewma: float = 0.1, admission_horizon: float = 1.0,
                     make_room: str = "frees_first") -> dict[str, Any]:
    """The validated flags of the skeleton, as every tier (and :class:`OnlineCache`) reads them."""
    for key, value in (("greedy_admission", greedy_admission), ("allow_substitution", allow_substitution),
                       ("lc_task_aware", lc_task_aware), ("lfu_reset_on_evict", lfu_reset_on_evict),
                       ("pin_models_used_this_slot", pin_models_used_this_slot)):
        if not isinstance(value, bool | np.bool_):
            raise invalid(key, "a bool", value)
    if lc_order not in LC_ORDERS:
        raise invalid("lc_order", f"one of {LC_ORDERS}", lc_order)
    if make_room not in MAKE_ROOM_RULES:
        raise invalid("make_room", f"one of {MAKE_ROOM_RULES}", make_room)
    rng = make_rng(seed)
    return {"greedy_admission": bool(greedy_admission), "allow_substitution": bool(allow_substitution),
            "lc_grace_slots": integer("lc_grace_slots", lc_grace_slots, minimum=0, maximum=2**62),
            "lc_order": lc_order, "lfu_reset_on_evict": bool(lfu_reset_on_evict),
            "pin_models_used_this_slot": bool(pin_models_used_this_slot),
            "task_ewma": real("task_ewma", task_ewma, low=0.0, high=1.0),
            "admission_horizon": real("admission_horizon", admission_horizon, low=1.0),
            "make_room": make_room, "rng_seed": int(rng.integers(0, 2**63, dtype=np.int64))}


def simulate_caching(
    cp: CachingProblem,
    policy: str | Policy = "lc",
    greedy_admission: bool = False,
    allow_substitution: bool = True,
    seed: Any = None,
    backend: str = "auto",
    *,
    lc_task_aware: bool = False,
    lc_grace_slots: int = 0,
    lc_order: str = "min_value",
    lfu_reset_on_evict: bool = True,
    pin_models_used_this_slot: bool = False,
    task_ewma: float = 0.1,
    admission_horizon: float = 1.0,
    make_room: str = "frees_first",
    static_popularity: np.ndarray | None = None,
    bound: bool = True,
    outputs: str = "all",
) -> CachingResult:
    """Replay the trace of ``cp`` with one caching policy; every request is decided in arrival order.

    Parameters
    ----------
    cp : CachingProblem
    policy : str or Policy
        ``"lc"`` (least context), ``"lc_task"`` (task-aware LC), ``"lru"``, ``"lfu"``, ``"fifo"``,
        ``"random"``, ``"cloud"`` (never cache), ``"static"`` (edge-static placement, never loads),
        ``"belady"`` (offline: evict the model requested furthest in the future), or a
        :class:`~trimcore.kernels.online.reference.Policy` object (reference tier only).
    greedy_admission : bool
        Load the requested model whenever it fits, ignoring the cost comparison (a reactive cache).
    allow_substitution : bool
        A miss may be served by a resident model that can do the request's task.
    seed : None, int or Generator
        Seeds the ``random`` policy (the same seed gives the same victims on every tier).
    backend : str
        ``"auto"``, ``"cpp"`` or ``"reference"``.
    lc_task_aware : bool
        With ``policy="lc"``: rank victims by the task-weighted AoC (same as ``"lc_task"``).
    lc_grace_slots : int
        LC does not evict a model loaded fewer than this many slots ago unless nothing else frees enough.
    lc_order : str
        ``"min_value"`` (evict the smallest AoC) or ``"max_age"`` (evict the largest mean example age).
    lfu_reset_on_evict : bool
        In-cache LFU (count forgotten on eviction); False keeps the history (perfect LFU).
    pin_models_used_this_slot : bool
        A model used in the current slot is evicted only if nothing else frees enough.
    task_ewma : float
        Smoothing of the per-server task shares of ``lc_task``.
    admission_horizon : float
        The cost comparison of a miss (spec §5.0 line 18) counts the one-off costs of a load
        (switching and loading latency) divided by this many requests; 1 is the spec's myopic rule,
        under which a load (zero-shot, like the cloud, plus the loading) rarely wins.
    make_room : str
        Which victim ``MAKE_ROOM`` evicts next while the loaded model does not fit (block-aware
        memory): ``"frees_first"`` (default) the first in the policy's order whose eviction frees
        some bytes now, the policy's first choice if none does; ``"policy_order"`` always the
        policy's first choice, even one whose blocks all stay held by other resident models or by
        the loaded one. Identical when every model has a private block (and with
        ``block_sharing=False``).
    static_popularity : ndarray, shape (N, I), optional
        Popularity the ``static`` placement ranks by (default: the trace's request counts).
    bound : bool
        Compute the certified lower bound :meth:`CachingProblem.lower_bound` (``result.gap``).
    outputs : str
        ``"all"`` (default): every per-request array of the result. ``"decisions"``: only
        ``hit``, ``served_by``, ``outcome`` and the evictions per request; ``accuracy``,
        ``latency``, ``aoc``, ``loaded_bytes``, ``memory_used``, ``request_cost`` and
        ``request_costs`` are None, while ``cost``, ``components``, ``feasible`` (from the
        per-server peak memory), ``mean_accuracy``, ``mean_latency`` and ``loaded_gb`` come from
        sums the kernel keeps (compensated, so they equal the ``"all"`` values to about 1e-15
        relative, not always to the last bit). Saves 73 of the 105 bytes a request of output
        memory; the decisions are identical.

    Returns
    -------
    CachingResult
    """
    if not isinstance(cp, CachingProblem):
        raise invalid("cp", "a CachingProblem", type(cp).__name__)
    if not isinstance(bound, bool | np.bool_):
        raise invalid("bound", "a bool", bound)
    if not isinstance(outputs, str) or outputs not in OUTPUTS:
        raise invalid("outputs", f"one of {OUTPUTS}", outputs)
    pol = resolve_policy(policy, lc_task_aware)
    label = pol if isinstance(pol, str) else getattr(pol, "name", type(pol).__name__)
    flags = simulation_flags(greedy_admission=greedy_admission, allow_substitution=allow_substitution, seed=seed,
                             lc_task_aware=lc_task_aware, lc_grace_slots=lc_grace_slots, lc_order=lc_order,
                             lfu_reset_on_evict=lfu_reset_on_evict,
                             pin_models_used_this_slot=pin_models_used_this_slot, task_ewma=task_ewma,
                             admission_horizon=admission_horizon, make_room=make_room)
    if isinstance(pol, str):
        tier = choose_backend("online.simulate", backend, algorithm="simulate_caching")
    else:
        if backend not in ("auto", "reference"):
            raise invalid("backend", "'auto' or 'reference' for a Policy object (only that tier runs Python "
                          "policies)", backend)
        tier = "reference"
    initial = static_placement(cp, static_popularity) if pol == "static" else None
    inp = cp.kernel_inputs(initial)
    if outputs != "all":
        flags = {**flags, "outputs": outputs}
    started = time.perf_counter()
    out = kernel("online.simulate", tier)(inp, pol, flags)
    runtime = time.perf_counter() - started
    lb, bound_time = None, 0.0
    if bound:
        t0 = time.perf_counter()
        lb = cp.lower_bound()
        bound_time = time.perf_counter() - t0
    return make_result(cp, out, label, tier, flags, runtime, lb, bound_time)


def make_result(cp: CachingProblem, out: dict[str, np.ndarray], policy: str, tier: str, flags: dict[str, Any],
                runtime: float, lower_bound: float | None, bound_time: float) -> CachingResult:
    """Score a kernel's output: the mean cost and its components (which sum to it).

    ``out`` holds the per-request arrays, or (``outputs="decisions"``) the decisions with the sums
    ``totals`` (rows :data:`trimcore.kernels.online.reference.TOTALS`) and ``peak_memory``.
    """
    n = max(cp.n_requests, 1)
    hit = (out["outcome"] == 0)
    options = {"policy": policy, "backend": tier, "block_sharing": cp.block_sharing, "nu": cp.nu,
               **{k: v for k, v in flags.items() if k != "rng_seed"}}
    options.setdefault("outputs", "all")
    arrays: dict[str, np.ndarray | None]
    if "totals" in out:
        sums = out["totals"]
        comp = {k: float(sums[1 + c]) / n for c, k in enumerate(COMPONENTS)}
        total = float(sums[0]) / n
        totals = {"accuracy": float(sums[6]), "latency": float(sums[7]), "loaded_bytes": float(sums[8])}
        feasible = bool((out["peak_memory"] <= cp.memory * (1.0 + MEMORY_RTOL)).all())
        arrays = dict.fromkeys(("accuracy", "latency", "aoc", "loaded_bytes", "memory_used", "request_cost",
                                "request_costs"))
    else:
        costs = out["costs"]
        comp = {k: float(costs[:, c].sum()) / n for c, k in enumerate(COMPONENTS)}
        total = float(out["cost"].sum()) / n
        totals = {}
        feasible = bool((out["memory_used"] <= cp.memory[cp.server] * (1.0 + MEMORY_RTOL)).all())
        arrays = {"accuracy": out["accuracy"], "latency": out["latency"], "aoc": out["aoc"],
                  "loaded_bytes": out["loaded_bytes"], "memory_used": out["memory_used"], "request_cost": out["cost"],
                  "request_costs": costs}
    return CachingResult(hit=hit, served_by=out["served_by"], outcome=out["outcome"], accuracy=arrays["accuracy"],
                         latency=arrays["latency"], aoc=arrays["aoc"], loaded_bytes=arrays["loaded_bytes"],
                         memory_used=arrays["memory_used"], request_cost=arrays["request_cost"],
                         request_costs=arrays["request_costs"], evict_ptr=out["evict_ptr"], evicted=out["evicted"],
                         components=comp, totals=totals,
                         objective=total,
                         feasible=feasible, status="feasible" if feasible else "infeasible", runtime_s=runtime,
                         algorithm="simulate_caching", options=options, lower_bound=lower_bound,
                         bound_method="cheapest_option" if lower_bound is not None else None,
                         bound_runtime_s=bound_time)
