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
from sklearn.utils.estimator_checks import parametrize_with_checks

from genurl_pyg._optional import is_available
from genurl_pyg.manifold import GenURLEmbedding
from genurl_pyg.evaluation.dr import knn_accuracy, trustworthiness

# The parametric MLP (parametric=False, the default, is tested in test_layout.py)
FAST = dict(parametric=True, n_epochs=3, hidden_layer_sizes=(32,), random_state=0)


@pytest.fixture(scope='module')
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600], y[:600]


def test_quality_on_digits(digits):
    X, y = digits
    Y = GenURLEmbedding(parametric=True, n_epochs=20, random_state=0).fit_transform(X)
    assert Y.shape == (600, 2) and Y.dtype == np.float64  # float64 in, float64 out
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


def test_dtype_is_preserved(digits):
    X, _ = digits
    est = GenURLEmbedding(**FAST)
    assert est.fit_transform(X.astype(np.float32)).dtype == np.float32
    assert est.transform(X[:5].astype(np.float32)).dtype == np.float32
    assert est.fit_transform(X.astype(np.float64)).dtype == np.float64
    assert est.transform(X[:5].astype(np.float64)).dtype == np.float64
    assert est.__sklearn_tags__().input_tags.sparse


def test_n_neighbors_is_clipped_with_a_warning():
    X = np.random.RandomState(0).rand(8, 3)
    est = GenURLEmbedding(n_neighbors=15, **FAST)
    with pytest.warns(UserWarning, match='using n_neighbors = 7'):
        Y = est.fit_transform(X)
    assert Y.shape == (8, 2) and est.n_neighbors_ == 7 and est.n_neighbors == 15


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
    # data: scikit-learn's own messages (validate_data)
    (np.full((20, 3), np.nan), {}, ValueError, 'NaN'),
    (np.ones((1, 3)), {}, ValueError, 'minimum of 2 is required'),
    (np.random.rand(10), {}, ValueError, 'Reshape your data'),
    (np.zeros((10, 0)), {}, ValueError, '0 feature'),
    (np.random.rand(10, 3) + 1j, {}, ValueError, 'Complex data not supported'),
    (np.array([['a', 'b'], ['c', 'd'], ['e', 'f']], dtype=object), {}, ValueError,
     'could not convert'),
    # hyper-parameters
    (np.random.rand(10, 3), {'n_neighbors': 0}, ValueError, "'n_neighbors'"),
    (np.random.rand(10, 3), {'loss': 'kl'}, ValueError, "'loss'"),
    (np.random.rand(10, 3), {'hidden_layer_sizes': (0,)}, ValueError, "'hidden_layer_sizes'"),
    (np.random.rand(10, 3), {'hidden_layer_sizes': 'big'}, ValueError, "'hidden_layer_sizes'"),
    (np.random.rand(10, 3), {'alpha': -5}, ValueError, "'alpha'"),
    (np.random.rand(10, 3), {'alpha': float('inf')}, ValueError, "'alpha'"),
    (np.random.rand(10, 3), {'learning_rate': float('inf')}, ValueError, "'learning_rate'"),
    (np.random.rand(10, 3), {'nu_latent': float('nan')}, ValueError, "'nu_latent'"),
    (np.random.rand(10, 3), {'mixup': 1.0}, ValueError, "'mixup'"),
    (np.random.rand(10, 3), {'device': 'gpu'}, ValueError, "'device'"),
    (np.random.rand(10, 3), {'knn_method': 'annoy'}, ValueError, "'knn_method'"),
])
def test_bad_inputs(X, params, exc, match):
    params = {**FAST, 'n_neighbors': 3, **params}
    with pytest.raises(exc, match=match):
        GenURLEmbedding(**params).fit(X)


def test_one_feature_is_valid():
    X = np.random.RandomState(0).rand(30, 1)
    assert GenURLEmbedding(n_neighbors=5, **FAST).fit_transform(X).shape == (30, 2)


def test_non_finite_training_is_an_error_not_a_nan_embedding(digits):
    X, _ = digits
    with pytest.raises(FloatingPointError, match='learning_rate'):
        GenURLEmbedding(n_neighbors=5, learning_rate=1e30, n_epochs=2, parametric=True,
                        hidden_layer_sizes=(32,), random_state=0).fit(X[:100])


def test_default_is_the_non_parametric_layout(digits):
    est = GenURLEmbedding(n_epochs=20, exaggeration_iter=5, random_state=0).fit(digits[0][:200])
    assert est.parametric is False and est.encoder_ is None and est.wide_neighbors_ is None


def test_transform_errors(digits):
    X, _ = digits
    with pytest.raises(NotFittedError):
        GenURLEmbedding().transform(X)
    est = GenURLEmbedding(**FAST).fit(X)
    with pytest.raises(ValueError, match='features'):
        est.transform(X[:, :10])


@parametrize_with_checks([GenURLEmbedding(n_neighbors=5, n_epochs=2, hidden_layer_sizes=(16,),
                                          parametric=True, random_state=0),
                          GenURLEmbedding(n_neighbors=5, n_epochs=20, exaggeration_iter=5,
                                          parametric=False, random_state=0)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.skipif(not is_available('faiss'), reason='faiss not installed')
def test_auto_knn_is_the_recall_checked_index_on_large_data(digits, monkeypatch):
    from genurl_pyg.manifold import genurl_embedding as GE
    from genurl_pyg.structure import knn as K
    X, _ = digits
    params = dict(parametric=False, n_epochs=30, random_state=0)
    small = GenURLEmbedding(**params).fit(X)
    assert small.knn_method_ == 'exact' and small.knn_recall_ is None
    monkeypatch.setattr(GE, 'CHECKED_KNN_MIN_N', 100)  # digits count as large
    big = GenURLEmbedding(**params).fit(X)
    assert big.knn_method_ == 'faiss-checked' and big.knn_recall_ >= 0.95
    # an unreachable recall: the exact search's P, so the very same layout
    monkeypatch.setattr(K, 'CHECKED_MIN_RECALL', 1.01)
    fallback = GenURLEmbedding(**params).fit(X)
    assert fallback.knn_recall_ < 1.01
    np.testing.assert_array_equal(fallback.embedding_, small.embedding_)


def test_non_parametric_fit_does_not_load_pyg():
    # PyG's layers cost ~250 MB of resident memory on import; the DR estimator's peak memory
    # is benchmarked against UMAP's, so its non-parametric path must not pull them in.
    import subprocess
    import sys
    code = ('import sys; import numpy as np; from genurl_pyg.manifold import GenURLEmbedding; '
            'X = np.random.default_rng(0).normal(size=(120, 6)); '
            'GenURLEmbedding(parametric=False, n_epochs=20, random_state=0).fit(X); '
            "print('torch_geometric' in sys.modules)")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == 'False'


def test_models_still_reachable_from_nn():
    import genurl_pyg.nn as gnn
    from genurl_pyg.nn.models import GenURL
    assert gnn.GenURL is GenURL and 'GenURL' in dir(gnn)


def test_local_neighbor_scaling_builds_p_on_the_scaled_neighbours(digits):
    from genurl_pyg.structure.hubness import local_scaling_knn
    X, y = digits
    params = dict(parametric=False, n_epochs=60, random_state=0, reduce_dim=None)
    plain = GenURLEmbedding(**params, neighbor_scaling=None).fit(X)
    a = GenURLEmbedding(**params, neighbor_scaling='local').fit(X)
    b = GenURLEmbedding(**params, neighbor_scaling='local').fit(X)
    np.testing.assert_array_equal(a.embedding_, b.embedding_)  # deterministic
    idx = local_scaling_knn(torch.tensor(X, dtype=torch.float32), a.n_neighbors_,
                            method='exact')[0]
    rows = torch.arange(len(X)).repeat_interleave(a.n_neighbors_)
    pairs = set(zip(*a.similarity_.index.tolist()))
    assert set(zip(rows.tolist(), idx.flatten().tolist())) <= pairs
    assert pairs != set(zip(*plain.similarity_.index.tolist()))
    knn = KNeighborsClassifier(5).fit(a.embedding_[::2], y[::2]).score(a.embedding_[1::2],
                                                                         y[1::2])
    assert knn > 0.9  # still a faithful map


@pytest.mark.parametrize('extra, expected', [
    ({'parametric': False}, 'local'),
    ({'parametric': False, 'perplexity': 10.0}, None),
    ({'parametric': False, 'feature_hops': 1, 'wide_neighbors': 40}, None),
    ({'parametric': True}, None),
])
def test_auto_neighbor_scaling_is_local_only_where_measured(digits, extra, expected):
    X, _ = digits
    est = GenURLEmbedding(n_epochs=2, random_state=0, **extra)
    assert est.neighbor_scaling == 'auto'  # the constructor stores what it is given
    est.fit(X[:200])
    assert est.neighbor_scaling_ == expected


@pytest.mark.parametrize('extra, match', [
    ({'neighbor_scaling': 'global'}, "'auto', None or one of"),
    ({'neighbor_scaling': 'local', 'perplexity': 10.0}, 'perplexity'),
    ({'neighbor_scaling': 'local', 'feature_hops': 1, 'wide_neighbors': 40}, 'wide_neighbors'),
])
def test_bad_neighbor_scaling_is_named(digits, extra, match):
    X, _ = digits
    with pytest.raises(ValueError, match=match):
        GenURLEmbedding(parametric=False, n_epochs=5, **extra).fit(X[:200])
