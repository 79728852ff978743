"""build_encoder's input_skip against the same layers composed by hand, and its refusals
(config, builder and trainer, where 'auto' resolves to an encoder without the path)."""
import pytest
import torch

from genurl_pyg import NodeConfig
from genurl_pyg.node.config import ConfigError
from genurl_pyg.node.encoders import build_encoder
from genurl_pyg.node.trainer import NodeEmbeddingTrainer

from .test_trainer import karate


@pytest.mark.parametrize('name,layers', [('gcn', 1), ('gcn', 2), ('gat', 1)])
def test_input_skip_adds_a_bias_free_linear_map_of_the_input(name, layers):
    torch.manual_seed(0)
    enc = build_encoder(name, 6, 8, 8, num_layers=layers, input_skip=True)
    x, ei = torch.randn(5, 6), torch.tensor([[0, 1, 1, 2, 3, 4], [1, 0, 2, 1, 4, 3]])
    want = enc.act(enc.gnn(x, ei) + x @ enc.skip.weight.t())
    assert torch.allclose(enc(x, ei), want, atol=1e-6)
    assert enc.skip.bias is None and enc.skip.weight.shape == (8, 6)
    before = enc.skip.weight.clone()
    enc.reset_parameters()
    assert not torch.equal(before, enc.skip.weight)
    plain = build_encoder(name, 6, 8, 8, num_layers=layers)
    assert plain.skip is None  # the default is the encoder as before
    n_plain = sum(p.numel() for p in plain.parameters())
    assert sum(p.numel() for p in enc.parameters()) == n_plain + 6 * 8


@pytest.mark.parametrize('name', ['mlp', 'sage', 'ego-gcn'])
def test_input_skip_is_refused_where_it_has_no_meaning(name):
    with pytest.raises(ValueError, match="'input_skip' needs encoder 'gcn' or 'gat'"):
        build_encoder(name, 6, 8, 8, input_skip=True)
    with pytest.raises(ConfigError, match="'input_skip: true' needs encoder"):
        NodeConfig(encoder=name, input_skip=True)
    with pytest.raises(ConfigError, match="'input_skip'"):
        NodeConfig(input_skip='yes')


def test_trainer_names_the_encoder_auto_resolved_to(monkeypatch):
    import genurl_pyg.node.trainer as trainer_module
    data = karate()
    cfg = dict(epochs=1, hidden_channels=8, out_channels=8, projector_channels=4, k=5,
               input_skip=True)
    h = NodeEmbeddingTrainer(data, NodeConfig(encoder='gcn', **cfg)).fit()
    assert h.shape == (34, 8) and torch.isfinite(h).all()
    monkeypatch.setattr(trainer_module, 'AUTO_SIGN_MIN_NODES', 10)  # SIGN beyond 10 nodes
    with pytest.raises(ConfigError, match="encoder 'auto' resolved to 'sign'"):
        NodeEmbeddingTrainer(data, NodeConfig(encoder='auto', **cfg))


@pytest.mark.parametrize('name', ['gcn', 'gat'])
def test_a_low_rank_skip_is_the_product_of_its_two_factors(name):
    """``input_skip_rank`` r: the path is x U V (U: D x r, V: r x d, no bias), r (D + d)
    weights instead of D d, and both factors are re-drawn by reset_parameters."""
    from genurl_pyg.node.encoders import LowRankSkip
    torch.manual_seed(0)
    enc = build_encoder(name, 6, 8, 8, input_skip=True, input_skip_rank=2)
    assert isinstance(enc.skip, LowRankSkip) and repr(enc.skip) == 'LowRankSkip(6, 8, rank=2)'
    x, ei = torch.randn(5, 6), torch.tensor([[0, 1, 1, 2, 3, 4], [1, 0, 2, 1, 4, 3]])
    u, v = enc.skip.down.weight.t(), enc.skip.up.weight.t()
    assert u.shape == (6, 2) and v.shape == (2, 8)
    assert torch.linalg.matrix_rank(u @ v) == 2
    assert torch.allclose(enc(x, ei), enc.act(enc.gnn(x, ei) + x @ u @ v), atol=1e-6)
    n_plain = sum(p.numel() for p in build_encoder(name, 6, 8, 8).parameters())
    assert sum(p.numel() for p in enc.parameters()) == n_plain + 2 * (6 + 8)
    before = u.clone()
    enc.reset_parameters()
    assert not torch.equal(before, enc.skip.down.weight.t())


def test_a_skip_rank_without_the_skip_or_of_the_wrong_type_is_refused():
    with pytest.raises(ConfigError, match="'input_skip_rank: 4' needs 'input_skip: true'"):
        NodeConfig(input_skip_rank=4)
    for bad in (-1, 2.5, True, 'low'):
        with pytest.raises(ConfigError, match="'input_skip_rank'"):
            NodeConfig(input_skip=True, input_skip_rank=bad)
    with pytest.raises(ValueError, match="'input_skip_rank' needs 'input_skip'"):
        build_encoder('gcn', 6, 8, 8, input_skip_rank=3)
    from genurl_pyg.node.encoders import LowRankSkip
    with pytest.raises(ValueError, match="'rank' must be >= 1, got 0"):
        LowRankSkip(6, 8, 0)
    with pytest.raises(TypeError, match="'rank' must be an int, got float"):
        LowRankSkip(6, 8, 2.0)
