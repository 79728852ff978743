import pytest
import torch
from torch_geometric.nn import SAGEConv
from torch_geometric.utils import coalesce

from genurl_pyg.nn.models import EgoNeighborSAGE
from genurl_pyg.node.inputs import csr_adjacency


def graph(n=60, m=300, d=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    ei = coalesce(torch.randint(0, n, (2, m), generator=g), num_nodes=n)
    return torch.randn(n, d, generator=g), ei


def pyg_reference(model, x, ei):
    """The same stack with PyG's SAGEConv (mean, root weight) and the same weights."""
    h = x
    for layer in range(model.num_layers):
        conv = SAGEConv(h.size(1), model.lin_self[layer].out_channels)
        with torch.no_grad():
            conv.lin_l.weight.copy_(model.lin_nbr[layer].weight)
            conv.lin_l.bias.copy_(model.lin_self[layer].bias)
            conv.lin_r.weight.copy_(model.lin_self[layer].weight)
        h = model.acts[layer](conv(h, ei))
    return h


@pytest.mark.parametrize('layers', [1, 2])
def test_equals_pyg_sageconv(layers):
    x, ei = graph()
    model = EgoNeighborSAGE(12, 16, 8, num_layers=layers)
    ref = pyg_reference(model, x, ei)
    for adj in (csr_adjacency(ei, 60), ei):
        assert torch.allclose(model(x, adj), ref, atol=1e-5)
    assert torch.allclose(model(x.to_sparse_csr(), ei), ref, atol=1e-5)


def test_isolated_nodes_keep_their_own_channel():
    x, _ = graph()
    model = EgoNeighborSAGE(12, 16, 8)
    empty = torch.empty(2, 0, dtype=torch.long)
    expected = model.acts[0](model.lin_self[0](x))
    assert torch.allclose(model(x, empty), expected, atol=1e-6)


def test_reset_repr_and_bad_arguments():
    model = EgoNeighborSAGE(12, 16, 8, num_layers=2)
    before = model.lin_self[0].weight.clone()
    model.reset_parameters()
    assert not torch.equal(before, model.lin_self[0].weight)
    assert repr(model) == 'EgoNeighborSAGE(12, 8, num_layers=2)'
    with pytest.raises(ValueError, match='num_layers'):
        EgoNeighborSAGE(12, 16, 8, num_layers=0)
    with pytest.raises(ValueError, match='dropout'):
        EgoNeighborSAGE(12, 16, 8, dropout=1.0)
    with pytest.raises(ValueError, match=r'\[2, E\]'):
        model(torch.randn(5, 12), torch.zeros(3, 4, dtype=torch.long))


def test_repeated_edges_count_once():
    x, ei = graph()
    model = EgoNeighborSAGE(12, 16, 8)
    assert torch.allclose(model(x, torch.cat([ei, ei[:, :50]], dim=1)), model(x, ei),
                          atol=1e-6)
