import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from scipy.stats import skew

from genurl_pyg.structure import SimilarityBuilder, knn_graph
from genurl_pyg.structure.hubness import k_occurrence_skewness, local_scaling_knn


def _brute_force(x: np.ndarray, k: int, candidates: int):
    """Independent reference: full distance matrix, s_i from it, ranking by d / sqrt(s s)."""
    d = cdist(x, x)
    np.fill_diagonal(d, np.inf)
    order = np.argsort(d, axis=1, kind='stable')
    s = d[np.arange(len(x)), order[:, k - 1]]
    out = []
    for i in range(len(x)):
        cand = order[i, :candidates * k]
        score = d[i, cand] / np.sqrt(s[i] * s[cand])
        chosen = cand[np.argsort(score, kind='stable')[:k]]
        out.append(sorted(chosen, key=lambda j: d[i, j]))
    return np.array(out), d


def test_local_scaling_matches_brute_force():
    x = np.random.default_rng(0).normal(size=(150, 20))
    idx, dist = local_scaling_knn(torch.tensor(x), k=6, candidates=3, method='exact')
    ref, d = _brute_force(x, 6, 3)
    np.testing.assert_array_equal(idx.numpy(), ref)
    np.testing.assert_allclose(dist.numpy(), np.take_along_axis(d, ref, 1), rtol=1e-10)
    assert (dist[:, 1:] >= dist[:, :-1]).all()  # rows sorted by the unscaled distance


def test_one_candidate_per_neighbour_is_the_plain_knn():
    x = torch.randn(80, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    a = local_scaling_knn(x, 7, candidates=1, method='exact')
    b = knn_graph(x, 7, method='exact')
    assert torch.equal(a[0], b[0]) and torch.allclose(a[1], b[1])


def test_local_scaling_reduces_hubness_in_high_dimensions():
    # i.i.d. Gaussian points in 100-d: the classic hubness setting (Radovanovic et al.)
    x = torch.randn(1500, 100, generator=torch.Generator().manual_seed(0))
    plain = knn_graph(x, 10, method='exact')[0]
    scaled = local_scaling_knn(x, 10, method='exact')[0]
    before = k_occurrence_skewness(plain, 1500)
    after = k_occurrence_skewness(scaled, 1500)
    assert before > 1.0 and after < 0.5 * before
    counts = np.bincount(plain.flatten().numpy(), minlength=1500)
    assert before == pytest.approx(skew(counts), rel=1e-9)  # scipy's skewness


def test_bad_arguments_are_named():
    x = torch.randn(20, 3)
    with pytest.raises(ValueError, match='candidates'):
        local_scaling_knn(x, 3, candidates=0)
    with pytest.raises(ValueError, match="'k'"):
        local_scaling_knn(x, 20)
    with pytest.raises(ValueError, match='neighbor_scaling'):
        SimilarityBuilder(neighbor_scaling='global')
    with pytest.raises(ValueError, match='perplexity'):
        SimilarityBuilder(neighbor_scaling='local', perplexity=5.0)
    with pytest.raises(ValueError, match='wide_k'):
        SimilarityBuilder(k=5, feature_hops=1, neighbor_scaling='local', wide_k=15)


def test_builder_uses_the_scaled_neighbours():
    x = torch.randn(300, 50, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    common = dict(k=8, feature_hops=1, lam=0.0, use_graph=False, knn_method='exact')
    plain = SimilarityBuilder(**common).build(x)
    scaled = SimilarityBuilder(**common, neighbor_scaling='local').build(x)
    idx = local_scaling_knn(x, 8, method='exact')[0]
    rows = torch.arange(300).repeat_interleave(8)
    want = set(zip(rows.tolist(), idx.flatten().tolist()))
    got = set(zip(*scaled.index.tolist()))
    assert want <= got  # every chosen pair (and, by the fuzzy union, its mirror) is in P
    assert got != set(zip(*plain.index.tolist()))
    assert "neighbor_scaling='local'" in repr(SimilarityBuilder(neighbor_scaling='local'))
