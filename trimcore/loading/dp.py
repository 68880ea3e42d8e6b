"""Dynamic programs: DP-PL for tree (backbone) sharing (spec §5.3) and DP-EDF (spec §5.5).

DP-PL rests on the grouping lemma: with laminar sharing (A1) and a common deadline (A2) some
optimal order visits the sharing tree depth-first, so serving a set S costs the makespan
``M(S) = sum_{nodes used} D_v / R_L + sum_{k in S} t_k``. The DP therefore indexes every tree
node by the *number of users served* below it and stores the least makespan (min-plus merges of
the children, the hot kernel ``loading_minplus``), takes the largest count within the deadline,
back-tracks, orders depth-first and allocates ``beta`` (decoupling theorem). When the bandwidth
condition binds it repairs by excluding the user with the largest ``beta`` and re-running the DP.
"""

from __future__ import annotations

import time

import numpy as np

from trimcore._validate import integer
from trimcore.errors import invalid
from trimcore.kernels import kernel
from trimcore.kernels.loading.reference import edf_code_dtype, edf_runs
from trimcore.loading.problem import (
    DEADLINE_ATOL,
    DEADLINE_RTOL,
    SPREADS,
    Evaluation,
    LoadingProblem,
)
from trimcore.loading.result import LoadingResult, loading_backend, make_result
from trimcore.loading.tree import SharingTree
from trimcore.result import Status

__all__ = ["partialloading_dp", "partialloading_dp_edf", "REPAIRS", "DEADLINE_POLICIES", "DP_METHODS", "EDF_METHODS",
           "EDF_RECORD_BUDGET"]

#: ``repair`` options: re-run the DP without the dropped user (spec §10 #9 default) or only drop it.
REPAIRS = ("rerun", "drop")
#: ``deadline`` options of :func:`partialloading_dp`.
DEADLINE_POLICIES = ("common", "min")
#: ``method`` options of :func:`partialloading_dp`: depth-first pass (default) or the spec's merges.
DP_METHODS = ("preorder", "merge")
#: ``method`` options of :func:`partialloading_dp_edf`: one step per run of users (default) or per user.
EDF_METHODS = ("runs", "users")
#: Default ``record_budget`` of :func:`partialloading_dp_edf`: bytes of back-pointer records before checkpointing.
EDF_RECORD_BUDGET = 512 * 2**20


def _check_options(spread: str, repair: str) -> None:
    if not isinstance(spread, str) or spread not in SPREADS:
        raise invalid("spread", f"one of {SPREADS}", spread)
    if not isinstance(repair, str) or repair not in REPAIRS:
        raise invalid("repair", f"one of {REPAIRS}", repair)


def repair_victim(ev: Evaluation, problem: LoadingProblem) -> int:
    """The user to drop from an infeasible order (spec §5.3 step 9).

    The largest ``beta`` (lowest user index on ties) when the bandwidth or an upload fails;
    otherwise the first position that breaks the GPU chain, or the first late task.
    """
    order = ev.order
    if ev.reason in ("bandwidth", "upload"):
        beta = ev.min_bandwidth[order]
        top = order[beta == beta.max()]
        return int(top.min())
    if ev.reason == "memory":
        return int(order[np.flatnonzero(~problem.fits_memory[order])[0]])
    if ev.reason == "deadline":
        return int(order[np.flatnonzero(ev.gpu_finish > problem.deadline_limit[order])[0]])
    return int(order[np.flatnonzero(~ev.on_time)[0]])


# ---------------------------------------------------------------------------------------- DP-PL
class _TreeDP:
    """Tables of DP-PL on a sharing tree, recomputed only along the paths that change."""

    def __init__(self, problem: LoadingProblem, tree: SharingTree, cap: float, backend: str) -> None:
        self.problem = problem
        self.tree = tree
        self.cap = cap
        self.minplus = kernel("loading.minplus", backend)
        cost = np.asarray(tree.node_bytes) / problem.load_rate
        cost[tree.root] = 0.0
        self.chain: list[int] = tree.path(problem.initial_model) if problem.initial_model >= 0 else []
        cost[self.chain] = 0.0
        self.cost = cost
        k = problem.n_users
        # step 1: users of every model by (t_inf, upload demand, index)
        key = np.lexsort((np.arange(k), problem.upload_demand, problem.infer_time, problem.user_model))
        models = problem.user_model[key]
        bounds = np.searchsorted(models, np.arange(problem.n_models + 1))
        self.users_of = [key[bounds[i]:bounds[i + 1]] for i in range(problem.n_models)]
        self.allowed = np.zeros(k, dtype=bool)
        self.table: dict[int, np.ndarray] = {}
        self.choices: dict[int, list[tuple[int, np.ndarray]]] = {}
        self.leaf_users: dict[int, np.ndarray] = {}
        self.dirty = set(tree.postorder.tolist())

    def set_allowed(self, allowed: np.ndarray) -> None:
        changed = np.flatnonzero(allowed != self.allowed)
        for m in np.unique(self.problem.user_model[changed]).tolist():
            self.dirty.update(self.tree.path(m))
        self.allowed = allowed.copy()

    def _truncate(self, values: np.ndarray) -> np.ndarray:
        return values[:int(np.searchsorted(values, self.cap, side="right"))]

    def solve(self) -> dict[int, np.ndarray]:
        """Recompute the dirty tables; return the users served by the best count, per leaf."""
        tree = self.tree
        t = self.problem.infer_time
        for v in tree.postorder.tolist():
            if v not in self.dirty:
                continue
            model = int(tree.leaf_model[v])
            if model >= 0:  # step 2: leaf g(m) = P(m) (the leaf itself has size 0)
                users = self.users_of[model]
                users = users[self.allowed[users]]
                self.leaf_users[v] = users
                self.table[v] = self._truncate(np.concatenate(([0.0], np.cumsum(t[users]))))
                continue
            h = np.zeros(1)  # step 3: merge the children by number of served users
            picks: list[tuple[int, np.ndarray]] = []
            for c in tree.children_of(v).tolist():
                hc = self.table[c]
                if hc.shape[0] > 1:
                    h, choice = self.minplus(h, hc, self.cap)
                    picks.append((c, choice))
            out = h.copy()
            out[1:] = self.cost[v] + h[1:]
            self.table[v] = self._truncate(out)
            self.choices[v] = picks
        self.dirty.clear()
        return self._backtrack(self.table[tree.root].shape[0] - 1)

    def _backtrack(self, n_best: int) -> dict[int, np.ndarray]:
        """Step 5: hand the best count down the tree; every leaf serves its first users."""
        served: dict[int, np.ndarray] = {}
        stack = [(self.tree.root, n_best)]
        while stack:
            v, n = stack.pop()
            if n == 0:
                continue
            if self.tree.leaf_model[v] >= 0:
                served[v] = self.leaf_users[v][:n]
                continue
            for c, choice in reversed(self.choices[v]):
                m = int(choice[n])
                if m:
                    stack.append((c, m))
                n -= m
            if n != 0:  # pragma: no cover - guarded by the table construction
                raise AssertionError("DP back-tracking lost users")
        return served

    def order(self, served: dict[int, np.ndarray]) -> np.ndarray:
        """Step 6: depth-first order; the initial model's path first, then siblings by mean upload demand."""
        demand = self.problem.upload_demand
        tree = self.tree
        chain = set(self.chain)
        memo: dict[int, tuple[list[int], float]] = {}
        for v in tree.postorder.tolist():
            if tree.leaf_model[v] >= 0:
                users = served.get(v)
                if users is None or users.size == 0:
                    continue
                seq = users[np.lexsort((users, demand[users]))].tolist()
                memo[v] = (seq, float(demand[users].sum()))
                continue
            parts = [(c, *memo[c]) for c in tree.children_of(v).tolist() if c in memo]
            if not parts:
                continue
            parts.sort(key=lambda p: (0 if p[0] in chain else 1, p[2] / len(p[1]), p[0]))
            memo[v] = ([u for p in parts for u in p[1]], sum(p[2] for p in parts))
        seq = memo.get(tree.root, ([], 0.0))[0]
        return np.asarray(seq, dtype=np.int64)


class _PreorderDP(_TreeDP):
    """DP-PL in depth-first order (kernel ``loading.tree_dp``): linear merges, issue #15.

    Same leaves, users and ordering as :class:`_TreeDP`; the tables are those of
    :func:`trimcore.kernels.loading.reference.loading_tree_dp`, whose optimum is the same count
    (the same makespan in exact arithmetic) with its own tie rule. Every solve runs the whole
    DP again: it is linear in the tree size times the number served.
    """

    def __init__(self, problem: LoadingProblem, tree: SharingTree, cap: float, backend: str) -> None:
        super().__init__(problem, tree, cap, backend)
        self.tree_dp = kernel("loading.tree_dp", backend)
        pre: list[int] = []
        stack = [tree.root]
        while stack:  # preorder, children ascending
            v = stack.pop()
            pre.append(v)
            stack.extend(reversed(tree.children_of(v).tolist()))
        self.pre = np.asarray(pre, dtype=np.int64)
        pos = np.empty(tree.n_nodes, dtype=np.int64)
        pos[self.pre] = np.arange(self.pre.shape[0])
        size = np.ones(tree.n_nodes, dtype=np.int64)
        for v in tree.postorder.tolist():
            if tree.parent[v] >= 0:
                size[tree.parent[v]] += size[v]
        self.end = pos[self.pre] + size[self.pre]
        self.pre_cost = self.cost[self.pre]

    def solve(self) -> dict[int, np.ndarray]:
        t = self.problem.infer_time
        leaf_users: dict[int, np.ndarray] = {}
        tables = []
        lengths = np.zeros(self.pre.shape[0], dtype=np.int64)
        for p, v in enumerate(self.pre.tolist()):
            model = int(self.tree.leaf_model[v])
            if model < 0:
                continue
            users = self.users_of[model]
            users = users[self.allowed[users]]
            leaf_users[v] = users
            tables.append(np.concatenate(([0.0], np.cumsum(t[users]))))
            lengths[p] = users.shape[0] + 1
        leaf_ptr = np.concatenate(([0], np.cumsum(lengths)))
        prefix = np.concatenate(tables) if tables else np.zeros(0)
        times = np.sort(t[self.allowed])
        n_cap = int(np.searchsorted(np.cumsum(times), self.cap, side="right"))
        counts = self.tree_dp(self.pre_cost, self.end, leaf_ptr, prefix, self.cap, n_cap)
        self.leaf_users = leaf_users
        return {int(self.pre[p]): leaf_users[int(self.pre[p])][:int(counts[p])]
                for p in np.flatnonzero(counts).tolist()}


def partialloading_dp(
    problem: LoadingProblem,
    *,
    deadline: str = "common",
    repair: str = "rerun",
    spread: str = "proportional",
    method: str = "preorder",
    backend: str = "auto",
) -> LoadingResult:
    """DP-PL: optimal scheduling for backbone / tree sharing with a common deadline (spec §5.3).

    Parameters
    ----------
    problem : LoadingProblem
    deadline : {"common", "min"}
        ``"common"`` requires one deadline for all users (assumption A2); ``"min"`` runs the DP
        with ``T = min_k T_k`` over the schedulable users (conservative, spec §5.3).
    repair : {"rerun", "drop"}
        When the bandwidth condition (b) fails: exclude the user with the largest ``beta`` and
        re-run the DP (default, spec §10 #9), or only drop it and re-order (spec §5.3 step 9).
    spread : {"proportional", "equal", "none"}
        Leftover bandwidth rule (see :meth:`LoadingProblem.evaluate`).
    method : {"preorder", "merge"}
        ``"preorder"`` (default, issue #15): one pass over the tree in depth-first order whose
        only merges are of a table with a leaf's convex prefix sums, found in O(n log n)
        (kernel ``loading.tree_dp``); ``"merge"``: the spec's bottom-up min-plus merges of
        children tables (§5.3 step 3, kernel ``loading.minplus``, quadratic in the number
        served). Both find the same optimal count; on exact ties they may serve other users.
    backend : {"auto", "numba", "reference"}
        Tier of the DP tables (identical decisions on every tier).

    Returns
    -------
    LoadingResult
        ``status="optimal"`` when no repair was needed and the deadline is common (the DP value
        is then the optimum of P0); ``upper_bound`` is the DP value of the first run under a
        common deadline (P0 is at most the GPU-only optimum), else None. ``options`` records
        the deadline used, the DP value and the number of repairs.

    Raises
    ------
    InstanceError
        If the sharing is not laminar (A1, field ``model_blocks``) or the deadlines differ and
        ``deadline="common"`` (A2, field ``deadline``).
    """
    _check_options(spread, repair)
    if not isinstance(deadline, str) or deadline not in DEADLINE_POLICIES:
        raise invalid("deadline", f"one of {DEADLINE_POLICIES}", deadline)
    if not isinstance(method, str) or method not in DP_METHODS:
        raise invalid("method", f"one of {DP_METHODS}", method)
    backend = loading_backend(backend, "partialloading_dp",
                              ("loading.tree_dp",) if method == "preorder" else ("loading.minplus",))
    started = time.perf_counter()
    tree = problem.sharing_tree
    common = problem.common_deadline
    allowed = problem.schedulable.copy()
    if common is None:
        if deadline == "common":
            raise invalid("deadline", "one common deadline for every user (assumption A2 of partialloading_dp; "
                          "pass deadline='min' to use the smallest)",
                          f"deadlines from {problem.deadline.min():.6g} s to {problem.deadline.max():.6g} s")
        pool = problem.deadline[allowed] if allowed.any() else problem.deadline
        t_used = float(pool.min())
    else:
        t_used = common
    cap = t_used + (DEADLINE_ATOL + DEADLINE_RTOL * t_used)
    # users whose own inference cannot fit before the deadline used are never served
    allowed &= problem.infer_time <= cap
    dp = (_PreorderDP if method == "preorder" else _TreeDP)(problem, tree, cap, backend)
    dp.set_allowed(allowed)
    served = dp.solve()
    order = dp.order(served)
    dp_value = int(order.shape[0])
    repairs = 0
    while True:
        ev = problem.evaluate(order, spread=spread, backend=backend)
        if ev.feasible:
            break
        victim = repair_victim(ev, problem)
        repairs += 1
        if repair == "rerun":
            allowed[victim] = False
            dp.set_allowed(allowed)
            order = dp.order(dp.solve())
        else:
            leaf = int(tree.model_leaf[problem.user_model[victim]])
            served[leaf] = served[leaf][served[leaf] != victim]
            order = dp.order(served)
    options = {"deadline": deadline, "deadline_used": t_used, "repair": repair, "spread": spread,
               "method": method, "repairs": repairs, "dp_value": dp_value}
    status: Status = "optimal" if (common is not None and repairs == 0) else "feasible"
    bound = dp_value if common is not None else None
    return make_result(problem, order, "partialloading_dp", options, started, bandwidth=ev.bandwidth,
                       status=status, upper_bound=bound, backend=backend)


# ---------------------------------------------------------------------------------------- DP-EDF
def edf_order(problem: LoadingProblem, users: np.ndarray) -> np.ndarray:
    """``users`` sorted by deadline; ties by model, inference time, upload demand, index (INFERRED)."""
    users = np.asarray(users, dtype=np.int64)
    key = np.lexsort((users, problem.upload_demand[users], problem.infer_time[users], problem.user_model[users],
                      problem.deadline[users]))
    return users[key]


def _served_cap(problem: LoadingProblem, users: np.ndarray) -> int:
    """Upper bound on how many of ``users`` fit: the smallest inference times within the latest deadline."""
    if users.size == 0:
        return 0
    t = np.sort(problem.infer_time[users])
    return int(np.searchsorted(np.cumsum(t), problem.deadline_limit[users].max(), side="right"))


def _edf_segment(models: np.ndarray, infer: np.ndarray, limit: np.ndarray, switch: np.ndarray, start: int,
                 cap: int, budget: int) -> tuple[int, int]:
    """Runs per segment of ``loading_edf_runs_dp`` (0: one segment) and the number of segments.

    All records fit: one segment. Otherwise S ~ sqrt(R I 8 / itemsize) balances the checkpoints
    (``R / S`` tables of ``(cap + 1) I`` floats) against one segment's records, capped by the budget.
    """
    del start
    runs = edf_runs(models, infer, limit)
    n_runs = runs.shape[0] - 1
    if n_runs <= 1:
        return 0, 1
    n_states = switch.shape[0]
    item = np.dtype(edf_code_dtype(n_states, int(np.max(np.diff(runs))))).itemsize
    row = (cap + 1) * item
    if n_runs * row <= budget:
        return 0, 1
    size = int(np.sqrt(n_runs * n_states * 8.0 / item))
    size = max(1, min(size, budget // row, n_runs))
    return size, -(-n_runs // size)


def partialloading_dp_edf(
    problem: LoadingProblem,
    *,
    repair: str = "rerun",
    spread: str = "proportional",
    method: str = "runs",
    record_budget: int = EDF_RECORD_BUDGET,
    backend: str = "auto",
) -> LoadingResult:
    """DP-EDF: the best deadline-ordered schedule, any sharing and per-user deadlines (spec §5.5).

    Users are sorted by deadline (ties: model, inference time, upload demand, index). The DP
    ``f(k, n, i)`` keeps the earliest GPU finish after deciding the first ``k`` users with ``n``
    served and model ``i`` resident (kernel ``loading_edf_runs_dp``, one step per run of users with
    the same model and deadline, O(R K I) for R runs; ``method="users"``: ``loading_edf_dp``,
    O(K^2 I)); it is exact for the
    GPU-only problem among schedules that serve users in that order. The bandwidth condition is
    then checked and repaired as in DP-PL.

    Parameters
    ----------
    problem : LoadingProblem
    repair : {"rerun", "drop"}
    spread : {"proportional", "equal", "none"}
    method : {"runs", "users"}
        ``"runs"`` (default, issue #15): one DP step per run of users with the same model and
        deadline (kernel ``loading.edf_runs_dp``; with one common deadline at most one step per
        model, and a record table of runs x counts); ``"users"``: one step per user
        (``loading.edf_dp``, the spec's recurrence, a users x counts table). Both find the same
        number of users; on exact ties they may pick other users.
    record_budget : int, default 512 MiB
        Bytes the back-pointer records of ``method="runs"`` may take (runs x counts entries).
        Beyond it the DP keeps a checkpoint of its table every S runs and recomputes one segment
        at a time while back-tracking (twice the time, the same result); ``options["segments"]``
        says how many segments the largest call used (1: no checkpoints).
    backend : {"auto", "numba", "reference"}

    Returns
    -------
    LoadingResult
        Always feasible (the repair ends, at worst, with the empty order).
    """
    _check_options(spread, repair)
    if not isinstance(method, str) or method not in EDF_METHODS:
        raise invalid("method", f"one of {EDF_METHODS}", method)
    record_budget = integer("record_budget", record_budget, 1)
    name = "loading.edf_runs_dp" if method == "runs" else "loading.edf_dp"
    backend = loading_backend(backend, "partialloading_dp_edf", (name,))
    started = time.perf_counter()
    allowed = problem.schedulable.copy()
    switch = problem.switch_matrix(backend)
    dp = kernel(name, backend)
    limit = problem.deadline_limit
    repairs = 0
    segments = 1
    order = None
    while True:
        if order is None or repair == "rerun":
            users = edf_order(problem, np.flatnonzero(allowed))
            args = (problem.user_model[users], problem.infer_time[users], limit[users], switch,
                    problem.start_state(), _served_cap(problem, users))
            if method == "runs":
                segment = _edf_segment(*args, record_budget)
                segments = max(segments, segment[1])
                picked = dp(*args, segment[0])
            else:
                picked = dp(*args)
            order = users[picked]
        ev = problem.evaluate(order, spread=spread, backend=backend)
        if ev.feasible:
            break
        victim = repair_victim(ev, problem)
        repairs += 1
        allowed[victim] = False
        order = order[order != victim]
    options = {"repair": repair, "spread": spread, "method": method, "repairs": repairs}
    if method == "runs":
        options["record_budget"] = record_budget
        options["segments"] = segments
    return make_result(problem, order, "partialloading_dp_edf", options, started, bandwidth=ev.bandwidth,
                       backend=backend)
