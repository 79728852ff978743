import pytest
import torch
from sklearn.metrics import roc_auc_score

from genurl_pyg.structure import LOW_TRUST, estimate_lambda, graph_feature_agreement
from genurl_pyg.structure.trust import mann_whitney_auc, pair_distance

from .test_similarity import clustered, homophilous_edges


def test_auc_matches_scikit_learn_with_ties():
    g = torch.Generator().manual_seed(0)
    larger = torch.randint(0, 20, (300,), generator=g).float()
    smaller = torch.randint(0, 15, (200,), generator=g).float()
    y = [1] * 300 + [0] * 200
    ref = roc_auc_score(y, torch.cat([larger, smaller]).numpy())
    assert mann_whitney_auc(larger, smaller) == pytest.approx(ref, abs=1e-12)


@pytest.mark.parametrize('metric', ['euclidean', 'cosine'])
def test_pair_distance_chunks_match_direct(metric, monkeypatch):
    import genurl_pyg.structure.trust as trust
    monkeypatch.setattr(trust, '_CHUNK', 7)
    x = torch.randn(40, 5)
    i, j = torch.randint(0, 40, (2, 50))
    if metric == 'euclidean':
        ref = (x[i] - x[j]).norm(dim=1)
    else:
        ref = 1 - torch.nn.functional.cosine_similarity(x[i], x[j])
    assert torch.allclose(pair_distance(x, i, j, metric), ref, atol=1e-6)


def test_agreement_orders_graphs_and_is_negative_for_heterophily():
    x, y = clustered(n=600)
    homo = graph_feature_agreement(x, homophilous_edges(y, 800, same=0.95))
    # homophilous_edges accepts a uniform pair when its same-cluster status matches a coin
    # of bias `same`: with 5 equal clusters, same=0.5 gives the chance share 1/5.
    chance = graph_feature_agreement(x, homophilous_edges(y, 800, same=0.5))
    hetero = graph_feature_agreement(x, homophilous_edges(y, 800, same=0.0))
    assert homo > 0.6 and abs(chance) < 0.1 and hetero < -0.1
    assert homo > LOW_TRUST > chance
    # lambda is the agreement clipped to [0, 1]
    assert estimate_lambda(x, homophilous_edges(y, 800, same=0.0)) == 0.0
    assert estimate_lambda(x, homophilous_edges(y, 800, same=0.95)) == pytest.approx(homo)


def test_agreement_without_edges_and_bad_metric():
    x = torch.randn(10, 3)
    assert graph_feature_agreement(x, torch.tensor([[1, 2], [1, 2]])) == 0.0  # self loops only
    with pytest.raises(ValueError, match='metric'):
        graph_feature_agreement(x, torch.tensor([[0], [1]]), metric='manhattan')


def test_features_without_geometry_cannot_judge_the_graph():
    import math
    x = torch.eye(30)  # one-hot ids: every pair of distinct nodes at the same distance
    ei = torch.randint(0, 30, (2, 60))
    assert math.isnan(graph_feature_agreement(x, ei))
    assert estimate_lambda(x, ei) == 1.0
