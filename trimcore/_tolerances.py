"""Every numerical tolerance of trimcore, in one place, each with the reason for its value.

Two families: the *evaluators'* tolerances (what a problem accepts as feasible or on time) and
the *algorithms'* tolerances, which are tighter, so that whatever an algorithm accepts its
problem's evaluator accepts too. Solver-derived bounds get a slack that covers the LP/MILP
solver's own feasibility tolerance, so that a certified bound is never below the optimum.
"""

from __future__ import annotations

__all__ = [
    "FEASIBILITY_RTOL", "ALGORITHM_RTOL", "DEADLINE_RTOL", "DEADLINE_ATOL", "MEMORY_RTOL",
    "BANDWIDTH_RTOL", "ALGO_BANDWIDTH_RTOL", "FILTER_SLACK", "CUT_SHRINK", "BOUND_SLACK",
    "BOUND_RTOL", "INTEGER_BOUND_SLACK", "PRUNE_RTOL", "IMPROVEMENT_ATOL", "RATIO_ATOL", "VERIFY_RTOL",
    "GRID_ROUNDING_RTOL", "LAMBERT_IMAG_RTOL",
]

# --- evaluators -------------------------------------------------------------------------------
#: Storage check ``storage_used <= capacity * (1 + FEASIBILITY_RTOL)`` (placement): sums of
#: block sizes in a different order differ by a few ulps, which must not flip feasibility.
FEASIBILITY_RTOL = 1e-9
#: Deadline check: on time iff ``F <= T + DEADLINE_ATOL + DEADLINE_RTOL * T`` (loading); the
#: timeline is a sum of many terms whose rounding must not make a tight schedule late.
DEADLINE_RTOL = 1e-9
#: Absolute part of the deadline check, seconds (a deadline of 0 s).
DEADLINE_ATOL = 1e-12
#: GPU memory check ``D_{m_k} + M^act_k <= Q (1 + MEMORY_RTOL)`` (loading, spec eq. 3).
MEMORY_RTOL = 1e-9
#: Evaluator's bandwidth check ``sum b <= B (1 + BANDWIDTH_RTOL)`` (loading).
BANDWIDTH_RTOL = 1e-9
#: A hit ratio or served fraction may exceed 1 by this much from rounding (results' validation).
RATIO_ATOL = 1e-9
#: The Lambert-W bandwidth must reproduce its rate to this relative accuracy (radio), else it
#: is recomputed by bisection.
VERIFY_RTOL = 1e-9

# --- algorithms (tighter than the evaluators) ---------------------------------------------------
#: Storage tolerance inside the placement algorithms and the coverage greedy's budget.
ALGORITHM_RTOL = 1e-12
#: Bandwidth tolerance inside the loading algorithms.
ALGO_BANDWIDTH_RTOL = 1e-12
#: Safety factor of the loading greedy's necessary-condition filters (they only skip work,
#: never accept, so a generous factor is safe).
FILTER_SLACK = 1.0 + 1e-7
#: Tangent cuts of the loading MILP are scaled down a hair so rounding never cuts a feasible point.
CUT_SHRINK = 1.0 - 1e-7
#: Knapsack weights are rounded up onto the grid after this relative nudge, so a weight that is a
#: whole number of cells in exact arithmetic is not pushed one cell up by rounding.
GRID_ROUNDING_RTOL = 1e-12
#: Spec prunes a block union when its LP bound is below the best value by more than this
#: (a margin for rounding: pruning never changes a decision).
PRUNE_RTOL = 1e-9
#: Brute force keeps the first best: a later placement must beat it by more than this.
IMPROVEMENT_ATOL = 1e-12
#: A Lambert-W value whose imaginary part is below this fraction of its real part is real (radio).
LAMBERT_IMAG_RTOL = 1e-12

# --- bounds -----------------------------------------------------------------------------------
#: Added to LP/MILP-derived bounds on a ratio to absorb the solver's feasibility tolerances.
BOUND_SLACK = 1e-7
#: The submodular bound is inflated by this factor against summation rounding.
BOUND_RTOL = 1e-12
#: An integer bound from a MILP dual bound is ``floor(-dual + INTEGER_BOUND_SLACK)``.
INTEGER_BOUND_SLACK = 1e-6
