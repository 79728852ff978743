"""The benchmark's peer zoo: every peer trains on a small graph and returns finite
embeddings; the losses match independent, unblocked computations."""
import numpy as np
import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.utils import to_undirected

from genurl_pyg.bench.peers import PEERS, get_peer, params_for
from genurl_pyg.bench.peers import cca_ssg, grace


def _graph(n=60, f=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    x = (torch.rand(n, f, generator=g) < 0.3).float()
    x[:, :3] += torch.nn.functional.one_hot(y, 3).float()
    src = torch.randint(0, n, (4 * n,), generator=g)
    dst = torch.randint(0, n, (4 * n,), generator=g)
    ei = to_undirected(torch.stack([src, dst]), num_nodes=n)
    return Data(x=x, edge_index=ei, y=y, num_nodes=n)


@pytest.mark.parametrize('name', PEERS)
def test_every_peer_trains_and_returns_finite_embeddings(name):
    data = _graph()
    params = params_for(name, 'Cora')
    params['epochs'] = 3
    h = get_peer(name).embed(data, params, seed=0)
    assert h.dim() == 2 and h.size(0) == data.num_nodes and torch.isfinite(h).all()
    again = get_peer(name).embed(data, params, seed=0)
    assert torch.allclose(h, again)  # seeded


def test_params_fall_back_to_the_stated_default_and_reject_unknown_peers():
    assert params_for('cca_ssg', 'Nowhere') == params_for('cca_ssg', 'default')
    assert params_for('cca_ssg', 'CiteSeer')['n_layers'] == 1
    with pytest.raises(ValueError, match='unknown peer'):
        get_peer('nope')


def test_cca_loss_matches_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(50, 4)), rng.normal(size=(50, 4))
    za = (a - a.mean(0)) / a.std(0, ddof=1)
    zb = (b - b.mean(0)) / b.std(0, ddof=1)
    expected = (-np.trace(za.T @ zb) / 50
                + 0.3 * (((za.T @ za / 50 - np.eye(4)) ** 2).sum()
                         + ((zb.T @ zb / 50 - np.eye(4)) ** 2).sum()))
    got = cca_ssg.cca_loss(torch.from_numpy(a), torch.from_numpy(b), 0.3)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_grace_blocked_loss_equals_the_dense_formula(monkeypatch):
    z1, z2 = torch.randn(37, 8, dtype=torch.float64), torch.randn(37, 8, dtype=torch.float64)
    tau = 0.5

    def dense(u, v):
        u, v = torch.nn.functional.normalize(u), torch.nn.functional.normalize(v)
        refl, betw = torch.exp(u @ u.t() / tau), torch.exp(u @ v.t() / tau)
        return -torch.log(betw.diag() / (refl.sum(1) + betw.sum(1) - refl.diag()))
    expected = 0.5 * (dense(z1, z2) + dense(z2, z1)).mean()
    monkeypatch.setattr(grace, 'LOSS_BLOCK', 5)  # many blocks, a ragged last one
    assert grace.grace_loss(z1, z2, tau).item() == pytest.approx(expected.item(), rel=1e-10)


def test_node2vec_walks_follow_edges_and_the_return_bias():
    from genurl_pyg.bench.peers.node2vec import random_walks, sorted_csr
    data = _graph(n=40)
    rowptr, col = sorted_csr(data.edge_index, 40)
    edges = set(map(tuple, data.edge_index.t().tolist()))
    g = torch.Generator().manual_seed(0)
    for p, q in ((1.0, 1.0), (0.25, 4.0), (4.0, 0.25)):
        walks = random_walks(rowptr, col, torch.arange(40).repeat(5), 10, p, q, g)
        assert walks.shape == (200, 11)
        steps = walks.unfold(1, 2, 1).reshape(-1, 2).tolist()
        assert all(tuple(s) in edges for s in steps)  # every step is an edge
    # a small p returns to the previous node far more often than a large p
    def returns(p):
        w = random_walks(rowptr, col, torch.arange(40).repeat(20), 20, p, 1.0,
                         torch.Generator().manual_seed(1))
        return (w[:, 2:] == w[:, :-2]).float().mean().item()
    assert returns(0.1) > 2 * returns(10.0)


def test_node2vec_uniform_steps_match_the_neighbour_distribution():
    from genurl_pyg.bench.peers.node2vec import random_walks, sorted_csr
    # a star: the centre's next step is uniform over its 4 leaves
    ei = torch.tensor([[0, 0, 0, 0], [1, 2, 3, 4]])
    rowptr, col = sorted_csr(ei, 5)
    w = random_walks(rowptr, col, torch.zeros(8000, dtype=torch.long), 1, 1.0, 1.0,
                     torch.Generator().manual_seed(0))
    freq = torch.bincount(w[:, 1], minlength=5)[1:].float() / 8000
    assert torch.allclose(freq, torch.full((4,), 0.25), atol=0.02)


def test_node2vec_separates_two_communities_without_features():
    from torch_geometric.data import Data
    g = torch.Generator().manual_seed(0)
    n = 60
    y = torch.arange(n) // 30
    src = torch.randint(0, n, (900,), generator=g)
    dst = torch.randint(0, n, (900,), generator=g)
    keep = (y[src] == y[dst]) | (torch.rand(900, generator=g) < 0.05)
    ei = to_undirected(torch.stack([src[keep], dst[keep]]), num_nodes=n)
    params = dict(params_for('node2vec', 'x'), dim=16, walk_length=10, context_size=5,
                  epochs=20)
    h = get_peer('node2vec').embed(Data(edge_index=ei, num_nodes=n), params, seed=0)
    h = torch.nn.functional.normalize(h, dim=1)
    sim = h @ h.t()
    same = sim[y[:, None] == y[None, :]].mean()
    other = sim[y[:, None] != y[None, :]].mean()
    assert same > other + 0.3


def test_node2vec_gram_pairs_equal_the_window_formulation():
    """Each window of c nodes pairs its first node with the other c - 1: the pairs read from
    the walk's Gram matrix are exactly those (a brute-force loop over windows)."""
    from genurl_pyg.bench.peers.node2vec import window_pairs
    length, c = 9, 4
    i, j = window_pairs(length, c)
    brute = [(k, k + m) for k in range(length - c + 1) for m in range(1, c)]
    assert list(zip(i.tolist(), j.tolist())) == brute
    g = torch.Generator().manual_seed(0)
    z = torch.randn(3, length, 5, generator=g)
    gram = torch.bmm(z, z.transpose(1, 2))[:, i, j]
    loop = torch.tensor([[float(z[b, a] @ z[b, e]) for a, e in brute] for b in range(3)])
    assert torch.allclose(gram, loop, atol=1e-5)
