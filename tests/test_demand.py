"""Demand: Zipf popularity (per-user / global ranking) and request traces."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from trimcore.errors import InstanceError
from trimcore.instance.demand import request_trace, zipf_popularity, zipf_weights


def test_zipf_weights_by_hand():
    # I = 3, gamma = 1: (1, 1/2, 1/3) / (11/6) = (6/11, 3/11, 2/11)
    assert zipf_weights(3, 1.0) == pytest.approx([6 / 11, 3 / 11, 2 / 11], rel=1e-15)
    # gamma = 2, I = 2: (1, 1/4) / (5/4) = (0.8, 0.2)
    assert zipf_weights(2, 2.0) == pytest.approx([0.8, 0.2], rel=1e-15)
    # gamma = 0: uniform
    assert zipf_weights(4, 0.0) == pytest.approx([0.25] * 4)
    assert zipf_weights(1) == pytest.approx([1.0])


@settings(max_examples=50, deadline=None)
@given(k=st.integers(1, 40), i=st.integers(1, 60), gamma=st.floats(0.0, 2.0), seed=st.integers(0, 2**31))
def test_per_user_rows_are_permutations_of_zipf(k, i, gamma, seed):
    p = zipf_popularity(k, i, gamma, seed=seed)
    assert p.shape == (k, i) and p.dtype == np.float64
    assert np.allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    w = zipf_weights(i, gamma)
    # each row is exactly the Zipf weights in some order
    assert np.array_equal(np.sort(p, axis=1)[:, ::-1], np.tile(w, (k, 1)))
    assert np.array_equal(p, zipf_popularity(k, i, gamma, seed=seed))


def test_per_user_rankings_differ_and_are_uniform():
    p = zipf_popularity(4000, 5, 1.0, seed=1)
    assert len({tuple(r) for r in p}) > 100  # 5! = 120 distinct rankings
    # the favourite model of a user is uniform over the 5 models
    favourite = np.argmax(p, axis=1)
    counts = np.bincount(favourite, minlength=5)
    assert stats.chisquare(counts).pvalue > 1e-4
    assert not np.array_equal(p, zipf_popularity(4000, 5, 1.0, seed=2))


def test_global_ranking_identical_rows():
    p = zipf_popularity(50, 30, 0.8, ranking="global", seed=3)
    assert np.array_equal(p, np.broadcast_to(p[0], p.shape))
    assert np.array_equal(np.sort(p[0])[::-1], zipf_weights(30, 0.8))
    assert np.array_equal(p, zipf_popularity(50, 30, 0.8, ranking="global", seed=3))
    rankings = {tuple(np.argsort(zipf_popularity(2, 30, ranking="global", seed=s)[0])) for s in range(10)}
    assert len(rankings) == 10


def test_large_build():
    p = zipf_popularity(10_000, 1_000, 0.8, seed=0)
    assert p.shape == (10_000, 1_000)
    assert np.abs(p.sum(axis=1) - 1.0).max() < 1e-12


def test_trace_frequencies_match_popularity():
    p = zipf_popularity(4, 6, 1.2, seed=5)
    p[2, [1, 4]] = 0.0  # some zero-probability models; rows are renormalised by request_trace
    n = 200_000
    users, models = request_trace(p, n, seed=9)
    assert users.dtype == np.int64 and models.dtype == np.int64
    assert users.shape == models.shape == (n,)
    assert users.min() >= 0 and users.max() < 4 and models.min() >= 0 and models.max() < 6
    assert not ((users == 2) & np.isin(models, [1, 4])).any()
    q = p / p.sum(axis=1, keepdims=True) / 4.0  # joint law: uniform user, then row
    counts = np.zeros((4, 6))
    np.add.at(counts, (users, models), 1)
    expected = q * n
    mask = expected > 0
    chi2 = (((counts - expected) ** 2)[mask] / expected[mask]).sum()
    assert chi2 < stats.chi2.ppf(0.999, mask.sum() - 1)
    assert np.array_equal(users, request_trace(p, n, seed=9)[0])
    assert np.array_equal(models, request_trace(p, n, seed=9)[1])


def test_trace_user_weights_and_edge_cases():
    p = np.array([[0.0, 1.0, 0.0, 3.0], [0.0, 0.0, 0.0, 2.0], [5.0, 0.0, 0.0, 0.0]])
    users, models = request_trace(p, 50_000, user_weights=[1.0, 0.0, 3.0], seed=1)
    assert not (users == 1).any()
    assert (users == 2).mean() == pytest.approx(0.75, abs=0.01)
    assert set(models[users == 2].tolist()) == {0}
    assert (models[users == 0] == 3).mean() == pytest.approx(0.75, abs=0.02)
    assert set(models[users == 0].tolist()) == {1, 3}
    u0, m0 = request_trace(p, 0, seed=1)
    assert u0.shape == m0.shape == (0,) and u0.dtype == m0.dtype == np.int64
    # a single model
    assert (request_trace([[2.0]], 10, seed=0)[1] == 0).all()


@pytest.mark.parametrize("call, field", [
    (lambda: zipf_popularity(3, 4, -0.1), "exponent"),
    (lambda: zipf_popularity(3, 4, np.nan), "exponent"),
    (lambda: zipf_popularity(0, 4), "n_users"),
    (lambda: zipf_popularity(3, 0), "n_models"),
    (lambda: zipf_popularity(3.0, 4), "n_users"),
    (lambda: zipf_popularity(True, 4), "n_users"),
    (lambda: zipf_popularity(3, 4, ranking="by_size"), "ranking"),
    (lambda: zipf_popularity(3, 4, seed=-1), "seed"),
    (lambda: request_trace([[0.2, -0.1]], 5), "popularity"),
    (lambda: request_trace([[0.0, 0.0], [1.0, 0.0]], 5), "popularity"),
    (lambda: request_trace([0.5, 0.5], 5), "popularity"),
    (lambda: request_trace([[np.nan, 1.0]], 5), "popularity"),
    (lambda: request_trace(np.zeros((0, 3)), 5), "popularity"),
    (lambda: request_trace([[1.0]], -1), "n_requests"),
    (lambda: request_trace([[1.0]], 2.5), "n_requests"),
    (lambda: request_trace([[1.0], [1.0]], 5, user_weights=[1.0]), "user_weights"),
    (lambda: request_trace([[1.0], [1.0]], 5, user_weights=[0.0, 0.0]), "user_weights"),
    (lambda: request_trace([[1.0], [1.0]], 5, user_weights=[-1.0, 2.0]), "user_weights"),
])
def test_bad_inputs_raise(call, field):
    with pytest.raises(InstanceError, match=f"^{field}:"):
        call()
