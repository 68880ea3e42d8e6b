"""Type stubs of the native module ``trimcore._core`` (C++17 core through pybind11).

Every function checks dtypes, shapes, contiguity and index ranges and raises
:class:`trimcore.InstanceError` on bad input; the GIL is released while the core runs.
"""

from typing import Any

import numpy as np
import numpy.typing as npt

#: Demand as the kernels read it: dense popularity by model float64[I, K], or the factored form
#: ``(by_model float64[I, G], group int32[K] | None, rate float64[K] | None)``.
Demand = npt.NDArray[np.float64] | tuple[npt.NDArray[np.float64], npt.NDArray[np.int32] | None,
                                         npt.NDArray[np.float64] | None]
#: Demand of a C++ PlacementProblem factory: dense popularity float64[K, I] or the factored tuple.
ProblemDemand = npt.NDArray[np.float64] | tuple[npt.NDArray[np.float64], npt.NDArray[np.int32],
                                                npt.NDArray[np.float64] | None]

def storage_used(
    placement: npt.NDArray[np.bool_], model_bits: npt.NDArray[np.uint64], block_sizes: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]: ...
def hit_weight(
    placement: npt.NDArray[np.bool_],
    pair_ptr: npt.NDArray[np.int64],
    pair_len: npt.NDArray[np.int64],
    pair_users: npt.NDArray[np.int32],
    popularity_by_model: Demand,
) -> float: ...
class CoverageIndex:
    """A validated, owned copy of a problem's eligibility CSR (checked once, read by
    :func:`hit_weight_indexed`)."""

    def __init__(
        self,
        pair_ptr: npt.NDArray[np.int64],
        pair_len: npt.NDArray[np.int64],
        pair_users: npt.NDArray[np.int32],
        n_servers: int,
        n_users: int,
        n_models: int,
    ) -> None: ...

def hit_weight_indexed(
    placement: npt.NDArray[np.bool_], index: CoverageIndex, popularity_by_model: Demand
) -> float: ...
def server_gains_indexed(
    server: int,
    index: CoverageIndex,
    popularity_by_model: Demand,
    covered: npt.NDArray[np.uint8],
) -> npt.NDArray[np.float64]: ...
def all_server_gains_indexed(
    index: CoverageIndex, popularity_by_model: Demand, covered: npt.NDArray[np.uint8]
) -> npt.NDArray[np.float64]: ...
def all_server_gains_placed(
    index: CoverageIndex, popularity_by_model: Demand, placement: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float64]: ...
def greedy_placement(
    pair_ptr: npt.NDArray[np.int64],
    pair_len: npt.NDArray[np.int64],
    pair_users: npt.NDArray[np.int32],
    popularity_by_model: Demand,
    model_bits: npt.NDArray[np.uint64],
    block_sizes: npt.NDArray[np.float64],
    capacity: npt.NDArray[np.float64],
    block_ptr: npt.NDArray[np.int64],
    block_models: npt.NDArray[np.int32],
    candidates: npt.NDArray[np.int64],
    covered: npt.NDArray[np.uint8],
    rule: str,
    lazy: bool,
    rtol: float,
    kept: npt.NDArray[np.int64] = ...,
) -> npt.NDArray[np.int64]: ...
def server_gains(
    server: int,
    pair_ptr: npt.NDArray[np.int64],
    pair_len: npt.NDArray[np.int64],
    pair_users: npt.NDArray[np.int32],
    popularity_by_model: Demand,
    covered: npt.NDArray[np.uint8],
) -> npt.NDArray[np.float64]: ...
def knapsack_fptas(
    values: npt.NDArray[np.float64], weights: npt.NDArray[np.float64], capacity: float, eps: float
) -> npt.NDArray[np.int64]: ...
def knapsack_grid(
    values: npt.NDArray[np.float64], weights: npt.NDArray[np.int64], capacity: int
) -> npt.NDArray[np.int64]: ...
def max_coverage(
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int32],
    weights: npt.NDArray[np.float64],
    costs: npt.NDArray[np.float64],
    budget: float,
    rule: str,
    lazy: bool,
    rtol: float,
    threads: int = 1,
) -> npt.NDArray[np.int64]: ...
def coverage_gains(
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int32],
    weights: npt.NDArray[np.float64],
    covered: npt.NDArray[np.bool_] | None = None,
    threads: int = 1,
) -> npt.NDArray[np.float64]: ...
def online_simulate(
    inputs: dict[str, Any], policy: int, flags: dict[str, Any]
) -> dict[str, npt.NDArray[Any]]: ...

class OnlineStepper:
    """A ``trimcore::online::Cache`` stepped request by request (see :class:`trimcore.online.OnlineCache`)."""

    def __init__(self, inputs: dict[str, object], policy: int, flags: dict[str, object]) -> None: ...
    def request(
        self, slot: int, server: int, model: int, task: int, tokens_in: float, tokens_out: float
    ) -> tuple[int, int, float, float, float, float, float, float, tuple[float, ...], tuple[int, ...]]: ...

# ------------------------------------------------------------ placement API (trimcore/placement.hpp)
GREEDY_RTOL: float

class PlacementProblem:
    """A validated, owned C++ placement problem (``trimcore::PlacementProblem``); the core checks
    every value and raises InstanceError naming the field."""

    @staticmethod
    def from_max_size(
        block_sizes: npt.NDArray[np.float64],
        indptr: npt.NDArray[np.int64],
        indices: npt.NDArray[np.int64],
        capacity: npt.NDArray[np.float64],
        popularity: ProblemDemand,
        max_size: npt.NDArray[np.float64],
    ) -> PlacementProblem: ...
    @staticmethod
    def from_prefixes(
        block_sizes: npt.NDArray[np.float64],
        indptr: npt.NDArray[np.int64],
        indices: npt.NDArray[np.int64],
        capacity: npt.NDArray[np.float64],
        popularity: ProblemDemand,
        server_ptr: npt.NDArray[np.int64],
        server_users: npt.NDArray[np.int32],
        pair_len: npt.NDArray[np.int64],
        n_users: int,
    ) -> PlacementProblem: ...
    @staticmethod
    def from_pairs(
        block_sizes: npt.NDArray[np.float64],
        indptr: npt.NDArray[np.int64],
        indices: npt.NDArray[np.int64],
        capacity: npt.NDArray[np.float64],
        popularity: ProblemDemand,
        pair_ptr: npt.NDArray[np.int64],
        pair_len: npt.NDArray[np.int64],
        pair_users: npt.NDArray[np.int32],
    ) -> PlacementProblem: ...
    @staticmethod
    def from_dense(
        block_sizes: npt.NDArray[np.float64],
        indptr: npt.NDArray[np.int64],
        indices: npt.NDArray[np.int64],
        capacity: npt.NDArray[np.float64],
        popularity: ProblemDemand,
        eligible: npt.NDArray[np.bool_],
    ) -> PlacementProblem: ...
    @property
    def n_servers(self) -> int: ...
    @property
    def n_users(self) -> int: ...
    @property
    def n_models(self) -> int: ...
    @property
    def total_popularity(self) -> float: ...
    @property
    def is_compact(self) -> bool: ...
    @property
    def model_sizes(self) -> npt.NDArray[np.float64]: ...
    @property
    def pair_ptr(self) -> npt.NDArray[np.int64]: ...
    @property
    def pair_len(self) -> npt.NDArray[np.int64]: ...
    @property
    def pair_users(self) -> npt.NDArray[np.int32]: ...
    def hit_weight(self, placement: npt.NDArray[np.bool_]) -> float: ...
    def storage_used(self, placement: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]: ...

def trimcaching_gen(
    problem: PlacementProblem, rule: str = ..., lazy: bool = ..., warm_start: npt.NDArray[np.bool_] | None = ...
) -> tuple[npt.NDArray[np.bool_], float, float, str, int]: ...
def trimcaching_spec(
    problem: PlacementProblem,
    eps: float,
    knapsack: str,
    grid_cells: int,
    max_combinations: int,
    server_order: npt.NDArray[np.int64] | None,
    atomic: bool,
    grid_cell_limit: int,
    fptas_table_limit: float,
    fptas_hard_limit: float,
) -> tuple[npt.NDArray[np.bool_], dict[str, int], float, float]: ...
