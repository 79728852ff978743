import pytest
import torch
from torch_geometric.utils import coalesce, to_undirected

from genurl_pyg.nn.adjacency import csr_adjacency
from genurl_pyg.nn.losses.genurl_loss import GenURLLoss
from genurl_pyg.nn.models import ChannelProjector, EgoGCN, GenURL


def graph(n=40, m=150, d=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    ei = to_undirected(coalesce(torch.randint(0, n, (2, m), generator=g), num_nodes=n))
    ei = ei[:, ei[0] != ei[1]]
    return torch.randn(n, d, generator=g), ei


def dense_gcn_operator(ei, n):
    """D^-1/2 (A + I) D^-1/2, written out densely (the brute-force reference)."""
    a = torch.zeros(n, n)
    a[ei[1], ei[0]] = 1.0
    a += torch.eye(n)
    d = a.sum(1).rsqrt()
    return d[:, None] * a * d[None, :]


def test_one_layer_is_an_ego_channel_beside_a_gcn_channel():
    x, ei = graph()
    model = EgoGCN(10, 16, 8)
    ego = model.ego_acts[0](x @ model.ego[0].weight.T + model.ego[0].bias)
    conv = model.gcn[0]
    smooth = model.gcn_acts[0](dense_gcn_operator(ei, 40) @ (x @ conv.lin.weight.T) + conv.bias)
    expected = torch.cat([ego, smooth], dim=1)
    assert model.channels == (8, 8)
    for adj in (csr_adjacency(ei, 40), ei):
        assert torch.allclose(model(x, adj), expected, atol=1e-5)
    assert torch.allclose(model(x.to_sparse_csr(), ei), expected, atol=1e-5)


def test_ego_channel_ignores_the_graph_and_layers_stack():
    x, ei = graph()
    model = EgoGCN(10, 16, 8, num_layers=2)
    empty = torch.empty(2, 0, dtype=torch.long)
    a, b = model(x, ei), model(x, empty)
    assert a.shape == (40, 16)
    assert torch.allclose(a[:, :8], b[:, :8], atol=1e-6)  # same ego half on any graph
    assert not torch.allclose(a[:, 8:], b[:, 8:], atol=1e-3)


def test_reset_repr_and_bad_arguments():
    model = EgoGCN(10, 16, 8)
    before = model.ego[0].weight.clone()
    model.reset_parameters()
    assert not torch.equal(before, model.ego[0].weight)
    assert repr(model) == 'EgoGCN(10, 8, num_layers=1)'
    assert model(*graph()).shape == (40, 16)  # two channels of out_channels each
    with pytest.raises(ValueError, match="'num_layers'"):
        EgoGCN(10, 16, 8, num_layers=0)
    with pytest.raises(ValueError, match="'dropout'"):
        EgoGCN(10, 16, 8, dropout=1.0)
    with pytest.raises(ValueError, match='edge index of shape'):
        model(torch.randn(5, 10), torch.zeros(3, 4, dtype=torch.long))


def test_channel_projector_projects_each_channel_alone():
    proj = ChannelProjector([4, 6], 3)
    h = torch.randn(20, 10)
    z = proj(h)
    assert z.shape == (20, 2, 3)
    assert torch.allclose(z[:, 0], proj.heads[0](h[:, :4]))
    h2 = h.clone()
    h2[:, 4:] = 0  # the second channel does not move the first one's projection
    assert torch.equal(proj(h2)[:, 0], z[:, 0])
    assert torch.equal(ChannelProjector([5, 5], 0)(h), torch.stack([h[:, :5], h[:, 5:]], 1))
    assert repr(proj) == 'ChannelProjector(channels=[4, 6], out_channels=3)'
    with pytest.raises(ValueError, match='width 10'):
        proj(torch.randn(20, 9))
    with pytest.raises(ValueError, match='one width'):
        ChannelProjector([4, 6], 0)
    with pytest.raises(ValueError, match="'channels'"):
        ChannelProjector([], 3)


def test_genurl_sums_one_loss_per_channel():
    z = torch.randn(30, 2, 4)
    p = torch.rand(30, 30)
    p = (p + p.T) / 2
    p.fill_diagonal_(0)
    model = GenURL(torch.nn.Identity(), loss=GenURLLoss())
    expected = model.loss(z[:, 0], p) + model.loss(z[:, 1], p)
    assert torch.allclose(model.loss(z, p), expected)
