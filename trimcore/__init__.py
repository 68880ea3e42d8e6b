"""trimcore: parameter-sharing AI model placement, loading and caching at the network edge."""

from trimcore._paths import cmake_prefix, get_include
from trimcore.coverage import CoverageResult, max_coverage
from trimcore.errors import BackendUnavailableError, InstanceError
from trimcore.instance import ModelLibrary
from trimcore.kernels import available_backends, resolve_backend
from trimcore.loading import (
    LoadingProblem,
    LoadingResult,
    partialloading_dp,
    partialloading_dp_edf,
    partialloading_greedy,
    partialloading_optimal,
)
from trimcore.online import CachingProblem, CachingResult, OnlineCache, simulate_caching
from trimcore.placement import (
    EdgePlacer,
    PlacementProblem,
    PlacementResult,
    RankedDemand,
    UserGroups,
    independent_caching,
    optimal_placement,
    popularity_caching,
    random_caching,
    trimcaching_gen,
    trimcaching_gen_regions,
    trimcaching_spec,
)
from trimcore.pulling import (
    OnlineResult,
    PullingProblem,
    PullingResult,
    pulling_cloud,
    pulling_lp,
    pulling_nbs,
    pulling_nonshare,
    pulling_online,
    pulling_optimal,
    pulling_rounding,
)

__version__ = "0.1.0"
__all__ = [
    "EdgePlacer",
    "BackendUnavailableError",
    "CachingProblem",
    "CachingResult",
    "OnlineCache",
    "CoverageResult",
    "InstanceError",
    "LoadingProblem",
    "LoadingResult",
    "ModelLibrary",
    "PlacementProblem",
    "PlacementResult",
    "RankedDemand",
    "UserGroups",
    "OnlineResult",
    "PullingProblem",
    "PullingResult",
    "pulling_cloud",
    "pulling_lp",
    "pulling_nbs",
    "pulling_nonshare",
    "pulling_online",
    "pulling_optimal",
    "pulling_rounding",
    "independent_caching",
    "max_coverage",
    "optimal_placement",
    "partialloading_dp",
    "partialloading_dp_edf",
    "partialloading_greedy",
    "partialloading_optimal",
    "popularity_caching",
    "random_caching",
    "simulate_caching",
    "trimcaching_gen",
    "trimcaching_gen_regions",
    "trimcaching_spec",
    "available_backends",
    "resolve_backend",
    "cmake_prefix",
    "get_include",
    "__version__",
]
