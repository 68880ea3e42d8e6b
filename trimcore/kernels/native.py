"""C++ tier: thin wrappers over the pybind11 module ``trimcore._core``.

Importing this module fails (ImportError) when the extension was not built, which makes the
``cpp`` backend unavailable rather than breaking ``import trimcore``.
"""

from __future__ import annotations

import numpy as np

from trimcore import _core

__all__ = ["storage_used", "hit_weight"]


def storage_used(placement: np.ndarray, model_bits: np.ndarray, block_sizes: np.ndarray) -> np.ndarray:
    """See :func:`trimcore.kernels.reference.storage_used`."""
    return _core.storage_used(placement, model_bits, block_sizes)


def hit_weight(placement: np.ndarray, pair_ptr: np.ndarray, pair_len: np.ndarray, pair_users: np.ndarray,
               popularity_by_model: np.ndarray) -> float:
    """See :func:`trimcore.kernels.reference.hit_weight`."""
    return float(_core.hit_weight(placement, pair_ptr, pair_len, pair_users, popularity_by_model))
