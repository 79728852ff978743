import pytest
import torch
from sklearn.metrics import roc_auc_score

from genurl_pyg.structure import (LOW_INFORMATION, LOW_TRUST, MIN_CLOSURE_RATIO,
                                 estimate_lambda, graph_feature_agreement,
                                 graph_feature_information, graph_is_noise,
                                 triangle_closure_ratio)
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


# -- graph_feature_information ---------------------------------------------------------------

def _reference_information(x, ei, q, num_shuffles, seed=0):
    """Exact PCA (numpy SVD), whitening, cross-correlation energy; the same permutations as
    the function draws (no edge or row sampling at these sizes)."""
    import numpy as np
    xs = x.double().numpy()
    xs = xs - xs.mean(0)
    _, _, vt = np.linalg.svd(xs, full_matrices=False)
    z = xs @ vt[:q].T
    z = z / z.std(0, ddof=1)
    e = ei[:, ei[0] != ei[1]]
    pairs = sorted({(min(i, j), max(i, j)) for i, j in e.t().tolist()})  # unordered, unique
    e = np.array(pairs).T
    a = z[e[0]]

    def energy(b):
        c = a.T @ b / len(a)
        return float((((c + c.T) / 2) ** 2).sum())
    gen = torch.Generator().manual_seed(seed)
    null = np.mean([energy(z[e[1]][torch.randperm(e.shape[1], generator=gen).numpy()])
                    for _ in range(num_shuffles)])
    return 0.5 * (energy(z[e[1]]) - null)


def test_information_matches_an_exact_pca_reference():
    g = torch.Generator().manual_seed(1)
    # well separated principal directions, so the randomised PCA finds the exact ones
    x = torch.randn(400, 12, generator=g) * torch.linspace(4, 0.5, 12)
    x[:, 0] += torch.randn(400, generator=g)  # dependence along the edges below
    ei = torch.randint(0, 400, (2, 1500), generator=g)
    ei[1] = torch.where(torch.rand(1500, generator=g) < 0.5, (ei[0] + 1) % 400, ei[1])
    ref = _reference_information(x, ei, q=5, num_shuffles=7)
    got = graph_feature_information(x, ei, num_components=5, num_shuffles=7)
    assert got == pytest.approx(ref, rel=1e-6, abs=1e-9)


def test_information_sees_dependence_of_either_sign():
    x, y = clustered(n=600)
    homo = graph_feature_information(x, homophilous_edges(y, 1500, same=0.95))
    chance = graph_feature_information(x, homophilous_edges(y, 1500, same=0.5))  # 1/5 share
    hetero_edges = homophilous_edges(y, 1500, same=0.0)
    hetero = graph_feature_information(x, hetero_edges)
    assert abs(chance) < LOW_INFORMATION < hetero < homo
    # the agreement calls the heterophilous graph worse than chance; the information sees
    # that its edges still say something (which classes a node's neighbours are not)
    assert graph_feature_agreement(x, hetero_edges) < -0.1


def test_information_edge_cases_and_bad_arguments():
    import math
    x = torch.randn(50, 4)
    assert graph_feature_information(x, torch.tensor([[1, 2], [1, 2]])) == 0.0  # loops only
    assert math.isnan(graph_feature_information(torch.ones(50, 4),
                                                torch.randint(0, 50, (2, 100))))
    for bad in (dict(num_components=0), dict(num_shuffles=1.5), dict(max_edges=True),
                dict(max_rows=1)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            graph_feature_information(x, torch.randint(0, 50, (2, 100)), **bad)
    with pytest.raises(ValueError):
        graph_feature_information(x, torch.tensor([[0], [50]]))  # node id out of range


def test_information_is_deterministic_and_leaves_the_global_generator_alone():
    x, y = clustered(n=300)
    ei = homophilous_edges(y, 600, same=0.9)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = graph_feature_information(x, ei)
    assert torch.equal(torch.get_rng_state(), before)
    assert graph_feature_information(x, ei) == a


def test_sampled_rows_and_edges_estimate_the_full_statistic():
    x, y = clustered(n=3000, d=16)
    ei = homophilous_edges(y, 6000, same=0.8)
    full = graph_feature_information(x, ei)
    sampled = graph_feature_information(x, ei, max_rows=1000, max_edges=3000)
    assert full > 20 * LOW_INFORMATION
    assert sampled == pytest.approx(full, rel=0.25)


# -- triangle_closure_ratio, graph_is_noise ----------------------------------------------------

def _networkx_ratio(ei, n):
    import networkx as nx
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from((a, b) for a, b in ei.t().tolist() if a != b)
    deg = torch.tensor([d for _, d in g.degree()], dtype=torch.float64)
    k1, k2 = float(deg.mean()), float(deg.square().mean())
    return nx.transitivity(g) / ((k2 - k1) ** 2 / (n * k1 ** 3))


def test_closure_ratio_matches_networkx_transitivity():
    import networkx as nx
    g = nx.connected_caveman_graph(12, 6)  # cliques joined in a ring: many triangles
    ei = torch.tensor(list(g.edges())).t()
    n = g.number_of_nodes()
    ref = _networkx_ratio(ei, n)
    got = triangle_closure_ratio(ei, n, num_samples=400_000)
    assert got == pytest.approx(ref, rel=0.02)
    assert got > 5 * MIN_CLOSURE_RATIO


def test_closure_ratio_of_random_edges_is_about_one():
    g = torch.Generator().manual_seed(0)
    n = 3000
    ei = torch.randint(0, n, (2, 12_000), generator=g)
    ratio = triangle_closure_ratio(ei, n)
    assert ratio == pytest.approx(_networkx_ratio(ei, n), rel=0.15)
    assert 0.5 < ratio < MIN_CLOSURE_RATIO


def test_closure_ratio_edge_cases_and_bad_arguments():
    import math
    assert math.isnan(triangle_closure_ratio(torch.tensor([[0, 2], [1, 3]]), 4))  # no wedge
    assert math.isnan(triangle_closure_ratio(torch.zeros(2, 0, dtype=torch.long), 4))
    star = torch.tensor([[0] * 9, list(range(1, 10))])
    assert triangle_closure_ratio(star, 10) == 0.0  # wedges, none closed
    big = torch.tensor([[0] * 20, list(range(1, 21))])  # the null expects T0 >= 1: no scale
    assert math.isnan(triangle_closure_ratio(big, 21))
    with pytest.raises(ValueError, match='num_samples'):
        triangle_closure_ratio(star, 10, num_samples=0)
    with pytest.raises(ValueError):
        triangle_closure_ratio(star, 5)  # node ids beyond num_nodes


def test_graph_is_noise_needs_both_statistics_low():
    low, high = LOW_INFORMATION / 2, LOW_INFORMATION * 2
    assert graph_is_noise(low, 1.0) and graph_is_noise(low, float('nan'))
    assert graph_is_noise(low, None)
    assert not graph_is_noise(low, MIN_CLOSURE_RATIO)  # a structured graph
    assert not graph_is_noise(high, 1.0)  # edges that inform about the features
    assert not graph_is_noise(None, 1.0) and not graph_is_noise(float('nan'), 1.0)
