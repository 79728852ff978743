import numpy as np
import pytest
import torch

from genurl_pyg.structure import (SimilarityBuilder, build_similarity, estimate_lambda,
                                  feature_similarity, fuzzy_union, graph_similarity)


def clustered(n=300, d=8, c=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, c, (n,), generator=g)
    centers = torch.randn(c, d, generator=g) * 6
    return centers[y] + torch.randn(n, d, generator=g), y


def homophilous_edges(y, m, same, seed=0):
    """m random edges; a share `same` of them joins nodes of the same cluster."""
    g = torch.Generator().manual_seed(seed)
    n = y.numel()
    src, dst = [], []
    while len(src) < m:
        i, j = torch.randint(0, n, (2,), generator=g).tolist()
        want_same = torch.rand(1, generator=g).item() < same
        if i != j and (y[i] == y[j]) == want_same:
            src.append(i)
            dst.append(j)
    return torch.tensor([src, dst])


def test_fuzzy_union_matches_dense_formula():
    n = 6
    index = torch.tensor([[0, 1, 2, 3, 0], [1, 0, 3, 5, 4]])
    w = torch.tensor([0.5, 0.25, 1.0, 0.3, 0.9])
    A = torch.zeros(n, n)
    A[index[0], index[1]] = w
    ui, uw = fuzzy_union(index, w, n)
    U = torch.zeros(n, n)
    U[ui[0], ui[1]] = uw
    torch.testing.assert_close(U, A + A.t() - A * A.t())


def test_feature_similarity_is_symmetric_without_self_pairs():
    x, _ = clustered()
    index, w = feature_similarity(x, k=10, hops=2)
    assert (index[0] != index[1]).all()
    P = torch.zeros(300, 300)
    P[index[0], index[1]] = w
    torch.testing.assert_close(P, P.t())
    assert (w > 0).all() and (w <= 1 + 1e-6).all()
    # Every point's nearest neighbour has membership 1.
    assert torch.allclose(P.max(dim=1).values, torch.ones(300))


def test_graph_similarity_hops():
    edge_index = torch.tensor([[0, 1, 2], [1, 2, 3]])
    index, w = graph_similarity(edge_index, 5, hops=2, nu=100.0)
    got = {(int(a), int(b)): float(v) for (a, b), v in zip(index.t(), w)}
    assert got[(0, 1)] == pytest.approx(1.0) and got[(1, 0)] == pytest.approx(1.0)
    assert got[(0, 2)] == pytest.approx((1 + 1 / 100) ** -101)
    assert (0, 3) not in got and all(4 not in k for k in got)


def test_lambda_leans_on_graph_only_when_edges_are_homophilous():
    x, y = clustered()
    lam_homo = estimate_lambda(x, homophilous_edges(y, 600, same=0.95))
    lam_rand = estimate_lambda(x, homophilous_edges(y, 600, same=0.2))
    lam_hetero = estimate_lambda(x, homophilous_edges(y, 600, same=0.0))
    assert lam_homo > 0.6
    assert lam_rand < 0.2
    assert lam_hetero == 0.0
    assert estimate_lambda(x, homophilous_edges(y, 600, 0.95)) == lam_homo  # deterministic


def test_combination_is_convex_mix_over_union():
    x, y = clustered(n=120)
    ei = homophilous_edges(y, 200, same=0.9)
    f_i, f_w = feature_similarity(x, k=5, hops=1)
    g_i, g_w = graph_similarity(ei, 120, hops=1)
    sim = build_similarity(x, ei, k=5, feature_hops=1, graph_hops=1, lam=0.3)
    F = torch.zeros(120, 120)
    F[f_i[0], f_i[1]] = f_w
    G = torch.zeros(120, 120)
    G[g_i[0], g_i[1]] = g_w
    torch.testing.assert_close(sim.to_dense(), 0.7 * F + 0.3 * G)
    assert sim.lam == 0.3
    dense = sim.to_dense()
    torch.testing.assert_close(dense, dense.t())
    assert dense.diagonal().abs().sum() == 0


def test_only_features_or_only_graph():
    x, y = clustered(n=80)
    assert build_similarity(x, None, k=5).lam == 0.0
    ei = homophilous_edges(y, 100, 0.9)
    only_graph = build_similarity(None, ei, num_nodes=80)
    assert only_graph.lam == 1.0
    assert only_graph.num_pairs == graph_similarity(ei, 80)[1].numel()


def test_dynamic_rebuild_reuses_graph_part():
    x, y = clustered(n=100)
    ei = homophilous_edges(y, 150, 0.9)
    builder = SimilarityBuilder(k=5, lam=0.5)
    static = builder.build(x, ei)
    same = builder.rebuild_features(x)
    torch.testing.assert_close(static.to_dense(), same.to_dense())
    moved = builder.rebuild_features(torch.randn(100, 8))
    assert moved.lam == 0.5
    assert not torch.allclose(moved.to_dense(), static.to_dense())
    with pytest.raises(ValueError, match="'x'"):
        builder.rebuild_features(torch.randn(50, 8))
    with pytest.raises(RuntimeError, match='build'):
        SimilarityBuilder().rebuild_features(x)


def test_builder_bad_arguments():
    with pytest.raises(ValueError, match="'lam'"):
        SimilarityBuilder(lam=1.5)
    with pytest.raises(ValueError, match="'lam'"):
        SimilarityBuilder(lam='sometimes')
    with pytest.raises(ValueError, match="'k'"):
        SimilarityBuilder(k=0)
    with pytest.raises(ValueError, match='use_'):
        SimilarityBuilder(use_features=False, use_graph=False)
    with pytest.raises(ValueError, match="'x'"):
        build_similarity(torch.full((5, 2), float('nan')))
    with pytest.raises(ValueError, match='edge_index'):
        build_similarity(torch.randn(5, 2), torch.tensor([[0, 9], [1, 2]]), k=2)
    with pytest.raises(ValueError, match="'x', 'edge_index'"):
        build_similarity()


def test_min_weight_prunes_geodesic_pairs_but_keeps_knn_pairs():
    from genurl_pyg.structure import knn_graph
    x, _ = clustered(n=200, d=32)
    nbr, _ = knn_graph(x, 6)
    full_i, full_w = feature_similarity(x, k=6, hops=2, min_weight=0.0)
    pruned_i, pruned_w = feature_similarity(x, k=6, hops=2, min_weight=0.05)
    assert pruned_w.numel() < full_w.numel()
    P = torch.zeros(200, 200)
    P[pruned_i[0], pruned_i[1]] = pruned_w
    rows = torch.arange(200).repeat_interleave(6)
    assert (P[rows, nbr.flatten()] > 0).all()
    F = torch.zeros(200, 200)
    F[full_i[0], full_i[1]] = full_w
    # The fuzzy union is monotone, so pruning can only lower entries; a pair is lost only
    # when both directions were below the threshold, so F < 2 * 0.05 there.
    kept = P > 0
    assert (P <= F + 1e-6).all()
    assert F[~kept].max() < 0.1


def test_reduce_dim_keeps_neighbourhoods_of_low_rank_data():
    from genurl_pyg.structure.builder import reduce_features
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(200, 5, generator=g) @ torch.randn(5, 300, generator=g)).double()  # rank 5
    xr = reduce_features(x, 8)
    assert xr.shape == (200, 8)
    torch.testing.assert_close(torch.cdist(xr, xr), torch.cdist(x, x), rtol=1e-3, atol=1e-2)
    assert reduce_features(x, 400) is x
    full = build_similarity(x, k=5).to_dense()
    red = build_similarity(x, k=5, reduce_dim=8).to_dense()
    assert ((full > 0) == (red > 0)).float().mean() > 0.99


def test_graph_without_edges_suggests_use_graph_false():
    x = torch.randn(10, 3)
    with pytest.raises(ValueError, match='use_graph=False'):
        build_similarity(x, torch.empty(2, 0, dtype=torch.long), k=3)
