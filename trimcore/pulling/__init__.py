"""Chasing Common Knowledge: model selection and block pulling in MEC (spec
``papers/chasing_common_knowledge.md``, Zhou et al., IEEE TPDS 2025)."""

from trimcore.pulling.exact import brute_force_pulling, pulling_lp, pulling_optimal, solve_lp
from trimcore.pulling.problem import PullingEvaluation, PullingProblem
from trimcore.pulling.result import OnlineResult, PullingResult

__all__ = [
    "OnlineResult",
    "PullingEvaluation",
    "PullingProblem",
    "PullingResult",
    "brute_force_pulling",
    "pulling_lp",
    "pulling_optimal",
    "solve_lp",
]
