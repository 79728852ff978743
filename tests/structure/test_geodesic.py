import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import shortest_path

from genurl_pyg.structure import geodesic_distances, hop_distances
from tests.conftest import cuda


def random_graph(n, m, seed, directed=True):
    rng = np.random.default_rng(seed)
    src = rng.integers(0, n, m)
    dst = rng.integers(0, n, m)
    w = rng.uniform(0.1, 2.0, m)
    if not directed:
        src, dst, w = np.r_[src, dst], np.r_[dst, src], np.r_[w, w]
    return src, dst, w


def dense_min_plus(n, src, dst, w, hops):
    """Reference: D_{h+1} = min(D_h, D_h (min,+) W) with dense matrices."""
    W = np.full((n, n), np.inf)
    for s, d, x in zip(src, dst, w):
        if s != d:
            W[s, d] = min(W[s, d], x)
    D = W.copy()
    for _ in range(hops - 1):
        D = np.minimum(D, (D[:, :, None] + W[None, :, :]).min(axis=1))
    np.fill_diagonal(D, np.inf)
    return D


def to_dense(index, dist, n):
    out = np.full((n, n), np.inf)
    out[index[0].numpy(), index[1].numpy()] = dist.numpy()
    return out


@pytest.mark.parametrize('hops', [1, 2, 3, 4])
@pytest.mark.parametrize('chunk_size', [None, 5])
def test_matches_dense_min_plus(hops, chunk_size):
    n = 40
    src, dst, w = random_graph(n, 90, seed=hops)
    index, dist = geodesic_distances(torch.from_numpy(np.stack([src, dst])),
                                     torch.from_numpy(w), n, hops, chunk_size=chunk_size)
    ref = dense_min_plus(n, src, dst, w, hops)
    np.testing.assert_allclose(to_dense(index, dist, n), ref, rtol=1e-12)
    assert (index[0] != index[1]).all()
    keys = index[0] * n + index[1]
    assert (keys[1:] > keys[:-1]).all()  # sorted and unique


def test_large_hops_match_scipy_shortest_path():
    n = 200
    src, dst, w = random_graph(n, 600, seed=7)
    index, dist = geodesic_distances(torch.from_numpy(np.stack([src, dst])),
                                     torch.from_numpy(w), n, max_hops=n)
    # scipy keeps the last of parallel edges, so reduce them to their minimum first.
    best = {}
    for s, d, x in zip(src, dst, w):
        if s != d:
            best[(s, d)] = min(best.get((s, d), np.inf), x)
    rows, cols = zip(*best)
    mat = sp.csr_matrix((list(best.values()), (rows, cols)), shape=(n, n))
    ref = shortest_path(mat, directed=True)
    np.fill_diagonal(ref, np.inf)
    np.testing.assert_allclose(to_dense(index, dist, n), ref, rtol=1e-12)


def test_disconnected_graph_has_no_inf():
    edge_index = torch.tensor([[0, 1, 3], [1, 2, 4]])
    index, dist = geodesic_distances(edge_index, torch.tensor([1.0, 2.0, 0.5]), 6, 3)
    assert torch.isfinite(dist).all()
    got = {(int(a), int(b)): float(d) for (a, b), d in zip(index.t(), dist)}
    assert got == {(0, 1): 1.0, (0, 2): 3.0, (1, 2): 2.0, (3, 4): 0.5}


def test_cap_keeps_closest_per_row():
    n = 30
    src, dst, w = random_graph(n, 120, seed=3)
    ei, ew = torch.from_numpy(np.stack([src, dst])), torch.from_numpy(w)
    full_i, full_d = geodesic_distances(ei, ew, n, 1)
    cap_i, cap_d = geodesic_distances(ei, ew, n, 1, max_pairs_per_row=2)
    assert torch.bincount(cap_i[0], minlength=n).max() <= 2
    for row in range(n):
        ref = np.sort(full_d[full_i[0] == row].numpy())[:2]
        np.testing.assert_allclose(np.sort(cap_d[cap_i[0] == row].numpy()), ref)


@pytest.mark.parametrize('hops', [1, 2, 3])
def test_hop_distances_match_networkx(hops):
    g = nx.gnm_random_graph(60, 100, seed=hops, directed=True)
    edge_index = torch.tensor(list(g.edges)).t()
    index, h = hop_distances(edge_index, 60, hops)
    assert h.dtype == torch.long
    got = {(int(a), int(b)): int(v) for (a, b), v in zip(index.t(), h)}
    want = {}
    for s, lengths in nx.all_pairs_shortest_path_length(g, cutoff=hops):
        for t, v in lengths.items():
            if s != t:
                want[(s, t)] = v
    assert got == want


def test_bad_inputs():
    ei = torch.tensor([[0, 1], [1, 2]])
    w = torch.ones(2)
    with pytest.raises(ValueError, match='edge_index'):
        geodesic_distances(torch.tensor([[0, 5], [1, 2]]), w, 3, 2)
    with pytest.raises(ValueError, match='edge_index'):
        geodesic_distances(torch.tensor([0, 1, 2]), w, 3, 2)
    with pytest.raises(ValueError, match='edge_index'):
        geodesic_distances(torch.empty(2, 0, dtype=torch.long), torch.ones(0), 3, 2)
    with pytest.raises(ValueError, match='edge_index'):
        geodesic_distances(torch.tensor([[-1, 1], [1, 2]]), w, 3, 2)
    with pytest.raises(TypeError, match='edge_index'):
        geodesic_distances(ei.float(), w, 3, 2)
    with pytest.raises(ValueError, match='edge_weight'):
        geodesic_distances(ei, torch.ones(3), 3, 2)
    with pytest.raises(ValueError, match='edge_weight'):
        geodesic_distances(ei, torch.tensor([1.0, -1.0]), 3, 2)
    with pytest.raises(ValueError, match='edge_weight'):
        geodesic_distances(ei, torch.tensor([1.0, float('nan')]), 3, 2)
    with pytest.raises(ValueError, match='max_hops'):
        geodesic_distances(ei, w, 3, 0)
    with pytest.raises(ValueError, match='num_nodes'):
        hop_distances(ei, 0, 2)


@cuda
def test_cuda_matches_cpu():
    src, dst, w = random_graph(50, 150, seed=11)
    ei, ew = torch.from_numpy(np.stack([src, dst])), torch.from_numpy(w)
    ci, cd = geodesic_distances(ei, ew, 50, 3)
    gi, gd = geodesic_distances(ei.cuda(), ew.cuda(), 50, 3)
    assert torch.equal(gi.cpu(), ci)
    torch.testing.assert_close(gd.cpu(), cd)


def test_radius_is_exact_filter():
    n = 40
    src, dst, w = random_graph(n, 120, seed=5)
    ei, ew = torch.from_numpy(np.stack([src, dst])), torch.from_numpy(w)
    radius = torch.from_numpy(np.random.default_rng(0).uniform(0.5, 3.0, n))
    index, dist = geodesic_distances(ei, ew, n, 3, max_dist=radius)
    ref = dense_min_plus(n, src, dst, w, 3)
    ref[ref > radius.numpy()[:, None]] = np.inf
    np.testing.assert_allclose(to_dense(index, dist, n), ref, rtol=1e-12)
    with pytest.raises(ValueError, match='max_dist'):
        geodesic_distances(ei, ew, n, 3, max_dist=torch.ones(3))
    with pytest.raises(ValueError, match='max_dist'):
        geodesic_distances(ei, ew, n, 3, max_dist=-1.0)


def test_capped_hop_neighbourhoods_are_uniform_samples_of_the_exact_ones():
    from genurl_pyg.structure.geodesic import hop_distances
    g = torch.Generator().manual_seed(0)
    n = 40
    ei = torch.randint(0, n, (2, 160), generator=g)
    ei = torch.cat([ei, ei.flip(0)], 1)
    exact_index, exact_hops = hop_distances(ei, n, 2)
    cap = 12
    exact = {}
    for (i, j), h in zip(exact_index.t().tolist(), exact_hops.tolist()):
        exact.setdefault(i, {}).setdefault(h, set()).add(j)
    counts = {}
    reps = 400
    for seed in range(reps):
        idx, hops = hop_distances(ei, n, 2, max_pairs_per_row=cap,
                                  generator=torch.Generator().manual_seed(seed))
        for (i, j), h in zip(idx.t().tolist(), hops.tolist()):
            assert j in exact[i][h]  # the hop count is exact for every kept pair
            counts[(i, j)] = counts.get((i, j), 0) + 1
    checked = 0
    for i, levels in exact.items():
        near, far = levels.get(1, set()), levels.get(2, set())
        if len(near) >= cap or len(near) + len(far) <= cap:
            for j in near | far if len(near) + len(far) <= cap else ():
                assert counts[(i, j)] == reps  # rows under the cap are kept whole
            continue
        for j in near:
            assert counts[(i, j)] == reps  # the nearer level is kept whole
        p = (cap - len(near)) / len(far)  # each 2-hop neighbour's inclusion probability
        sd = (reps * p * (1 - p)) ** 0.5
        for j in far:
            assert abs(counts.get((i, j), 0) - reps * p) < 5 * sd, (i, j, counts.get((i, j)), p)
        checked += 1
    assert checked >= 10  # the test graph has rows whose 2-hop level is sampled
