"""The result protocol every algorithm of every paper package follows.

A result is a frozen dataclass deriving from :class:`Result`. It holds

* the decision arrays (declared by the subclass, named in :attr:`Result.decision_fields`);
* ``objective``: the problem's own evaluator's value of that decision, also reachable under the
  paper's name (``hit_ratio``, ``served``, ``total_delay``, ``cost``: :attr:`Result.objective_name`);
* ``feasible``, ``status`` (:data:`Status`), ``lower_bound`` / ``upper_bound`` (or None) and the
  relative :attr:`Result.gap`;
* ``runtime_s`` (the algorithm alone) and ``bound_runtime_s`` (the bound's time, beside it);
* ``algorithm`` (the public function's name) and ``options`` (what it ran with, including the
  resolved ``backend``; never ``"auto"``).

Every result has :meth:`Result.summary` (one flat row for tables and CSV files), a short
``repr`` (arrays as ``bool[100, 1000]``, never their contents) and :meth:`Result.save` /
:meth:`Result.load` through :mod:`trimcore.instance.io`; ``load`` validates like the
constructor does, because it calls it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal, get_args

import numpy as np

from trimcore._persist import Stored, describe_value, short_repr
from trimcore.errors import invalid

__all__ = ["Result", "Status", "STATUSES", "Sense", "short_repr", "describe_value"]

#: How an algorithm's run ended.
#:
#: * ``"optimal"`` — the decision is proved optimal (an exact solver, or an algorithm that is
#:   exact on this instance class);
#: * ``"feasible"`` — a feasible decision whose optimality is not proved (every heuristic);
#: * ``"infeasible"`` — the decision violates a constraint, or the solver proved that none exists;
#: * ``"time_limit"`` — an exact solver stopped at its time limit with the incumbent returned.
Status = Literal["optimal", "feasible", "infeasible", "time_limit"]
STATUSES: tuple[str, ...] = get_args(Status)
Sense = Literal["max", "min"]

@dataclass(frozen=True, eq=False, repr=False, kw_only=True)
class Result(Stored):
    """Fields every result carries; subclasses add the decision arrays.

    Subclasses set the class variables :attr:`objective_name` (the paper's name of the objective,
    exposed as a property by the subclass), :attr:`sense` and :attr:`decision_fields`, and may
    override :meth:`_check` (validation of their own fields, called on construction and so on
    :meth:`load`) and :meth:`_summary_extra` (extra columns of :meth:`summary`).

    Attributes
    ----------
    objective : float
        The problem's evaluator's value of the decision.
    feasible : bool
        The decision satisfies every constraint of the problem.
    status : Status
        How the run ended (see :data:`Status`).
    runtime_s : float
        Wall-clock seconds of the algorithm itself (scoring and bounds excluded).
    algorithm : str
        The public function that produced the result.
    options : dict
        What the algorithm ran with and chose; ``options["backend"]`` is the tier that ran.
    lower_bound, upper_bound : float or None
        Certified bounds on the optimal objective (None when not computed).
    bound_method : str or None
        How the bound was obtained (``"lp"``, ``"submodular"``, ``"milp"``, ...).
    bound_runtime_s : float
        Wall-clock seconds spent on the bound (0 when none was computed).
    """

    objective_name: ClassVar[str] = "objective"
    sense: ClassVar[Sense] = "max"
    decision_fields: ClassVar[tuple[str, ...]] = ()

    objective: float
    feasible: bool
    status: Status
    runtime_s: float
    algorithm: str
    options: dict[str, Any] = field(default_factory=dict)
    lower_bound: float | None = None
    upper_bound: float | None = None
    bound_method: str | None = None
    bound_runtime_s: float = 0.0

    def __post_init__(self) -> None:
        name = type(self).__name__
        for key in ("objective", "runtime_s", "bound_runtime_s"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
                raise invalid(f"{name}.{key}", "a real number", value)
            object.__setattr__(self, key, float(value))
        if math.isnan(self.objective):
            raise invalid(f"{name}.objective", "a number (not NaN)", self.objective)
        for key in ("runtime_s", "bound_runtime_s"):
            if not getattr(self, key) >= 0.0:
                raise invalid(f"{name}.{key}", "seconds >= 0", getattr(self, key))
        for key in ("lower_bound", "upper_bound"):
            value = getattr(self, key)
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating) \
                        or math.isnan(value):
                    raise invalid(f"{name}.{key}", "a real number or None", value)
                object.__setattr__(self, key, float(value))
        if not isinstance(self.feasible, bool | np.bool_):
            raise invalid(f"{name}.feasible", "a bool", self.feasible)
        object.__setattr__(self, "feasible", bool(self.feasible))
        if self.status not in STATUSES:
            raise invalid(f"{name}.status", f"one of {STATUSES}", self.status)
        if not isinstance(self.algorithm, str) or not self.algorithm:
            raise invalid(f"{name}.algorithm", "the name of the public function", self.algorithm)
        if not isinstance(self.options, Mapping):
            raise invalid(f"{name}.options", "a dict", type(self.options).__name__)
        object.__setattr__(self, "options", dict(self.options))
        if self.options.get("backend") == "auto":
            raise invalid(f"{name}.options['backend']", "the tier that ran, never 'auto'", "auto")
        if self.bound_method is not None and not isinstance(self.bound_method, str):
            raise invalid(f"{name}.bound_method", "a str or None", self.bound_method)
        self._check()

    def _check(self) -> None:
        """Validate the subclass's own fields (raise :class:`~trimcore.errors.InstanceError`)."""

    @property
    def gap(self) -> float | None:
        """Relative optimality gap in [0, 1] against the certified bound, or None without one.

        ``(bound - objective) / max(|bound|, |objective|)`` for a maximisation (``upper_bound``),
        ``(objective - bound) / max(|objective|, |bound|)`` for a minimisation (``lower_bound``);
        0 when both are 0. For non-negative objectives this is ``1 - objective / upper_bound``
        and ``1 - lower_bound / objective``.
        """
        bound = self.upper_bound if self.sense == "max" else self.lower_bound
        if bound is None:
            return None
        distance = bound - self.objective if self.sense == "max" else self.objective - bound
        scale = max(abs(bound), abs(self.objective))
        if scale <= 0.0 or distance <= 0.0:
            return 0.0
        return min(1.0, distance / scale)

    def _summary_extra(self) -> dict[str, Any]:
        """Extra flat columns of :meth:`summary` (scalars only)."""
        return {}

    def summary(self) -> dict[str, Any]:
        """One flat row for tables and CSV files (scalars only, no arrays)."""
        row: dict[str, Any] = {"algorithm": self.algorithm, self.objective_name: self.objective}
        row.update(self._summary_extra())
        row.update({"feasible": self.feasible, "status": self.status, "lower_bound": self.lower_bound,
                    "upper_bound": self.upper_bound, "gap": self.gap, "runtime_s": self.runtime_s,
                    "bound_runtime_s": self.bound_runtime_s, "backend": self.options.get("backend")})
        return row

    def __repr__(self) -> str:
        names = ["algorithm", *self.decision_fields]
        text = short_repr(self, names)[:-1]
        return (f"{text}, {self.objective_name}={describe_value(self.objective)}, feasible={self.feasible}, "
                f"status={self.status!r}, gap={describe_value(self.gap)}, runtime_s={describe_value(self.runtime_s)})")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of every constructor field (base and subclass)."""
        return tuple(f.name for f in fields(cls) if f.init)
