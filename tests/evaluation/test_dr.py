import numpy as np
import pytest
from scipy.spatial.distance import pdist
from scipy.stats import spearmanr
from sklearn.manifold import trustworthiness as sk_trustworthiness

from genurl_pyg.evaluation.dr import (continuity, distance_spearman, knn_accuracy, silhouette,
                                trustworthiness)


def brute_trustworthiness(X, Y, k):
    n = len(X)
    dx = np.linalg.norm(X[:, None] - X[None], axis=-1)
    dy = np.linalg.norm(Y[:, None] - Y[None], axis=-1)
    np.fill_diagonal(dx, np.inf)
    np.fill_diagonal(dy, np.inf)
    rank = np.argsort(np.argsort(dx, axis=1, kind='stable'), axis=1, kind='stable') + 1
    nn_x = np.argsort(dx, axis=1, kind='stable')[:, :k]
    nn_y = np.argsort(dy, axis=1, kind='stable')[:, :k]
    total = 0
    for i in range(n):
        for j in set(nn_y[i]) - set(nn_x[i]):
            total += rank[i, j] - k
    return 1 - 2 / (n * k * (2 * n - 3 * k - 1)) * total


@pytest.mark.parametrize('k', [1, 5, 10])
def test_trustworthiness_matches_sklearn_and_brute_force(k):
    rng = np.random.default_rng(k)
    X = rng.normal(size=(120, 6))
    Y = X[:, :2] + 0.3 * rng.normal(size=(120, 2))
    ours = trustworthiness(X, Y, k, chunk=17)
    assert ours == pytest.approx(sk_trustworthiness(X, Y, n_neighbors=k), abs=1e-6)
    assert ours == pytest.approx(brute_trustworthiness(X, Y, k), abs=1e-9)


def test_continuity_is_swapped_trustworthiness():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(80, 5)), rng.normal(size=(80, 2))
    assert continuity(X, Y, 5) == pytest.approx(sk_trustworthiness(Y, X, n_neighbors=5), abs=1e-6)
    assert trustworthiness(X, X, 5) == pytest.approx(1.0)


def test_other_metrics():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 40)
    Y = rng.normal(size=(120, 2)) + labels[:, None] * 10
    assert knn_accuracy(Y, labels) == 1.0
    assert silhouette(Y, labels) > 0.8
    X = rng.normal(size=(120, 4))
    want = spearmanr(pdist(X), pdist(X[:, :2])).statistic
    assert distance_spearman(X, X[:, :2], n_samples=500) == pytest.approx(want)


def test_bad_inputs():
    with pytest.raises(ValueError, match="same number of rows"):
        trustworthiness(np.zeros((10, 2)), np.zeros((9, 2)))
    with pytest.raises(ValueError, match="'n_neighbors'"):
        trustworthiness(np.zeros((10, 2)), np.zeros((10, 2)), n_neighbors=5)


def test_pointwise_trustworthiness_averages_to_the_exact_value():
    from genurl_pyg.evaluation.dr import pointwise_trustworthiness
    rng = np.random.default_rng(3)
    X = rng.normal(size=(150, 5))
    Y = X[:, :2] + 0.5 * rng.normal(size=(150, 2))
    t = pointwise_trustworthiness(X, Y, 7, chunk=13)
    assert t.shape == (150,) and (t <= 1).all()
    assert t.mean() == pytest.approx(brute_trustworthiness(X, Y, 7), abs=1e-9)
    rows = [4, 99, 0]
    np.testing.assert_allclose(pointwise_trustworthiness(X, Y, 7, rows=rows), t[rows])
    with pytest.raises(ValueError, match="'rows' must index"):
        pointwise_trustworthiness(X, Y, 7, rows=[150])


def test_sampled_trustworthiness_is_the_mean_over_the_drawn_points():
    from genurl_pyg.evaluation.dr import pointwise_trustworthiness, sampled_standard_error
    rng = np.random.default_rng(4)
    X = rng.normal(size=(400, 6))
    Y = X[:, :2] + 0.4 * rng.normal(size=(400, 2))
    t = pointwise_trustworthiness(X, Y, 10)
    exact = t.mean()
    ests = [trustworthiness(X, Y, 10, n_queries=100, random_state=s) for s in range(20)]
    # each estimate is a mean of 100 distinct points' terms: within a few standard errors
    # of the exact value, and the estimates scatter around it (unbiased)
    se = sampled_standard_error(t[:100], 400)
    assert all(abs(e - exact) < 5 * se for e in ests)
    assert abs(np.mean(ests) - exact) < 2 * se
    assert len(set(ests)) > 1
    # same points -> same value; all points -> the exact value and zero error
    assert trustworthiness(X, Y, 10, n_queries=100, random_state=1) == ests[1]
    assert trustworthiness(X, Y, 10, n_queries=400) == pytest.approx(exact)
    assert sampled_standard_error(t, 400) == 0.0
    assert continuity(X, Y, 10, n_queries=100, random_state=2) == pytest.approx(
        pointwise_trustworthiness(Y, X, 10, rows=np.sort(
            np.random.default_rng(2).choice(400, 100, replace=False))).mean())
    with pytest.raises(ValueError, match="'n_queries'"):
        trustworthiness(X, Y, 10, n_queries=0)
