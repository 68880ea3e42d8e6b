"""Named scenarios: plain dicts (or TOML files) that say how to build an instance.

A scenario is data: ``build_placement(scenario)`` turns it into a :class:`PlacementProblem`
with the compact builder (eligibility is never materialized as M x K x I). Every random
choice derives from ``scenario["seed"]``.
"""

from __future__ import annotations

import contextlib
import copy
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from trimcore._validate import integer, positive_scalar
from trimcore.errors import InstanceError, invalid
from trimcore.instance import demand, topology, zoo
from trimcore.instance.blocks import ModelLibrary
from trimcore.loading.problem import LoadingProblem
from trimcore.placement.problem import PlacementProblem

__all__ = ["DEFAULT_SCENARIO", "SCENARIOS", "scenario", "load_scenario", "check_scenario", "build_library",
           "build_topology", "build_placement", "large_placement_instance", "city_placement_instance",
           "make_loading_instance"]

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
    """Read a scenario from a TOML file; missing keys take the default scenario's values.

    Every key is checked against the scenario schema (:func:`check_scenario`): an unknown key (a
    typo) or a value of the wrong type is an error naming the key, not ignored. A file without
    ``name`` is named after the file (its stem), never ``'default'``.

    Raises
    ------
    InstanceError
        An unreadable or malformed file, an unknown key or a wrong type; the message names the file.
    """
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise invalid("scenario file", f"a readable TOML file ({path})", str(exc)) from None
    data.setdefault("name", Path(path).stem)
    try:
        return check_scenario(_merge(DEFAULT_SCENARIO, data))
    except InstanceError as exc:
        raise InstanceError(f"scenario file {path}: {exc}") from None


# ---------------------------------------------------------------------------------- schema
# Each key's type: (what to say is expected, test). TOML has no null, so no key takes None here.
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _list_of(test: Any, length: int | None = None) -> Any:
    return lambda v: isinstance(v, list) and (length is None or len(v) == length) and all(test(t) for t in v)


def _per_family(test: Any) -> Any:  # one value, one per family (list), or a table family -> value
    return lambda v: test(v) or _list_of(test)(v) or (isinstance(v, dict) and all(
        isinstance(k, str) and test(t) for k, t in v.items()))


_INT = ("an integer", _is_int)
_NUM = ("a number", _is_num)
_STR = ("a string", lambda v: isinstance(v, str))
_BOOL = ("true or false", lambda v: isinstance(v, bool))
_INT_PAIR = ("a list of two integers [low, high]", _list_of(_is_int, 2))
_PER_FAMILY_INT = ("an integer, a list of integers or a table family = integer", _per_family(_is_int))
_LIBRARY_COMMON = {"families": ("a list of strings", _list_of(lambda v: isinstance(v, str))),
                   "models_per_family": _PER_FAMILY_INT, "dtype": _STR, "num_classes": _PER_FAMILY_INT,
                   "class_range": _INT_PAIR}
_SECTIONS: dict[str, dict[str, dict[str, tuple[str, Any]]]] = {
    "library": {
        "frozen_backbone": {**_LIBRARY_COMMON, "freeze_stages": _PER_FAMILY_INT},
        "nested_sharing": {**_LIBRARY_COMMON, "depth_range": _INT_PAIR, "split_private": _BOOL,
                           "depths": ("a list of integers or a table family = list of integers",
                                      _per_family(_list_of(_is_int)))},
        "llm_lora": {"n_adapters": _INT, "n_bases": _INT, "dtype": _STR, "base_params": _INT, "n_layers": _INT,
                     "hidden": _INT, "base_name": _STR,
                     "rank": ("an integer or a list of integers", _per_family(_is_int))},
        "synthetic": {"n_models": _INT, "n_families": _INT, "n_stages": _INT, "shared_fraction": _NUM,
                      "median_bytes": _NUM, "sigma": _NUM, "nested": _BOOL},
        "file": {"path": _STR},
        "weights": {"paths": ("a list of checkpoint paths", _list_of(lambda v: isinstance(v, str))),
                    "granularity": _STR, "names": ("a list of model names", _list_of(lambda v: isinstance(v, str)))},
    },
    "topology": {
        "eua": {"n_servers": _INT, "n_users": _INT},
        "uniform": {"n_servers": _INT, "n_users": _INT, "width": _NUM, "height": _NUM},
        "grid": {"rows": _INT, "cols": _INT, "n_users": _INT, "width": _NUM, "height": _NUM},
    },
}
_FLAT_SECTIONS: dict[str, dict[str, tuple[str, Any]]] = {
    "demand": {"exponent": _NUM, "ranking": _STR},
    "radio": {"bandwidth_hz": _NUM, "noise_dbm_per_hz": _NUM, "variant": _STR, "backhaul_bps": _NUM,
              "min_distance_m": _NUM, "tx_power_dbm": ("a number or a list of numbers (one per server)",
                                                       lambda v: _is_num(v) or _list_of(_is_num)(v))},
}
_TOP: dict[str, tuple[str, Any]] = {
    "name": _STR, "seed": ("an integer >= 0", lambda v: _is_int(v) and v >= 0),
    "capacity_mb": ("a number or a list of numbers (one per server)", lambda v: _is_num(v) or _list_of(_is_num)(v)),
    "latency_s": ("a number or a list of two numbers [low, high]", lambda v: _is_num(v) or _list_of(_is_num, 2)(v)),
}
#: Keys a section holds although the defaults put None there (TOML omits them instead).
_REQUIRED_ABSENT_OK = {"n_servers", "n_users"}
#: Keys a kind cannot do without (its builder has no default for them).
_REQUIRED: dict[tuple[str, str], tuple[str, ...]] = {
    ("topology", "uniform"): ("n_servers", "n_users"), ("topology", "grid"): ("rows", "cols", "n_users"),
    ("library", "synthetic"): ("n_models",), ("library", "file"): ("path",), ("library", "weights"): ("paths",)}


def _given(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def _check_keys(where: str, table: dict[str, Any], schema: dict[str, Any], extra: tuple[str, ...] = ()) -> None:
    for key, value in table.items():
        if key in extra:
            continue
        if key not in schema:
            valid = ", ".join(sorted((*schema, *extra)))
            raise InstanceError(f"unknown key '{where}{key}'; valid keys{' of [' + where[:-1] + ']' if where else ''}: "
                                f"{valid}")
        expected, test = schema[key]
        if not (test(value) or (value is None and key in _REQUIRED_ABSENT_OK)):
            raise invalid(f"{where}{key}", expected, _given(value))


def check_scenario(spec: dict[str, Any]) -> dict[str, Any]:
    """Check every key and type of a scenario (a dict as built by :func:`scenario` or a TOML file).

    Returns ``spec`` unchanged. Raises :class:`~trimcore.errors.InstanceError` naming the first unknown
    key (with the valid ones) or the first key of the wrong type (expected type and the value given).
    """
    if not isinstance(spec, dict):
        raise invalid("scenario", "a table (dict)", _given(spec))
    sections = {**{k: None for k in _SECTIONS}, **{k: None for k in _FLAT_SECTIONS}}
    _check_keys("", {k: v for k, v in spec.items() if k not in sections}, {**_TOP, **dict.fromkeys(sections)})
    for name in sections:
        table = spec.get(name, {})
        if not isinstance(table, dict):
            raise invalid(name, f"a table [{name}]", _given(table))
        if name in _FLAT_SECTIONS:
            _check_keys(f"{name}.", table, _FLAT_SECTIONS[name])
            continue
        kinds = _SECTIONS[name]
        kind = table.get("kind", next(iter(kinds)))
        if not isinstance(kind, str) or kind not in kinds:
            raise invalid(f"{name}.kind", f"one of {sorted(kinds)}", _given(kind))
        _check_keys(f"{name}.", table, kinds[kind], extra=("kind",))
        missing = [key for key in _REQUIRED.get((name, kind), ()) if key not in table]
        if missing:
            raise invalid(f"{name}.{missing[0]}", f"a value (a {name} of kind {kind!r} needs "
                          f"{', '.join(_REQUIRED[(name, kind)])})", "nothing")
    return spec


def build_library(spec: dict[str, Any], seed: int | None = None) -> ModelLibrary:
    """Model library of a scenario's ``library`` section.

    Besides the zoo's kinds: ``kind = "file"`` loads a saved library (``path``, e.g. written by
    ``trimcore library scan``) and ``kind = "weights"`` scans checkpoints (``paths``, optional
    ``granularity`` and ``names``; see :meth:`ModelLibrary.from_weights`). Paths are relative to
    the working directory.
    """
    options = dict(spec)
    kind = options.pop("kind", "frozen_backbone")
    if kind == "file":
        return ModelLibrary.load(options["path"])
    if kind == "weights":
        return ModelLibrary.from_weights(options["paths"], granularity=options.get("granularity", "tensor"),
                                         names=options.get("names"))
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
    with _section("library"):
        library = build_library(spec["library"], int(streams[0].generate_state(1)[0]))
    with _section("topology"):
        topo = build_topology(spec["topology"], int(streams[1].generate_state(1)[0]))
    with _section("latency_s"):
        low, high = spec["latency_s"] if isinstance(spec["latency_s"], list | tuple) else (spec["latency_s"],) * 2
        limits = topology.latency_limits(topo.n_users, float(low), float(high),
                                         seed=int(streams[2].generate_state(1)[0]))
    with _section("demand"):
        pop = demand.zipf_popularity(topo.n_users, library.n_models, spec["demand"].get("exponent", 0.8),
                                     ranking=spec["demand"].get("ranking", "per_user"),
                                     seed=int(streams[3].generate_state(1)[0]))
    with _section("capacity_mb"):
        capacity = spec["capacity_mb"]
        capacity = np.asarray(capacity, dtype=float) * MB
        if capacity.ndim == 0:
            capacity = np.full(topo.n_servers, float(capacity))
    radio = dict(spec.get("radio", {}))
    with _section("capacity_mb / radio"):
        problem = PlacementProblem.from_topology(library, topo, pop, capacity, limits, **radio)
    if with_parts:
        return problem, {"library": library, "topology": topo, "latency_limit": limits, "radio": radio,
                         "popularity": pop, "capacity": capacity}
    return problem


@contextlib.contextmanager
def _section(name: str) -> Iterator[None]:
    """Prefix an InstanceError raised while building a scenario's section with the section's name."""
    try:
        yield
    except InstanceError as exc:
        raise InstanceError(f"scenario [{name}]: {exc}") from None


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
    # the reach-th largest rate per user is an order statistic: a partition finds it in O(M K)
    # (the same value as the full sort the generator used before)
    reach = min(n_servers, max(1, round(reach_servers)))
    k_th = np.partition(rates, n_servers - reach, axis=0)[n_servers - reach]
    rng = np.random.default_rng(rng_seeds[2])
    limits = 8.0 * median_size / k_th * rng.uniform(0.7, 1.3, n_users)
    smax = limits[None, :] * rates / 8.0
    pop = demand.zipf_popularity(n_users, n_models, 0.8, seed=int(rng_seeds[3].generate_state(1)[0]))
    return PlacementProblem.from_library(library, capacity_models * median_size, pop, smax)


def city_placement_instance(n_servers: int, n_users: int, n_models: int, *, n_groups: int = 1000, seed: int = 0,
                            nested: bool = True, n_families: int = 10, capacity_models: float = 4.0,
                            reach_servers: float = 3.0, zipf_exponent: float = 0.8) -> PlacementProblem:
    """A seeded city-scale instance with user-group demand, built in O(M I + reach + K + G I) memory.

    The layout of :func:`large_placement_instance` (servers and users uniform in a square whose side
    grows with ``sqrt(n_servers)``, 20 MHz, 30 dBm, the spec's path loss; capacities of
    ``capacity_models`` median models), but:

    * demand is :class:`~trimcore.placement.demand.UserGroups`: ``n_groups`` Zipf(``zipf_exponent``)
      vectors over random model rankings, each user in a uniformly drawn group (never K x I);
    * latency limits are calibrated analytically: a user's limit delivers the median model from the
      distance at which a disk holds ``reach_servers`` servers on average (times U(0.7, 1.3));
    * eligibility is the sparse form of ``max_size`` (:meth:`PlacementProblem.from_reach`): a k-d tree
      of the users finds, per server, those within the distance at which the smallest model can
      still be delivered to the most patient user; nobody else can be served. The M x K matrix is
      never built.
    """
    from scipy.spatial import cKDTree

    from trimcore.instance import radio
    from trimcore.placement.demand import UserGroups

    m_count, k_count = integer("n_servers", n_servers, 1), integer("n_users", n_users, 1)
    g_count = integer("n_groups", n_groups, 1)
    seeds = np.random.SeedSequence(seed).spawn(5)
    library = zoo.synthetic_library(n_models, n_families=n_families, nested=nested,
                                    seed=int(seeds[0].generate_state(1)[0]))
    side = 1000.0 * np.sqrt(m_count / 10.0)
    servers = np.random.default_rng(seeds[1]).uniform(0.0, side, (m_count, 2))
    users = np.random.default_rng(seeds[2]).uniform(0.0, side, (k_count, 2))
    power = float(radio.dbm_to_watt(30.0))
    noise = float(radio.noise_psd_w_per_hz(-174.0))

    def rate(d: np.ndarray | float) -> np.ndarray:
        gain = radio.channel_gain(d, min_distance_m=1.0)
        return np.asarray(radio.shannon_rate(20e6, radio.snr_bandwidth(power, gain, noise)))

    median_size = float(np.median(library.model_sizes))
    smallest = float(library.model_sizes.min())
    r_reach = side * np.sqrt(max(reach_servers, 1.0) / (np.pi * m_count))
    rng = np.random.default_rng(seeds[3])
    limits = 8.0 * median_size / float(rate(r_reach)) * rng.uniform(0.7, 1.3, k_count)
    # farthest distance at which the most patient user still gets the smallest model (rate decreases)
    lo, hi = 0.0, 2.0 * side
    need = 8.0 * smallest / float(limits.max())
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if float(rate(mid)) >= need else (lo, mid)
    tree = cKDTree(users)
    ptr = np.zeros(m_count + 1, dtype=np.int64)
    reached: list[np.ndarray] = []
    sizes: list[np.ndarray] = []
    for m in range(m_count):
        near = np.asarray(tree.query_ball_point(servers[m], hi), dtype=np.int64)
        dist = np.sqrt(((users[near] - servers[m]) ** 2).sum(axis=1))
        size = limits[near] * rate(dist) / 8.0
        keep = size >= smallest
        reached.append(near[keep])
        sizes.append(size[keep])
        ptr[m + 1] = ptr[m] + int(keep.sum())
    demand_rng = np.random.default_rng(seeds[4])
    weights = demand.zipf_weights(library.n_models, zipf_exponent)
    group_popularity = np.empty((g_count, library.n_models))
    for g in range(g_count):
        group_popularity[g, demand_rng.permutation(library.n_models)] = weights
    group = demand_rng.integers(0, g_count, k_count).astype(np.int32)
    flat_users = np.concatenate(reached) if reached else np.zeros(0, dtype=np.int64)
    flat_sizes = np.concatenate(sizes) if sizes else np.zeros(0)
    return PlacementProblem.from_reach(library, capacity_models * median_size, UserGroups(group_popularity, group),
                                       ptr, flat_users, flat_sizes)


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
