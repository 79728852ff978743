import copy

import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.datasets import KarateClub

from genurl_pyg.structure import build_similarity
from genurl_pyg.transforms import GenURLSimilarity


def test_does_not_mutate_input_and_matches_builder():
    data = KarateClub()[0]
    data.x = torch.randn(34, 5)
    snapshot = copy.deepcopy(data)
    out = GenURLSimilarity(k=4, lam=0.4)(data)
    assert set(data.keys()) == set(snapshot.keys())
    for key in snapshot.keys():
        assert torch.equal(data[key], snapshot[key])
    ref = build_similarity(data.x, data.edge_index, k=4, lam=0.4)
    assert torch.equal(out.sim_index, ref.index)
    torch.testing.assert_close(out.sim_weight, ref.weight)
    assert out.sim_lambda == 0.4


def test_features_only_uses_knn_graph():
    data = Data(x=torch.randn(50, 3))
    out = GenURLSimilarity(k=5)(data)
    assert out.sim_lambda == 0.0
    assert out.sim_index.size(1) > 0
    assert 'edge_index' not in out


def test_errors():
    with pytest.raises(ValueError, match="'lam'"):
        GenURLSimilarity(lam=2.0)
    with pytest.raises(ValueError, match='data.x'):
        GenURLSimilarity()(Data(num_nodes=3))
    assert repr(GenURLSimilarity(k=3)) == 'GenURLSimilarity(k=3)'
