"""Reference tier of the online (Age of Context) caching kernels: plain Python, the oracle.

One function, :func:`online_simulate`, replays a request trace through the shared request-handling
skeleton of spec §5.0; the policies differ only in the victim choice (:class:`Policy`). The C++
tier (``csrc/include/trimcore/online.hpp``, :mod:`trimcore.kernels.online.native`) performs the same
floating-point operations in the same order, so both return identical decisions.

Conventions shared by the tiers (the problem, :mod:`trimcore.online.problem`, builds the inputs):

* Memory is counted in *blocks*: model ``i`` is ``blk_idx[blk_ptr[i]:blk_ptr[i + 1]]``. The model-
  granular mode (``block_sharing=False``) is the same code on a library where every model is one
  private block of its full size. A server's used memory is the size of the union of its resident
  models' blocks (a reference count per block); loading a model adds only its missing blocks and
  evicting one frees only the blocks no other resident model (nor the model being loaded) uses.
* Recency, frequency and load times count *requests in arrival order* (the request index ``r``).
* AoC sums run from the oldest example to the newest, then add the prior (``lc_prior``, in the
  values LC ranks victims by only, never in the examples a request uses for accuracy); freshness
  weights come from the table ``nu_pow[age]``; examples with ``age >= prune_age`` are pruned.
* A model fits when the used memory after loading is ``<= cap`` (memory times ``1 + MEMORY_RTOL``).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

__all__ = ["online_simulate", "evaluate_decisions", "Policy", "CacheView", "POLICY_CODES", "OUTCOME_NAMES",
           "BUILTIN_POLICIES", "splitmix64"]

#: Outcome codes of a request (``CachingResult.outcome``).
HIT, SUBSTITUTE, LOAD, CLOUD = 0, 1, 2, 3
OUTCOME_NAMES: tuple[str, ...] = ("hit", "substitute", "load", "cloud")
#: Built-in policies and their codes (shared with the C++ tier).
POLICY_CODES: dict[str, int] = {"lc": 0, "lc_task": 1, "lru": 2, "lfu": 3, "fifo": 4, "random": 5, "cloud": 6,
                                "static": 7, "belady": 8}
BUILTIN_POLICIES: tuple[str, ...] = tuple(POLICY_CODES)
_MASK = (1 << 64) - 1


def splitmix64(state: int) -> tuple[int, int]:
    """One step of SplitMix64: ``(new_state, output)``, the generator of the ``random`` policy."""
    state = (state + 0x9E3779B97F4A7C15) & _MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return state, z ^ (z >> 31)


class CacheView:
    """What a victim rule may look at: the simulator's per-(server, model) state, read-only by convention.

    Attributes
    ----------
    server, slot, request : int
        Where and when the eviction happens (request index in arrival order).
    """

    def __init__(self, sim: _Simulator) -> None:
        self._sim = sim
        self.server = 0
        self.slot = 0
        self.request = 0

    def last_use(self, model: int) -> int:
        """Index of the last request this server served with ``model`` (or loaded it for); -1 never."""
        return int(self._sim.last_use[self.server, model])

    def frequency(self, model: int) -> int:
        """LFU count of ``model`` on this server (1 at insertion, +1 per hit)."""
        return int(self._sim.freq[self.server, model])

    def load_time(self, model: int) -> int:
        """Request index at which ``model`` was loaded on this server (-1 for an initial placement)."""
        return int(self._sim.load_time[self.server, model])

    def load_slot(self, model: int) -> int:
        """Slot at which ``model`` was loaded on this server."""
        return int(self._sim.load_slot[self.server, model])

    def next_use(self, model: int) -> int:
        """Index of the next request for ``model`` at this server (the trace length if none): Belady."""
        return int(self._sim.next_use[self.server, model])

    def size(self, model: int) -> float:
        """Full size of ``model`` in bytes."""
        return float(self._sim.model_size[model])

    def aoc(self, model: int) -> float:
        """Task-agnostic AoC of ``model`` on this server at the current slot (spec §3.3)."""
        return self._sim.aoc(self.server, model, self.slot)

    def mean_age(self, model: int) -> float:
        """Relevance-weighted mean age of the examples of ``model`` (``inf`` when it has none)."""
        return self._sim.mean_age(self.server, model, self.slot)

    def task_aoc(self, model: int) -> float:
        """``sum_m p_hat[n, m] AoC_{n, model, m}``: AoC weighted by the recent task shares (EWMA)."""
        return self._sim.task_weighted_aoc(self.server, model, self.slot)


class Policy:
    """A victim rule plugged into the shared skeleton (spec §5.0): subclass and override ``select_victim``.

    Only the reference tier runs user policies. The built-in rules are subclasses of this class.
    """

    name = "custom"
    #: Codes of the built-in rules (``-1``: a user policy).
    code = -1

    def select_victim(self, candidates: list[int], view: CacheView) -> int:
        """The model to evict next among ``candidates`` (ascending ids, never empty).

        With ``make_room="frees_first"`` a choice whose eviction would free nothing is followed by
        further calls on the remaining candidates (the policy's order, walked until a victim frees
        something), so a stateful rule sees every call of that walk.
        """
        raise NotImplementedError


class _KeyPolicy(Policy):
    """Evict the candidate with the smallest key (ties are part of the key; last: lower index)."""

    def key(self, v: int, view: CacheView) -> tuple[Any, ...]:
        raise NotImplementedError

    def select_victim(self, candidates: list[int], view: CacheView) -> int:
        return min(candidates, key=lambda v: self.key(v, view))


class LC(_KeyPolicy):
    """Least context (§5.1): smallest AoC; ties: least recently used, larger size, lower index."""

    name, code = "lc", 0

    def __init__(self, order: str = "min_value") -> None:
        self.order = order

    def key(self, v: int, view: CacheView) -> tuple[Any, ...]:
        value = -view.mean_age(v) if self.order == "max_age" else view.aoc(v)
        return (value, view.last_use(v), -view.size(v), v)


class LCTask(LC):
    """Task-aware LC (§5.1): smallest ``sum_m p_hat[n, m] AoC_{n,v,m}``; same ties as LC."""

    name, code = "lc_task", 1

    def key(self, v: int, view: CacheView) -> tuple[Any, ...]:
        value = -view.mean_age(v) if self.order == "max_age" else view.task_aoc(v)
        return (value, view.last_use(v), -view.size(v), v)


class LRU(_KeyPolicy):
    """Least recently used (per request); ties: lower index."""

    name, code = "lru", 2

    def key(self, v: int, view: CacheView) -> tuple[Any, ...]:
        return (view.last_use(v), v)


class LFU(_KeyPolicy):
    """In-cache LFU: fewest uses; ties: least recently requested, lower index."""

    name, code = "lfu", 3

    def key(self, v: int, view: CacheView) -> tuple[Any, ...]:
        return (view.frequency(v), view.last_use(v), v)


class FIFO(_KeyPolicy):
    """First in, first out: earliest load; ties (initial placements): lower index."""

    name, code = "fifo", 4

    def key(self, v: int, view: CacheView) -> tuple[Any, ...]:
        return (view.load_time(v), v)


class RandomPolicy(Policy):
    """Uniform victim ``candidates[splitmix64() % len(candidates)]`` (seeded, same on every tier)."""

    name, code = "random", 5

    def __init__(self, state: int) -> None:
        self.state = state & _MASK

    def select_victim(self, candidates: list[int], view: CacheView) -> int:
        self.state, out = splitmix64(self.state)
        return candidates[out % len(candidates)]


class Belady(_KeyPolicy):
    """Offline reference: evict the model requested furthest in the future; ties: lower index."""

    name, code = "belady", 8

    def key(self, v: int, view: CacheView) -> tuple[Any, ...]:
        return (-view.next_use(v), v)


class _NoEviction(LRU):
    """``cloud`` and ``static`` never load, so their victim rule is never asked."""


def builtin_policy(name: str, flags: dict[str, Any]) -> Policy:
    """The reference object of a built-in policy name."""
    if name == "lc":
        return LC(flags["lc_order"])
    if name == "lc_task":
        return LCTask(flags["lc_order"])
    if name == "random":
        return RandomPolicy(int(flags["rng_seed"]))
    p: Policy = {"lru": LRU, "lfu": LFU, "fifo": FIFO, "belady": Belady}.get(name, _NoEviction)()
    if name in ("cloud", "static"):
        p.name, p.code = name, POLICY_CODES[name]
    return p


class _Simulator:
    """State of the skeleton: residency, block reference counts, contexts, policy counters."""

    def __init__(self, inp: dict[str, Any], policy: Policy, flags: dict[str, Any]) -> None:
        self.inp, self.policy, self.flags = inp, policy, flags
        n, i, m = int(inp["n_servers"]), int(inp["n_models"]), int(inp["n_tasks"])
        self.model_size = inp["model_size"]
        self.blk_ptr, self.blk_idx, self.blk_size = inp["blk_ptr"], inp["blk_idx"], inp["blk_size"]
        self.nu_pow, self.prune_age = inp["nu_pow"], int(inp["prune_age"])
        self.relevance = inp["relevance"]
        self.prior = float(inp["lc_prior"])
        self.resident = np.zeros((n, i), dtype=bool)
        self.refcount = np.zeros((n, self.blk_size.shape[0]), dtype=np.int64)
        self.used = [0.0] * n
        self.count = [0] * n
        self.ctx: list[list[deque[tuple[int, int, float]]]] = [[deque() for _ in range(i)] for _ in range(n)]
        self.prior_slot = np.full((n, i), -1, dtype=np.int64)  # -1: no prior term
        self.last_use = np.full((n, i), -1, dtype=np.int64)
        self.freq = np.zeros((n, i), dtype=np.int64)
        self.load_time = np.full((n, i), -1, dtype=np.int64)
        self.load_slot = np.full((n, i), -1, dtype=np.int64)
        self.last_slot = np.full((n, i), -1, dtype=np.int64)  # slot of the last use (pinning)
        self.next_use = np.full((n, i), int(inp["slot"].shape[0]), dtype=np.int64)
        self.share = np.zeros((n, m))  # EWMA task shares p_hat[n, m]
        self.view = CacheView(self)
        init = inp["initial"]
        for s in range(n):
            for mdl in range(i):
                if init[s, mdl]:
                    self._add(s, mdl)
                    self.resident[s, mdl] = True
                    self.count[s] += 1
        for s in range(n):  # an initial placement is exact: the union as one ascending sum
            self.used[s] = self._union_bytes(s)

    # ---------------------------------------------------------------- memory
    def _blocks(self, model: int) -> np.ndarray:
        return self.blk_idx[self.blk_ptr[model]:self.blk_ptr[model + 1]]

    def _union_bytes(self, s: int) -> float:
        total = 0.0
        for b in range(self.blk_size.shape[0]):
            if self.refcount[s, b] > 0:
                total += float(self.blk_size[b])
        return total

    def missing_bytes(self, s: int, model: int) -> float:
        total = 0.0
        for b in self._blocks(model).tolist():
            if self.refcount[s, b] == 0:
                total += float(self.blk_size[b])
        return total

    def _add(self, s: int, model: int) -> None:
        for b in self._blocks(model).tolist():
            if self.refcount[s, b] == 0:
                self.used[s] += float(self.blk_size[b])
            self.refcount[s, b] += 1

    def _remove(self, s: int, model: int) -> None:
        for b in self._blocks(model).tolist():
            self.refcount[s, b] -= 1
            if self.refcount[s, b] == 0:
                self.used[s] -= float(self.blk_size[b])

    # ---------------------------------------------------------------- context
    def _prune(self, s: int, model: int, t: int) -> None:
        q = self.ctx[s][model]
        while q and t - q[0][0] >= self.prune_age:
            q.popleft()
        if self.prior_slot[s, model] >= 0 and t - self.prior_slot[s, model] >= self.prune_age:
            self.prior_slot[s, model] = -1

    def aoc(self, s: int, model: int, t: int) -> float:
        self._prune(s, model, t)
        total = 0.0
        for tau, _, rho in self.ctx[s][model]:
            total += rho * float(self.nu_pow[t - tau])
        if self.prior_slot[s, model] >= 0:
            total += self.prior * float(self.nu_pow[t - int(self.prior_slot[s, model])])
        return total

    def task_aoc(self, s: int, model: int, task: int, t: int) -> float:
        """The task-specific AoC, the examples a request can use (spec §3.4): the lc_prior is no
        example, it only ranks LC's victims (aoc, task_weighted_aoc, mean_age)."""
        self._prune(s, model, t)
        total = 0.0
        for tau, m_e, rho in self.ctx[s][model]:
            total += rho * float(self.relevance[m_e, task]) * float(self.nu_pow[t - tau])
        return total

    def task_weighted_aoc(self, s: int, model: int, t: int) -> float:
        self._prune(s, model, t)
        share = self.share[s]
        n_tasks = share.shape[0]
        total = 0.0
        for tau, m_e, rho in self.ctx[s][model]:
            u = 0.0
            for m in range(n_tasks):
                u += float(share[m]) * float(self.relevance[m_e, m])
            total += rho * u * float(self.nu_pow[t - tau])
        if self.prior_slot[s, model] >= 0:
            u = 0.0
            for m in range(n_tasks):
                u += float(share[m])
            total += self.prior * u * float(self.nu_pow[t - int(self.prior_slot[s, model])])
        return total

    def mean_age(self, s: int, model: int, t: int) -> float:
        self._prune(s, model, t)
        num = den = 0.0
        for tau, _, rho in self.ctx[s][model]:
            num += rho * float(t - tau)
            den += rho
        if self.prior_slot[s, model] >= 0 and self.prior > 0.0:
            num += self.prior * float(t - int(self.prior_slot[s, model]))
            den += self.prior
        return num / den if den > 0.0 else math.inf

    def append_example(self, s: int, model: int, t: int, task: int, rho: float) -> None:
        q = self.ctx[s][model]
        q.append((t, task, rho))
        while len(q) > int(self.inp["window"][model]):
            q.popleft()

    # ---------------------------------------------------------------- costs
    def edge(self, s: int, j: int, r: int, k_avail: float, sub: bool) -> tuple[float, float, float, float]:
        """(latency, accuracy, energy cost, tokens) of serving request r on edge model j."""
        inp = self.inp
        k = min(k_avail, float(inp["window"][j]))
        tokens = float(inp["tok_in"][r]) + float(math.ceil(k)) * float(inp["ell_ex"]) + float(inp["tok_out"][r])
        lat = float(inp["access"][s]) + float(inp["phi"][j]) * tokens / float(inp["edge_flops"][s])
        a0, amax = float(inp["a0"][j]), float(inp["amax"][j])
        if int(inp["curve"]) == 0:
            acc = amax - (amax - a0) * math.exp(-float(inp["kappa"][j]) * k)
        else:
            acc = min(amax, a0 + float(inp["log_beta"]) * math.log1p(k))
        if sub:
            acc = acc * float(inp["eta_sub"])
        energy = float(inp["w_E"]) * float(inp["energy_per_flop"]) * float(inp["phi"][j]) * tokens
        return lat, acc, energy, tokens

    def total(self, lat: float, acc: float, sw_bytes: float, cloud: float, energy: float) -> tuple[float, ...]:
        inp = self.inp
        c = (float(inp["w_L"]) * lat, float(inp["w_A"]) * (1.0 - acc), float(inp["w_S"]) * sw_bytes, cloud, energy)
        return c[0] + c[1] + c[2] + c[3] + c[4], *c

    # ---------------------------------------------------------------- eviction
    def protected(self, s: int, v: int, t: int) -> bool:
        g = int(self.flags["lc_grace_slots"])
        if g > 0 and self.policy.code in (0, 1) and t - int(self.load_slot[s, v]) < g:
            return True
        return bool(self.flags["pin_models_used_this_slot"]) and int(self.last_slot[s, v]) == t

    def make_room(self, s: int, model: int, t: int, r: int) -> list[int]:
        """Load ``model`` on ``s``, evicting victims in policy order until it fits; the victims.

        With ``make_room="frees_first"`` (the default) each victim is the first in the policy's
        order whose eviction frees some bytes now (a block no other resident model nor ``model``
        holds), the policy's first choice if none does; ``"policy_order"`` always takes the first.
        """
        cap = float(self.inp["cap"][s])
        frees_first = self.flags.get("make_room", "frees_first") == "frees_first"
        self._add(s, model)  # its resident blocks are then held twice: evicting a sharer never frees them
        victims: list[int] = []
        view = self.view
        view.server, view.slot, view.request = s, t, r
        for rnd in (0, 1):
            if self.used[s] <= cap:
                break
            cand = [v for v in np.flatnonzero(self.resident[s]).tolist()
                    if v != model and self.protected(s, v, t) == bool(rnd)]
            while cand and self.used[s] > cap:
                v = self._choose(cand, view)
                if frees_first and not self.frees(s, v):
                    # walk the policy's order (its choices among the rest) for a victim that frees
                    # something now; none does: the first choice, so the loop always progresses
                    rest = [c for c in cand if c != v]
                    while rest:
                        w = self._choose(rest, view)
                        if self.frees(s, w):
                            v = w
                            break
                        rest.remove(w)
                cand.remove(v)
                victims.append(v)
                self.evict(s, v)
        if self.count[s] == 0:
            self.used[s] = float(self.model_size[model])  # alone on the server: exact, no drift
        self.resident[s, model] = True
        self.count[s] += 1
        return victims

    def _choose(self, cand: list[int], view: CacheView) -> int:
        v = int(self.policy.select_victim(list(cand), view))
        if v not in cand:
            raise ValueError(f"policy {self.policy.name!r} chose {v}, not a candidate {cand}")
        return v

    def frees(self, s: int, v: int) -> bool:
        """Evicting resident ``v`` now frees some bytes: one of its blocks has no other holder."""
        return any(self.refcount[s, b] == 1 and float(self.blk_size[b]) > 0.0 for b in self._blocks(v).tolist())

    def evict(self, s: int, v: int) -> None:
        self._remove(s, v)
        self.resident[s, v] = False
        self.count[s] -= 1
        if not self.inp["persist"]:
            self.ctx[s][v].clear()
        self.prior_slot[s, v] = -1  # the prior belongs to one load
        if self.flags["lfu_reset_on_evict"]:
            self.freq[s, v] = 0


def online_simulate(inp: dict[str, Any], policy: str | Policy, flags: dict[str, Any]) -> dict[str, np.ndarray]:
    """Replay the trace through the §5.0 skeleton with one victim rule; per-request decisions and costs.

    Parameters
    ----------
    inp : dict
        Canonical arrays and scalars built by :meth:`trimcore.online.CachingProblem.kernel_inputs`.
    policy : str or Policy
        A built-in name (:data:`POLICY_CODES`) or a :class:`Policy` object.
    flags : dict
        ``greedy_admission``, ``allow_substitution``, ``lc_grace_slots``, ``lc_order``,
        ``lfu_reset_on_evict``, ``pin_models_used_this_slot``, ``task_ewma``, ``admission_horizon``,
        ``make_room`` (``"frees_first"`` or ``"policy_order"``), ``rng_seed``; optional ``outputs``
        (``"all"``, the default, or ``"decisions"``).

    Returns
    -------
    dict
        ``outcome`` int8[R], ``served_by`` int64[R], ``accuracy``, ``latency``, ``aoc``,
        ``loaded_bytes``, ``memory_used`` float64[R], ``costs`` float64[R, 5] (latency, accuracy
        loss, switching, cloud, energy), ``cost`` float64[R], ``evict_ptr`` int64[R + 1],
        ``evicted`` int64[E]. With ``outputs="decisions"``: only ``outcome``, ``served_by``,
        ``evict_ptr``, ``evicted``, plus ``totals`` float64[9] (sums over the requests, rows
        :data:`TOTALS`) and ``peak_memory`` float64[N] (the largest ``memory_used`` per server).
    """
    pol = builtin_policy(policy, flags) if isinstance(policy, str) else policy
    code = pol.code
    sim = _Simulator(inp, pol, flags)
    slot, server, model, task = inp["slot"], inp["server"], inp["model"], inp["task"]
    model_tasks, model_size, cap = inp["model_tasks"], inp["model_size"], inp["cap"]
    n_req = slot.shape[0]
    outcome = np.zeros(n_req, dtype=np.int8)
    served_by = np.full(n_req, -1, dtype=np.int64)
    accuracy, latency, aoc = np.zeros(n_req), np.zeros(n_req), np.zeros(n_req)
    loaded, memory_used, cost = np.zeros(n_req), np.zeros(n_req), np.zeros(n_req)
    costs = np.zeros((n_req, 5))
    evict_ptr = np.zeros(n_req + 1, dtype=np.int64)
    evicted: list[int] = []
    greedy, allow_sub = bool(flags["greedy_admission"]), bool(flags["allow_substitution"])
    alpha, task_aware = float(flags["task_ewma"]), code == 1
    rho_sub, load_bw = float(inp["rho_sub"]), float(inp["load_bw"])
    can_load = code not in (6, 7)
    horizon = float(flags["admission_horizon"])
    for r in range(n_req):
        t, s, i, m = int(slot[r]), int(server[r]), int(model[r]), int(task[r])
        sim.next_use[s, i] = int(inp["next_use"][r])
        if task_aware:
            share = sim.share[s]
            for mm in range(share.shape[0]):
                share[mm] = share[mm] * (1.0 - alpha)
            share[m] = share[m] + alpha
        kind, j, sw = CLOUD, -1, 0.0
        if code != 6 and sim.resident[s, i]:
            kind, j = HIT, i
            k = sim.task_aoc(s, i, m, t)
            lat, acc, energy, _ = sim.edge(s, i, r, k, False)
            tot = sim.total(lat, acc, 0.0, 0.0, energy)
            a = sim.aoc(s, i, t)
        else:
            i0 = float(inp["tok_in"][r]) + float(inp["tok_out"][r])
            c_lat = float(inp["access"][s]) + float(inp["cloud_lat"]) + float(inp["phi"][i]) * i0 / float(
                inp["cloud_flops"])
            c_acc = float(inp["a0"][i])
            best = sim.total(c_lat, c_acc, 0.0, float(inp["w_C"]) * float(inp["cloud_price"][i]), 0.0)
            best_lat, best_acc, best_a = c_lat, c_acc, 0.0
            load_fits = can_load and float(model_size[i]) <= float(cap[s])
            load_opt = None
            if load_fits:
                sw = sim.missing_bytes(s, i)
                # the context it will have once loaded: what persisted (empty unless persist)
                k_load = sim.task_aoc(s, i, m, t)
                lat, acc, energy, _ = sim.edge(s, i, r, k_load, False)
                # admission compares the one-off load costs spread over admission_horizon requests
                onetime = float(inp["w_S"]) * sw + float(inp["w_L"]) * (sw / load_bw)
                cmp = float(inp["w_L"]) * lat + float(inp["w_A"]) * (1.0 - acc) + energy + onetime / horizon
                lat = lat + sw / load_bw
                load_opt = (sim.total(lat, acc, sw, 0.0, energy), lat, acc, cmp)
            if greedy and load_opt is not None:
                kind, j = LOAD, i
                best, best_lat, best_acc = load_opt[:3]
            else:
                sub_best = None
                if allow_sub and code != 6:
                    for jj in np.flatnonzero(sim.resident[s]).tolist():  # ascending: ties to the lower index
                        if not model_tasks[jj, m]:
                            continue
                        k = sim.task_aoc(s, jj, m, t)
                        lat, acc, energy, _ = sim.edge(s, jj, r, k, True)
                        tot_j = sim.total(lat, acc, 0.0, 0.0, energy)
                        if sub_best is None or tot_j[0] < sub_best[0][0]:
                            sub_best = (tot_j, lat, acc, jj)
                if sub_best is not None:
                    tot_s, lat_s, acc_s, js = sub_best
                    if tot_s[0] <= best[0] and (load_opt is None or tot_s[0] <= load_opt[3]):
                        kind, j, best, best_lat, best_acc = SUBSTITUTE, js, tot_s, lat_s, acc_s
                        best_a = sim.aoc(s, js, t)
                if kind == CLOUD and load_opt is not None and load_opt[3] <= best[0]:
                    kind, j = LOAD, i
                    best, best_lat, best_acc = load_opt[:3]
            tot, lat, acc = best, best_lat, best_acc
            if kind != LOAD:
                sw = 0.0
            a = best_a
            if kind == LOAD:
                victims = sim.make_room(s, i, t, r)
                evicted.extend(victims)
                sim.prior_slot[s, i] = t if float(inp["lc_prior"]) > 0.0 else -1
                sim.load_time[s, i], sim.load_slot[s, i] = r, t
                sim.freq[s, i] = 1 if flags["lfu_reset_on_evict"] else sim.freq[s, i] + 1
                a = sim.aoc(s, i, t)
        evict_ptr[r + 1] = len(evicted)
        outcome[r], served_by[r] = kind, j
        accuracy[r], latency[r], aoc[r], loaded[r] = acc, lat, a, sw
        cost[r] = tot[0]
        costs[r] = tot[1:]
        if kind != CLOUD:
            sim.append_example(s, j, t, m, 1.0 if j == i else rho_sub)
            sim.last_use[s, j], sim.last_slot[s, j] = r, t
            if kind != LOAD:
                sim.freq[s, j] += 1
        memory_used[r] = sim.used[s]
    full = {"outcome": outcome, "served_by": served_by, "accuracy": accuracy, "latency": latency, "aoc": aoc,
            "loaded_bytes": loaded, "memory_used": memory_used, "costs": costs, "cost": cost,
            "evict_ptr": evict_ptr, "evicted": np.asarray(evicted, dtype=np.int64)}
    if flags.get("outputs", "all") == "decisions":
        return decisions_only(full, server, int(inp["n_servers"]))
    return full


def _neumaier(values: Any) -> float:
    """Compensated sum in order (the C++ ``NeumaierSum``: same operations, same order)."""
    total = comp = 0.0
    for x in values:
        x = float(x)
        t = total + x
        comp += (total - t) + x if abs(total) >= abs(x) else (x - t) + total
        total = t
    return total + comp


#: Rows of the ``totals`` output of ``outputs="decisions"`` (the C++ ``TotalIndex``).
TOTALS: tuple[str, ...] = ("cost", "latency_cost", "accuracy_cost", "switching_cost", "cloud_cost", "energy_cost",
                           "accuracy", "latency", "loaded_bytes")


def decisions_only(full: dict[str, np.ndarray], server: np.ndarray, n_servers: int) -> dict[str, np.ndarray]:
    """The ``outputs="decisions"`` form of a full kernel output: the decisions, the sums over the
    requests (:data:`TOTALS`, compensated, in request order) and the per-server peak memory."""
    totals = [_neumaier(full["cost"].tolist())]
    totals += [_neumaier(full["costs"][:, c].tolist()) for c in range(5)]
    totals += [_neumaier(full[k].tolist()) for k in ("accuracy", "latency", "loaded_bytes")]
    peak = np.zeros(n_servers)
    if server.shape[0]:
        np.maximum.at(peak, server, full["memory_used"])
    return {"outcome": full["outcome"], "served_by": full["served_by"], "evict_ptr": full["evict_ptr"],
            "evicted": full["evicted"], "totals": np.asarray(totals), "peak_memory": peak}


def evaluate_decisions(inp: dict[str, Any], outcome: np.ndarray, served_by: np.ndarray, evict_ptr: np.ndarray,
                       evicted: np.ndarray) -> dict[str, Any]:
    """Score given per-request decisions with the cost model (the problem's evaluator).

    Replays the trace applying the decisions instead of choosing them: the context dynamics and
    costs are those of :func:`online_simulate`, and every decision is checked (a hit needs the
    model resident, a substitute a resident model that can do the task, a load a model that fits
    after its evictions, which must be resident; no eviction otherwise).

    Returns
    -------
    dict
        ``feasible`` (bool), ``reason`` (first violation or ``"ok"``), ``cost`` and ``costs``
        per request (as :func:`online_simulate`), ``memory_used``.
    """
    flags = {"lc_grace_slots": 0, "pin_models_used_this_slot": False, "lfu_reset_on_evict": True}
    sim = _Simulator(inp, LRU(), flags)
    slot, server, model, task = inp["slot"], inp["server"], inp["model"], inp["task"]
    n_req = slot.shape[0]
    cost, costs, memory_used = np.zeros(n_req), np.zeros((n_req, 5)), np.zeros(n_req)
    rho_sub, load_bw = float(inp["rho_sub"]), float(inp["load_bw"])

    def bad(r: int, why: str) -> dict[str, Any]:
        return {"feasible": False, "reason": f"request {r}: {why}", "cost": cost, "costs": costs,
                "memory_used": memory_used}

    for r in range(n_req):
        t, s, i, m = int(slot[r]), int(server[r]), int(model[r]), int(task[r])
        kind, j = int(outcome[r]), int(served_by[r])
        victims = [int(v) for v in evicted[evict_ptr[r]:evict_ptr[r + 1]]]
        if kind != LOAD and victims:
            return bad(r, "evictions without a load")
        if kind == HIT:
            if j != i or not sim.resident[s, i]:
                return bad(r, "a hit on a model that is not resident")
            lat, acc, energy, _ = sim.edge(s, i, r, sim.task_aoc(s, i, m, t), False)
            tot = sim.total(lat, acc, 0.0, 0.0, energy)
        elif kind == SUBSTITUTE:
            if j == i or not (0 <= j < sim.resident.shape[1]) or not sim.resident[s, j] or \
                    sim.resident[s, i] or not inp["model_tasks"][j, m]:
                return bad(r, "a substitute that is not a resident model of the request's task")
            lat, acc, energy, _ = sim.edge(s, j, r, sim.task_aoc(s, j, m, t), True)
            tot = sim.total(lat, acc, 0.0, 0.0, energy)
        elif kind == LOAD:
            if j != i or sim.resident[s, i]:
                return bad(r, "a load of a model that is resident or not requested")
            sw = sim.missing_bytes(s, i)
            lat, acc, energy, _ = sim.edge(s, i, r, sim.task_aoc(s, i, m, t), False)
            lat = lat + sw / load_bw
            tot = sim.total(lat, acc, sw, 0.0, energy)
            sim._add(s, i)
            for v in victims:
                if not sim.resident[s, v] or v == i:
                    return bad(r, f"evicts model {v}, which is not resident")
                sim.evict(s, v)
            if sim.count[s] == 0:
                sim.used[s] = float(inp["model_size"][i])
            if sim.used[s] > float(inp["cap"][s]):
                return bad(r, "the loaded model does not fit after its evictions")
            sim.resident[s, i] = True
            sim.count[s] += 1
            sim.prior_slot[s, i] = t if float(inp["lc_prior"]) > 0.0 else -1
        elif kind == CLOUD:
            if j != -1:
                return bad(r, "a cloud request with a serving model")
            i0 = float(inp["tok_in"][r]) + float(inp["tok_out"][r])
            lat = float(inp["access"][s]) + float(inp["cloud_lat"]) + float(inp["phi"][i]) * i0 / float(
                inp["cloud_flops"])
            tot = sim.total(lat, float(inp["a0"][i]), 0.0, float(inp["w_C"]) * float(inp["cloud_price"][i]), 0.0)
        else:
            return bad(r, f"unknown outcome {kind}")
        cost[r], costs[r] = tot[0], tot[1:]
        if kind != CLOUD:
            sim.append_example(s, j, t, m, 1.0 if j == i else rho_sub)
        memory_used[r] = sim.used[s]
    return {"feasible": True, "reason": "ok", "cost": cost, "costs": costs, "memory_used": memory_used}


KERNELS = {"simulate": online_simulate}
