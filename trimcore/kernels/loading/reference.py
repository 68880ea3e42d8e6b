"""Reference tier of the PartialLoading kernels: plain NumPy / Python, the oracle.

The Numba tier (:mod:`trimcore.kernels.loading.jit`) has the same names and signatures and performs
the same floating-point operations in the same order, so both tiers return identical decisions
(ties always go to the lowest index). The conventions shared by every kernel:

* Models are CSR rows ``indices[indptr[i]:indptr[i + 1]]`` (blocks ascending) of a
  :class:`~trimcore.instance.blocks.ModelLibrary`.
* The loading time of switching the GPU from model ``p`` (``-1``: empty GPU) to model ``q`` is
  ``0`` if ``p == q``, otherwise the bytes of the blocks of ``q`` that ``p`` lacks (all blocks of ``q``
  when ``full`` is true, the no-sharing model of spec eq. 2'), summed sequentially in ascending
  block order, divided by the loading rate (spec eq. 1).
* The no-stall GPU finish time accumulates as ``F = F + (lam + t)`` (spec §4).
* Deadlines are passed as ``limit = T + tolerance``: a task is on time iff its finish is ``<= limit``.
"""

from __future__ import annotations

import numpy as np

from trimcore._numeric import sequential_sum


def _missing_bytes(prev: int, q: int, full: bool, indptr: np.ndarray, indices: np.ndarray,
                   block_sizes: np.ndarray) -> float:
    blocks = indices[indptr[q]:indptr[q + 1]]
    if not full and prev >= 0:
        blocks = blocks[~np.isin(blocks, indices[indptr[prev]:indptr[prev + 1]])]
    return sequential_sum(block_sizes[blocks])


def loading_order_times(seq_models: np.ndarray, initial: int, full: bool, indptr: np.ndarray,
                        indices: np.ndarray, block_sizes: np.ndarray, load_rate: float) -> np.ndarray:
    """Loading time before every position of a service sequence (spec eq. 6), float64[N].

    Parameters
    ----------
    seq_models : ndarray of int64, shape (N,)
        Model served at each position.
    initial : int
        Model resident at t = 0, ``-1`` for an empty GPU.
    full : bool
        No-sharing loading (eq. 2'): a different model is always loaded in full.
    indptr, indices, block_sizes : ndarray
        CSR block membership and block sizes in bytes.
    load_rate : float
        Bytes per second.
    """
    out = np.zeros(seq_models.shape[0])
    prev = int(initial)
    for p, q in enumerate(seq_models.tolist()):
        if q != prev:
            out[p] = _missing_bytes(prev, q, full, indptr, indices, block_sizes) / load_rate
        prev = q
    return out


def loading_switch_row(prev: int, full: bool, indptr: np.ndarray, indices: np.ndarray,
                       block_sizes: np.ndarray, load_rate: float) -> np.ndarray:
    """Loading time from model ``prev`` (``-1``: empty) to every model, float64[I]."""
    n_models = indptr.shape[0] - 1
    out = np.zeros(n_models)
    for q in range(n_models):
        if q != prev:
            out[q] = _missing_bytes(int(prev), q, full, indptr, indices, block_sizes) / load_rate
    return out


def loading_switch_matrix(full: bool, indptr: np.ndarray, indices: np.ndarray, block_sizes: np.ndarray,
                          load_rate: float) -> np.ndarray:
    """All switching times, float64[I + 1, I]: row ``p < I`` from model ``p``, row ``I`` from empty."""
    n_models = indptr.shape[0] - 1
    out = np.zeros((n_models + 1, n_models))
    for p in range(n_models):
        out[p] = loading_switch_row(p, full, indptr, indices, block_sizes, load_rate)
    out[n_models] = loading_switch_row(-1, full, indptr, indices, block_sizes, load_rate)
    return out


def loading_simulate(lam: np.ndarray, upload: np.ndarray, infer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GPU timeline of spec eq. 7: ``S_n = max(F_{n-1} + lam_n, up_n)``, ``F_n = S_n + t_n``.

    Returns
    -------
    start, finish : ndarray of float64, shape (N,)
    """
    n = lam.shape[0]
    start = np.zeros(n)
    finish = np.zeros(n)
    f = 0.0
    for p in range(n):
        s = max(f + float(lam[p]), float(upload[p]))
        start[p] = s
        f = s + float(infer[p])
        finish[p] = f
    return start, finish


def loading_minplus(h_left: np.ndarray, h_right: np.ndarray, cap: float) -> tuple[np.ndarray, np.ndarray]:
    """Min-plus merge of two non-decreasing tables, truncated at ``cap`` (spec §5.3 step 3).

    ``out[n] = min_m h_left[n - m] + h_right[m]``; ``choice[n]`` is the minimising ``m`` (the
    smallest one on ties). Both inputs start with 0 at n = 0 and are non-decreasing, so the
    output is too and it is cut before its first entry above ``cap``.

    Returns
    -------
    out : ndarray of float64
    choice : ndarray of int64, same length
    """
    a, b = h_left.shape[0], h_right.shape[0]
    out = np.zeros(a + b - 1)
    choice = np.zeros(a + b - 1, dtype=np.int64)
    length = 0
    for n in range(a + b - 1):
        ms = np.arange(max(0, n - a + 1), min(n, b - 1) + 1)
        vals = h_left[n - ms] + h_right[ms]
        j = int(np.argmin(vals))
        if vals[j] > cap:
            break
        out[n] = vals[j]
        choice[n] = ms[j]
        length = n + 1
    return out[:length].copy(), choice[:length].copy()


def _monotone_minplus(x: np.ndarray, prefix: np.ndarray, rows: int, out: np.ndarray, arg: np.ndarray) -> None:
    """``out[n] = min_j x[j] + prefix[n - j]`` for ``n < rows`` by divide and conquer on the argmin.

    ``j`` runs over ``max(0, n - K) <= j <= min(n, len(x) - 1)`` (``K = len(prefix) - 1``); ``arg[n]``
    is the largest minimising ``j`` among the candidates scanned. When ``prefix`` is convex (prefix
    sums of ascending values) the largest minimiser is non-decreasing in ``n`` (see
    :func:`loading_tree_dp`), so row ``n`` only scans between the minimisers of the rows around it:
    O((rows + len(x)) log rows) instead of O(rows K). Rows are visited middle first, with explicit
    bounds, in the same order on every tier.
    """
    k = prefix.shape[0] - 1
    lx = x.shape[0]
    stack = [(0, rows - 1, 0, lx - 1)]
    while stack:
        r_lo, r_hi, o_lo, o_hi = stack.pop()
        if r_lo > r_hi:
            continue
        mid = (r_lo + r_hi) // 2
        lo = max(o_lo, mid - k, 0)
        hi = min(o_hi, mid, lx - 1)
        best = x[lo] + prefix[mid - lo]
        j_best = lo
        for j in range(lo + 1, hi + 1):
            v = x[j] + prefix[mid - j]
            if v <= best:
                best = v
                j_best = j
        out[mid] = best
        arg[mid] = j_best
        stack.append((mid + 1, r_hi, j_best, o_hi))
        stack.append((r_lo, mid - 1, o_lo, j_best))


def _cut(values: np.ndarray, length: int, cap: float) -> int:
    """Length of the prefix of ``values[:length]`` before its first entry above ``cap``."""
    for n in range(length):
        if values[n] > cap:
            return n
    return length


def loading_tree_dp(cost: np.ndarray, end: np.ndarray, leaf_ptr: np.ndarray, prefix: np.ndarray, cap: float,
                    n_cap: int) -> np.ndarray:
    """DP-PL over the sharing tree in depth-first (pre-)order, linear merges (spec §5.3, issue #15).

    The tree is given in preorder: position ``p`` holds a node of loading cost ``cost[p]`` whose
    subtree ends before position ``end[p]``. A leaf (``leaf_ptr[p + 1] > leaf_ptr[p]``) carries the
    prefix sums ``P(0..K_p) = prefix[leaf_ptr[p]:leaf_ptr[p + 1]]`` of its users' inference times
    (ascending, ``P(0) = 0``). ``T_p(n)`` is the least makespan of serving ``n`` users from the
    leaves before position ``p`` with every node above them opened. At an inner node either the
    whole subtree is skipped (``T_p`` goes to ``T_end[p]``) or the node is opened (``T_p + cost[p]``
    goes to ``T_{p+1}``); at a leaf ``T_{p+1}(n) = min_m T_p(n - m) + P(m)``. A node opened with
    no user below it costs ``cost >= 0`` more than skipping it, so the minimum over these choices
    is the makespan ``M(S)`` of spec §5.3 and ``T_V`` equals DP-PL's root table ``h_root``
    (in exact arithmetic; the sums are formed in another order, so last bits may differ).

    Linearity: ``P`` is convex, hence for ``j1 < j2`` the difference
    ``(T(j2) + P(n - j2)) - (T(j1) + P(n - j1))`` is non-increasing in ``n``; the largest
    minimising ``j`` (i.e. the fewest users ``m`` from this leaf) is therefore non-decreasing in
    ``n`` (also with the band ``n - K_p <= j <= n``, whose ends both move up with ``n``), and
    :func:`_monotone_minplus` finds it in O((n_cap + K_p) log n_cap). No merge of two arbitrary
    tables (the quadratic step of the spec's bottom-up merges) remains: the whole DP costs
    O(V n_cap + sum_p (n_cap + K_p) log n_cap).

    Tie rule: at a leaf the fewest users from it (the largest ``j`` among the minima the scan
    sees); where several choices reach the same ``T_q(n)``, the one from the lowest position (a
    skip before the flow out of the subtree). Every table is cut before its first entry above
    ``cap`` (all later entries are larger in exact arithmetic).

    Parameters
    ----------
    cost : ndarray of float64, shape (V,)
    end : ndarray of int64, shape (V,)
    leaf_ptr : ndarray of int64, shape (V + 1,)
    prefix : ndarray of float64
    cap : float
        The deadline plus its tolerance.
    n_cap : int
        Upper bound on the number of users served (sizes the tables).

    Returns
    -------
    ndarray of int64, shape (V,)
        Users served at every position (0 at inner nodes): the first ``m`` of each leaf, for the
        largest count whose makespan is ``<= cap``.
    """
    n_pos = cost.shape[0]
    width = n_cap + 1
    table = np.full((n_pos + 1, width), np.inf)
    length = np.zeros(n_pos + 1, dtype=np.int64)
    src = np.full((n_pos + 1, width), -1, dtype=np.int64)
    leaf_of = np.cumsum(leaf_ptr[1:] > leaf_ptr[:-1]) - 1
    choice = np.zeros((max(int(leaf_of[-1]) + 1, 1) if n_pos else 1, width), dtype=np.int64)
    table[0, 0] = 0.0
    length[0] = 1
    work = np.empty(width)
    arg = np.empty(width, dtype=np.int64)

    def contribute(q: int, values: np.ndarray, count: int, p: int) -> None:
        for n in range(count):
            if values[n] < table[q, n]:
                table[q, n] = values[n]
                src[q, n] = p
        length[q] = max(length[q], count)

    for p in range(n_pos):
        x = table[p, :length[p]].copy()
        lx = x.shape[0]
        if lx == 0:  # opening the node above already exceeds the cap
            continue
        a, b = int(leaf_ptr[p]), int(leaf_ptr[p + 1])
        if b > a:
            pre = prefix[a:b]
            rows = min(lx + b - a - 1, width)
            _monotone_minplus(x, pre, rows, work, arg)
            rows = _cut(work, rows, cap)
            leaf = int(leaf_of[p])
            for n in range(rows):
                choice[leaf, n] = n - arg[n]
            contribute(p + 1, work, rows, p)
        else:
            contribute(int(end[p]), x, lx, p)
            for n in range(lx):
                work[n] = x[n] + cost[p]
            contribute(p + 1, work, _cut(work, lx, cap), p)
    served = np.zeros(n_pos, dtype=np.int64)
    q = n_pos
    n = int(length[q]) - 1
    while q > 0:
        p = int(src[q, n])
        if leaf_ptr[p + 1] > leaf_ptr[p]:
            m = int(choice[leaf_of[p], n])
            served[p] = m
            n -= m
        q = p
    return served


def edf_pred_dtype(n_states: int) -> type[np.signedinteger]:
    """The narrowest signed integer type that holds every state id and the -1 of "no predecessor".

    The predecessor table has K x (cap + 1) entries, so its width is the DP-EDF's memory: int8 for
    up to 127 states (126 models) is 8x less than int64, the same ids.
    """
    for dtype in (np.int8, np.int16, np.int32):
        if n_states <= np.iinfo(dtype).max:
            return dtype
    return np.int64


def loading_edf_dp(seq_models: np.ndarray, infer: np.ndarray, limit: np.ndarray, switch: np.ndarray,
                   start_state: int, cap: int) -> np.ndarray:
    """DP over deadline-ordered subsequences (spec §5.5); returns the served positions in order.

    ``f[n, i]`` is the earliest GPU finish with ``n`` users served and model ``i`` resident
    (state ``I`` = empty GPU). Users are visited in the given order (already sorted by deadline);
    serving user ``k`` from state ``i`` finishes at ``f[n - 1, i] + (switch[i, m_k] + t_k)`` and is
    allowed if that is ``<= limit[k]``. An improvement is taken only if strictly smaller, the
    predecessor is the lowest-index minimiser, and the answer is the largest ``n`` reachable with
    the lowest-index state of least finish time.

    Parameters
    ----------
    seq_models : ndarray of int64, shape (K,)
    infer, limit : ndarray of float64, shape (K,)
    switch : ndarray of float64, shape (I + 1, I)
        :func:`loading_switch_matrix`.
    start_state : int
        Initial state (resident model, or ``I`` for empty).
    cap : int
        Upper bound on the number of served users (sizes the tables).

    Returns
    -------
    ndarray of int64
        Indices into the given user order of the served users, in service order.
    """
    k_users = seq_models.shape[0]
    n_states = switch.shape[0]
    f = np.full((cap + 1, n_states), np.inf)
    f[0, start_state] = 0.0
    pred: np.ndarray = np.full((k_users, cap + 1), -1, dtype=edf_pred_dtype(n_states))
    for k in range(k_users):
        q = int(seq_models[k])
        step = switch[:, q] + infer[k]
        for n in range(min(k + 1, cap), 0, -1):
            vals = f[n - 1] + step
            i = int(np.argmin(vals))
            best = vals[i]
            if best <= limit[k] and best < f[n, q]:
                f[n, q] = best
                pred[k, n] = i
    return _edf_backtrack(f, pred, seq_models)


def _edf_backtrack(f: np.ndarray, pred: np.ndarray, seq_models: np.ndarray) -> np.ndarray:
    reachable = np.flatnonzero(np.isfinite(f).any(axis=1))
    n = int(reachable[-1])
    state = int(np.argmin(f[n]))
    served = []
    k = seq_models.shape[0] - 1
    while n > 0:
        while not (seq_models[k] == state and pred[k, n] >= 0):
            k -= 1
        served.append(k)
        state = int(pred[k, n])
        n -= 1
        k -= 1
    return np.array(served[::-1], dtype=np.int64)


def edf_runs(seq_models: np.ndarray, infer: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """Starts of the runs of :func:`loading_edf_runs_dp`, int64[R + 1] (the last entry is K).

    A run is a maximal stretch of consecutive users with the same model, the same ``limit`` and
    non-decreasing inference times.
    """
    k = seq_models.shape[0]
    if k == 0:
        return np.zeros(1, dtype=np.int64)
    brk = (seq_models[1:] != seq_models[:-1]) | (limit[1:] != limit[:-1]) | (infer[1:] < infer[:-1])
    return np.concatenate(([0], np.flatnonzero(brk) + 1, [k])).astype(np.int64)


def edf_code_dtype(n_states: int, longest_run: int) -> type[np.signedinteger]:
    """Narrowest signed type of a run's record ``(m - 1) * n_states + entry`` (``-1``: not improved)."""
    return edf_pred_dtype(max(longest_run, 1) * n_states)


def _edf_run_step(r: int, runs: np.ndarray, seq_models: np.ndarray, infer: np.ndarray, limit: np.ndarray,
                  switch: np.ndarray, cap: int, f: np.ndarray, top: int, code_row: np.ndarray | None) -> int:
    """One run of :func:`loading_edf_runs_dp` on ``f`` (in place); returns the new ``top``."""
    n_states = switch.shape[0]
    a, b = int(runs[r]), int(runs[r + 1])
    q = int(seq_models[a])
    rows = min(top + b - a, cap)  # rows n - 1 = 0..rows - 1, i.e. counts 1..rows
    if rows <= 0:
        return top
    g = np.empty(top + 1)
    gi = np.empty(top + 1, dtype=np.int64)
    for n in range(top + 1):
        best = f[n, 0] + switch[0, q]
        i_best = 0
        for i in range(1, n_states):
            v = f[n, i] + switch[i, q]
            if v < best:
                best = v
                i_best = i
        g[n] = best
        gi[n] = i_best
    out = np.empty(rows)
    arg = np.empty(rows, dtype=np.int64)
    _monotone_minplus(g, np.cumsum(infer[a:b]), rows, out, arg)
    for row in range(rows):
        n = row + 1
        if out[row] <= limit[a] and out[row] < f[n, q]:
            f[n, q] = out[row]
            j = int(arg[row])
            if code_row is not None:
                code_row[n] = (n - j - 1) * n_states + int(gi[j])
            top = max(top, n)
    return top


def loading_edf_runs_dp(seq_models: np.ndarray, infer: np.ndarray, limit: np.ndarray, switch: np.ndarray,
                        start_state: int, cap: int, segment: int = 0) -> np.ndarray:
    """DP-EDF by runs of users (issue #15): the optimum of :func:`loading_edf_dp`, in O(R cap I).

    Within a run (:func:`edf_runs`: same model ``q``, same deadline, inference times ascending)
    the best ``m`` users to serve are its first ``m`` (an exchange argument: they finish no later
    and share one deadline), so a run is one step: ``G(n) = min_i f[n, i] + switch[i, q]`` (lowest
    ``i`` on ties), then ``f'[n, q] = min_{m >= 1} G(n - m) + P(m)`` with ``P`` the run's prefix sums
    (convex, so :func:`_monotone_minplus` applies: the fewest users on ties), taken if ``<=`` the
    run's limit and strictly below ``f[n, q]``. The values are those of :func:`loading_edf_dp` in
    exact arithmetic (its sums are formed user by user, so last bits may differ). The record of a
    run is ``(m - 1) * n_states + entry`` per count (``-1``: not improved) in the narrowest integer
    type (:func:`edf_code_dtype`): R x (cap + 1) entries instead of K x (cap + 1). With one common
    deadline R is at most the number of models.

    Checkpointed back-tracking: with ``segment = S > 0`` the forward pass keeps no records, only
    the table ``f`` at the start of every S runs; back-tracking recomputes one segment at a time
    (from its checkpoint, the same operations, hence the same records) and walks it. Memory
    ``ceil(R / S) (cap + 1) I`` floats plus ``S (cap + 1)`` records instead of ``R (cap + 1)``
    records, for twice the time; the result is the same as with ``segment = 0`` (one segment).

    Parameters and returns as :func:`loading_edf_dp`; ``segment`` as above.
    """
    n_states = switch.shape[0]
    runs = edf_runs(seq_models, infer, limit)
    n_runs = runs.shape[0] - 1
    longest = int(np.max(np.diff(runs))) if n_runs else 1
    size = n_runs if segment <= 0 else min(int(segment), n_runs)
    size = max(size, 1)
    n_seg = max(-(-n_runs // size), 1)
    dtype = edf_code_dtype(n_states, longest)
    f = np.full((cap + 1, n_states), np.inf)
    f[0, start_state] = 0.0
    top = 0  # counts 0..top are reachable
    checkpoints: list[tuple[np.ndarray, int]] = []
    code = np.full((size, cap + 1), -1, dtype=dtype)
    for r in range(n_runs):
        if r % size == 0:
            checkpoints.append((f.copy(), top) if n_seg > 1 else (f, top))
        top = _edf_run_step(r, runs, seq_models, infer, limit, switch, cap, f, top,
                            code[r] if n_seg == 1 else None)
    n = top
    state = int(np.argmin(f[n]))
    served: list[int] = []
    r = n_runs - 1
    seg = n_seg  # the segment whose records are in ``code`` (all of them when n_seg == 1)
    if n_seg == 1:
        seg = 0
    while n > 0:
        while True:
            if r // size != seg:  # recompute the segment's records from its checkpoint
                seg = r // size
                g, t = checkpoints[seg][0].copy(), checkpoints[seg][1]
                code.fill(-1)
                for rr in range(seg * size, min((seg + 1) * size, n_runs)):
                    t = _edf_run_step(rr, runs, seq_models, infer, limit, switch, cap, g, t, code[rr - seg * size])
            if seq_models[runs[r]] == state and code[r - seg * size, n] >= 0:
                break
            r -= 1
        c = int(code[r - seg * size, n])
        m = c // n_states + 1
        served.extend(range(int(runs[r]) + m - 1, int(runs[r]) - 1, -1))
        state = c % n_states
        n -= m
        r -= 1
    return np.array(served[::-1], dtype=np.int64)


def loading_enumerate(switch: np.ndarray, models: np.ndarray, infer: np.ndarray, deadline: np.ndarray,
                      limit: np.ndarray, start_state: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every ordered subset that meets the GPU-only deadlines (spec §4 condition (a)).

    Depth-first, users ascending at every level, parents before children (pre-order). A
    sequence is kept when every position finishes by its ``limit`` on the no-stall chain; since
    appending never changes earlier positions, infeasible prefixes are pruned.

    Returns
    -------
    ptr : ndarray of int64, shape (S + 1,)
        Sequence ``s`` is ``users[ptr[s]:ptr[s + 1]]``.
    users : ndarray of int64
    latest : ndarray of float64
        Latest start ``S^late`` of every position of every sequence (same layout as ``users``):
        ``(F_n - t_n) + min_{m >= n} (T_m - F_m)``.
    """
    k_users = models.shape[0]
    ptr: list[int] = [0]
    users: list[int] = []
    latest: list[float] = []

    def visit(seq: list[int], fin: list[float], state: int, used: list[bool]) -> None:
        for k in range(k_users):
            if used[k]:
                continue
            f_new = (fin[-1] if fin else 0.0) + (switch[state, models[k]] + infer[k])
            if not f_new <= limit[k]:
                continue
            seq.append(k)
            fin.append(f_new)
            used[k] = True
            slack = [deadline[seq[p]] - fin[p] for p in range(len(seq))]
            smin = np.minimum.accumulate(np.array(slack)[::-1])[::-1]
            users.extend(seq)
            latest.extend((fin[p] - infer[seq[p]]) + smin[p] for p in range(len(seq)))
            ptr.append(len(users))
            visit(seq, fin, int(models[k]), used)
            used[k] = False
            seq.pop()
            fin.pop()

    visit([], [], int(start_state), [False] * k_users)
    return (np.array(ptr, dtype=np.int64), np.array(users, dtype=np.int64),
            np.array(latest, dtype=np.float64))


KERNELS = {
    "order_times": loading_order_times,
    "switch_row": loading_switch_row,
    "switch_matrix": loading_switch_matrix,
    "simulate": loading_simulate,
    "minplus": loading_minplus,
    "tree_dp": loading_tree_dp,
    "edf_dp": loading_edf_dp,
    "edf_runs_dp": loading_edf_runs_dp,
    "enumerate": loading_enumerate,
}
