"""The mini-batch paths of the node trainer: decoupled (SIGN) and NeighborLoader subgraphs."""
import numpy as np
import pytest
import torch

from genurl_pyg import NodeConfig
from genurl_pyg.nn import functional as LF
from genurl_pyg.node import trainer as trainer_mod
from genurl_pyg.node.config import ConfigError
from genurl_pyg.node.neighbor import neighbor_sampling_available
from genurl_pyg.node.trainer import NodeEmbeddingTrainer, resolve_path

from .test_trainer import knn1_accuracy, sbm_graph

needs_sampler = pytest.mark.skipif(
    not neighbor_sampling_available(),
    reason='PyG neighbour sampling needs pyg-lib or torch-sparse; neither is installed here')

SMALL = dict(hidden_channels=64, out_channels=32, projector_channels=16, k=10, lr=0.01)


@pytest.mark.parametrize('negatives', ['in_batch', 'uniform'])
def test_decoupled_minibatch_loss_equals_full_loss_in_expectation(monkeypatch, negatives):
    # Anchor batches through the trainer's own step give, on average, the all-pairs loss,
    # whether the negatives are the batch's other anchors or any node.
    data = sbm_graph(n_per=30)
    cfg = NodeConfig(encoder='sign', epochs=1, views=False, batch_mode='sampled',
                     batch_size=16, pos_per_anchor=3, neg_per_anchor=4, negatives=negatives,
                     **SMALL)
    trainer = NodeEmbeddingTrainer(data, cfg)
    assert trainer.minibatch and trainer.path == 'decoupled'
    with torch.no_grad():
        z = trainer.model(trainer.x_enc)[1]
        full = LF.all_pairs_loss(z, trainer.train_sim.to_dense(), cfg.nu_latent, cfg.loss,
                                 cfg.alpha).item()
    monkeypatch.setattr(trainer, '_apply', lambda loss: loss.item())  # no optimiser step
    trainer._rowptr = trainer.train_sim.rowptr()
    gen = torch.Generator().manual_seed(3)
    draws = np.array([trainer._minibatch_step(torch.randperm(90, generator=gen)[:16])
                      for _ in range(3000)])
    stderr = draws.std() / np.sqrt(len(draws))
    assert abs(draws.mean() - full) < 4 * stderr, (draws.mean(), full, stderr)


def _rows_per_step(negatives, anchors, monkeypatch):
    """Rows that one mini-batch step sends through the encoder."""
    data = sbm_graph(n_per=30)
    trainer = NodeEmbeddingTrainer(data, NodeConfig(
        encoder='sign', batch_mode='sampled', batch_size=16, pos_per_anchor=2,
        neg_per_anchor=6, negatives=negatives, **SMALL))
    rows = []
    forward = trainer.net.forward
    monkeypatch.setattr(trainer.net, 'forward', lambda x, *a: rows.append(len(x)) or forward(x, *a))
    trainer._rowptr = trainer.train_sim.rowptr()
    trainer._minibatch_step(anchors)
    return rows[0]


def test_in_batch_negatives_send_fewer_rows_through_the_encoder(monkeypatch):
    anchors = torch.arange(0, 160, 10)  # 16 anchors, both views
    in_batch = _rows_per_step('in_batch', anchors, monkeypatch)
    uniform = _rows_per_step('uniform', anchors, monkeypatch)
    assert in_batch <= 16 * (1 + 2) < uniform
    # A last batch of a single anchor has no other anchor: it falls back to uniform partners.
    assert _rows_per_step('in_batch', torch.tensor([7]), monkeypatch) > 1


def test_negatives_must_be_a_known_source():
    with pytest.raises(ConfigError, match="'negatives' must be one of"):
        NodeConfig(negatives='hard')


def test_minibatch_epoch_visits_every_anchor_once(monkeypatch):
    data = sbm_graph(n_per=30)
    trainer = NodeEmbeddingTrainer(data, NodeConfig(encoder='sign', batch_mode='sampled',
                                                    batch_size=50, **SMALL))
    seen = []
    monkeypatch.setattr(trainer, '_minibatch_step', lambda a: seen.append(a) or 0.0)
    trainer.run_epoch()
    assert [a.numel() for a in seen] == [50, 50, 50, 30]  # 2 views x 90 nodes = 180 anchors
    assert sorted(torch.cat(seen).tolist()) == list(range(180))


def test_batch_size_larger_than_n_is_a_clear_error():
    data = sbm_graph(n_per=30)
    with pytest.raises(ConfigError, match=r"'batch_size' \(500\) is larger than the 180"):
        NodeEmbeddingTrainer(data, NodeConfig(encoder='sign', batch_mode='sampled',
                                              batch_size=500, **SMALL))


def test_neighbor_path_without_sampler_names_the_packages(monkeypatch):
    import torch_geometric.typing as pyg_typing
    monkeypatch.setattr(pyg_typing, 'WITH_PYG_LIB', False)
    monkeypatch.setattr(pyg_typing, 'WITH_TORCH_SPARSE', False)
    with pytest.raises(ImportError, match="'pyg-lib' or 'torch-sparse'"):
        NodeEmbeddingTrainer(sbm_graph(n_per=20), NodeConfig(graph_batching='neighbor',
                                                             **SMALL))
    # 'auto' falls back to whole-graph message passing, with or without the sampler.
    assert resolve_path('gcn', 'auto', 10 ** 6) == ('gcn', 'full')


def test_paths_are_chosen_by_size(monkeypatch):
    assert resolve_path('auto', 'auto', 1000) == ('gcn', 'full')
    assert resolve_path('auto', 'auto', 200_000) == ('sign', 'decoupled')
    assert resolve_path('sage', 'full', 10 ** 7) == ('sage', 'full')
    assert resolve_path('mlp', 'neighbor', 100) == ('mlp', 'full')
    monkeypatch.setattr(trainer_mod, 'neighbor_sampling_available', lambda: True)
    assert resolve_path('gcn', 'auto', 200_000) == ('gcn', 'neighbor')
    assert resolve_path('gcn', 'auto', 1000) == ('gcn', 'full')


def test_auto_encoder_reads_the_graph_trust():
    from genurl_pyg.structure import LOW_TRUST
    assert resolve_path('auto', 'auto', 1000, trust=LOW_TRUST) == ('gcn', 'full')
    assert resolve_path('auto', 'auto', 1000, trust=LOW_TRUST - 0.01) == ('ego-gcn', 'full')
    assert resolve_path('auto', 'auto', 1000, trust=-0.5) == ('ego-gcn', 'full')
    assert resolve_path('auto', 'auto', 200_000, trust=-0.5) == ('sign', 'decoupled')
    assert resolve_path('auto', 'auto', 1000, trust=0.9, use_graph=False) == ('mlp', 'full')
    assert resolve_path('gcn', 'auto', 1000, trust=-0.5) == ('gcn', 'full')  # explicit stays
    # edges that look like a random graph: no message passing, at any size
    assert resolve_path('auto', 'auto', 1000, trust=0.0, graph_noise=True) == ('mlp', 'full')
    assert resolve_path('auto', 'auto', 200_000, graph_noise=True) == ('mlp', 'full')
    assert resolve_path('sage', 'auto', 1000, trust=0.0, graph_noise=True) == ('sage', 'full')


@needs_sampler
@pytest.mark.parametrize('encoder', ['gcn', 'sage', 'ego-gcn', 'gat'])
def test_neighbor_path_learns_communities(encoder):
    data = sbm_graph()
    cfg = NodeConfig(encoder=encoder, graph_batching='neighbor', num_neighbors=[10],
                     epochs=30, batch_size=90, **SMALL)
    trainer = NodeEmbeddingTrainer(data, cfg)
    assert trainer.path == 'neighbor' and trainer.minibatch
    h = trainer.fit()
    assert h.shape == (180, 64 if encoder == 'ego-gcn' else 32) and torch.isfinite(h).all()
    assert knn1_accuracy(h, data.y) > 0.9


@needs_sampler
def test_neighbor_subgraph_keeps_seed_order():
    from genurl_pyg.node.neighbor import NeighborSubgraphs
    data = sbm_graph(n_per=20)
    sub = NeighborSubgraphs(data.x, data.edge_index, data.num_nodes, [5, 5])
    seeds = torch.tensor([7, 3, 41])
    batch = sub(seeds)
    assert batch.n_id[:3].tolist() == [7, 3, 41]
    torch.testing.assert_close(batch.x[:3], data.x[seeds])
