"""The authors' code (``zhoulizhen/Algorithms_mec``) against ``trimcore.pulling`` on their instances.

Runs ``scripts/compare_cck_code.py`` on a few tiny instances of CODE's generators (issue #12):
CODE's LP / ILP / NBS-LP optima (Gurobi) equal ours (HiGHS), every decision CODE takes scores
under our ``evaluate`` to exactly the numbers CODE prints, our rounding replays CODE's draws
decision for decision, and our exact expectation of CODE's one-draw rounding is the mean of
CODE's own draws. Needs ``gurobipy`` (its size-limited license is enough), CODE's imports
(``networkx``, ``pandas``) and ``TRIMCORE_CCK_CODE=/path/to/a/checkout`` (never vendored here).
"""

from __future__ import annotations

import importlib.util
import os
import random
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gurobipy")
pytest.importorskip("networkx")
pytest.importorskip("pandas")

CHECKOUT = os.environ.get("TRIMCORE_CCK_CODE")
ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not CHECKOUT, reason="TRIMCORE_CCK_CODE (a checkout of zhoulizhen/Algorithms_mec) "
                                                     "is not set")


def _script():
    path = ROOT / "scripts" / "compare_cck_code.py"
    if not path.exists():
        pytest.skip("the source tree's scripts/ is not here")
    spec = importlib.util.spec_from_file_location("compare_cck_code", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["compare_cck_code"] = module  # dataclasses resolve their module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cck():
    return _script()


# (cloudlets, requests, models, families, seeds, rho): Test 1's 1 family, 2 families with 1-2 replicas
CASES = [(20, 4, 10, 1, [0, 1], "pinned"), (40, 3, 10, 2, [2], "pinned"), (20, 3, 10, 1, [3], "redrawn")]


@pytest.mark.parametrize(("n", "j", "k", "f", "seeds", "rho"), CASES)
def test_code_and_ours_agree(cck, n, j, k, f, seeds, rho):
    results = cck.compare(CHECKOUT, seeds, n, j, k, f, rho=rho, our_seeds=3)
    assert len(results) == len(seeds)
    for r in results:
        failed = [name for name, ok in r["checks"].items() if not ok]
        assert not failed, (r["seed"], failed)
        # every check named in the script's docstring ran
        assert {"lp_value", "ilp_value", "nbs_lp_value", "app_accounting", "nbs_accounting", "app_replay",
                "nbs_replay", "app_draws", "nbs_draws", "nonshare_equal", "sc_equal",
                "lp_reported_recomputed"} <= set(r["checks"])
        assert r["lp"]["code"] <= r["ilp"]["code"] * (1 + 1e-9)
        # no feasible decision (CODE's or ours) beats the ILP on the objective; an infeasible one can
        # (CODE's draws ignore memory)
        for w in r["rows"]:
            if w["objective"] is not None and w.get("feasible") is True:
                assert w["objective"] >= r["ilp"]["ours_reduced"] * (1 - 1e-9), w
        assert "| Appro | CODE reported |" in cck.report([r])
    assert "checks passed" in cck.summary(results)


def test_exact_expectation_is_codes_mean(cck):
    """``expected_draw`` on CODE's LP solution and list order = the mean of many runs of CODE's
    own ``Offline/App.py`` on that solution (a fixed seed: deterministic, not flaky)."""
    code = cck.Code(CHECKOUT)
    try:
        inst = code.generate(0, 20, 5, 10, 1)
        res = code.run(inst)
        pp = cck.to_problem(inst, code.state.trans_first["lp"])
        sol = res["lp"]
        x = np.array([[sol["x"][(t + 1, m + 1)] for m in range(pp.n_models)] for t in range(pp.n_requests)])
        assert not np.all(np.minimum(x, 1 - x) < 1e-6), "the instance should have a fractional LP"
        expected = cck.expected_draw(pp, x, cck._code_lists(inst, sol, pp), 0.5)
        random.seed(12345)
        args = (len(inst["requests"]), len(inst["models"]), len(inst["locations"]), sol["x"], sol["y_sh"],
                sol["y_re"], inst["requests"], inst["models"], inst["cloudlets"], inst["locations"], inst["graph"],
                inst["accuracy"], inst["lsh"], inst["lre"], inst["alpha"])
        runs = np.array([code.m["App"].app(*args)[:3] for _ in range(3000)])  # (accuracy, delay, cost)
    finally:
        code.close()
    delay = runs[:, 1]
    half_width = 5 * delay.std() / np.sqrt(delay.size)
    assert abs(delay.mean() - expected[0]) <= half_width, (delay.mean(), expected[0], half_width)
    assert abs(runs[:, 2].mean() - expected[1]) <= 5 * runs[:, 2].std() / np.sqrt(delay.size)
    assert abs(runs[:, 0].mean() - expected[2]) <= 5 * runs[:, 0].std() / np.sqrt(delay.size) + 1e-12


def test_converter_keeps_codes_model(cck):
    code = cck.Code(CHECKOUT)
    try:
        inst = code.generate(1, 20, 3, 10, 1)
        code.run(inst)
        pp = cck.to_problem(inst, code.state.trans_first["lp"])
    finally:
        code.close()
    assert (pp.pull_delay, pp.capacity, pp.dc_source) == ("global", "per_request", False)
    assert pp.n_cloudlets == 20 and pp.n_requests == 3 and pp.n_models == 10
    # a block cached at a cloudlet is a source of every model of the family there (CODE's lsh)
    for m in range(pp.n_models):
        assert sorted(np.flatnonzero(pp.shareable_sources[m]).tolist()) == sorted(
            loc - 1 for loc in inst["lsh"][m + 1])


def test_online_code_and_ours_agree(cck):
    """OL / MAB / ADMS: replaying every run's arms under CODE's cache rules gives the delay each
    side reports (CODE's and ours), and the means over runs agree loosely (different generators;
    fixed seeds, so deterministic)."""
    results = cck.compare_online(CHECKOUT, [0], 20, 30, 10, 1, runs=4)
    for r in results:
        assert r["checks"] and all(r["checks"].values()), r["checks"]
        assert {w["policy"] for w in r["rows"]} == {"ts", "mab", "adms"}
        for w in r["rows"]:
            for i in range(4):  # delay, cost, accuracy, penalty
                c, o = w["code_mean"][i], w["ours_mean"][i]
                se = np.hypot(w["code_std"][i], w["ours_std"][i]) / np.sqrt(r["runs"])
                assert abs(c - o) <= 4 * se + 0.05 * abs(c), (w["policy"], i, c, o, se)
    assert "| OL |" in cck.report_online(results)


def test_generator_matches_codes_in_distribution(cck):
    seeds = list(range(60))
    stats = cck.compare_generator(CHECKOUT, seeds, 20, 5, 10, 1)
    assert len(stats) >= 5
    for name, v in stats.items():
        (cm, cs), (om, os_) = v["code"], v["ours"]
        se = np.hypot(cs, os_) / np.sqrt(len(seeds))
        assert abs(cm - om) <= 4 * se + 1e-12, (name, v)


def _size_limited() -> bool:
    import gurobipy as gp

    with gp.Env(empty=True) as env:
        env.setParam("OutputFlag", 0)
        env.start()
        with gp.Model(env=env) as m:
            m.addVars(2100)
            try:
                m.optimize()
            except gp.GurobiError:
                return True
    return False


def test_too_large_for_the_license_is_a_clear_error(cck):
    if not _size_limited():
        pytest.skip("a full Gurobi license: no size limit to hit")
    # 12 requests x 10 models on 20 cloudlets: CODE's LP has about 2,500 variables
    with pytest.raises(cck.SizeLimitError, match="variables and .* constraints, beyond Gurobi's size-limited"):
        cck.compare(CHECKOUT, [0], 20, 12, 10, 1, our_seeds=1)
    assert cck.main([CHECKOUT, "--requests", "12", "--seeds", "0"]) == 2
    assert cck.main([str(ROOT), "--seeds", "0"]) == 2  # not a checkout of CODE
