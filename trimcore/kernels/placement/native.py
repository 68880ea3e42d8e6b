"""C++ tier of the placement kernels: thin wrappers over the pybind11 module ``trimcore._core``.

``demand`` is a problem's ``demand_args`` (``(by_model, group, rate)``, group None for the dense
form) or a dense popularity by model float64[I, K]; the bindings take both.

Importing this module fails (ImportError) when the extension was not built, which makes the
``cpp`` backend unavailable rather than breaking ``import trimcore``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trimcore import _core
from trimcore.kernels.placement import demand_tuple


def storage_used(placement: np.ndarray, model_bits: np.ndarray, block_sizes: np.ndarray) -> np.ndarray:
    """See :func:`trimcore.kernels.placement.reference.storage_used`."""
    return _core.storage_used(placement, model_bits, block_sizes)


def coverage_view(pair_ptr: np.ndarray, pair_len: np.ndarray, pair_users: np.ndarray, n_servers: int,
                  n_users: int, n_models: int) -> Any:
    """A validated, owned copy of the eligibility CSR (``_core.CoverageIndex``); a problem keeps
    it, so evaluating many placements checks only the placement."""
    return _core.CoverageIndex(pair_ptr, pair_len, pair_users, n_servers, n_users, n_models)


def hit_weight(placement: np.ndarray, coverage: Any, demand: Any) -> float:
    """See :func:`trimcore.kernels.placement.reference.hit_weight`."""
    return float(_core.hit_weight_indexed(placement, coverage, demand))


def greedy_placement(pair_ptr, pair_len, pair_users, demand, model_bits, block_sizes, capacity,
                     block_ptr, block_models, candidates, covered, rule, lazy, rtol, kept) -> np.ndarray:
    """See :func:`trimcore.kernels.placement.reference.greedy_placement` (``lazy`` selects the exact lazy greedy)."""
    return _core.greedy_placement(pair_ptr, pair_len, pair_users, demand, model_bits, block_sizes,
                                  capacity, block_ptr, block_models, candidates, covered, rule, lazy, rtol, kept)


def server_gains(server: int, coverage: Any, demand: Any, covered: np.ndarray) -> np.ndarray:
    """See :func:`trimcore.kernels.placement.reference.server_gains` (``coverage`` is the validated index)."""
    return _core.server_gains_indexed(server, coverage, demand, covered)


def all_server_gains(coverage: Any, demand: Any, covered: np.ndarray) -> np.ndarray:
    """See :func:`trimcore.kernels.placement.reference.all_server_gains`."""
    return _core.all_server_gains_indexed(coverage, demand, covered)


def placed_server_gains(coverage: Any, demand: Any, placement: np.ndarray) -> np.ndarray:
    """See :func:`trimcore.kernels.placement.reference.placed_server_gains` (covered requests as bits in C++)."""
    return _core.all_server_gains_placed(coverage, demand, placement)


def gen_problem(block_sizes, indptr, indices, model_bits, block_ptr, block_models, capacity, demand,
                pair_ptr, pair_len, pair_users, max_size) -> Any:
    """The problem as the C++ TrimCaching Gen reads it: a ``_core.PlacementProblem``, which the core
    validates and owns (a compact problem is rebuilt from ``max_size`` by the core's own
    ``from_max_size``, a dense one from its pair lists, one of ``from_reach`` -- ``max_size`` is then
    ``("prefixes", server_ptr, n_users)`` -- from its per-server lists, never an M x K matrix); a problem
    keeps it, so calls do not re-check."""
    by_model, group, rate = demand_tuple(demand)  # the problem's demand_args (or a dense array)
    # dense: the C++ API's (K, I) layout; compact: the factored arrays as they are
    popularity = np.ascontiguousarray(by_model.T) if group is None else (by_model, group, rate)
    if isinstance(max_size, tuple):  # ("prefixes", server_ptr, n_users): PlacementProblem.from_reach's lists
        _, server_ptr, n_users = max_size
        return _core.PlacementProblem.from_prefixes(block_sizes, indptr, indices, capacity, popularity, server_ptr,
                                                    pair_users, pair_len, int(n_users))
    if max_size is not None:
        return _core.PlacementProblem.from_max_size(block_sizes, indptr, indices, capacity, popularity, max_size)
    return _core.PlacementProblem.from_pairs(block_sizes, indptr, indices, capacity, popularity, pair_ptr, pair_len,
                                             pair_users)


def trimcaching_gen(problem: Any, rule: str, lazy: bool, warm_start: np.ndarray | None) -> tuple[np.ndarray, str, int]:
    """See :func:`trimcore.kernels.placement.reference.trimcaching_gen`; one call of the C++
    ``trimcore::trimcaching_gen`` (``problem`` is this tier's :func:`gen_problem`)."""
    placement, _, _, chosen_rule, kept = _core.trimcaching_gen(problem, rule, bool(lazy), warm_start)
    return placement, chosen_rule, int(kept)


def successive_knapsack(problem: Any, eps: float, atomic: bool, knapsack: str, grid_cells: int, max_combinations: int,
                        server_order: np.ndarray, grid_cell_limit: int, fptas_table_limit: float,
                        fptas_hard_limit: float) -> tuple[np.ndarray, dict[str, int]]:
    """See :func:`trimcore.kernels.placement.reference.successive_knapsack`; one call of the C++
    ``trimcore::trimcaching_spec`` (``problem`` is this tier's :func:`gen_problem`)."""
    placement, counters, _, _ = _core.trimcaching_spec(
        problem, float(eps), knapsack, int(grid_cells), int(max_combinations),
        np.ascontiguousarray(server_order, dtype=np.int64), bool(atomic), int(grid_cell_limit),
        float(fptas_table_limit), float(fptas_hard_limit))
    return placement, dict(counters)


KERNELS = {
    "storage_used": storage_used,
    "coverage_view": coverage_view,
    "hit_weight": hit_weight,
    "greedy_placement": greedy_placement,
    "server_gains": server_gains,
    "all_server_gains": all_server_gains,
    "placed_server_gains": placed_server_gains,
    "gen_problem": gen_problem,
    "trimcaching_gen": trimcaching_gen,
    "successive_knapsack": successive_knapsack,
}
