"""Age of Context: online foundation-model caching with least-context eviction (``docs/online.md``)."""

from trimcore.kernels.online.reference import OUTCOME_NAMES, CacheView, Policy
from trimcore.online.builder import LLM_TABLE, llm_table_library, make_caching_instance
from trimcore.online.problem import ACCURACY_CURVES, COMPONENTS, DEFAULT_OPTIONS, CachingProblem
from trimcore.online.result import CachingResult
from trimcore.online.simulate import LC_ORDERS, POLICIES, simulate_caching, static_placement
from trimcore.online.stepper import OnlineCache, StepOutcome

__all__ = ["ACCURACY_CURVES", "COMPONENTS", "DEFAULT_OPTIONS", "LC_ORDERS", "OUTCOME_NAMES", "POLICIES",
           "CacheView", "CachingProblem", "CachingResult", "LLM_TABLE", "OnlineCache", "Policy", "StepOutcome",
           "llm_table_library",
           "make_caching_instance", "simulate_caching", "static_placement"]
