import pytest
import torch
from torch_geometric.datasets import KarateClub
from torch_geometric.nn import GCN, MLP

from genurl_pyg.nn import GenURL, GenURLLoss
from genurl_pyg.structure import build_similarity


def test_training_reduces_loss_and_separates_factions():
    data = KarateClub()[0]
    sim = build_similarity(None, data.edge_index, num_nodes=data.num_nodes, graph_hops=2)
    torch.manual_seed(0)
    model = GenURL(GCN(34, 32, 2, out_channels=16), MLP([16, 16, 2]), GenURLLoss(nu=1.0))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(200):
        opt.zero_grad()
        _, z = model(data.x, data.edge_index)
        loss = model.loss(z, sim)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]
    h = model.embed(data.x, data.edge_index)
    assert h.shape == (34, 16) and not h.requires_grad
    # 1-NN in the embedding recovers the community labels far above chance (4 classes).
    d = torch.cdist(h, h)
    d.fill_diagonal_(float('inf'))
    acc = (data.y[d.argmin(1)] == data.y).float().mean().item()
    assert acc > 0.7


def test_sampled_loss_path_and_reset():
    data = KarateClub()[0]
    sim = build_similarity(None, data.edge_index, num_nodes=34)
    model = GenURL(GCN(34, 16, 1))
    _, z = model(data.x, data.edge_index)
    loss = model.loss(z, sim, num_pos=32, num_neg=64)
    loss.backward()
    before = [p.clone() for p in model.parameters()]
    model.reset_parameters()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert 'GenURL(encoder=GCN' in repr(model)
    with pytest.raises(ValueError, match='num_pos'):
        model.loss(z, sim, num_pos=3)
    with pytest.raises(TypeError, match="'encoder'"):
        GenURL(lambda x: x)
