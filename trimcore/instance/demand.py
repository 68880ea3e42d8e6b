"""Demand: Zipf model popularity and sampled request traces (TrimCaching spec §3.3).

:func:`zipf_popularity` gives ``p[k, i]``, the probability that user ``k`` requests model
``i`` (each row sums to 1). :func:`request_trace` samples ``(user, model)`` requests from it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from trimcore._validate import float_array, integer, make_rng
from trimcore.errors import invalid

__all__ = ["RANKINGS", "zipf_weights", "zipf_popularity", "request_trace"]

#: Accepted values of ``zipf_popularity(ranking=...)``.
RANKINGS = ("per_user", "global")


def zipf_weights(n_models: int, exponent: float = 0.8) -> np.ndarray:
    """Zipf probabilities by rank: ``w[r - 1] = r^-gamma / sum_{r'=1}^{I} r'^-gamma``.

    Parameters
    ----------
    n_models : int
        Number of ranks I, >= 1.
    exponent : float, default 0.8
        Zipf exponent gamma, finite and >= 0 (0 gives the uniform distribution).

    Returns
    -------
    ndarray of float64, shape (n_models,)
        Non-increasing, sums to 1.
    """
    n = integer("n_models", n_models, 1)
    g = float_array("exponent", exponent, ())
    if g < 0:
        raise invalid("exponent", "a finite number >= 0", exponent)
    w = np.arange(1, n + 1, dtype=np.float64) ** -float(g)
    return w / w.sum()


def zipf_popularity(
    n_users: int,
    n_models: int,
    exponent: float = 0.8,
    *,
    ranking: str = "per_user",
    seed: Any = None,
) -> np.ndarray:
    """Zipf request probabilities ``p[k, i] = r^-gamma / sum_{r'} r'^-gamma``, float64[K, I].

    ``r`` is the rank of model ``i`` for user ``k``: with ``ranking="per_user"`` (spec default)
    every user has an independent uniformly random ranking of the models; with
    ``ranking="global"`` one random ranking is shared by all users (identical rows).

    Parameters
    ----------
    n_users, n_models : int
        K and I, >= 1.
    exponent : float, default 0.8
        Zipf exponent gamma >= 0.
    ranking : {"per_user", "global"}, default "per_user"
    seed : None, int, SeedSequence or Generator

    Returns
    -------
    ndarray of float64, shape (n_users, n_models)
        Each row is a permutation of :func:`zipf_weights` and sums to 1.

    Notes
    -----
    Per-user rankings shuffle each row of the tiled weight matrix independently
    (``Generator.permuted(axis=1)``, Fisher-Yates, O(K I)): K = 10,000, I = 1,000 takes about
    0.2 s.
    """
    k = integer("n_users", n_users, 1)
    w = zipf_weights(n_models, exponent)
    if not isinstance(ranking, str) or ranking not in RANKINGS:
        raise invalid("ranking", "'per_user' or 'global'", ranking)
    rng = make_rng(seed)
    if ranking == "global":
        return np.tile(rng.permutation(w), (k, 1))
    p = np.tile(w, (k, 1))
    rng.permuted(p, axis=1, out=p)
    return p


def request_trace(
    popularity: ArrayLike,
    n_requests: int,
    *,
    user_weights: ArrayLike | None = None,
    seed: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``n_requests`` independent requests ``(user, model)``.

    The user of each request is drawn first (uniformly, or proportionally to
    ``user_weights``), then the model from that user's row of ``popularity``.

    Parameters
    ----------
    popularity : array_like of float, shape (K, I)
        Non-negative request weights; each row is normalised by its sum, which must be > 0.
    n_requests : int
        Number of requests, >= 0.
    user_weights : array_like of float, shape (K,), optional
        Non-negative user activity weights with a positive sum; default uniform.
    seed : None, int, SeedSequence or Generator
        Users are drawn first, then one uniform number per request for the model.

    Returns
    -------
    users, models : ndarray of int64, shape (n_requests,)

    Notes
    -----
    Models are drawn by vectorised inverse-CDF sampling: a binary search over each request's
    row of the cumulative weights (``ceil(log2 I)`` vectorised steps). It returns the first
    model whose cumulative weight exceeds ``u * row_sum`` and never a zero-weight model.
    """
    pop = float_array("popularity", popularity, (None, None), minimum=0.0)
    k, n_models = pop.shape
    if k == 0 or n_models == 0:
        raise invalid("popularity", "at least one user and one model", f"shape {pop.shape}")
    totals = pop.sum(axis=1)
    if (totals <= 0).any():
        raise invalid("popularity", "rows with a positive sum",
                      f"row {int(np.flatnonzero(totals <= 0)[0])} sums to 0")
    n = integer("n_requests", n_requests, 0)
    rng = make_rng(seed)
    if user_weights is None:
        users = rng.integers(0, k, n, dtype=np.int64)
    else:
        uw = float_array("user_weights", user_weights, (k,), minimum=0.0)
        if uw.sum() <= 0:
            raise invalid("user_weights", "a positive sum", "all zeros")
        cdf = np.cumsum(uw)
        last = int(np.flatnonzero(uw > 0)[-1])
        users = np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), last)
        users = users.astype(np.int64)
    # Binary search on the unnormalised row CDFs: smallest j with cum[k, j] > u * cum[k, -1].
    cum = np.cumsum(pop, axis=1)
    target = rng.random(n) * cum[users, -1]
    # Clamp to the last positive-weight model of the row (u * total may round up to total).
    last_pos = (n_models - 1 - np.argmax(pop[:, ::-1] > 0, axis=1)).astype(np.int64)
    lo = np.zeros(n, dtype=np.int64)
    hi = last_pos[users]
    while True:
        active = lo < hi
        if not active.any():
            break
        mid = (lo + hi) // 2
        right = cum[users, mid] <= target
        lo = np.where(active & right, mid + 1, lo)
        hi = np.where(active & ~right, mid, hi)
    return users, lo
