"""Chasing Common Knowledge: model selection and block pulling in MEC (Zhou et al., IEEE TPDS 2025;
``docs/pulling.md``)."""

from trimcore.pulling.baselines import nbs_lp, pulling_cloud, pulling_nbs, pulling_nonshare
from trimcore.pulling.exact import brute_force_pulling, formulation_size, pulling_lp, pulling_optimal, solve_lp
from trimcore.pulling.online import ema, make_context, pulling_online
from trimcore.pulling.problem import PullingEvaluation, PullingProblem
from trimcore.pulling.result import OnlineResult, PullingResult
from trimcore.pulling.rounding import pulling_rounding, repair_decision

__all__ = [
    "OnlineResult",
    "PullingEvaluation",
    "PullingProblem",
    "PullingResult",
    "brute_force_pulling",
    "ema",
    "formulation_size",
    "make_context",
    "nbs_lp",
    "pulling_cloud",
    "pulling_nbs",
    "pulling_nonshare",
    "pulling_rounding",
    "repair_decision",
    "pulling_lp",
    "pulling_online",
    "pulling_optimal",
    "solve_lp",
]
