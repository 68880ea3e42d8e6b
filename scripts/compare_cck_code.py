#!/usr/bin/env python3
"""Run the CCK authors' code (``zhoulizhen/Algorithms_mec``) and ``trimcore.pulling`` on the same instances.

For each seed the authors' own generators (``Graph/*``, ``Compute/Accuracy.py``,
``Test/preheat.py``, called in ``Test/Test.py``'s order after ``random.seed(seed)``) build an
instance; their LP (``Offline/RelaxILP.py``), the same model with binary variables (their ILP,
as the initial commit's ``Algorithm/ILP.py`` solved it), Appro (``Offline/App.py``), NBS
(``Offline/NBSILP.py`` + ``Offline/NBSRound.py``), NonShare and SC run on it with Gurobi; the
instance is converted to a :class:`trimcore.PullingProblem` with CODE's model
(``pull_delay="global", capacity="per_request", dc_source=False``) and ours run on it.

Per instance:

* **exact pieces**: CODE's LP / ILP / NBS-LP optimum (Gurobi) against ours (HiGHS) on the same
  model, to solver tolerance;
* **accounting**: every decision CODE takes (captured) scored by our ``evaluate`` gives exactly
  the total delay (the per-request sum CODE prints), mean cost and mean accuracy CODE prints;
  CODE's printed "LP" numbers are recomputed from its fractional solution;
* **draws**: our ``draw_index`` on CODE's uniforms and fractions picks what ``rand_pick`` picked,
  and our rounding on CODE's LP solution, with CODE's uniforms and list order
  (``source_order``), takes CODE's Appro and NBS decisions;
* **algorithms**: ours on the converted instance (one draw on our own LP with CODE's uniforms,
  the exact expectation of the one-draw rounding under either list order, several seeds, our
  default Appro) against CODE's numbers, and the paper's headline on both.

``--generator`` compares CODE's instance generator with our reimplementation
(``scenario("code", ...)``) in distribution. ``--online`` compares CODE's OL / MAB / ADMS
(``Online/*``, no Gurobi needed) with our ``pulling_online`` under CODE's options
(:data:`CODE_ONLINE`): distributions over runs, the two sides drawing from different generators.

CODE re-samples the output ratio ``rho ~ U(0.1, 0.3)`` on every call of
``Delay.get_trans_delay``, so the LP, each rounding and each baseline see different
transmission delays. ``--rho pinned`` (default) draws it once per (request, model) and reuses
it; ``--rho redrawn`` leaves CODE as it is, records every draw, and the accounting check applies
CODE's evaluation-time draws to the decision it scored.

The authors' checkout is copied to a temporary directory and imported from there; the checkout
itself is never edited. The copy gets one textual fix (:data:`CODE_PATCHES`: NumPy 2 refuses
``float()`` of a (1, 1) array in ``Online/ADMS.py``). Patched at run time, as module attributes:
``FileReader.read_file`` reads from the checkout by absolute path (and from
``site-optus-melbCBD.csv``, same columns, when the large ``site.csv`` is absent: it only sets
user 0's rate); Gurobi runs quietly, with ``MIPGap=0``, through a recording ``Model`` subclass;
``rand_pick`` and ``get_trans_delay`` are wrapped to record.

Needs ``gurobipy`` (its size-limited license: about 2,000 variables and constraints, so a few
requests on 20-100 cloudlets), ``networkx`` and ``pandas`` (CODE's imports; extra ``test-code``).
Not run by CI; ``tests/test_pulling_code.py`` runs it when ``TRIMCORE_CCK_CODE`` names a checkout.

Usage::

    python scripts/compare_cck_code.py /path/to/Algorithms_mec                 # 3 seeds, 20/5/10
    python scripts/compare_cck_code.py CHECKOUT --cloudlets 40 --requests 4 --models 10 --seeds 0 1 2 3
    python scripts/compare_cck_code.py CHECKOUT --rho redrawn --json out.json
    python scripts/compare_cck_code.py CHECKOUT --online --cloudlets 30 --requests 100 --our-seeds 10
    python scripts/compare_cck_code.py CHECKOUT --generator --seeds $(seq 0 399)
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a source tree (trimcore is built in place, not installed)
    sys.path.insert(0, str(ROOT))

import trimcore.pulling as tc  # noqa: E402
from trimcore.pulling.instances import shortest_path_delay  # noqa: E402
from trimcore.pulling.rounding import draw_index  # noqa: E402

#: Relative tolerance of the solver-to-solver comparisons (Gurobi and HiGHS: 1e-6 feasibility).
SOLVER_RTOL = 1e-6
#: Relative tolerance of the accounting comparisons (same arithmetic, different order).
ACCOUNT_RTOL = 1e-9
#: Textual fixes applied to the temporary copy (never to the checkout), each needed to run CODE here:
#: NumPy 2 no longer converts a (1, 1) array with ``float()`` (``Online/ADMS.py``'s UCB values).
CODE_PATCHES = (
    ("Online/ADMS.py",
     "UCB_values[a] = float(x_t_a.T @ theta_hat_a) + self.alpha * np.sqrt(float(x_t_a.T @ C_theta_hat_a @ x_t_a))",
     "UCB_values[a] = float((x_t_a.T @ theta_hat_a).item()) + self.alpha * np.sqrt("
     "float((x_t_a.T @ C_theta_hat_a @ x_t_a).item()))"),
)
#: CODE's module names (namespace packages of the checkout's top directory).
_CODE_MODULES = ("Graph.FileReader", "Graph.ParameterSetting", "Graph.ConnectMEC", "Compute.Delay",
                 "Compute.Cost", "Compute.Accuracy", "Offline.RelaxILP", "Offline.App", "Offline.NBSILP",
                 "Offline.NBSRound", "Offline.NonShare", "Offline.SC", "Online.OL", "Online.MAB",
                 "Online.ADMS", "Test.preheat", "Test.context")


# ---------------------------------------------------------------------------------------------- CODE harness
class SizeLimitError(RuntimeError):
    """One of CODE's Gurobi models is beyond the size-limited license."""


@dataclass
class _State:
    """What the patched CODE records while it runs."""

    rho: str = "pinned"
    phase: str = ""
    integral: bool = False
    env: Any = None
    models: list[Any] = field(default_factory=list)
    trans_first: dict[str, dict[tuple[int, int], float]] = field(default_factory=dict)  # phase -> first draw
    trans_log: dict[str, list[tuple[tuple[int, int], float]]] = field(default_factory=dict)
    pinned: dict[tuple[int, int], float] = field(default_factory=dict)
    picks: dict[str, list[tuple[list[int], list[float], float, int]]] = field(default_factory=dict)
    last_u: float = float("nan")


class Code:
    """The authors' modules, imported from a private copy of a checkout and instrumented."""

    def __init__(self, checkout: str | Path, workdir: str | Path | None = None) -> None:
        src = Path(checkout).resolve()
        if not (src / "Offline" / "RelaxILP.py").is_file():
            raise FileNotFoundError(f"{src} is not a checkout of zhoulizhen/Algorithms_mec (no Offline/RelaxILP.py)")
        import gurobipy  # noqa: F401  (fail early with the real import error)
        import networkx  # type: ignore[import-untyped]  # noqa: F401

        self._tmp = tempfile.TemporaryDirectory(prefix="cck_code_") if workdir is None else None
        base = Path(self._tmp.name) if self._tmp is not None else Path(workdir)  # type: ignore[arg-type]
        self.root = base / "Algorithms_mec"
        if self.root.exists():
            shutil.rmtree(self.root)
        shutil.copytree(src, self.root, ignore=shutil.ignore_patterns(".git", "__pycache__", ".idea", "*.html"))
        for rel, old, new in CODE_PATCHES:
            path = self.root / rel
            text = path.read_text()
            if text.count(old) != 1:
                raise RuntimeError(f"{rel}: the line to fix for NumPy 2 is not there once (another CODE version?)")
            path.write_text(text.replace(old, new))
        for name in _CODE_MODULES:  # a previous Code in this process: import this copy afresh
            sys.modules.pop(name, None)
        sys.path.insert(0, str(self.root))
        try:
            # Any: CODE's modules are plain untyped Python, patched below
            self.m: dict[str, Any] = {name.split(".")[1]: importlib.import_module(name) for name in _CODE_MODULES}
        finally:
            sys.path.remove(str(self.root))
        self.state = _State()
        self._instrument()

    # -- patches (module attributes only)
    def _instrument(self) -> None:
        import gurobipy as gp
        from gurobipy import GRB

        st, m = self.state, self.m
        st.env = gp.Env(empty=True)
        st.env.setParam("OutputFlag", 0)
        st.env.start()

        class RecordingModel(gp.Model):
            def __init__(self, name: str = "") -> None:
                super().__init__(name, env=st.env)
                st.models.append(self)

            def addVars(self, *args: Any, **kw: Any) -> Any:  # noqa: N802 (gurobipy's name)
                if st.integral and kw.get("vtype") == GRB.CONTINUOUS:
                    kw["vtype"] = GRB.BINARY  # CODE's ILP: x, y, z, q binary (max_d stays continuous)
                return super().addVars(*args, **kw)

            def optimize(self, *args: Any) -> None:
                if st.integral:
                    self.Params.MIPGap = 0.0
                try:
                    super().optimize(*args)
                except gp.GurobiError as exc:
                    if "size-limited" not in str(exc):
                        raise
                    self.update()
                    raise SizeLimitError(
                        f"CODE's {self.ModelName} model has {self.NumVars} variables and {self.NumConstrs} "
                        "constraints, beyond Gurobi's size-limited license (about 2,000 of each): use fewer "
                        "requests, models or cloudlets (or a full license)") from None

        class GurobiProxy:
            Model = RecordingModel

            def __getattr__(self, name: str) -> Any:
                return getattr(gp, name)

        for mod in ("RelaxILP", "NBSILP"):
            m[mod].gp = GurobiProxy()

        root = self.root

        def read_file(usrnum: int, clsnum: int) -> Any:
            import pandas as pd  # type: ignore[import-untyped]

            sites = root / "Dataset" / "edge-servers" / "site.csv"
            if not sites.is_file():
                sites = root / "Dataset" / "edge-servers" / "site-optus-melbCBD.csv"
            cls = pd.read_csv(sites, usecols=["CL_ID", "LATITUDE", "LONGITUDE"], nrows=clsnum)
            ues = pd.read_csv(root / "Dataset" / "users" / "users-melbcbd-generated.csv",
                              usecols=["User_ID", "Latitude", "Longitude"], nrows=usrnum)
            return cls, ues

        m["FileReader"].read_file = read_file

        original_trans = m["Delay"].get_trans_delay

        def get_trans_delay(model: dict[str, Any], request: dict[str, Any]) -> float:
            key = (int(request["id"]), int(model["id"]))
            if st.rho == "pinned" and key in st.pinned:
                value = st.pinned[key]
            else:
                value = float(original_trans(model, request))
                st.pinned.setdefault(key, value)
            st.trans_first.setdefault(st.phase, {}).setdefault(key, value)
            st.trans_log.setdefault(st.phase, []).append((key, value))
            return value

        m["Delay"].get_trans_delay = get_trans_delay

        class RandomRecorder:
            def uniform(self, a: float, b: float) -> float:
                st.last_u = random.uniform(a, b)
                return st.last_u

            def __getattr__(self, name: str) -> Any:
                return getattr(random, name)

        for mod in ("App", "NBSRound"):
            m[mod].random = RandomRecorder()
            pick = m[mod].rand_pick

            def rand_pick(seq: Any, probabilities: Any, _pick: Any = pick) -> Any:
                item = _pick(seq, probabilities)
                st.picks.setdefault(st.phase, []).append((list(seq), list(probabilities), st.last_u, int(item)))
                return item

            m[mod].rand_pick = rand_pick

    def close(self) -> None:
        """Free Gurobi's environment and the temporary copy."""
        self.state.models.clear()
        if self.state.env is not None:
            self.state.env.dispose()
            self.state.env = None
        if self._tmp is not None:
            self._tmp.cleanup()

    # -- running
    def generate(self, seed: int, n_cloudlets: int, n_requests: int, n_models: int, n_families: int) -> dict[str, Any]:
        """An instance from CODE's generators, in ``Test/Test.py``'s order of random draws."""
        if n_cloudlets < 20:
            raise ValueError("CODE draws randint(1, n // 20) replicas: at least 20 cloudlets")
        m = self.m
        self.state.__init__(rho=self.state.rho, env=self.state.env)  # type: ignore[misc]
        random.seed(seed)
        services = list(range(n_families))
        with contextlib.redirect_stdout(io.StringIO()):
            cls, ues_old = m["FileReader"].read_file(n_requests, n_cloudlets)
            ues = m["ConnectMEC"].fineHomeCloudlet(cls, ues_old)
            models = m["ConnectMEC"].generateModels(n_models, services)
            cloudlets, locations = m["ConnectMEC"].generateCloudlets(cls, ues, None)
            graph = m["ConnectMEC"].connectNode(locations, ues)
            requests = m["ConnectMEC"].generateRequests(cls, ues, 1, services, None, None, cloudlets)
        accuracy = m["Accuracy"].get_accuracy(models, requests)
        xi = random.uniform(0, 1)  # Test.py draws xi (unused offline) before alpha
        alpha = random.uniform(0, 1)
        where = m["preheat"].initialize_model_locations(n_models, len(cloudlets), n_cloudlets, models)
        return {"seed": seed, "models": models, "cloudlets": cloudlets, "locations": locations, "graph": graph,
                "requests": requests, "accuracy": accuracy, "xi": xi, "alpha": alpha, "lsh": where["lsh"],
                "lre": where["lre"], "lshnon": where["lshnon"], "n_families": n_families}

    def _common(self, inst: dict[str, Any]) -> tuple[Any, ...]:
        return (inst["requests"], inst["models"], inst["cloudlets"], inst["locations"], inst["graph"],
                inst["accuracy"])

    def _solve(self, fn: Any, inst: dict[str, Any], phase: str, integral: bool = False) -> tuple[tuple[Any, ...], Any]:
        st = self.state
        st.phase, st.integral = phase, integral
        before = len(st.models)
        j, k = len(inst["requests"]), len(inst["models"])
        with contextlib.redirect_stdout(io.StringIO()):
            out = fn(j, k, len(inst["locations"]), *self._common(inst), inst["xi"], inst["alpha"], inst["lsh"],
                     inst["lre"])
        st.integral = False
        return out, st.models[before]

    def run(self, inst: dict[str, Any]) -> dict[str, Any]:
        """Every offline algorithm of CODE on one instance (Test.py's calls); records what they did."""
        m, st = self.m, self.state
        j, k = len(inst["requests"]), len(inst["models"])
        args = self._common(inst)
        res: dict[str, Any] = {}
        lp, lp_model = self._solve(m["RelaxILP"].relaxILP, inst, "lp")
        res["lp"] = {"objective": lp_model.ObjVal, "status": lp_model.Status, "vars": lp_model.NumVars,
                     "constrs": lp_model.NumConstrs, "reported": _reported(lp), "x": lp[4], "y_sh": lp[5],
                     "y_re": lp[6]}
        st.phase = "app"
        with contextlib.redirect_stdout(io.StringIO()):
            app = m["App"].app(j, k, len(inst["locations"]), *lp[4:], *args, inst["lsh"], inst["lre"], inst["alpha"])
        res["app"] = {"reported": _reported(app), "picks": st.picks.get("app", [])}
        nbs_lp, nbs_model = self._solve(m["NBSILP"].relaxILP, inst, "nbs_lp")
        res["nbs_lp"] = {"objective": nbs_model.ObjVal, "status": nbs_model.Status, "reported": _reported(nbs_lp),
                         "x": nbs_lp[4], "y_sh": nbs_lp[5], "y_re": nbs_lp[6]}
        st.phase = "nbs"
        with contextlib.redirect_stdout(io.StringIO()):
            nbs = m["NBSRound"].nbs(j, k, len(inst["locations"]), *nbs_lp[4:], *args, inst["lsh"], inst["lre"],
                                    nbs_lp[3], inst["alpha"])
        res["nbs"] = {"reported": _reported(nbs), "picks": st.picks.get("nbs", [])}
        st.phase = "nonshare"
        res["nonshare"] = {"reported": _reported(m["NonShare"].nonshare(j, k, 100, *args, inst["lshnon"], inst["lre"],
                                                                       inst["alpha"]))}
        st.phase = "sc"
        res["sc"] = {"reported": _reported(m["SC"].sc(j, k, 100, *args, inst["lshnon"], inst["lre"], inst["alpha"]))}
        ilp, ilp_model = self._solve(m["RelaxILP"].relaxILP, inst, "ilp", integral=True)
        res["ilp"] = {"objective": ilp_model.ObjVal, "status": ilp_model.Status, "reported": _reported(ilp),
                      "x": ilp[4],
                      "y_sh": ilp[5], "y_re": ilp[6]}
        return res


# ---------------------------------------------------------------------------------------------- conversion
def to_problem(inst: dict[str, Any], trans: dict[tuple[int, int], float]) -> tc.PullingProblem:
    """CODE's instance objects as a :class:`trimcore.PullingProblem` under CODE's model.

    Ids: CODE's cloudlets ``1..n`` -> ``0..n-1``, its data center ``n+1`` -> ``n``, models and
    requests ``1..`` -> ``0..``. Every quantity is recomputed from the raw generated fields with
    the spec's formulas (not with CODE's functions), except the transmission delay, whose ratio
    ``rho`` is not stored by CODE: ``trans[(request id, model id)]`` is the value CODE used.
    """
    models, cl, req = inst["models"], inst["cloudlets"], inst["requests"]
    n, k, j = len(cl), len(models), len(req)
    graph = inst["graph"]
    edges = np.array([(a - 1, b - 1) for a, b in graph.edges()], np.int64).reshape(-1, 2)
    weight = np.array([graph[a][b]["weight"] for a, b in graph.edges()], float)
    pd = shortest_path_delay(n + 1, edges, weight)
    size = np.array([models[m + 1]["size"] for m in range(k)])
    share = np.array([models[m + 1]["shareable"] for m in range(k)])
    family = np.array([models[m + 1]["service_type"] for m in range(k)], np.int64)
    cached = np.zeros((n, k), bool)
    for m in range(k):
        cached[np.array(inst["lre"][m + 1]) - 1, m] = True
    home = np.array([req[t + 1]["home_cloudlet_id"] - 1 for t in range(j)], np.int64)

    def field_(name: str) -> np.ndarray:
        return np.array([cl[i + 1][name] for i in range(n)], float)

    proc, access, peak = field_("processing_rate"), field_("accessing_rate"), field_("peak_power")
    idle, leak, tpow = field_("idle_power"), field_("leak_power"), field_("trans_power")
    lam, mu, mem = field_("arrival_rate"), field_("service_rate"), field_("computing_capacity")
    flops = np.array([models[m + 1]["float_operations"] for m in range(k)])
    infer = flops[None, :] * size[None, :] / proc[home][:, None]
    served = np.bincount(home, minlength=n) > 0  # CODE: 0 at a cloudlet without home requests
    queue = np.where(served[home], lam[home] * (1.0 / mu[home] ** 2) / (2.0 * (1.0 - lam[home] / mu[home])), 0.0)
    instr = np.array([req[t + 1]["number_of_instructions"] for t in range(j)], float)
    icost = (access[home] * instr * peak[home])[:, None] + infer * (idle[home] + leak[home])[:, None]
    tr = np.array([[trans[(t + 1, m + 1)] for m in range(k)] for t in range(j)])
    acc = np.array([[inst["accuracy"][t + 1][m + 1] for m in range(k)] for t in range(j)])
    need = np.array([req[t + 1]["accuracy_requirement"] for t in range(j)])
    budget = np.array([req[t + 1]["cost_budget"] for t in range(j)])
    return tc.PullingProblem.from_arrays(pd, size, share, family, cached, home, infer, queue, tr, acc, need, icost,
                                         tpow, budget, mem, alpha=inst["alpha"], pull_delay="global",
                                         capacity="per_request", dc_source=False)


def _decision_from_picks(picks: list[tuple[list[int], list[float], float, int]]) -> tuple[np.ndarray, ...]:
    """CODE's (model, shareable source, remaining source) per request from its rand_pick calls."""
    items = np.array([p[3] for p in picks], np.int64).reshape(-1, 3) - 1
    return items[:, 0], items[:, 1], items[:, 2]


def _decision_from_solution(pp: tc.PullingProblem, sol: dict[str, Any]) -> tuple[np.ndarray, ...]:
    """An integral CODE solution (x, y_sh, y_re dicts) as arrays."""
    m = np.zeros(pp.n_requests, np.int64)
    s = np.zeros(pp.n_requests, np.int64)
    r = np.zeros(pp.n_requests, np.int64)
    for (t, k), v in sol["x"].items():
        if v > 0.5:
            m[t - 1] = k - 1
    for out, key in ((s, "y_sh"), (r, "y_re")):
        for (t, k, loc), v in sol[key].items():
            if v > 0.5 and k - 1 == m[t - 1]:
                out[t - 1] = loc - 1
    return m, s, r


def _with_eval_trans(pp: tc.PullingProblem, model: np.ndarray, log: list[tuple[tuple[int, int], float]]
                     ) -> tc.PullingProblem:
    """``pp`` with CODE's evaluation-time transmission draw of each request's served model."""
    tr = pp.trans_delay.copy()
    for (t, k), v in log:  # one call per request in CODE's roundings and baselines (the last wins)
        if k - 1 == model[t - 1]:
            tr[t - 1, k - 1] = v
    return pp.with_options(trans_delay=tr)


def _metrics(ev: Any) -> tuple[float, float, float]:
    """CODE's three reported numbers: per-request delay sum, mean cost, mean accuracy."""
    return float(ev.delay.sum()), ev.mean_cost, ev.mean_accuracy


def _reported(out: tuple[Any, ...]) -> tuple[float, float, float]:
    """CODE returns (mean accuracy, total delay, mean cost, ...): as (delay, cost, accuracy)."""
    return float(out[1]), float(out[2]), float(out[0])


def _pick_probabilities(w: np.ndarray, top: float) -> np.ndarray:
    """Exact distribution of CODE's ``rand_pick`` (``U ~ [0, top)``, first index with ``U < cumsum``,
    else the last index) over the indices of ``w``."""
    cum = np.minimum(np.cumsum(w), top) / top
    p = np.diff(np.r_[0.0, cum])
    p[-1] += 1.0 - cum[-1]
    return p


def expected_draw(pp: tc.PullingProblem, x: np.ndarray, lists: dict[str, dict[tuple[int, int], tuple[Any, Any]]],
                  top: float) -> tuple[float, float, float]:
    """Exact expectation of CODE's one-draw rounding (Appro: ``top=0.5``, NBS: ``top=1``).

    ``x`` is the LP's ``x*`` (J, K); ``lists[key][(j, k)] = (nodes, y*)`` the source variables of
    each block *in the order the draw walks them* (the leftover mass goes to the last one).
    Returns the expected (per-request delay sum, mean cost, mean accuracy).
    """
    d_sum = c_sum = a_sum = 0.0
    for j in range(pp.n_requests):
        h = pp.home[j]
        pk = _pick_probabilities(x[j] / 2.0, top)
        for k in np.flatnonzero(pk > 0):
            ns, ws = lists["shareable"][(j, int(k))]
            nr, wr = lists["remaining"][(j, int(k))]
            ps = _pick_probabilities(np.asarray(ws, float) / 2.0, top)
            pr = _pick_probabilities(np.asarray(wr, float) / 2.0, top)
            sh = pp.shareable_size[k] * pp.path_delay[h, np.asarray(ns)]
            re = pp.remaining_size[k] * pp.path_delay[h, np.asarray(nr)]
            pull = float(ps @ np.maximum(sh[:, None], re[None, :]) @ pr)
            fixed = pp.infer_delay[j, k] + pp.queue_delay[j] + pp.trans_delay[j, k]
            d_sum += pk[k] * (pull + fixed)
            c_sum += pk[k] * (pp.infer_cost[j, k] + pp.trans_power[h] * (pull + pp.trans_delay[j, k]))
            a_sum += pk[k] * pp.accuracy[j, k]
    j_count = max(pp.n_requests, 1)
    return d_sum, c_sum / j_count, a_sum / j_count


def _code_lists(inst: dict[str, Any], sol: dict[str, Any], pp: tc.PullingProblem
                ) -> dict[str, dict[tuple[int, int], tuple[Any, Any]]]:
    """CODE's source lists (``lsh[k]``: a set's order, ``lre[k]``: ``random.sample``'s) with its y*."""
    out: dict[str, dict[tuple[int, int], tuple[Any, Any]]] = {"shareable": {}, "remaining": {}}
    for key, where, y in (("shareable", "lsh", "y_sh"), ("remaining", "lre", "y_re")):
        for j in range(pp.n_requests):
            for k in range(pp.n_models):
                locs = inst[where][k + 1]
                out[key][(j, k)] = ([loc - 1 for loc in locs], [sol[y][(j + 1, k + 1, loc)] for loc in locs])
    return out


def _our_lists(lp: Any) -> dict[str, dict[tuple[int, int], tuple[Any, Any]]]:
    """Our LP's source variables per (request, model), ascending node id (the order our draw walks)."""
    out: dict[str, dict[tuple[int, int], tuple[Any, Any]]] = {"shareable": {}, "remaining": {}}
    for key in out:
        yj, yk, yl, val = lp.y[key]
        for a in np.lexsort((yl, yk, yj)):
            nodes, vals = out[key].setdefault((int(yj[a]), int(yk[a])), ([], []))
            nodes.append(int(yl[a]))
            vals.append(float(val[a]))
    return out


def _lp_reported(inst: dict[str, Any], sol: dict[str, Any], pp: tc.PullingProblem) -> tuple[float, float, float]:
    """What CODE's ``relaxILP`` prints for a fractional solution, recomputed: per (j, k) with
    ``x* != 0``: ``max(sum_l y_sh d_sh, sum_l y_re d_re) + x* (inference + queue + transmission)``,
    and a cost whose ``accessing * instructions * peak`` term is *not* scaled by ``x*``."""
    lists = _code_lists(inst, sol, pp)
    d = c = a = 0.0
    for j in range(pp.n_requests):
        h = pp.home[j]
        for k in range(pp.n_models):
            xv = sol["x"][(j + 1, k + 1)]
            if not xv:
                continue
            ns, ws = lists["shareable"][(j, k)]
            nr, wr = lists["remaining"][(j, k)]
            pull = max(float(np.dot(ws, pp.shareable_size[k] * pp.path_delay[h, ns])),
                       float(np.dot(wr, pp.remaining_size[k] * pp.path_delay[h, nr])))
            inf = pp.infer_delay[j, k] * xv
            tr = pp.trans_delay[j, k] * xv
            d += pull + inf + pp.queue_delay[j] * xv + tr
            c += pp.trans_power[h] * (pull + tr) + _fixed_energy(inst, j) + inf * _static_power(inst, h)
            a += pp.accuracy[j, k] * xv
    return d, c / pp.n_requests, a / pp.n_requests


def _fixed_energy(inst: dict[str, Any], j: int) -> float:
    req = inst["requests"][j + 1]
    cl = inst["cloudlets"][req["home_cloudlet_id"]]
    return float(cl["accessing_rate"] * req["number_of_instructions"] * cl["peak_power"])


def _static_power(inst: dict[str, Any], h: int) -> float:
    cl = inst["cloudlets"][int(h) + 1]
    return float(cl["idle_power"] + cl["leak_power"])


class ReplayGenerator(np.random.Generator):
    """A numpy Generator whose ``uniform`` returns CODE's recorded uniforms in order (for replays)."""

    def __init__(self, uniforms: list[float]) -> None:
        super().__init__(np.random.PCG64(0))
        self._u = list(uniforms)

    def uniform(self, low: Any = 0.0, high: Any = 1.0, size: Any = None) -> Any:
        if size is not None or not self._u:
            raise RuntimeError("the replay has no uniform left (the draw asked for more than CODE did)")
        return self._u.pop(0)


def code_source_order(inst: dict[str, Any]) -> dict[str, list[list[int]]]:
    """CODE's source lists in our node ids, in CODE's order (``lsh[k]``, ``lre[k]``)."""
    k = len(inst["models"])
    return {"shareable": [[loc - 1 for loc in inst["lsh"][m + 1]] for m in range(k)],
            "remaining": [[loc - 1 for loc in inst["lre"][m + 1]] for m in range(k)]}


def code_lp(inst: dict[str, Any], sol: dict[str, Any], pp: tc.PullingProblem, value: float) -> Any:
    """CODE's LP solution (x*, y_sh*, y_re*) as our :class:`~trimcore.pulling.exact.LpSolution`."""
    from trimcore.pulling.exact import LpSolution

    x = np.array([[sol["x"][(t + 1, k + 1)] for k in range(pp.n_models)] for t in range(pp.n_requests)])
    y = {}
    for key, name in (("shareable", "y_sh"), ("remaining", "y_re")):
        items = sorted(sol[name].items())
        y[key] = (np.array([t - 1 for (t, _, _), _ in items], np.int64),
                  np.array([k - 1 for (_, k, _), _ in items], np.int64),
                  np.array([loc - 1 for (_, _, loc), _ in items], np.int64), np.array([v for _, v in items], float))
    return LpSolution(value, x, y, "optimal", 0.0)


def _close(a: float, b: float, rtol: float) -> bool:
    return bool(abs(a - b) <= rtol * max(1.0, abs(a), abs(b)))


# ---------------------------------------------------------------------------------------------- comparison
def compare_instance(code: Code, seed: int, n_cloudlets: int = 20, n_requests: int = 5, n_models: int = 10,
                     n_families: int = 1, *, our_seeds: int = 20) -> dict[str, Any]:
    """Run both sides on CODE's instance for ``seed``; return every number and check."""
    inst = code.generate(seed, n_cloudlets, n_requests, n_models, n_families)
    t0 = time.perf_counter()
    res = code.run(inst)
    code_s = time.perf_counter() - t0
    st = code.state
    pp = to_problem(inst, st.trans_first["lp"])
    pp_nbs = to_problem(inst, st.trans_first["nbs_lp"])
    out: dict[str, Any] = {"seed": seed, "n": n_cloudlets, "J": n_requests, "K": n_models, "F": n_families,
                           "rho": st.rho, "alpha": inst["alpha"], "lp_vars": res["lp"]["vars"],
                           "lp_constrs": res["lp"]["constrs"], "code_runtime_s": code_s, "checks": {}, "rows": []}
    checks = out["checks"]
    rows = out["rows"]

    def row(algo: str, side: str, metrics: tuple[float, float, float], objective: float | None = None,
            **extra: Any) -> None:
        rows.append({"algorithm": algo, "side": side, "delay": metrics[0], "cost": metrics[1],
                     "accuracy": metrics[2], "objective": objective, **extra})

    # --- exact pieces
    lp_full = tc.solve_lp(pp, "full")
    lp_red = tc.solve_lp(pp, "reduced")
    checks["lp_value"] = _close(res["lp"]["objective"], lp_full.value, SOLVER_RTOL)
    out["lp"] = {"code": res["lp"]["objective"], "ours_full": lp_full.value, "ours_reduced": lp_red.value}
    x_code = np.array([[res["lp"]["x"][(t + 1, k + 1)] for k in range(pp.n_models)] for t in range(pp.n_requests)])
    out["lp"]["x_integral_code"] = bool(np.all(np.minimum(x_code, 1 - x_code) < 1e-6))
    out["lp"]["x_integral_ours"] = bool(np.all(np.minimum(lp_full.fraction, 1 - lp_full.fraction) < 1e-6))
    out["lp"]["x_max_diff"] = float(np.abs(x_code - lp_full.fraction).max())
    row("LP", "CODE reported", res["lp"]["reported"], res["lp"]["objective"])
    checks["lp_reported_recomputed"] = all(_close(a, b, ACCOUNT_RTOL) for a, b in zip(
        _lp_reported(inst, res["lp"], pp), res["lp"]["reported"]))
    pp_ilp = to_problem(inst, st.trans_first["ilp"])  # = pp unless rho is redrawn
    opt_full = tc.pulling_optimal(pp_ilp, formulation="full", mip_rel_gap=0.0)
    opt_red = tc.pulling_optimal(pp_ilp, formulation="reduced", mip_rel_gap=0.0)
    checks["ilp_value"] = _close(res["ilp"]["objective"], opt_full.objective, SOLVER_RTOL) and _close(
        res["ilp"]["objective"], opt_red.objective, SOLVER_RTOL)
    out["ilp"] = {"code": res["ilp"]["objective"], "ours_full": opt_full.objective, "ours_reduced": opt_red.objective,
                  "status_code": res["ilp"]["status"], "status_ours": opt_red.status}
    ilp_dec = _decision_from_solution(pp_ilp, res["ilp"])
    ev_ilp = pp_ilp.evaluate(*ilp_dec)
    checks["ilp_accounting"] = all(_close(a, b, ACCOUNT_RTOL) for a, b in zip(_metrics(ev_ilp), res["ilp"]["reported"]))
    checks["ilp_decision_objective"] = _close(ev_ilp.total_delay, res["ilp"]["objective"], SOLVER_RTOL)
    row("ILP", "CODE reported", res["ilp"]["reported"], res["ilp"]["objective"])
    row("ILP", "ours (reduced, nearest sources)", _metrics(pp_ilp.evaluate(
        opt_red.model, opt_red.shareable_source, opt_red.remaining_source)), opt_red.objective)
    row("ILP", "CODE models, nearest sources", _metrics(pp_ilp.evaluate_nearest(ilp_dec[0])),
        pp_ilp.evaluate_nearest(ilp_dec[0]).total_delay)
    nbs_ours = tc.nbs_lp(pp_nbs)
    xi = 1e-4
    const = xi * float(pp_nbs.budget.sum()) - float(pp_nbs.min_accuracy.sum())
    checks["nbs_lp_value"] = _close(res["nbs_lp"]["objective"], const - nbs_ours.value, SOLVER_RTOL)
    out["nbs_lp"] = {"code": res["nbs_lp"]["objective"], "ours": const - nbs_ours.value}

    # --- accounting and draws: CODE's decisions scored by our evaluate
    rho_effect: list[float] = []  # |CODE's delay / the same decision at the LP's transmission delays - 1|
    for algo, phase, prob in (("Appro", "app", pp), ("NBS", "nbs", pp_nbs)):
        picks = res[phase]["picks"]
        checks[f"{phase}_draws"] = all(seq[draw_index(u, np.array(p))] == item for seq, p, u, item in picks) and len(
            picks) == 3 * pp.n_requests
        dec = _decision_from_picks(picks)
        ev = _with_eval_trans(prob, dec[0], st.trans_log.get(phase, [])).evaluate(*dec)
        checks[f"{phase}_accounting"] = all(_close(a, b, ACCOUNT_RTOL)
                                            for a, b in zip(_metrics(ev), res[phase]["reported"]))
        row(algo, "CODE reported", res[phase]["reported"], prob.evaluate(*dec).total_delay,
            feasible=prob.evaluate(*dec).feasible)
        rho_effect.append(abs(float(prob.evaluate(*dec).delay.sum()) / res[phase]["reported"][0] - 1))
        near = prob.evaluate_nearest(dec[0])
        row(algo, "CODE models, nearest sources", _metrics(near), near.total_delay, feasible=near.feasible)
        # ours, one draw (CODE's setting) for several seeds: the first and the mean
        runs = []
        for s in range(our_seeds):
            if algo == "Appro":
                r = tc.pulling_rounding(prob, 1, s, rounding="code", repair=False, lp=lp_full)
            else:
                r = tc.pulling_nbs(prob, seed=s)
            e = prob.evaluate(r.model, r.shareable_source, r.remaining_source)
            runs.append((*_metrics(e), e.total_delay, e.feasible))
        arr = np.array([q[:4] for q in runs])
        sol = res["lp"] if algo == "Appro" else res["nbs_lp"]
        x_sol = np.array([[sol["x"][(t + 1, k + 1)] for k in range(prob.n_models)] for t in range(prob.n_requests)])
        top = 0.5 if algo == "Appro" else 1.0
        row(algo, "exact expectation, CODE's LP and list order", expected_draw(prob, x_sol, _code_lists(
            inst, sol, prob), top))
        ascending: dict[str, dict[tuple[int, int], tuple[Any, Any]]] = {
            key: {jk: (sorted(v[0]), [w for _, w in sorted(zip(*v))]) for jk, v in d.items()}
            for key, d in _code_lists(inst, sol, prob).items()}
        row(algo, "exact expectation, CODE's LP, ascending order", expected_draw(prob, x_sol, ascending, top))
        our_lp = lp_full if algo == "Appro" else nbs_ours
        ours_y = _our_lists(our_lp)
        out[f"{phase}_y_max_diff"] = max(
            (abs(v - dict(zip(*ours_y[key].get(jk, ([], [])))).get(node, 0.0))
             for key, d in ascending.items() for jk, (nodes, vals) in d.items() for node, v in zip(nodes, vals)),
            default=0.0)
        row(algo, "exact expectation, our LP, ascending order", expected_draw(prob, our_lp.fraction, ours_y, top))
        out[f"{phase}_x_max_diff"] = float(np.abs(x_sol - our_lp.fraction).max())
        # replays: CODE's uniforms and list order through our rounding, on CODE's LP and on ours
        uniforms = [u for _, _, u, _ in picks]
        order = code_source_order(inst)
        kind = "code" if algo == "Appro" else "half"
        their_lp = code_lp(inst, sol, prob, (res["nbs_lp"] if algo == "NBS" else res["lp"])["objective"])
        rep = tc.pulling_rounding(prob, 1, ReplayGenerator(uniforms), rounding=kind, formulation="full",
                                  repair=False, lp=their_lp, source_order=order)
        checks[f"{phase}_replay"] = bool(np.array_equal(rep.model, dec[0]) and np.array_equal(
            rep.shareable_source, dec[1]) and np.array_equal(rep.remaining_source, dec[2]))
        rep_ev = _with_eval_trans(prob, dec[0], st.trans_log.get(phase, [])).evaluate(
            rep.model, rep.shareable_source, rep.remaining_source)
        row(algo, "ours: CODE's LP, order and uniforms", _metrics(rep_ev), rep.objective, feasible=rep.feasible)
        if algo == "Appro":
            mine = tc.pulling_rounding(prob, 1, ReplayGenerator(uniforms), rounding="code", repair=False, lp=lp_full,
                                       source_order=order)
        else:
            mine = tc.pulling_nbs(prob, seed=ReplayGenerator(uniforms), source_order=order)
        out[f"{phase}_replay_our_lp_same"] = bool(np.array_equal(mine.model, dec[0]) and np.array_equal(
            mine.shareable_source, dec[1]) and np.array_equal(mine.remaining_source, dec[2]))
        mine_ev = _with_eval_trans(prob, mine.model, st.trans_log.get(phase, [])).evaluate(
            mine.model, mine.shareable_source, mine.remaining_source)
        row(algo, "ours: our LP, CODE's order and uniforms", _metrics(mine_ev), mine.objective,
            feasible=mine.feasible, same_decision=out[f"{phase}_replay_our_lp_same"])
        row(algo, "ours, seed 0", tuple(arr[0, :3]), float(arr[0, 3]), feasible=bool(runs[0][4]))
        row(algo, f"ours, mean of {our_seeds} seeds", tuple(arr[:, :3].mean(axis=0)), float(arr[:, 3].mean()),
            feasible_share=float(np.mean([q[4] for q in runs])))
        out[f"{phase}_models_equal_seed0"] = bool(np.array_equal(
            dec[0], (tc.pulling_rounding(prob, 1, 0, rounding="code", repair=False, lp=lp_full).model
                     if algo == "Appro" else tc.pulling_nbs(prob, seed=0).model)))
    default = tc.pulling_rounding(pp, lp=None)
    row("Appro", "ours, default (conditional, 50 draws, repair)",
        _metrics(pp.evaluate(default.model, default.shareable_source, default.remaining_source)), default.objective,
        feasible=default.feasible)
    for algo, phase, fn in (("NonShare", "nonshare", tc.pulling_nonshare), ("SC", "sc", tc.pulling_cloud)):
        r = fn(pp)
        ev = _with_eval_trans(pp, r.model, st.trans_log.get(phase, [])).evaluate(r.model, r.shareable_source,
                                                                                 r.remaining_source)
        checks[f"{phase}_equal"] = all(_close(a, b, ACCOUNT_RTOL) for a, b in zip(_metrics(ev), res[phase]["reported"]))
        row(algo, "CODE reported", res[phase]["reported"])
        plain = _metrics(pp.evaluate(r.model, r.shareable_source, r.remaining_source))
        row(algo, "ours", plain, r.objective, feasible=r.feasible)
        rho_effect.append(abs(plain[0] / res[phase]["reported"][0] - 1))
    out["rho_effect"] = max(rho_effect)
    return out


def compare(checkout: str | Path, seeds: list[int], n_cloudlets: int = 20, n_requests: int = 5, n_models: int = 10,
            n_families: int = 1, *, rho: str = "pinned", our_seeds: int = 20) -> list[dict[str, Any]]:
    """:func:`compare_instance` for every seed, with one instrumented copy of CODE."""
    if rho not in ("pinned", "redrawn"):
        raise ValueError(f"rho must be 'pinned' or 'redrawn', not {rho!r}")
    code = Code(checkout)
    try:
        code.state.rho = rho
        return [compare_instance(code, s, n_cloudlets, n_requests, n_models, n_families, our_seeds=our_seeds)
                for s in seeds]
    finally:
        code.close()


#: our :func:`~trimcore.pulling.pulling_online` options that are CODE's behaviour, per policy
CODE_ONLINE: dict[str, dict[str, Any]] = {
    "ts": {"context": "code", "baseline": "code", "beta_update": "code", "count_failures": False,
           "dc_fallback": "empty"},
    "mab": {"dc_fallback": "empty", "mab_ties": "random"},
    "adms": {"context": "code", "dc_fallback": "empty", "ucb_variant": "code"},
}


def replay_online(pp: tc.PullingProblem, arms: Any, policy: str) -> float:
    """Total delay of serving ``arms`` in order under CODE's cache rules (written from
    ``Online/OL.py`` / ``MAB.py`` / ``ADMS.py``, independently of our kernel): start empty; a block
    cached nowhere comes from the DC; OL pulls from the nearest cached copy and caches the
    shareable block at the home for the whole family, MAB and ADMS pull from the last location
    cached and cache the chosen model only."""
    family_wide, last = policy == "ts", policy != "ts"
    lsh: list[list[int]] = [[] for _ in range(pp.n_models)]
    lre: list[list[int]] = [[] for _ in range(pp.n_models)]
    total = 0.0
    for t, k in enumerate(int(a) for a in arms):
        h = int(pp.home[t])

        def pull(where: list[int], size: float, h: int = h) -> float:
            if not where:
                return float(size * pp.path_delay[h, pp.dc])
            if last:
                return float(size * pp.path_delay[h, where[-1]])
            return float(min(size * pp.path_delay[h, loc] for loc in where))

        total += float(pp.fixed_delay[t, k]) + max(pull(lsh[k], pp.shareable_size[k]),
                                                   pull(lre[k], pp.remaining_size[k]))
        lsh[k].append(h)
        lre[k].append(h)
        if family_wide:
            for k2 in range(pp.n_models):
                if k2 != k and pp.family_index[k2] == pp.family_index[k]:
                    lsh[k2].append(h)
    return total


def compare_online(checkout: str | Path, seeds: list[int], n_cloudlets: int = 30, n_requests: int = 100,
                   n_models: int = 10, n_families: int = 1, *, runs: int = 5, n_features: int = 100,
                   random_sequences: int = 300) -> list[dict[str, Any]]:
    """CODE's OL / MAB / ADMS (``Online/*``) against ours with CODE's options (:data:`CODE_ONLINE`).

    No Gurobi, so Test 1-like sizes work. Both sides draw from different generators (CODE:
    ``random`` and ``numpy.random``; ours: SplitMix64), so this compares distributions: ``runs``
    runs per side and instance (CODE seeded with ``random.seed`` / ``numpy.random.seed(run)``).
    Each row: mean and standard deviation over the runs of the per-request delay sum, mean cost,
    mean accuracy and total penalty, and the mean delay of ``random_sequences`` uniformly random
    arm sequences under the policy's cache rules (no learning). CODE's ``xi`` (``Test.py``:
    ``U(0, 1)``, not the spec's 0.98) is passed to both.
    """
    code = Code(checkout)
    out = []
    try:
        m = code.m
        d = n_features // 5
        for seed in seeds:
            inst = code.generate(seed, n_cloudlets, n_requests, n_models, n_families)
            j, k = len(inst["requests"]), len(inst["models"])
            args = (j, k, n_features, inst["requests"], inst["models"], inst["cloudlets"], inst["locations"],
                    inst["graph"], inst["accuracy"], inst["xi"])
            code_runs: dict[str, list[tuple[float, ...]]] = {"ts": [], "mab": [], "adms": []}
            for run in range(runs):
                for policy in code_runs:
                    random.seed(run)
                    np.random.seed(run)  # noqa: NPY002 (CODE draws from NumPy's legacy global generator)
                    ctx = m["context"].generate_context(j, n_features)
                    code.state.phase = f"{policy}{run}"
                    with contextlib.redirect_stdout(io.StringIO()):
                        if policy == "ts":
                            got = m["OL"].OL(*args, ctx, d, inst["alpha"])
                        elif policy == "mab":
                            got = m["MAB"].mab(*args, d, inst["alpha"])
                        else:
                            got = m["ADMS"].adms(*args, ctx, d, inst["alpha"])
                    code_runs[policy].append((*_reported(got), float(got[6])))
            pp = to_problem(inst, code.state.pinned).with_options(pull_delay="per_request")
            rows = []
            checks = {}
            arm_rng = np.random.default_rng(0)
            random_arms = [arm_rng.integers(0, k, j) for _ in range(random_sequences)]
            for policy, cruns in code_runs.items():
                # CODE's arm per request: its last get_trans_delay call of the round (after one per arm)
                code_arms = [[key[1] - 1 for key, _ in code.state.trans_log[f"{policy}{run}"][k::k + 1]]
                             for run in range(runs)]
                checks[f"{policy}_code_replay"] = all(
                    len(a) == j and _close(replay_online(pp, a, policy), c[0], ACCOUNT_RTOL)
                    for a, c in zip(code_arms, cruns))
                ours = []
                replay_ok = True
                for run in range(runs):
                    r = tc.pulling_online(pp, policy, run, n_features=n_features, d=d, xi=inst["xi"],
                                          **CODE_ONLINE[policy])
                    ours.append((r.total_delay, r.mean_cost, r.mean_accuracy, r.total_penalty))
                    replay_ok &= _close(replay_online(pp, r.model, policy), r.total_delay, ACCOUNT_RTOL)
                checks[f"{policy}_ours_replay"] = replay_ok
                c, o = np.array(cruns), np.array(ours)
                # what no learning at all gives under the same cache rules: uniformly random arms
                rand = float(np.mean([replay_online(pp, arm_seq, policy) for arm_seq in random_arms]))
                rows.append({"policy": policy, "code_mean": c.mean(axis=0).tolist(), "code_std": c.std(axis=0).tolist(),
                             "ours_mean": o.mean(axis=0).tolist(), "ours_std": o.std(axis=0).tolist(),
                             "random_arms_delay": rand})
            out.append({"seed": seed, "n": n_cloudlets, "J": n_requests, "K": n_models, "F": n_families,
                        "xi": inst["xi"], "runs": runs, "rows": rows, "checks": checks})
    finally:
        code.close()
    return out


def report_online(results: list[dict[str, Any]]) -> str:
    """Markdown: per instance and policy, CODE's and our mean (std) over the runs."""
    names = {"ts": "OL", "mab": "MAB", "adms": "ADMS"}
    lines = ["| instance | policy | CODE delay | ours delay | CODE cost | ours cost | CODE accuracy | ours accuracy "
             "| CODE penalty | ours penalty | random arms' delay |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        for w in r["rows"]:
            cells = [f"{w['code_mean'][i]:.4g} ({w['code_std'][i]:.2g}) | {w['ours_mean'][i]:.4g} "
                     f"({w['ours_std'][i]:.2g})" for i in range(4)]
            lines.append(f"| seed {r['seed']} (n={r['n']}, J={r['J']}, K={r['K']}, xi={r['xi']:.2f}) | "
                         f"{names[w['policy']]} | " + " | ".join(cells) + f" | {w['random_arms_delay']:.4g} |")
    lines.append("")
    for r in results:
        lines.append(f"seed {r['seed']} checks (replaying each run's arms under CODE's cache rules gives its delay): "
                     + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in r["checks"].items()) + ".  ")
    return "\n".join(lines)


def compare_generator(checkout: str | Path, seeds: list[int], n_cloudlets: int = 20, n_requests: int = 5,
                      n_models: int = 10, n_families: int = 1) -> dict[str, Any]:
    """CODE's generators (converted) against ``scenario("code", ...)`` (our reimplementation of
    them, :func:`trimcore.pulling.instances.paper_instance` with CODE's options), in distribution.

    For every seed both sides build an instance; the statistics are our exact optimum under
    CODE's model, NonShare's and SC's total delay (per-request sum), the mean fixed delay
    (inference + queue + transmission), the mean per-GB delay to the data center, and the
    fraction of allowed (request, model) pairs. Returns per statistic the mean and standard
    deviation over the seeds of each side. No Gurobi needed.
    """
    from trimcore.pulling.instances import scenario

    code = Code(checkout)
    stats: dict[str, dict[str, list[float]]] = {"code": {}, "ours": {}}
    try:
        for seed in seeds:
            inst = code.generate(seed, n_cloudlets, n_requests, n_models, n_families)
            delay_mod = code.m["Delay"]
            trans = {(t + 1, k + 1): float(delay_mod.get_trans_delay(inst["models"][k + 1], inst["requests"][t + 1]))
                     for t in range(n_requests) for k in range(n_models)}
            sides = {"code": to_problem(inst, trans),
                     "ours": scenario("code", n_cloudlets, n_requests, n_models, n_families, seed=seed)}
            for side, pp in sides.items():
                opt = tc.pulling_optimal(pp)
                ns, sc = tc.pulling_nonshare(pp), tc.pulling_cloud(pp)
                values = {
                    "ILP optimum (global objective)": opt.objective,
                    "NonShare total delay": float(pp.evaluate(ns.model, ns.shareable_source,
                                                              ns.remaining_source).delay.sum()),
                    "SC total delay": float(pp.evaluate(sc.model, sc.shareable_source,
                                                        sc.remaining_source).delay.sum()),
                    "mean fixed delay": float(pp.fixed_delay.mean()),
                    "mean per-GB delay to the DC": float(pp.path_delay[:-1, -1].mean()),
                    "allowed pairs": float(pp.allowed.mean()),
                }
                for name, val in values.items():
                    stats[side].setdefault(name, []).append(val)
    finally:
        code.close()
    return {name: {side: (float(np.mean(stats[side][name])), float(np.std(stats[side][name]))) for side in stats}
            for name in stats["code"]}


# ---------------------------------------------------------------------------------------------- report
def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def report(results: list[dict[str, Any]]) -> str:
    """Markdown: per instance, the exact pieces, the checks and a row per (algorithm, side)."""
    lines: list[str] = []
    for r in results:
        lines.append(f"### seed {r['seed']}: n={r['n']}, J={r['J']}, K={r['K']}, families={r['F']}, "
                     f"alpha={r['alpha']:.3f}, rho {r['rho']} (CODE's LP: {r['lp_vars']} vars, "
                     f"{r['lp_constrs']} constraints)")
        lines.append("")
        lp, ilp = r["lp"], r["ilp"]
        lines.append(f"LP value: CODE {lp['code']:.6f}, ours (full) {lp['ours_full']:.6f}, ours (reduced) "
                     f"{lp['ours_reduced']:.6f}; x* integral: CODE {_fmt(lp['x_integral_code'])}, ours "
                     f"{_fmt(lp['x_integral_ours'])}, max |x*_CODE - x*_ours| = {lp['x_max_diff']:.3g}.  ")
        lines.append(f"ILP optimum: CODE {ilp['code']:.6f}, ours full {ilp['ours_full']:.6f}, reduced "
                     f"{ilp['ours_reduced']:.6f}. NBS LP: CODE {r['nbs_lp']['code']:.9g}, ours "
                     f"{r['nbs_lp']['ours']:.9g}.  ")
        lines.append(f"LP solutions, max |CODE - ours|: Appro LP x* {r['app_x_max_diff']:.3g}, y* "
                     f"{r['app_y_max_diff']:.3g}; NBS LP x* {r['nbs_x_max_diff']:.3g}, y* {r['nbs_y_max_diff']:.3g}.  ")
        lines.append("Checks: " + ", ".join(f"{k} {_fmt(v)}" for k, v in r["checks"].items()))
        lines.append("")
        lines.append("| algorithm | side | total delay (sum D_j) | objective (global P) | mean cost | mean accuracy "
                     "| feasible |")
        lines.append("|---|---|---|---|---|---|---|")
        for w in r["rows"]:
            feas = w.get("feasible", w.get("feasible_share"))
            lines.append(f"| {w['algorithm']} | {w['side']} | {_fmt(w['delay'])} | {_fmt(w['objective'])} | "
                         f"{_fmt(w['cost'])} | {_fmt(w['accuracy'])} | {_fmt(feas)} |")
        lines.append("")
    return "\n".join(lines)


def _pick(r: dict[str, Any], algo: str, side: str) -> dict[str, Any]:
    return next(w for w in r["rows"] if w["algorithm"] == algo and w["side"] == side)


#: (label, algorithm, CODE's side, our side) of the summary's rows
_SUMMARY_ROWS = (
    ("LP (CODE's plotted numbers)", "LP", "CODE reported", None),
    ("ILP", "ILP", "CODE reported", "ours (reduced, nearest sources)"),
    ("Appro, one draw (CODE's uniforms; ours on our LP)", "Appro", "CODE reported",
     "ours: our LP, CODE's order and uniforms"),
    ("Appro, exact expectation (CODE: its LP + order; ours: our LP, ascending)", "Appro",
     "exact expectation, CODE's LP and list order", "exact expectation, our LP, ascending order"),
    ("NBS, one draw (CODE's uniforms; ours on our LP)", "NBS", "CODE reported",
     "ours: our LP, CODE's order and uniforms"),
    ("NBS, exact expectation", "NBS", "exact expectation, CODE's LP and list order",
     "exact expectation, our LP, ascending order"),
    ("NonShare", "NonShare", "CODE reported", "ours"),
    ("SC", "SC", "CODE reported", "ours"),
)


def _headline(r: dict[str, Any], sides: dict[str, str]) -> tuple[float, float, float]:
    """Appro against the best of NBS, NonShare, SC on one instance (as ``experiments.pulling.headline``)."""
    a = _pick(r, "Appro", sides["Appro"])
    others = [_pick(r, name, sides[name]) for name in ("NBS", "NonShare", "SC")]
    return (a["delay"] / min(o["delay"] for o in others) - 1, a["cost"] / min(o["cost"] for o in others) - 1,
            a["accuracy"] / max(o["accuracy"] for o in others) - 1)


def summary(results: list[dict[str, Any]]) -> str:
    """Markdown: the checks over all instances, the mean of each algorithm's numbers on both sides,
    and the paper's headline (Appro against the best comparator) on CODE's numbers and ours."""
    lines: list[str] = []
    names = list(results[0]["checks"])
    ok = {k: sum(bool(r["checks"][k]) for r in results) for k in names}
    lines.append(f"{len(results)} instances; checks passed: " + ", ".join(f"{k} {v}/{len(results)}"
                                                                          for k, v in ok.items()) + ".  ")
    rel = {key: max(abs(r[key]["code"] - r[key][ours]) / max(1.0, abs(r[key]["code"])) for r in results)
           for key, ours in (("lp", "ours_full"), ("ilp", "ours_reduced"), ("nbs_lp", "ours"))}
    lines.append(f"Largest relative difference of the exact pieces: LP {rel['lp']:.1e}, ILP {rel['ilp']:.1e}, "
                 f"NBS LP {rel['nbs_lp']:.1e}. LP x* integral on {sum(r['lp']['x_integral_code'] for r in results)}"
                 f"/{len(results)}; same one-draw decision from our LP: Appro "
                 f"{sum(r['app_replay_our_lp_same'] for r in results)}/{len(results)}, NBS "
                 f"{sum(r['nbs_replay_our_lp_same'] for r in results)}/{len(results)}; largest effect of CODE's "
                 f"rho redraws on a reported delay {max(r['rho_effect'] for r in results):.1e}.")
    lines.append("")
    lines.append("| algorithm | CODE delay | ours delay | CODE cost | ours cost | CODE accuracy | ours accuracy |")
    lines.append("|---|---|---|---|---|---|---|")
    for label, algo, code_side, our_side in _SUMMARY_ROWS:
        c = np.mean([[_pick(r, algo, code_side)[m] for m in ("delay", "cost", "accuracy")] for r in results], axis=0)
        if our_side is None:
            lp_val = np.mean([r["lp"]["ours_full"] for r in results])
            lines.append(f"| {label} | {c[0]:.1f} (LP value {np.mean([r['lp']['code'] for r in results]):.1f}) | "
                         f"LP value {lp_val:.1f} | {c[1]:.1f} | | {c[2]:.3f} | |")
            continue
        o = np.mean([[_pick(r, algo, our_side)[m] for m in ("delay", "cost", "accuracy")] for r in results], axis=0)
        lines.append(f"| {label} | {c[0]:.1f} | {o[0]:.1f} | {c[1]:.1f} | {o[1]:.1f} | {c[2]:.3f} | {o[2]:.3f} |")
    lines.append("")
    code_sides = {"Appro": "CODE reported", "NBS": "CODE reported", "NonShare": "CODE reported",
                  "SC": "CODE reported"}
    exp_sides = {"Appro": "exact expectation, CODE's LP and list order",
                 "NBS": "exact expectation, CODE's LP and list order", "NonShare": "CODE reported",
                 "SC": "CODE reported"}
    our_sides = {"Appro": "ours, default (conditional, 50 draws, repair)", "NBS": "exact expectation, our LP, "
                 "ascending order", "NonShare": "ours", "SC": "ours"}  # NBS: its exact mean, not one draw
    for label, sides in (("CODE's one draw", code_sides), ("CODE in expectation", exp_sides),
                         ("our default Appro", our_sides)):
        h = np.mean([_headline(r, sides) for r in results], axis=0) * 100
        lines.append(f"Headline ({label}): Appro vs the best comparator: delay {h[0]:+.1f} %, cost {h[1]:+.1f} %, "
                     f"accuracy {h[2]:+.1f} %.  ")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkout", help="a checkout (work tree) of zhoulizhen/Algorithms_mec")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--cloudlets", type=int, default=20)
    ap.add_argument("--requests", type=int, default=5)
    ap.add_argument("--models", type=int, default=10)
    ap.add_argument("--families", type=int, default=1)
    ap.add_argument("--rho", choices=("pinned", "redrawn"), default="pinned")
    ap.add_argument("--our-seeds", type=int, default=20, help="draws of our one-draw roundings per instance")
    ap.add_argument("--json", help="also write every number to this file")
    ap.add_argument("--generator", action="store_true",
                    help="compare CODE's instance generator with our scenario('code') in distribution (no Gurobi)")
    ap.add_argument("--online", action="store_true",
                    help="compare OL / MAB / ADMS instead (no Gurobi; distributions over --our-seeds runs)")
    a = ap.parse_args(argv)
    if a.generator:
        gen = compare_generator(a.checkout, a.seeds, a.cloudlets, a.requests, a.models, a.families)
        print(f"| statistic ({len(a.seeds)} seeds) | CODE's generator | scenario('code') |")
        print("|---|---|---|")
        for name, v in gen.items():
            print(f"| {name} | {v['code'][0]:.4g} ({v['code'][1]:.2g}) | {v['ours'][0]:.4g} ({v['ours'][1]:.2g}) |")
        return 0
    if a.online:
        online = compare_online(a.checkout, a.seeds, a.cloudlets, a.requests, a.models, a.families,
                                runs=a.our_seeds)
        print(report_online(online))
        if a.json:
            Path(a.json).write_text(json.dumps(online, indent=1, default=float))
        bad = [(r["seed"], k) for r in online for k, v in r["checks"].items() if not v]
        if bad:
            print(f"FAILED checks: {bad}")
        return 1 if bad else 0
    try:
        results = compare(a.checkout, a.seeds, a.cloudlets, a.requests, a.models, a.families, rho=a.rho,
                          our_seeds=a.our_seeds)
    except (SizeLimitError, FileNotFoundError, ValueError) as exc:
        print(f"compare_cck_code: {exc}", file=sys.stderr)
        return 2
    print(summary(results))
    print()
    print(report(results))
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1, default=float))
    failed = [(r["seed"], k) for r in results for k, v in r["checks"].items() if not v]
    if failed:
        print(f"FAILED checks: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
