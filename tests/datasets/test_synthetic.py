import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.utils import homophily, is_undirected

from genurl_pyg.datasets import get_spec
from genurl_pyg.datasets.synthetic import (homophily_rewired_edges, homophily_sweep_graph,
                                           parse_synthetic_name)


def labels(n=2000, c=5, seed=0):
    return torch.randint(0, c, (n,), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize('h', [0.0, 0.1, 0.5, 0.9, 1.0])
def test_edge_homophily_is_h(h):
    y = labels()
    ei = homophily_rewired_edges(y, h, degree=4, seed=1)
    assert is_undirected(ei)
    assert not bool((ei[0] == ei[1]).any())
    assert torch.unique(ei[0] * y.numel() + ei[1]).numel() == ei.size(1)  # no duplicates
    # 2000 nodes x 4 draws: the share of intra-class edges is within a few std of h.
    assert homophily(ei, y, method='edge') == pytest.approx(h, abs=0.03)
    # Every node drew 4 partners (rarely the same one twice); with the reverse edges the
    # mean degree is just under 8.
    deg = torch.bincount(ei[0], minlength=y.numel())
    assert int(deg.min()) >= 1 and 7.5 < deg.float().mean() <= 8


def test_intra_class_partners_are_uniform_within_the_class():
    y = torch.tensor([0] * 4 + [1] * 4)
    ei = homophily_rewired_edges(y, 1.0, degree=4000, seed=0)
    # each node of class 0 links to the 3 others of its class (and to no one else)
    for i in range(4):
        assert set(ei[1][ei[0] == i].tolist()) == set(range(4)) - {i}


def test_seeded_and_does_not_mutate():
    data = Data(x=torch.randn(100, 3), y=labels(100, 3), edge_index=torch.tensor([[0], [1]]))
    before = data.edge_index.clone()
    a = homophily_sweep_graph(data, 0.3, seed=2)
    b = homophily_sweep_graph(data, 0.3, seed=2)
    c = homophily_sweep_graph(data, 0.3, seed=3)
    assert torch.equal(a.edge_index, b.edge_index)
    assert not torch.equal(a.edge_index, c.edge_index)
    assert torch.equal(data.edge_index, before) and a.x is not data.x
    assert a.homophily == 0.3


@pytest.mark.parametrize('kwargs, match', [
    (dict(homophily=1.5), 'homophily'), (dict(homophily=-0.1), 'homophily'),
    (dict(homophily=True), 'homophily'), (dict(homophily=0.5, degree=0), 'degree'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        homophily_rewired_edges(labels(50), **kwargs)


def test_impossible_graphs_are_refused():
    with pytest.raises(ValueError, match='at least 2 nodes'):
        homophily_rewired_edges(torch.tensor([0, 1, 1]), 1.0)  # class 0 has one node
    with pytest.raises(ValueError, match='2 classes'):
        homophily_rewired_edges(torch.zeros(5, dtype=torch.long), 0.0)
    with pytest.raises(ValueError, match='negative'):
        homophily_rewired_edges(torch.tensor([0, 1, -1, 1]), 0.5)


def test_registry_names():
    assert parse_synthetic_name('syn-cora-h0.1') == ('cora', 0.1, 0)
    assert parse_synthetic_name('SYN-CiteSeer-h1-s7') == ('citeseer', 1.0, 7)
    assert parse_synthetic_name('cora') is None
    spec = get_spec('syn-Cora-h0.50-s2')
    assert spec.name == 'syn-cora-h0.5-s2' and spec.protocol == 'random-50/25/25'
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        get_spec('syn-cora-h1.5')
    with pytest.raises(ValueError, match='base'):
        get_spec('syn-karateclub-h0.5')
    with pytest.raises(ValueError, match='base'):
        get_spec('syn-nothere-h0.5')
