"""Seeded random instances shared by the tests (hypothesis draws the sizes and the seed)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import trimcore as tc


def random_blocks(rng: np.random.Generator, n_models: int, n_blocks: int) -> tuple[np.ndarray, list[list[int]]]:
    """Block sizes and model block lists with random (arbitrary) sharing; every model non-empty."""
    sizes = rng.uniform(0.5, 10.0, n_blocks).round(3)
    blocks = []
    for _ in range(n_models):
        k = int(rng.integers(1, min(n_blocks, 6) + 1))
        blocks.append(sorted(rng.choice(n_blocks, size=k, replace=False).tolist()))
    return sizes, blocks


def random_problem(seed: int, n_servers: int, n_users: int, n_models: int, n_blocks: int,
                   compact: bool) -> tc.PlacementProblem:
    """A random placement problem, dense or compact eligibility."""
    rng = np.random.default_rng(seed)
    sizes, blocks = random_blocks(rng, n_models, n_blocks)
    pop = rng.random((n_users, n_models)) * (rng.random((n_users, n_models)) < 0.7)
    pop[0, 0] += 0.1  # positive total
    capacity = rng.uniform(0.0, sizes.sum() * 0.6, n_servers)
    if compact:
        library = tc.ModelLibrary.from_lists(sizes, blocks)
        smax = rng.uniform(0, library.model_sizes.max() * 1.2, (n_servers, n_users))
        smax[rng.random((n_servers, n_users)) < 0.2] = 0.0
        return tc.PlacementProblem.from_library(library, capacity, pop, smax)
    eligible = rng.random((n_servers, n_users, n_models)) < 0.5
    return tc.PlacementProblem.from_arrays(sizes, blocks, capacity, eligible, pop)


@st.composite
def problems(draw, max_servers: int = 5, max_users: int = 8, max_models: int = 8, max_blocks: int = 70):
    """Hypothesis strategy of random problems (block counts may exceed one 64-bit word)."""
    return random_problem(
        draw(st.integers(0, 2**32 - 1)), draw(st.integers(1, max_servers)), draw(st.integers(1, max_users)),
        draw(st.integers(1, max_models)), draw(st.integers(1, max_blocks)), draw(st.booleans()))


def random_placement(problem: tc.PlacementProblem, seed: int, density: float = 0.4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.random((problem.n_servers, problem.n_models)) < density
