"""C++ tier of the max-coverage kernels (``trimcore._core``)."""

from __future__ import annotations

import numpy as np

from trimcore import _core


def max_coverage(indptr, indices, weights, costs, budget, rule, lazy, rtol, threads=1) -> np.ndarray:
    """See :func:`trimcore.kernels.coverage.reference.max_coverage` (``lazy`` selects the exact lazy greedy;
    ``threads`` bounds the threads of its first pass and index build)."""
    return _core.max_coverage(indptr, indices, weights, costs, budget, rule, lazy, rtol, threads)


def coverage_gains(indptr, indices, weights, covered=None, threads=1) -> np.ndarray:
    """See :func:`trimcore.kernels.coverage.reference.coverage_gains` (``threads``: set ranges in parallel)."""
    return _core.coverage_gains(indptr, indices, weights, covered, threads)


KERNELS = {"max_coverage": max_coverage, "coverage_gains": coverage_gains}
