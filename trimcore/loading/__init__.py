"""PartialLoading: loading-order scheduling and bandwidth allocation that reuse loaded blocks.

Spec: ``docs/partialloading.md``. A :class:`LoadingProblem` (one GPU, K users, a
parameter-sharing model library, an FDMA uplink) is solved by

* :func:`partialloading_dp` -- DP-PL, optimal for tree (backbone) sharing and a common deadline;
* :func:`partialloading_greedy` -- Greedy-PL for any sharing (append or insert variant);
* :func:`partialloading_dp_edf` -- the deadline-ordered DP for any sharing and per-user deadlines;
* :func:`partialloading_optimal` -- the exact reference (brute force or MILP);
* the baselines B1-B6 of spec §6 (:mod:`trimcore.loading.baselines`).

Every result is scored by :meth:`LoadingProblem.evaluate`.
"""

from trimcore.loading.baselines import (
    edf_schedule,
    equal_bandwidth_schedule,
    fcfs_schedule,
    grouping_schedule,
    no_sharing_schedule,
    random_schedule,
)
from trimcore.loading.dp import partialloading_dp, partialloading_dp_edf
from trimcore.loading.exact import brute_force_schedule, partialloading_optimal
from trimcore.loading.greedy import partialloading_greedy
from trimcore.loading.problem import Evaluation, LoadingProblem
from trimcore.loading.result import LoadingResult
from trimcore.loading.tree import SharingTree, sharing_tree

__all__ = [
    "Evaluation",
    "LoadingProblem",
    "LoadingResult",
    "SharingTree",
    "brute_force_schedule",
    "edf_schedule",
    "equal_bandwidth_schedule",
    "fcfs_schedule",
    "grouping_schedule",
    "no_sharing_schedule",
    "partialloading_dp",
    "partialloading_dp_edf",
    "partialloading_greedy",
    "partialloading_optimal",
    "random_schedule",
    "sharing_tree",
]
