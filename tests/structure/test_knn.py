import numpy as np
import pytest
import torch

from genurl_pyg._optional import is_available
from genurl_pyg.structure import knn_graph
from tests.conftest import cuda


def brute_force(x: np.ndarray, k: int, metric: str):
    if metric == 'cosine':
        xn = x / np.linalg.norm(x, axis=1, keepdims=True)
        d = 1 - xn @ xn.T
    else:
        d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    idx = np.argsort(d, axis=1, kind='stable')[:, :k]
    return idx, np.take_along_axis(d, idx, 1)


@pytest.mark.parametrize('metric', ['euclidean', 'cosine'])
@pytest.mark.parametrize('chunk_size', [None, 7])
def test_exact_matches_brute_force(metric, chunk_size):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 12))
    idx, dist = knn_graph(torch.from_numpy(x), 8, metric=metric, method='exact',
                          chunk_size=chunk_size)
    ref_idx, ref_dist = brute_force(x, 8, metric)
    np.testing.assert_array_equal(idx.numpy(), ref_idx)
    np.testing.assert_allclose(dist.numpy(), ref_dist, rtol=1e-9, atol=1e-9)


def test_float32_distances_are_accurate():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 32)).astype(np.float32) + 100  # large offset: cancellation risk
    idx, dist = knn_graph(torch.from_numpy(x), 5, method='exact')
    direct = np.linalg.norm(x[:, None, :] - x[idx.numpy()], axis=-1)
    np.testing.assert_allclose(dist.numpy(), direct, rtol=1e-5)
    assert (np.diff(dist.numpy(), axis=1) >= 0).all()


def test_duplicates_and_self_exclusion():
    x = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [5.0, 5.0], [5.0, 6.0]])
    idx, dist = knn_graph(x, 2, method='exact')
    for i in range(5):
        assert i not in idx[i].tolist()
    assert set(idx[0].tolist()) == {1, 2}
    assert dist[0].tolist() == [0.0, 0.0]
    assert torch.isfinite(dist).all()


@pytest.mark.skipif(not is_available('faiss'), reason='faiss not installed')
def test_faiss_recall():
    rng = np.random.default_rng(2)
    centers = rng.normal(size=(20, 16)) * 5
    x = (centers[rng.integers(0, 20, 3000)] + rng.normal(size=(3000, 16))).astype(np.float32)
    idx, dist = knn_graph(torch.from_numpy(x), 10, method='faiss')
    ref, _ = knn_graph(torch.from_numpy(x), 10, method='exact')
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(idx.tolist(), ref.tolist())])
    assert recall > 0.9
    assert (idx != torch.arange(3000)[:, None]).all()
    assert (np.diff(dist.numpy(), axis=1) >= -1e-5).all()


@pytest.mark.skipif(not is_available('pynndescent'), reason='pynndescent not installed')
def test_pynndescent_recall():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1500, 8)).astype(np.float32)
    idx, dist = knn_graph(torch.from_numpy(x), 10, method='pynndescent')
    ref, ref_d = knn_graph(torch.from_numpy(x), 10, method='exact')
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(idx.tolist(), ref.tolist())])
    assert recall > 0.9
    assert (idx != torch.arange(1500)[:, None]).all()


def test_missing_backend_names_extra(monkeypatch):
    import genurl_pyg.structure.knn as knn_mod

    def fail(module, feature):
        raise ImportError(f"{feature} needs the optional package '{module}'")
    monkeypatch.setattr(knn_mod, 'require', fail)
    with pytest.raises(ImportError, match='pynndescent'):
        knn_graph(torch.randn(20, 3), 3, method='pynndescent')


@pytest.mark.parametrize('bad, match', [
    (float('nan'), "'x'"), (float('inf'), "'x'"),
])
def test_non_finite_features(bad, match):
    x = torch.randn(10, 3)
    x[2, 1] = bad
    with pytest.raises(ValueError, match=match):
        knn_graph(x, 3)


def test_bad_k_and_options():
    x = torch.randn(10, 3)
    with pytest.raises(ValueError, match="'k'"):
        knn_graph(x, 0)
    with pytest.raises(ValueError, match="'k'"):
        knn_graph(x, 10)
    with pytest.raises(TypeError, match="'k'"):
        knn_graph(x, 2.5)
    with pytest.raises(ValueError, match="'metric'"):
        knn_graph(x, 3, metric='manhattan')
    with pytest.raises(ValueError, match="'method'"):
        knn_graph(x, 3, method='annoy')
    with pytest.raises(ValueError, match="'x'"):
        knn_graph(torch.randn(10), 3)
    with pytest.raises(TypeError, match="'x'"):
        knn_graph(np.zeros((10, 3)), 3)


def test_cosine_with_all_zero_rows():
    x = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
    idx, dist = knn_graph(x, 2, metric='cosine', method='exact')
    assert idx[2].tolist()[0] == 3 and dist[2, 0] == 0  # zero rows: identical to each other
    torch.testing.assert_close(dist[2, 1], torch.tensor(1.0))  # orthogonal to the rest
    assert idx[0, 0] == 1 and 2 not in idx[0].tolist()
    assert torch.isfinite(dist).all()


@cuda
def test_cuda_matches_cpu():
    x = torch.randn(400, 8)
    i_cpu, d_cpu = knn_graph(x, 6, method='exact')
    i_gpu, d_gpu = knn_graph(x.cuda(), 6, method='exact')
    assert i_gpu.is_cuda
    torch.testing.assert_close(d_gpu.cpu(), d_cpu, rtol=1e-4, atol=1e-4)


def test_sampled_recall_against_brute_force():
    from genurl_pyg.structure.knn import sampled_recall
    rng = np.random.default_rng(5)
    x = rng.normal(size=(400, 5)).astype(np.float32)
    ref, _ = brute_force(x, 8, 'euclidean')
    xt = torch.from_numpy(x)
    assert sampled_recall(xt, torch.from_numpy(ref), num_queries=100) == 1.0
    # half of every row replaced by the row's farthest points: recall exactly 0.5
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    far = np.argsort(-d, axis=1)[:, :4]
    broken = np.concatenate([ref[:, :4], far], axis=1)
    assert sampled_recall(xt, torch.from_numpy(broken), num_queries=400) == pytest.approx(0.5)


@pytest.mark.skipif(not is_available('faiss'), reason='faiss not installed')
def test_faiss_checked_keeps_a_good_index_and_replaces_a_bad_one(monkeypatch):
    from genurl_pyg.structure import knn as K
    rng = np.random.default_rng(2)
    centers = rng.normal(size=(20, 16)) * 5
    x = torch.from_numpy((centers[rng.integers(0, 20, 3000)]
                          + rng.normal(size=(3000, 16))).astype(np.float32))
    exact, exact_d = knn_graph(x, 10, method='exact')
    fast, _ = knn_graph(x, 10, method='faiss')
    info = {}
    idx, _ = knn_graph(x, 10, method='faiss-checked', info=info)
    assert info['recall'] >= K.CHECKED_MIN_RECALL and info['method'] == 'faiss'
    assert torch.equal(idx, fast)
    # a threshold no index can meet: the exact search's answer instead
    monkeypatch.setattr(K, 'CHECKED_MIN_RECALL', 1.01)
    info = {}
    idx, dist = knn_graph(x, 10, method='faiss-checked', info=info)
    assert torch.equal(idx, exact) and torch.allclose(dist, exact_d)
    assert info['method'] == 'exact' and info['recall'] < 1.01
