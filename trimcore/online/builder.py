"""Caching instances from the instance layer: servers, the spec's LLM table (§6), LoRA families, demand."""

from __future__ import annotations

from typing import Any

import numpy as np

from trimcore._validate import integer, make_rng, real
from trimcore.errors import invalid
from trimcore.instance.blocks import ModelLibrary
from trimcore.instance.demand import zipf_weights
from trimcore.instance.topology import Topology
from trimcore.instance.zoo import llm_lora_library
from trimcore.online.problem import CachingProblem

__all__ = ["LLM_TABLE", "LIBRARIES", "TOPOLOGIES", "llm_table_library", "make_caching_instance"]

#: The spec's default PFM library (§6): name, parameters, zero-shot and saturated accuracy (INFERRED knobs).
LLM_TABLE: tuple[tuple[str, float, float, float], ...] = (
    ("GPT-2 XL", 1.5e9, 0.30, 0.45),
    ("OPT-2.7B", 2.7e9, 0.33, 0.50),
    ("GPT-J-6B", 6.0e9, 0.38, 0.58),
    ("LLaMA-7B", 6.75e9, 0.40, 0.62),
    ("LLaMA-13B", 13.0e9, 0.45, 0.68),
    ("OPT-30B", 30.0e9, 0.48, 0.72),
    ("LLaMA-33B", 32.5e9, 0.52, 0.75),
    ("LLaMA-65B", 65.0e9, 0.56, 0.80),
)
#: ``library`` options of :func:`make_caching_instance`.
LIBRARIES: tuple[str, ...] = ("llm", "lora")
#: ``topology`` options: N servers with equal demand, or EUA Melbourne sites with demand by attached users.
TOPOLOGIES: tuple[str, ...] = ("uniform", "eua")


def llm_table_library() -> tuple[ModelLibrary, np.ndarray, np.ndarray]:
    """The §6 table as a library (one block per model, fp16: 2 bytes per parameter) and its accuracies.

    Returns
    -------
    library, acc_zero, acc_max
    """
    sizes = [2.0 * p for _, p, _, _ in LLM_TABLE]
    lib = ModelLibrary.from_lists(sizes, [[i] for i in range(len(LLM_TABLE))],
                                  model_names=[n for n, *_ in LLM_TABLE], families=list(range(len(LLM_TABLE))),
                                  family_names=[n for n, *_ in LLM_TABLE])
    return lib, np.array([a for *_, a, _ in LLM_TABLE]), np.array([b for *_, b in LLM_TABLE])


def make_caching_instance(
    n_servers: int | None = 3,
    *,
    topology: str = "uniform",
    library: str | ModelLibrary = "llm",
    n_adapters: int = 20,
    n_bases: int = 1,
    memory_gb: float = 80.0,
    n_slots: int = 500,
    arrival_rate: float = 5.0,
    zipf: float = 0.8,
    n_tasks: int = 4,
    tasks_per_model: int = 2,
    tokens: tuple[int, int] = (32, 256),
    popularity_period: int | None = None,
    nu: float = 0.9,
    block_sharing: bool = True,
    seed: Any = None,
    **options: Any,
) -> CachingProblem:
    """A caching problem with the spec's default setting (§6).

    Parameters
    ----------
    n_servers : int or None
        Edge servers; with ``topology="eua"`` a seeded subset of the 125 EUA sites (None: all).
    topology : {"uniform", "eua"}
        ``"uniform"``: every server gets Poisson(``arrival_rate``) requests per slot. ``"eua"``:
        the 816 EUA users attach to their nearest site and a server's rate is ``arrival_rate``
        times its share of users over the mean share (the mean rate stays ``arrival_rate``).
    library : {"llm", "lora"} or ModelLibrary
        ``"llm"``: the §6 table (8 models, fp16); ``"lora"``: ``n_adapters`` LoRA adapters on
        ``n_bases`` Llama-2-7B bases (:func:`trimcore.instance.zoo.llm_lora_library`), zero-shot /
        saturated accuracy of the LLaMA-7B row; or any library (accuracies from the options).
    memory_gb : float
        GPU memory per server (GB, 1e9 bytes).
    n_slots, arrival_rate : int, float
        Slots T and Poisson arrivals per server per slot.
    zipf : float
        Zipf exponent of model popularity; the rank order is random per server.
    n_tasks, tasks_per_model : int
        M tasks; each model serves ``tasks_per_model`` of them (random, every task has a model).
        A request's task is uniform among its model's tasks.
    tokens : (int, int)
        Input and output tokens are uniform integers in this range.
    popularity_period : int or None
        Popularity drift (beyond the spec, whose demand is stationary): every this many slots each
        server's rank order is drawn afresh, so the popular models change. None: one rank order
        per server for the whole trace (the spec; the trace is then the same as without the option).
    nu, block_sharing, **options
        As in :meth:`CachingProblem.from_arrays`.
    seed : None, int or Generator

    Returns
    -------
    CachingProblem
    """
    rng = make_rng(seed)
    if topology not in TOPOLOGIES:
        raise invalid("topology", f"one of {TOPOLOGIES}", topology)
    lam = real("arrival_rate", arrival_rate, low=0.0, low_open=True)
    if topology == "eua":
        top = Topology.eua(n_servers=n_servers, seed=rng)
        n = top.n_servers
        nearest = np.argmin(top.distances(), axis=0)  # [M, K] -> the nearest site of every user
        counts = np.bincount(nearest, minlength=n).astype(float) + 1.0  # every site serves someone
        rates = lam * counts / counts.mean()
    else:
        n = integer("n_servers", n_servers, 1)
        rates = np.full(n, lam)
    acc: dict[str, Any] = {}
    if isinstance(library, ModelLibrary):
        lib = library
    elif library == "llm":
        lib, a0, amax = llm_table_library()
        acc = {"acc_zero": a0, "acc_max": amax}
    elif library == "lora":
        lib = llm_lora_library(n_adapters=n_adapters, n_bases=n_bases, seed=rng)
        acc = {"acc_zero": 0.40, "acc_max": 0.62}
    else:
        raise invalid("library", f"one of {LIBRARIES} or a ModelLibrary", library)
    n_models = lib.n_models
    t_slots = integer("n_slots", n_slots, 1)
    m_tasks = integer("n_tasks", n_tasks, 1)
    per = integer("tasks_per_model", tasks_per_model, 1, m_tasks)
    model_tasks = np.zeros((n_models, m_tasks), dtype=bool)
    for i in range(n_models):
        model_tasks[i, rng.choice(m_tasks, per, replace=False)] = True
    for m in np.flatnonzero(~model_tasks.any(axis=0)):  # every task has at least one model
        model_tasks[int(rng.integers(n_models)), m] = True
    weights = zipf_weights(n_models, real("zipf", zipf, low=0.0))
    arrivals = rng.poisson(np.tile(rates, (t_slots, 1))).reshape(-1)  # [T * N], slot-major
    slot = np.repeat(np.repeat(np.arange(t_slots), n), arrivals)
    server = np.repeat(np.tile(np.arange(n), t_slots), arrivals)
    order = np.lexsort((rng.random(slot.size), slot))  # arrival order inside a slot is random
    slot, server = slot[order], server[order]
    ranks = np.array([rng.permutation(n_models) for _ in range(n)])  # rank -> model, per server
    if popularity_period is None:
        model = ranks[server, rng.choice(n_models, slot.size, p=weights)] if slot.size else server.copy()
    else:  # one rank order per (period, server); the first period keeps the stationary draw
        period = integer("popularity_period", popularity_period, 1)
        epochs = [ranks] + [np.array([rng.permutation(n_models) for _ in range(n)])
                            for _ in range((t_slots - 1) // period)]
        table = np.stack(epochs)  # [E, N, I]
        model = table[slot // period, server, rng.choice(n_models, slot.size, p=weights)] if slot.size \
            else server.copy()
    task_choice = rng.random(slot.size)
    task = np.empty(slot.size, dtype=np.int64)
    for i in range(n_models):
        rows = np.flatnonzero(model == i)
        tasks = np.flatnonzero(model_tasks[i])
        task[rows] = tasks[np.minimum((task_choice[rows] * tasks.size).astype(np.int64), tasks.size - 1)]
    lo, hi = int(tokens[0]), int(tokens[1])
    if not 0 <= lo <= hi:
        raise invalid("tokens", "a range (low, high) with 0 <= low <= high", tokens)
    tin = rng.integers(lo, hi + 1, slot.size).astype(float)
    tout = rng.integers(lo, hi + 1, slot.size).astype(float)
    mem = real("memory_gb", memory_gb, low=0.0) * 1e9
    lib_blocks = [lib.indices[lib.indptr[i]:lib.indptr[i + 1]] for i in range(n_models)]
    return CachingProblem.from_arrays(lib.block_sizes, lib_blocks, np.full(n, mem), slot, server, model, task=task,
                                      tokens_in=tin, tokens_out=tout, model_tasks=model_tasks, nu=nu,
                                      block_sharing=block_sharing, **{**acc, **options})
