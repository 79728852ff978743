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
