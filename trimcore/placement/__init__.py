"""TrimCaching: parameter-sharing model placement on edge servers (papers/trimcaching.md)."""

from trimcore.placement.problem import PlacementProblem

__all__ = ["PlacementProblem"]
