"""Named scenarios: plain dicts (or TOML files) that say how to build an instance.

A scenario is data: ``build_placement(scenario)`` turns it into a :class:`PlacementProblem`
with the compact builder (eligibility is never materialized as M x K x I). Every random
choice derives from ``scenario["seed"]``.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from trimcore._validate import integer, positive_scalar
from trimcore.errors import invalid
from trimcore.instance import demand, topology, zoo
from trimcore.instance.blocks import ModelLibrary
from trimcore.loading.problem import LoadingProblem
from trimcore.placement.problem import PlacementProblem

__all__ = ["DEFAULT_SCENARIO", "SCENARIOS", "scenario", "load_scenario", "build_library", "build_topology",
           "build_placement", "large_placement_instance", "make_loading_instance"]

MB = 2**20

#: The built-in default: EUA Melbourne CBD, ResNet-18/34/50 fine-tuned with frozen backbones
#: (the special case: one shared block per family), Zipf 0.8, small-cell radio.
DEFAULT_SCENARIO: dict[str, Any] = {
    "name": "default",
    "seed": 0,
    "topology": {"kind": "eua", "n_servers": None, "n_users": None},
    "library": {"kind": "frozen_backbone", "families": ["resnet18", "resnet34", "resnet50"],
                "models_per_family": 10, "dtype": "fp32"},
    "demand": {"exponent": 0.8, "ranking": "per_user"},
    "capacity_mb": 300.0,
    "latency_s": [1.0, 5.0],
    "radio": {"bandwidth_hz": 20e6, "tx_power_dbm": 23.0, "noise_dbm_per_hz": -174.0, "variant": "direct",
              "backhaul_bps": 1e9},
}

#: Other named scenarios, each a set of changes to the default.
SCENARIOS: dict[str, dict[str, Any]] = {
    "default": {},
    "nested": {"name": "nested", "library": {"kind": "nested_sharing", "families": ["resnet18", "resnet34",
                                                                                    "resnet50"],
                                             "models_per_family": 10, "dtype": "fp32",
                                             "depth_range": [2, 5]}},
    "uniform-small": {"name": "uniform-small", "topology": {"kind": "uniform", "n_servers": 10, "n_users": 30,
                                                            "width": 1000.0, "height": 1000.0},
                      "radio": {"tx_power_dbm": 30.0}},
    "llm": {"name": "llm", "library": {"kind": "llm_lora", "n_adapters": 20, "n_bases": 2},
            "capacity_mb": 40_000.0, "latency_s": [20.0, 60.0], "radio": {"tx_power_dbm": 43.0}},
}


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        old = out.get(key)
        # a section that switches its kind (library, topology) starts afresh: the old kind's
        # options (e.g. the zoo's ``families``) mean nothing to the new builder
        if isinstance(value, dict) and isinstance(old, dict) and value.get("kind", old.get("kind")) == old.get("kind"):
            out[key] = _merge(old, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def scenario(name: str = "default", **changes: Any) -> dict[str, Any]:
    """A named scenario as a fresh dict, with ``changes`` merged in (nested dicts merge)."""
    if name not in SCENARIOS:
        raise invalid("scenario", f"one of {sorted(SCENARIOS)}", name)
    return _merge(_merge(DEFAULT_SCENARIO, SCENARIOS[name]), changes)


def load_scenario(path: str | Path) -> dict[str, Any]:
    """Read a scenario from a TOML file; missing keys take the default scenario's values."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise invalid("scenario file", f"a readable TOML file ({path})", str(exc)) from None
    return _merge(DEFAULT_SCENARIO, data)


def build_library(spec: dict[str, Any], seed: int | None = None) -> ModelLibrary:
    """Model library of a scenario's ``library`` section."""
    options = dict(spec)
    kind = options.pop("kind", "frozen_backbone")
    builders: dict[str, Callable[..., ModelLibrary]] = {
        "frozen_backbone": zoo.frozen_backbone_library, "nested_sharing": zoo.nested_sharing_library,
        "llm_lora": zoo.llm_lora_library, "synthetic": zoo.synthetic_library}
    if kind not in builders:
        raise invalid("library.kind", f"one of {sorted(builders)}", kind)
    if "families" in options:
        options["families"] = tuple(options["families"])
    if "depth_range" in options:
        options["depth_range"] = tuple(options["depth_range"])
    if kind != "frozen_backbone" or "class_range" in options:
        options.setdefault("seed", seed)
    return builders[kind](**options)


def build_topology(spec: dict[str, Any], seed: int | None = None) -> topology.Topology:
    """Topology of a scenario's ``topology`` section."""
    options = dict(spec)
    kind = options.pop("kind", "eua")
    if kind == "eua":
        return topology.Topology.eua(options.get("n_servers"), options.get("n_users"), seed=seed)
    if kind == "uniform":
        return topology.Topology.uniform(options["n_servers"], options["n_users"],
                                         options.get("width", 1000.0), options.get("height", 1000.0), seed=seed)
    if kind == "grid":
        return topology.Topology.grid(options["rows"], options["cols"], options["n_users"],
                                      options.get("width", 1000.0), options.get("height", 1000.0), seed=seed)
    raise invalid("topology.kind", "one of 'eua', 'uniform', 'grid'", kind)


def build_placement(spec: dict[str, Any], *, with_parts: bool = False) -> Any:
    """Build the placement problem of a scenario (compact eligibility).

    Returns the problem, or ``(problem, parts)`` with the library, topology, latency limits and
    radio options when ``with_parts`` (what mobility needs to re-evaluate eligibility).
    """
    seed = int(spec.get("seed", 0))
    streams = np.random.SeedSequence(seed).spawn(4)
    library = build_library(spec["library"], int(streams[0].generate_state(1)[0]))
    topo = build_topology(spec["topology"], int(streams[1].generate_state(1)[0]))
    low, high = spec["latency_s"] if isinstance(spec["latency_s"], list | tuple) else (spec["latency_s"],) * 2
    limits = topology.latency_limits(topo.n_users, float(low), float(high), seed=int(streams[2].generate_state(1)[0]))
    pop = demand.zipf_popularity(topo.n_users, library.n_models, spec["demand"].get("exponent", 0.8),
                                 ranking=spec["demand"].get("ranking", "per_user"),
                                 seed=int(streams[3].generate_state(1)[0]))
    capacity = spec["capacity_mb"]
    capacity = np.asarray(capacity, dtype=float) * MB
    if capacity.ndim == 0:
        capacity = np.full(topo.n_servers, float(capacity))
    radio = dict(spec.get("radio", {}))
    problem = PlacementProblem.from_topology(library, topo, pop, capacity, limits, **radio)
    if with_parts:
        return problem, {"library": library, "topology": topo, "latency_limit": limits, "radio": radio,
                         "popularity": pop, "capacity": capacity}
    return problem


def large_placement_instance(n_servers: int, n_users: int, n_models: int, *, seed: int = 0,
                             nested: bool = True, n_families: int = 10, capacity_models: float = 4.0,
                             reach_servers: float = 3.0) -> PlacementProblem:
    """A seeded synthetic instance at scale, built compactly (for benchmarks and sweeps).

    Servers on a uniform random layout in a square whose side grows with ``sqrt(n_servers)``,
    users uniform, a synthetic library with nested (or special-case) sharing, Zipf 0.8 with
    per-user rankings, capacities of ``capacity_models`` median models, and latency limits
    calibrated so that a user reaches about ``reach_servers`` servers for a median model.
    """
    rng_seeds = np.random.SeedSequence(seed).spawn(4)
    library = zoo.synthetic_library(n_models, n_families=n_families, nested=nested,
                                    seed=int(rng_seeds[0].generate_state(1)[0]))
    side = 1000.0 * np.sqrt(n_servers / 10.0)
    topo = topology.Topology.uniform(n_servers, n_users, side, side, seed=int(rng_seeds[1].generate_state(1)[0]))
    rates = topology.downlink_rates(topo, bandwidth_hz=20e6, tx_power_dbm=30.0, noise_dbm_per_hz=-174.0,
                                    min_distance_m=1.0)
    median_size = float(np.median(library.model_sizes))
    # latency limit per user so that its reach_servers-th fastest server delivers the median model
    k_th = np.sort(rates, axis=0)[::-1][min(n_servers, max(1, round(reach_servers))) - 1]
    rng = np.random.default_rng(rng_seeds[2])
    limits = 8.0 * median_size / k_th * rng.uniform(0.7, 1.3, n_users)
    smax = limits[None, :] * rates / 8.0
    pop = demand.zipf_popularity(n_users, n_models, 0.8, seed=int(rng_seeds[3].generate_state(1)[0]))
    return PlacementProblem.from_library(library, capacity_models * median_size, pop, smax)


def make_loading_instance(
    n_users: int,
    n_models: int,
    n_clusters: int,
    seed: Any = 0,
    *,
    deadline: float | None = None,
    bandwidth_hz: float | None = None,
    served_fraction: float = 0.5,
    **build_options: Any,
) -> LoadingProblem:
    """Seeded backbone-sharing instance for benchmarks and scale tests.

    The library is :func:`~trimcore.instance.zoo.synthetic_library` with ``n_models`` models in
    ``n_clusters`` families and one shared backbone per family (``nested=False``; 75 % of a
    model's 150 MB median size is the backbone); users are placed by :meth:`LoadingProblem.from_random_cell`.

    Parameters
    ----------
    n_users, n_models, n_clusters : int
        K, I and the number of clusters.
    seed : int, default 0
    deadline : float, optional
        Common deadline in s. Default: ``served_fraction`` times the makespan of serving every
        user with models grouped (union of the requested blocks / ``R_L`` plus all inference
        times), so roughly that fraction of the users can be served.
    bandwidth_hz : float, optional
        Default ``20 MHz * n_users / 30`` (the spec's 20 MHz cell of 30 users, scaled).
    served_fraction : float, default 0.5
    **build_options
        Passed to :meth:`LoadingProblem.from_random_cell`.
    """
    k = integer("n_users", n_users, 1)
    lib_seed, cell_seed = np.random.SeedSequence(integer("seed", seed, 0)).spawn(2)
    library = zoo.synthetic_library(n_models, n_families=n_clusters, nested=False, shared_fraction=0.75,
                                median_bytes=150e6, seed=np.random.default_rng(lib_seed))
    bw = 20e6 * k / 30.0 if bandwidth_hz is None else bandwidth_hz
    build_options.setdefault("infer_time", 0.006)
    lp = LoadingProblem.from_random_cell(library, k, seed=cell_seed, deadline=1.0 if deadline is None else deadline,
                                         bandwidth_hz=bw, **build_options)
    if deadline is None:
        frac = positive_scalar("served_fraction", served_fraction)
        total = library.union_size(np.unique(lp.user_model)) / lp.load_rate + float(lp.infer_time.sum())
        lp = lp.with_options(deadline=frac * total)
    return lp
