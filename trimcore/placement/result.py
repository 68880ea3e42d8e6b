"""Placement results: the decision, scored by the problem's own evaluator.

This module is a leaf: it knows the result protocol and nothing of the algorithms or bounds
(:mod:`trimcore.placement.scoring` builds results).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from trimcore._tolerances import RATIO_ATOL
from trimcore.errors import invalid
from trimcore.result import Result, Sense

__all__ = ["PlacementResult"]


@dataclass(frozen=True, eq=False, repr=False, kw_only=True)
class PlacementResult(Result):
    """What a placement algorithm returns (the result protocol of :class:`trimcore.result.Result`).

    Attributes
    ----------
    placement : ndarray of bool, shape (M, I)
        ``placement[m, i]``: model i is cached on server m.
    storage_used : ndarray of float64, shape (M,)
        Union-of-blocks storage per server, computed by :meth:`PlacementProblem.storage_used`.
    objective : float
        The expected cache hit ratio of ``placement`` (:meth:`PlacementProblem.hit_ratio`), also
        :attr:`hit_ratio`.
    upper_bound : float or None
        A certified upper bound on the optimal hit ratio (never below the optimum), or None.

    The other fields are those of :class:`~trimcore.result.Result`.
    """

    objective_name: ClassVar[str] = "hit_ratio"
    sense: ClassVar[Sense] = "max"
    decision_fields: ClassVar[tuple[str, ...]] = ("placement",)

    placement: np.ndarray
    storage_used: np.ndarray

    def _check(self) -> None:
        x, used = self.placement, self.storage_used
        if not isinstance(x, np.ndarray) or x.ndim != 2 or x.dtype != np.bool_:
            raise invalid("PlacementResult.placement", "a bool array of shape (servers, models)",
                          f"{getattr(x, 'dtype', type(x).__name__)}{list(getattr(x, 'shape', []))}")
        if not isinstance(used, np.ndarray) or used.shape != (x.shape[0],) or used.dtype.kind != "f" \
                or not np.all(np.isfinite(used)) or np.any(used < 0):
            raise invalid("PlacementResult.storage_used", f"finite bytes >= 0 of shape ({x.shape[0]},)",
                          f"{getattr(used, 'dtype', type(used).__name__)}{list(getattr(used, 'shape', []))}")
        if not -RATIO_ATOL <= self.objective <= 1.0 + RATIO_ATOL:
            raise invalid("PlacementResult.objective", "a hit ratio in [0, 1]", self.objective)

    @property
    def hit_ratio(self) -> float:
        """Expected cache hit ratio (the objective, under the paper's name)."""
        return self.objective

    @property
    def models_placed(self) -> int:
        """Number of (server, model) pairs placed."""
        return int(self.placement.sum())

    def _summary_extra(self) -> dict[str, Any]:
        return {"storage_used_bytes": float(self.storage_used.sum()), "models_placed": self.models_placed}
