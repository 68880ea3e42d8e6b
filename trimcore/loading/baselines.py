"""Baselines B1-B6 of spec §6 (B7, the optimum, is :func:`trimcore.loading.exact.partialloading_optimal`).

* B1 :func:`no_sharing_schedule` -- the same scheduler on the no-sharing model (eq. 2').
* B2 :func:`fcfs_schedule` -- arrival (index) order, partial loading, admit while feasible.
* B3 :func:`edf_schedule` -- deadline order (random ties), otherwise like B2.
* B4 :func:`grouping_schedule` -- requests grouped per model, largest group first, no cross-model reuse.
* B5 :func:`random_schedule` -- a random permutation processed like B2.
* B6 :func:`equal_bandwidth_schedule` -- the greedy's candidate order with ``b_k = B / N``.

Baselines without sharing (B1, B4) are scored on ``problem.with_options(loading="full")``:
the system they model reloads every different model in full.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from trimcore._validate import make_rng
from trimcore.errors import invalid
from trimcore.loading.dp import partialloading_dp, partialloading_dp_edf
from trimcore.loading.greedy import partialloading_greedy, sequential_admission
from trimcore.loading.problem import SPREADS, LoadingProblem
from trimcore.loading.result import LoadingResult, loading_backend, make_result

__all__ = [
    "no_sharing_schedule",
    "fcfs_schedule",
    "edf_schedule",
    "grouping_schedule",
    "random_schedule",
    "equal_bandwidth_schedule",
    "SCHEDULERS",
]

#: Schedulers B1 can run on the no-sharing model.
SCHEDULERS: dict[str, Callable[..., LoadingResult]] = {
    "dp": partialloading_dp, "greedy": partialloading_greedy, "dp_edf": partialloading_dp_edf}


def _spread(spread: str) -> None:
    if not isinstance(spread, str) or spread not in SPREADS:
        raise invalid("spread", f"one of {SPREADS}", spread)


def no_sharing_schedule(problem: LoadingProblem, *, scheduler: str = "dp", backend: str = "auto",
                        **options: Any) -> LoadingResult:
    """B1: run ``scheduler`` with full reloads (no parameter sharing, spec eq. 2').

    Parameters
    ----------
    problem : LoadingProblem
    scheduler : {"dp", "greedy", "dp_edf"}
    backend
        Passed on.
    **options
        Options of the scheduler (e.g. ``deadline="min"`` for ``"dp"``).

    Returns
    -------
    LoadingResult
        Scored on the ``loading="full"`` problem; ``options["scheduler"]`` names the scheduler.
    """
    if not isinstance(scheduler, str) or scheduler not in SCHEDULERS:
        raise invalid("scheduler", f"one of {sorted(SCHEDULERS)}", scheduler)
    full = problem.with_options(loading="full")
    res = SCHEDULERS[scheduler](full, backend=backend, **options)
    return dataclasses.replace(res, algorithm="no_sharing_schedule",
                               options={**res.options, "scheduler": scheduler, "loading": "full"})


def _admit(problem: LoadingProblem, candidates: np.ndarray, name: str, options: dict[str, Any], started: float,
           spread: str, backend: str) -> LoadingResult:
    order = sequential_admission(problem, candidates, backend)
    return make_result(problem, order, name, options, started, spread=spread, backend=backend)


def fcfs_schedule(problem: LoadingProblem, *, spread: str = "proportional", backend: str = "auto") -> LoadingResult:
    """B2: first come, first served (user index = arrival order), partial loading.

    Users are taken in index order and appended whenever the order stays feasible (GPU chain
    and bandwidth, decoupling theorem); the others are skipped.
    """
    _spread(spread)
    backend = loading_backend(backend, "fcfs_schedule")
    started = time.perf_counter()
    return _admit(problem, np.arange(problem.n_users), "fcfs_schedule", {"spread": spread}, started, spread, backend)


def edf_schedule(problem: LoadingProblem, *, spread: str = "proportional", seed: Any = None,
                 backend: str = "auto") -> LoadingResult:
    """B3: earliest deadline first, ties broken randomly with ``seed``; otherwise like B2."""
    _spread(spread)
    rng = make_rng(seed)
    backend = loading_backend(backend, "edf_schedule")
    started = time.perf_counter()
    tie = rng.permutation(problem.n_users)
    cand = np.lexsort((tie, problem.deadline))
    return _admit(problem, cand, "edf_schedule", {"spread": spread, "seed": seed}, started, spread, backend)


def grouping_schedule(problem: LoadingProblem, *, spread: str = "proportional",
                      backend: str = "auto") -> LoadingResult:
    """B4: group requests per model, largest group first, full reloads (no cross-model reuse).

    Groups are ordered by their number of schedulable requests (descending, ties by model id),
    users inside a group by inference time then index, and admitted like B2 on the
    ``loading="full"`` problem, on which the result is scored.
    """
    _spread(spread)
    backend = loading_backend(backend, "grouping_schedule")
    started = time.perf_counter()
    full = problem.with_options(loading="full")
    users = np.flatnonzero(full.schedulable)
    counts = np.bincount(full.user_model[users], minlength=full.n_models)
    cand = users[np.lexsort((users, full.infer_time[users], full.user_model[users], -counts[full.user_model[users]]))]
    return _admit(full, cand, "grouping_schedule", {"spread": spread, "loading": "full"}, started, spread, backend)


def random_schedule(problem: LoadingProblem, *, spread: str = "proportional", seed: Any = None,
                    backend: str = "auto") -> LoadingResult:
    """B5: a random permutation (``seed``) processed like B2; average over draws in experiments."""
    _spread(spread)
    rng = make_rng(seed)
    backend = loading_backend(backend, "random_schedule")
    started = time.perf_counter()
    cand = rng.permutation(problem.n_users)
    return _admit(problem, cand, "random_schedule", {"spread": spread, "seed": seed}, started, spread, backend)


def equal_bandwidth_schedule(problem: LoadingProblem, *, backend: str = "auto") -> LoadingResult:
    """B6: the greedy's candidate order, but every scheduled user gets ``B / N`` (no P2).

    Every round takes the candidates in Greedy-PL's order ``(L + t_k, T_k, upload demand, k)``
    and appends the first one with which the simulated timeline, every user of the order holding
    ``B / (N + 1)``, meets every deadline. The result carries that equal allocation.
    """
    backend = loading_backend(backend, "equal_bandwidth_schedule")
    started = time.perf_counter()
    p = problem
    limit = p.deadline_limit
    active = np.flatnonzero(p.schedulable)
    order: list[int] = []
    fin, resident = 0.0, p.initial_model
    band = np.zeros(p.n_users)
    while active.size:
        active = active[fin + p.infer_time[active] <= limit[active]]
        if not active.size:
            break
        lam = p.switch_row(resident, backend)[p.user_model[active]]
        delta = lam + p.infer_time[active]
        gpu = fin + delta <= limit[active]
        key = np.lexsort((active, p.upload_demand[active], p.deadline[active], delta))
        chosen = -1
        for idx in key[gpu[key]].tolist():
            trial = [*order, int(active[idx])]
            band[:] = 0.0
            band[trial] = p.bandwidth_hz / len(trial)
            if p.evaluate(trial, band, backend=backend).feasible:
                chosen = idx
                break
        if chosen < 0:
            break
        k = int(active[chosen])
        order.append(k)
        fin = fin + float(delta[chosen])
        resident = int(p.user_model[k])
        active = np.delete(active, chosen)
    band[:] = 0.0
    if order:
        band[order] = p.bandwidth_hz / len(order)
    return make_result(p, np.asarray(order, dtype=np.int64), "equal_bandwidth_schedule", {}, started, bandwidth=band,
                       backend=backend)
