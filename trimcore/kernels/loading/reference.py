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
    "edf_dp": loading_edf_dp,
    "enumerate": loading_enumerate,
}
