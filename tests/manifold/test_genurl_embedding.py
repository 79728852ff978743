import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from genurl_pyg.manifold import GenURLEmbedding
from genurl_pyg.metrics import knn_accuracy, trustworthiness

FAST = dict(n_epochs=3, hidden_layer_sizes=(32,), random_state=0)


@pytest.fixture(scope='module')
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600], y[:600]


def test_quality_on_digits(digits):
    X, y = digits
    Y = GenURLEmbedding(n_epochs=20, random_state=0).fit_transform(X)
    assert Y.shape == (600, 2) and Y.dtype == np.float32
    assert trustworthiness(X, Y, 10) > 0.95
    assert knn_accuracy(Y, y) > 0.9


def test_estimator_contract(digits):
    X, _ = digits
    est = GenURLEmbedding(n_neighbors=7, **FAST)
    params = est.get_params()
    assert params['n_neighbors'] == 7
    twin = clone(est)
    assert twin.get_params() == params and not hasattr(twin, 'embedding_')
    est.set_params(n_components=3)
    assert est.get_params()['n_components'] == 3
    Y1 = GenURLEmbedding(**FAST).fit_transform(X)
    est2 = GenURLEmbedding(**FAST).fit(X)
    np.testing.assert_allclose(Y1, est2.transform(X), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(est2.transform(X[:50]), est2.transform(X[:50]))


def test_inputs_of_every_kind(digits):
    X, _ = digits
    ref = GenURLEmbedding(**FAST).fit_transform(X.astype(np.float32))
    for variant in (X.astype(np.float64), torch.from_numpy(X), sp.csr_matrix(X)):
        np.testing.assert_allclose(GenURLEmbedding(**FAST).fit_transform(variant), ref,
                                   rtol=1e-4, atol=1e-4)


def test_pipeline_and_grid_search(digits):
    X, y = digits
    pipe = Pipeline([('scale', StandardScaler()), ('emb', GenURLEmbedding(**FAST)),
                     ('knn', KNeighborsClassifier(5))])
    grid = GridSearchCV(pipe, {'emb__n_neighbors': [5, 10]}, cv=2)
    grid.fit(X, y)
    assert grid.best_params_['emb__n_neighbors'] in (5, 10)


def test_transform_new_points_and_options(digits):
    X, _ = digits
    est = GenURLEmbedding(mixup=0.3, dynamic=True, loss='fuzzy_ce', n_components=3,
                          **FAST).fit(X[:400])
    out = est.transform(X[400:])
    assert out.shape == (200, 3) and np.isfinite(out).all()


@pytest.mark.parametrize('X, params, exc, match', [
    (np.full((20, 3), np.nan), {}, ValueError, 'NaN'),
    (np.ones((1, 3)), {}, ValueError, 'at least 2 samples'),
    (np.random.rand(10, 3), {'n_neighbors': 10}, ValueError, "'n_neighbors'"),
    (np.random.rand(10, 3), {'n_neighbors': 0}, ValueError, "'n_neighbors'"),
    (np.random.rand(10, 3), {'loss': 'kl'}, ValueError, "'loss'"),
    (np.random.rand(10), {}, ValueError, '2-dimensional'),
    (np.array([['a', 'b'], ['c', 'd']]), {}, TypeError, 'numbers'),
])
def test_bad_inputs(X, params, exc, match):
    with pytest.raises(exc, match=match):
        GenURLEmbedding(n_neighbors=params.pop('n_neighbors', 3), **params, **FAST).fit(X)


def test_transform_errors(digits):
    X, _ = digits
    with pytest.raises(NotFittedError):
        GenURLEmbedding().transform(X)
    est = GenURLEmbedding(**FAST).fit(X)
    with pytest.raises(ValueError, match='features'):
        est.transform(X[:, :10])
