"""neighbour_overlap against scikit-learn's brute-force cosine neighbours."""
import numpy as np
import pytest
import torch
from sklearn.neighbors import NearestNeighbors

from genurl_pyg.evaluation import neighbour_overlap


def brute(a, b, queries, candidates, k):
    def sets(x):
        nn = NearestNeighbors(n_neighbors=k + 1, metric='cosine').fit(x[candidates])
        idx = nn.kneighbors(x[queries], return_distance=False)
        out = []
        for q, row in zip(queries, idx):
            ids = [candidates[j] for j in row if candidates[j] != q][:k]
            out.append(set(ids))
        return out
    return np.mean([len(s & t) / k for s, t in zip(sets(a), sets(b))])


def test_overlap_matches_brute_force_neighbours():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 8))
    b = a[:, :5] + 0.5 * rng.normal(size=(200, 5))  # related, not equal
    queries = np.arange(0, 200, 7)
    candidates = np.arange(30, 200)  # some queries are candidates, some are not
    got = neighbour_overlap(torch.from_numpy(a), torch.from_numpy(b),
                            torch.from_numpy(queries), torch.from_numpy(candidates), k=6,
                            chunk=5)
    assert got == pytest.approx(brute(a, b, queries, candidates, 6))
    assert 0.1 < got < 0.9
    # an embedding agrees with itself (and with a rescaled copy: cosine); masks work too
    mask = torch.zeros(200, dtype=torch.bool)
    mask[queries] = True
    assert neighbour_overlap(torch.from_numpy(a), 3 * torch.from_numpy(a), mask, k=6) == 1.0


def test_overlap_refuses_bad_inputs():
    a = torch.randn(20, 3)
    with pytest.raises(ValueError, match='same N nodes'):
        neighbour_overlap(a, torch.randn(19, 3), torch.arange(5))
    with pytest.raises(ValueError, match="'k' must be an integer in \\[1, 19\\]"):
        neighbour_overlap(a, a, torch.arange(5), k=20)
    with pytest.raises(ValueError, match="'queries' selects no node"):
        neighbour_overlap(a, a, torch.zeros(20, dtype=torch.bool))
    with pytest.raises(ValueError, match="'candidates' holds node ids outside"):
        neighbour_overlap(a, a, torch.arange(5), torch.tensor([0, 25]), k=1)
    with pytest.raises(ValueError, match="'queries' mask has 10 entries"):
        neighbour_overlap(a, a, torch.zeros(10, dtype=torch.bool))
