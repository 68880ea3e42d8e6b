"""Instance builders: the authors' generators (spec §9, the "paper" scenario) and a realistic one.

Both place cloudlets on the EUA Melbourne CBD sites (:meth:`trimcore.instance.topology.Topology.eua`)
and compute per-GB path delays with SciPy's ``csgraph`` (Dijkstra).

* :func:`paper_instance` follows CODE's ``Graph/*`` and ``Test/*`` generators: a random graph grown
  by random node pairs until connected (cloudlet links ``U(5, 10)`` s/GB, data-center links
  ``U(10, 20)``), model sizes ``U(5, 20)`` GB with 2/3 shareable, random families, replicas
  ``randint(1, n/20)`` per model, the M/D/1 queue, the energy cost model, Shannon user rates.
* :func:`realistic_instance`: a geometric k-nearest-neighbour backhaul with link bandwidths in
  Gbps (per-GB delay = 8 / bandwidth), a WAN link to the data center, base + LoRA model sizes from
  :func:`trimcore.instance.zoo.llm_lora_library` (shareable = the base weights, remaining = the
  adapter), GPU memories of 24-80 GB.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trimcore._validate import integer, make_rng, real
from trimcore.errors import invalid
from trimcore.instance.blocks import ModelLibrary
from trimcore.instance.topology import EUA_N_SITES, EUA_N_USERS, Topology
from trimcore.pulling.problem import PullingProblem

__all__ = ["paper_instance", "realistic_instance", "shortest_path_delay", "scenario", "SCENARIOS", "HOMES",
           "METRES_PER_DEGREE"]

#: ``home`` options: nearest EUA site to the user (spec §11 default) or a uniformly random cloudlet (CODE).
HOMES = ("nearest", "random")
#: CODE measures user-site distances in degrees of latitude/longitude; metres are converted back with this.
METRES_PER_DEGREE = 111_320.0


def shortest_path_delay(n_nodes: int, edges: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """All-pairs shortest-path lengths of an undirected weighted graph (``scipy.sparse.csgraph``).

    Unreachable pairs are ``inf``.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import shortest_path

    g = coo_matrix((weight, (edges[:, 0], edges[:, 1])), shape=(n_nodes, n_nodes)).tocsr()
    return np.asarray(shortest_path(g, method="D", directed=False))


def _random_connected_graph(n_nodes: int, rng: np.random.Generator, dc: int) -> tuple[np.ndarray, np.ndarray]:
    """CODE ``connectNode``: add uniformly random new pairs until the graph is connected."""
    parent = np.arange(n_nodes)

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = int(parent[a])
        return a

    edges: list[tuple[int, int]] = []
    weights: list[float] = []
    seen: set[tuple[int, int]] = set()
    components = n_nodes
    while components > 1:
        a, b = (int(v) for v in rng.integers(0, n_nodes, 2))
        key = (min(a, b), max(a, b))
        if a == b or key in seen:
            continue
        seen.add(key)
        edges.append(key)
        weights.append(float(rng.uniform(10, 20) if dc in key else rng.uniform(5, 10)))
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
            components -= 1
    return np.array(edges, np.int64).reshape(-1, 2), np.array(weights)


def _sites(n: int, n_users: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Cloudlet and user positions (m): EUA sites (beyond 125, uniform extras in the same box) and
    EUA users (beyond 816, drawn with replacement)."""
    topo = Topology.eua(seed=rng)
    sites = topo.server_xy
    if n <= EUA_N_SITES:
        site_xy = sites[:n]
    else:
        extra = rng.uniform([0, 0], [topo.width, topo.height], (n - EUA_N_SITES, 2))
        site_xy = np.vstack([sites, extra])
    users = topo.user_xy
    user_xy = users[:n_users] if n_users <= EUA_N_USERS else users[rng.integers(0, EUA_N_USERS, n_users)]
    return site_xy, user_xy


def paper_instance(n_cloudlets: int = 100, n_requests: int = 300, n_models: int = 10, n_families: int | None = None,
                   seed: Any = 0, *, memory: float | None = None, min_accuracy: float | None = None,
                   budget: float | None = None, alpha: float | None = None, home: str = "nearest",
                   user_rate: str = "per_user", replicas: int | None = None, pull_delay: str = "per_request",
                   capacity: str = "per_cloudlet", dc_source: bool = True) -> PullingProblem:
    """The authors' generators (spec §9) on the EUA sites: the "paper" scenario.

    Parameters
    ----------
    n_cloudlets, n_requests, n_models : int
        Test 1 default 100 / 300 / 10.
    n_families : int, optional
        Service types (PFM families); default ``max(1, n_models // 10)`` (Test 1).
    seed : int, Generator or None
    memory, min_accuracy, budget : float, optional
        Fixed values for every cloudlet / request (the Tests 4-6 sweeps); default CODE's draws
        ``randint(8, 24)`` GB, ``U(0.1, 0.4)`` and ``U(3e4, 5e4)``.
    alpha : float, optional
        Memory coefficient; default CODE's ``U(0, 1)`` draw (floored at 0.01).
    home : {"nearest", "random"}
        Home cloudlet of a request: nearest site to its user (default) or uniform (CODE).
    user_rate : {"per_user", "user0"}
        Each user's own Shannon rate (default) or CODE's bug, user 0's rate for every request.
    replicas : int, optional
        Upper end of ``randint(1, .)`` initial replicas per model; default ``max(1, n // 20)``.
    pull_delay, capacity, dc_source
        Passed to :class:`PullingProblem` (CODE: ``"global"``, ``"per_request"``, False).
    """
    n = integer("n_cloudlets", n_cloudlets, 1)
    j = integer("n_requests", n_requests, 0)
    k = integer("n_models", n_models, 1)
    f = integer("n_families", n_families if n_families is not None else max(1, k // 10), 1)
    if home not in HOMES:
        raise invalid("home", f"one of {HOMES}", home)
    if user_rate not in ("per_user", "user0"):
        raise invalid("user_rate", "'per_user' or 'user0'", user_rate)
    rng = make_rng(seed)
    site_xy, user_xy = _sites(n, max(j, 1), rng)
    edges, w = _random_connected_graph(n + 1, rng, n)
    pd = shortest_path_delay(n + 1, edges, w)
    # models
    size = rng.uniform(5, 20, k)
    share = size * 2.0 / 3.0
    flops = rng.uniform(100, 300, k)
    family = rng.integers(0, f, k)
    # cloudlets
    mem = rng.integers(8, 25, n).astype(float) if memory is None else np.full(n, real("memory", memory, low=0))
    proc = rng.uniform(107, 312, n)
    access = rng.uniform(0.1, 0.5, n)
    peak = rng.uniform(0.8, 2.5, n)
    idle = rng.uniform(0.1, 0.3, n)
    leak = rng.uniform(0.1, 0.3, n)
    tpow = rng.uniform(0.8, 2.5, n)
    lam = rng.uniform(0.1, 0.5, n)
    mu = rng.uniform(0.5, 0.9, n)
    top = integer("replicas", replicas, 1) if replicas is not None else max(1, n // 20)
    cached = np.zeros((n, k), bool)
    for m in range(k):
        count = min(n, int(rng.integers(1, top + 1)))
        cached[rng.choice(n, count, replace=False), m] = True
    # requests
    dist = np.sqrt(((user_xy[:j, None, :] - site_xy[None, :, :]) ** 2).sum(axis=2))  # (J, n) metres
    nearest = dist.argmin(axis=1) if j else np.zeros(0, np.int64)
    homes = nearest if home == "nearest" else rng.integers(0, n, j)
    d_deg = np.maximum(dist[np.arange(j), nearest] / METRES_PER_DEGREE, 1e-6)
    rate = 20.0 * np.log2(1.0 + 30.0 / (d_deg ** 2 * 10.0))
    if user_rate == "user0" and j:
        rate = np.full(j, rate[0])
    instr = rng.integers(50, 101, j).astype(float)
    a_req = rng.uniform(0.1, 0.4, j) if min_accuracy is None else np.full(j, float(min_accuracy))
    b_req = rng.uniform(3e4, 5e4, j) if budget is None else np.full(j, float(budget))
    s_in = rng.uniform(0.09, 0.5, j)
    acc = rng.uniform(0.4, 1.0, (j, k))
    rho = rng.uniform(0.1, 0.3, (j, k))  # sampled once per (j, k) (CODE redraws it on every call)
    h = homes
    infer = flops[None, :] * size[None, :] / proc[h][:, None]
    queue = lam[h] * (1.0 / mu[h] ** 2) / (2.0 * (1.0 - lam[h] / mu[h]))
    trans = s_in[:, None] / rate[:, None] + s_in[:, None] * size[None, :] * rho / rate[:, None]
    icost = (access[h] * instr * peak[h])[:, None] + infer * (idle[h] + leak[h])[:, None]
    a = max(0.01, float(rng.uniform(0, 1))) if alpha is None else real("alpha", alpha, low=0.0, low_open=True)
    return PullingProblem.from_arrays(pd, size, share, family, cached, h, infer, queue, trans, acc, a_req, icost,
                                      tpow, b_req, mem, alpha=a, pull_delay=pull_delay, capacity=capacity,
                                      dc_source=dc_source)


def realistic_instance(n_cloudlets: int = 50, n_requests: int = 300, n_models: int = 20, n_families: int = 4,
                       seed: Any = 0, *, k_neighbours: int = 3, link_gbps: tuple[float, float] = (1.0, 10.0),
                       wan_gbps: tuple[float, float] = (0.2, 1.0), pull_delay: str = "per_request",
                       capacity: str = "per_cloudlet", dc_source: bool = True,
                       library: ModelLibrary | None = None) -> PullingProblem:
    """A realistic scenario: LLM bases + LoRA adapters over a Gbps backhaul.

    Cloudlets are EUA sites joined to their ``k_neighbours`` nearest sites (bandwidth
    ``U(link_gbps)`` Gbps, per-GB delay ``8 / bandwidth`` s) and each to the data center
    (``U(wan_gbps)`` Gbps). Models: ``n_families`` Llama-2-7B-sized fp16 bases with LoRA
    adapters of rank 8-64 (:func:`~trimcore.instance.zoo.llm_lora_library`); a model's
    shareable block is its base, the remaining block its adapter. GPU memory 24, 40 or 80 GB,
    alpha = 1.2 (activations). Inference ``U(0.5, 2)`` s per request, accuracy rising with rank.

    ``library`` replaces the zoo's models by any :class:`~trimcore.instance.blocks.ModelLibrary`
    (e.g. one scanned from weight files by :meth:`ModelLibrary.from_weights`): ``n_models`` and
    ``n_families`` are then the library's, a model's shareable block is the size of its blocks
    that another model also holds, its remaining block the rest, and the accuracy rises with the
    size of the remaining block as it does with the adapter's rank.
    """
    from trimcore.instance.zoo import llm_lora_library

    n = integer("n_cloudlets", n_cloudlets, 2)
    j = integer("n_requests", n_requests, 0)
    if library is not None and not isinstance(library, ModelLibrary):
        raise invalid("library", "a ModelLibrary or None", type(library).__name__)
    k = library.n_models if library is not None else integer("n_models", n_models, 1)
    f = library.n_families if library is not None else integer("n_families", n_families, 1, k)
    kn = integer("k_neighbours", k_neighbours, 1, n - 1)
    rng = make_rng(seed)
    site_xy, user_xy = _sites(n, max(j, 1), rng)
    d = np.sqrt(((site_xy[:, None, :] - site_xy[None, :, :]) ** 2).sum(axis=2))
    np.fill_diagonal(d, np.inf)
    nbr = np.argsort(d, axis=1)[:, :kn]
    pairs = {(min(a, int(b)), max(a, int(b))) for a in range(n) for b in nbr[a]}
    e = np.array(sorted(pairs), np.int64)
    edges = np.vstack([e, np.column_stack([np.arange(n), np.full(n, n)])])
    bw = np.concatenate([rng.uniform(*link_gbps, e.shape[0]), rng.uniform(*wan_gbps, n)])
    pd = shortest_path_delay(n + 1, edges, 8.0 / bw)
    if not np.isfinite(pd).all():  # a kNN graph can split into components; the DC links join them
        raise invalid("k_neighbours", "a connected backhaul", "a disconnected graph")
    gb = 1e-9
    if library is None:
        ranks = rng.choice([8, 16, 32, 64], k)
        lib = llm_lora_library(k, f, rank=[int(r) for r in ranks], seed=rng)
        base_of = lib.indices[lib.indptr[:-1]]
        adapter_of = lib.indices[lib.indptr[:-1] + 1]
        share = lib.block_sizes[base_of] * gb
        adapter_gb = lib.block_sizes[adapter_of] * gb
    else:
        lib = library
        shared = lib.block_model_count > 1
        share = np.array([lib.block_sizes[b[shared[b]]].sum() for b in map(lib.blocks_of, range(k))]) * gb
        adapter_gb = lib.model_sizes * gb - share
    size = share + adapter_gb
    family = lib.model_family
    positive = adapter_gb[adapter_gb > 0]
    # adapter size is linear in the rank; a model without private bytes counts as the smallest rank
    rank_of = 8.0 * np.maximum(adapter_gb, positive.min() if positive.size else 1.0) / (
        positive.min() if positive.size else 1.0)
    cached = np.zeros((n, k), bool)
    for m in range(k):
        cached[rng.choice(n, int(rng.integers(1, max(2, n // 10))), replace=False), m] = True
    mem = rng.choice([24.0, 40.0, 80.0], n)
    dist = np.sqrt(((user_xy[:j, None, :] - site_xy[None, :, :]) ** 2).sum(axis=2))
    homes = dist.argmin(axis=1) if j else np.zeros(0, np.int64)
    infer = rng.uniform(0.5, 2.0, (j, k))
    lam = rng.uniform(0.1, 0.5, n)
    mu = rng.uniform(0.6, 1.2, n)
    queue = lam[homes] / mu[homes] ** 2 / (2.0 * (1.0 - lam[homes] / mu[homes]))
    trans = rng.uniform(0.01, 0.1, (j, 1)) * (1.0 + 0.1 * rng.random((j, k)))
    acc = np.clip(rng.uniform(0.4, 0.9, (j, k)) + 0.02 * np.log2(rank_of / 8.0)[None, :], 0.0, 1.0)
    tpow = rng.uniform(0.8, 2.5, n)
    icost = infer * rng.uniform(0.3, 0.6, (j, 1))
    need = rng.uniform(0.3, 0.6, j)
    budget = icost.mean(axis=1) + tpow[homes] * rng.uniform(60, 200, j)
    return PullingProblem.from_arrays(pd, size, share, family, cached, homes, infer, queue, trans, acc, need, icost,
                                      tpow, budget, mem, alpha=1.2, pull_delay=pull_delay, capacity=capacity,
                                      dc_source=dc_source)


#: Named pulling scenarios: ``"paper"`` (CODE's generators, spec §9, our default model), ``"code"``
#: (the same generators under CODE's model and quirks) and ``"realistic"``.
SCENARIOS: dict[str, Any] = {
    "paper": paper_instance,
    "code": lambda *a, **kw: paper_instance(*a, **{"home": "random", "user_rate": "user0", "pull_delay": "global",
                                                   "capacity": "per_request", "dc_source": False, **kw}),
    "realistic": realistic_instance,
}


def scenario(name: str, *args: Any, **kwargs: Any) -> PullingProblem:
    """Build the named scenario (:data:`SCENARIOS`); arguments go to its builder."""
    if name not in SCENARIOS:
        raise invalid("scenario", f"one of {sorted(SCENARIOS)}", name)
    problem: PullingProblem = SCENARIOS[name](*args, **kwargs)
    return problem
