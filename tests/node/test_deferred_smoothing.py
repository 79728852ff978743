"""SmoothedInputLinear against Linear on explicitly smoothed rows (a dense matrix power as
the reference), and the trainer's choice between the two orders."""
import pytest
import torch
from torch_geometric.nn.dense.linear import Linear

from genurl_pyg import NodeConfig
from genurl_pyg.node.deferred_smoothing import (SmoothedInputLinear, deferral_pays,
                                                defer_input_smoothing, smoothed_nnz)
from genurl_pyg.node.encoders import build_encoder
from genurl_pyg.node.propagation import normalized_adjacency
from genurl_pyg.node.trainer import NodeEmbeddingTrainer

from .test_trainer import _force_deferral, karate


def _graph(n=30, e=80, seed=0):
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, e), generator=g)
    ei = torch.cat([ei, ei.flip(0)], 1)
    return ei[:, ei[0] != ei[1]]


def _dense_power(ei, n, hops):
    adj = normalized_adjacency(ei, n).to_dense().double()
    return torch.linalg.matrix_power(adj, hops)


def _sparse_rows(n, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, d, generator=g, dtype=torch.float64)
    return x * (torch.rand(n, d, generator=g) < 0.1)


@pytest.mark.parametrize('bias', [False, True])
@pytest.mark.parametrize('hops', [1, 3])
def test_equals_linear_on_smoothed_rows_values_and_gradients(bias, hops):
    n, d = 30, 40
    ei = _graph(n)
    x = _sparse_rows(n, d)
    torch.manual_seed(0)
    ref = Linear(d, 8, bias=bias).double()
    lin = SmoothedInputLinear.replacing(ref)
    lin.smooth_over(normalized_adjacency(ei, n).double(), hops)
    s = _dense_power(ei, n, hops)
    out = lin(x.to_sparse_csr())
    expected = ref(s @ x)
    assert torch.allclose(out, expected, atol=1e-12)
    g = torch.randn_like(out)
    grads = torch.autograd.grad(out, list(lin.parameters()), g)
    ref_grads = torch.autograd.grad(expected, list(ref.parameters()), g)
    for a, b in zip(grads, ref_grads):
        assert torch.allclose(a, b, atol=1e-12)


def test_stacked_views_are_smoothed_block_by_block():
    n, d = 30, 12
    ei = _graph(n)
    x1, x2 = _sparse_rows(n, d, 1), _sparse_rows(n, d, 2)
    ref = Linear(d, 5).double()
    lin = SmoothedInputLinear.replacing(ref)
    lin.smooth_over(normalized_adjacency(ei, n).double(), 2)
    s = _dense_power(ei, n, 2)
    out = lin(torch.cat([x1, x2]))
    assert torch.allclose(out, torch.cat([ref(s @ x1), ref(s @ x2)]), atol=1e-12)


def test_replacing_shares_parameters_keys_and_draws_no_random_numbers():
    torch.manual_seed(0)
    enc = build_encoder('gcn', 12, 8, 8, num_layers=2)
    keys = list(enc.state_dict())
    weight = enc.gnn.convs[0].lin.weight
    state = torch.random.get_rng_state()
    layer = defer_input_smoothing(enc, normalized_adjacency(_graph(), 30), 1)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert enc.gnn.convs[0].lin is layer and layer.weight is weight
    assert list(enc.state_dict()) == keys
    assert 'hops=1' in repr(layer)
    mlp = build_encoder('mlp', 12, 8, 8, num_layers=2)
    assert isinstance(defer_input_smoothing(mlp, normalized_adjacency(_graph(), 30), 2),
                      SmoothedInputLinear)
    assert defer_input_smoothing(build_encoder('gat', 12, 8, 8), normalized_adjacency(
        _graph(), 30), 1) is None


def test_bad_inputs_are_named():
    lin = SmoothedInputLinear(4, 2)
    with pytest.raises(RuntimeError, match='smooth_over'):
        lin(torch.ones(3, 4))
    with pytest.raises(ValueError, match="'hops' must be >= 1, got 0"):
        lin.smooth_over(normalized_adjacency(_graph(), 30), 0)
    with pytest.raises(TypeError, match="'hops' must be an int, got float"):
        lin.smooth_over(normalized_adjacency(_graph(), 30), 2.0)
    with pytest.raises(ValueError, match="'adj'"):
        lin.smooth_over(torch.ones(3, 4), 1)
    lin.smooth_over(normalized_adjacency(_graph(), 30), 1)
    with pytest.raises(ValueError, match='31 rows.*30 nodes'):
        lin(torch.ones(31, 4))
    with pytest.raises(TypeError, match='Linear'):
        SmoothedInputLinear.replacing(torch.nn.Linear(4, 2))


def test_smoothing_block_restores_the_training_graph():
    lin = SmoothedInputLinear(4, 2)
    a, b = normalized_adjacency(_graph(), 30), normalized_adjacency(_graph(20, 40), 20)
    lin.smooth_over(a, 2)
    with lin.smoothing(b, 1):
        assert lin.adj is b and lin(torch.ones(20, 4)).shape == (20, 2)
    assert lin.adj is a and lin.hops == 2


def test_deferral_pays_compares_the_products_multiply_adds():
    # Cora, one hop: 49,216 + 13,264 < 181,116 non-zeros of A_hat X.
    assert deferral_pays(49_216, 181_116, 13_264, 1)
    # Dense rows (co-purchase graphs): X W costs as much as (A_hat X) W already.
    assert not deferral_pays(1_000, 1_000, 10, 1)
    assert not deferral_pays(100, 150, 30, 2)


@pytest.mark.parametrize('hops', [1, 2, 3])
@pytest.mark.parametrize('block', [1 << 22, 7])  # one block; many blocks of 7 // d rows
def test_smoothed_nnz_counts_the_dense_products_non_zeros(hops, block):
    ei, n = _graph(40, 50, seed=1), 40  # sparse enough that A_hat^3 X is not yet full
    x = _sparse_rows(n, 6, seed=2).float()
    x[:, 0] = 0.0  # an empty column
    dense = _dense_power(ei, n, hops) @ x.double()
    adj = normalized_adjacency(ei, n)
    expected = int((dense != 0).sum())
    assert smoothed_nnz(x, adj, hops, max_block_entries=block) == expected
    assert smoothed_nnz(x.to_sparse(), adj, hops, max_block_entries=block) == expected


def test_smoothed_nnz_names_bad_inputs():
    adj = normalized_adjacency(_graph(10, 20), 10)
    with pytest.raises(ValueError, match="'hops'"):
        smoothed_nnz(torch.ones(10, 3), adj, 0)
    with pytest.raises(ValueError, match="N = 10 rows"):
        smoothed_nnz(torch.ones(9, 3), adj, 1)


@pytest.mark.parametrize('hops,input_skip,rank', [(1, False, 0), (2, False, 0), (2, True, 0),
                                                   (2, True, 3)])
def test_trainer_orders_give_the_same_embeddings(hops, input_skip, rank, monkeypatch):
    """Same seed, same views: smoothing after the first weight matrix trains the same
    function as smoothing the input (up to float rounding), and infers the same on another
    graph; with ``input_skip`` the skip path, which reads the same input, too (a low-rank
    path smooths after its first factor)."""
    data = karate()
    cfg = NodeConfig(encoder_input_hops=hops, epochs=3, hidden_channels=8, out_channels=8,
                     projector_channels=4, k=5, seed=3, input_skip=input_skip,
                     input_skip_rank=rank)
    out = {}
    for deferred in (False, True):
        _force_deferral(monkeypatch, deferred)
        trainer = NodeEmbeddingTrainer(data, cfg)
        assert (trainer.input_smoothing is not None) == deferred
        other = _graph(34, 60, seed=5)
        out[deferred] = trainer.fit(), trainer.embed_graph(data.x, other)
    assert torch.allclose(out[True][0], out[False][0], atol=1e-4)
    assert torch.allclose(out[True][1], out[False][1], atol=1e-4)


def test_trainer_defers_on_sparse_rows_only():
    data = karate()
    cfg = dict(encoder='gcn', encoder_input_hops=2, epochs=1, hidden_channels=8,
               out_channels=8, projector_channels=4, k=5)
    sparse = data.clone()
    sparse.x = torch.zeros(34, 100)  # two words per node; A_hat^2 X fills the rows in
    sparse.x[torch.arange(34), torch.arange(34) * 3 % 100] = 1.0
    sparse.x[torch.arange(34), torch.arange(34) * 7 % 100] = 1.0
    assert NodeEmbeddingTrainer(sparse, NodeConfig(**cfg)).input_smoothing is not None
    dense = data.clone()
    dense.x = torch.rand(34, 16) + 0.1
    assert NodeEmbeddingTrainer(dense, NodeConfig(**cfg)).input_smoothing is None
    assert NodeEmbeddingTrainer(sparse, NodeConfig(**{**cfg, 'encoder': 'gat'})
                                ).input_smoothing is None


@pytest.mark.parametrize('deferred', [False, True])
def test_trainer_builds_the_training_adjacency_once(deferred, monkeypatch):
    """P's smoothed features, the deferral decision and the encoder's input smoothing read
    one A_hat; before, a decision against deferral built it again for the input."""
    import genurl_pyg.node.propagation as propagation
    import genurl_pyg.node.trainer as trainer_mod
    _force_deferral(monkeypatch, deferred)
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return normalized_adjacency(*args, **kwargs)
    monkeypatch.setattr(trainer_mod, 'normalized_adjacency', counted)
    monkeypatch.setattr(propagation, 'normalized_adjacency', counted)
    data = karate()
    trainer = NodeEmbeddingTrainer(data, NodeConfig(
        encoder='gcn', encoder_input_hops=1, knn_input_hops=1, epochs=1, hidden_channels=8,
        out_channels=8, projector_channels=4, k=5))
    assert len(calls) == 1 and trainer._adj is None  # released after set-up
    assert (trainer.input_smoothing is not None) == deferred
    if not deferred:  # the encoder reads A_hat X, computed with the shared A_hat
        expected = normalized_adjacency(data.edge_index, 34) @ data.x
        assert torch.allclose(trainer.x_enc.to_dense(), expected, atol=1e-6)
