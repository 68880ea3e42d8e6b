"""Reference tier: plain, obvious NumPy. The oracle the fast tiers are tested against.

All kernels take canonical arrays that the problem constructors already validated.
Coverage of pair p = m * I + i: users ``pair_users[pair_ptr[p]:pair_ptr[p] + pair_len[p]]``.
Popularity is passed by model: ``popularity_by_model[i, k]``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["storage_used", "hit_weight"]


def storage_used(placement: np.ndarray, model_bits: np.ndarray, block_sizes: np.ndarray) -> np.ndarray:
    """Size of the union of the blocks of the models placed on each server, float64[M].

    ``model_bits`` is only used for its shape here: the reference works on the explicit block
    sets decoded from the bitsets, so it also checks the bit layout.
    """
    n_blocks = block_sizes.shape[0]
    bits = np.unpackbits(model_bits.view(np.uint8), axis=1, bitorder="little")[:, :n_blocks].astype(bool)
    out = np.zeros(placement.shape[0])
    for m in range(placement.shape[0]):
        present = bits[placement[m]].any(axis=0)
        out[m] = block_sizes[present].sum()
    return out


def hit_weight(placement: np.ndarray, pair_ptr: np.ndarray, pair_len: np.ndarray, pair_users: np.ndarray,
               popularity_by_model: np.ndarray) -> float:
    """Total popularity of the requests (k, i) served by some server that holds model i."""
    n_servers, n_models = placement.shape
    total = 0.0
    for i in range(n_models):
        hit = np.zeros(popularity_by_model.shape[1], dtype=bool)
        for m in np.flatnonzero(placement[:, i]):
            p = m * n_models + i
            hit[pair_users[pair_ptr[p]:pair_ptr[p] + pair_len[p]]] = True
        total += popularity_by_model[i, hit].sum()
    return float(total)
