"""TrimCaching: parameter-sharing model placement on edge servers (docs/trimcaching.md)."""

from trimcore.placement.baselines import independent_caching, popularity_caching, random_caching
from trimcore.placement.bounds import certified_upper_bound, submodular_bound
from trimcore.placement.demand import RankedDemand, UserGroups
from trimcore.placement.exact import brute_force_placement, optimal_placement
from trimcore.placement.greedy import trimcaching_gen
from trimcore.placement.ilp import lp_relaxation_bound
from trimcore.placement.problem import PlacementProblem
from trimcore.placement.regions import partition_servers, region_problem, trimcaching_gen_regions
from trimcore.placement.result import PlacementResult
from trimcore.placement.spec import trimcaching_spec
from trimcore.placement.stepper import EdgePlacer

__all__ = [
    "EdgePlacer",
    "PlacementProblem",
    "PlacementResult",
    "RankedDemand",
    "UserGroups",
    "brute_force_placement",
    "certified_upper_bound",
    "independent_caching",
    "lp_relaxation_bound",
    "optimal_placement",
    "partition_servers",
    "popularity_caching",
    "random_caching",
    "region_problem",
    "submodular_bound",
    "trimcaching_gen",
    "trimcaching_gen_regions",
    "trimcaching_spec",
]
