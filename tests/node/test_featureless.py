"""Graphs without node features: one learnable vector per node (NodeEmbedding), P from the
graph alone; the embeddings recover the planted blocks and held-out edges, and a held-out
edge can never reach P or the encoder's graph."""
import pytest
import torch
from torch_geometric.data import Data

from genurl_pyg.datasets.synthetic import planted_partition_graph
from genurl_pyg.evaluation import linear_probe, random_split
from genurl_pyg.evaluation.link import auc_score, random_link_split
from genurl_pyg.nn.models import NodeEmbedding
from genurl_pyg.node import NodeConfig
from genurl_pyg.node.config import ConfigError
from genurl_pyg.node.trainer import NodeEmbeddingTrainer, is_featureless

SMALL = dict(hidden_channels=32, out_channels=16, projector_channels=0, epochs=60, lr=0.01,
             views=False)


def test_is_featureless_recognises_missing_x_and_one_hot_ids():
    n = 6
    ei = torch.tensor([[0, 1, 2, 3, 4], [1, 2, 3, 4, 5]])
    assert is_featureless(Data(edge_index=ei, num_nodes=n))
    assert is_featureless(Data(x=torch.eye(n), edge_index=ei))
    assert is_featureless(Data(x=torch.eye(n).to_sparse_csr(), edge_index=ei, num_nodes=n))
    assert not is_featureless(Data(x=torch.ones(n, n), edge_index=ei))
    assert not is_featureless(Data(x=torch.eye(n)[:, :5], edge_index=ei))
    perm = torch.eye(n)[torch.tensor([1, 0, 2, 3, 4, 5])]  # one-hot, but not the ids
    assert not is_featureless(Data(x=perm, edge_index=ei))


def test_node_embedding_is_a_lookup_table_and_names_bad_input():
    enc = NodeEmbedding(5, 3)
    ids = torch.tensor([4, 0, 4])
    assert torch.equal(enc(ids), enc.table.weight[ids])
    with pytest.raises(ValueError, match='1-D tensor of node ids'):
        enc(torch.eye(5))
    with pytest.raises(ValueError, match="'num_nodes' must be a positive integer"):
        NodeEmbedding(0, 3)
    assert repr(enc) == 'NodeEmbedding(5, 3)'


@pytest.mark.parametrize('encoder', ['auto', 'embedding'])
def test_featureless_embeddings_recover_the_planted_blocks(encoder):
    data = planted_partition_graph(4, 50, 0.2, 0.01, seed=1)
    assert data.x is None
    trainer = NodeEmbeddingTrainer(data, NodeConfig(encoder=encoder, **SMALL))
    assert trainer.featureless and not trainer.cfg.use_features
    assert trainer.cfg.graph_hops == 1 and trainer.cfg.graph_part == 'walks'  # 'auto'
    assert trainer.encoder_name == ('gcn' if encoder == 'auto' else 'embedding')
    assert isinstance(trainer.model.encoder, NodeEmbedding)
    h = trainer.fit()
    masks = random_split(data.num_nodes, 0, 0.5, 0.25)
    acc = linear_probe(h, data.y, *masks).test_accuracy
    assert acc > 0.85, acc  # chance: 0.25


def test_featureless_embeddings_recover_held_out_edges_and_nothing_leaks():
    data = planted_partition_graph(4, 50, 0.2, 0.01, seed=2)
    split = random_link_split(data, 0.05, 0.2, seed=0)
    # one-hop geodesic P: its pairs are training edges, so none may be a held-out edge
    # (walk P reaches further, along training edges only: tests/structure/test_walks.py)
    trainer = NodeEmbeddingTrainer(split.train_data,
                                   NodeConfig(encoder='embedding', graph_part='geodesic',
                                              **SMALL))
    n = data.num_nodes
    test = {tuple(e) for e in split.test_pos.tolist()} | \
        {tuple(e) for e in split.test_pos.flip(1).tolist()}
    in_graph = {tuple(e) for e in trainer.edge_index.t().tolist()}
    in_p = {tuple(e) for e in trainer.static_sim.index.t().tolist()}
    assert not test & in_graph and not test & in_p
    h = trainer.fit()
    h = (h - h.mean(0)) / h.std(0)

    def score(pairs):
        return (h[pairs[:, 0]] * h[pairs[:, 1]]).sum(1)
    auc = auc_score(score(split.test_pos), score(split.test_neg))
    assert auc > 0.7, auc  # chance: 0.5
    assert n == h.size(0)


def test_encoders_that_need_features_are_refused_on_a_featureless_graph():
    data = planted_partition_graph(2, 10, 0.5, 0.05)
    for encoder in ('sign', 'ego-gcn'):
        with pytest.raises(ConfigError, match='needs node features and this graph has none'):
            NodeEmbeddingTrainer(data, NodeConfig(encoder=encoder, **SMALL))
    with pytest.raises(ConfigError, match="'use_graph' cannot be false"):
        NodeEmbeddingTrainer(data, NodeConfig(use_graph=False, **SMALL))


def test_a_table_embeds_new_edges_over_its_nodes_but_no_other_nodes():
    data = planted_partition_graph(2, 10, 0.5, 0.05)
    trainer = NodeEmbeddingTrainer(data, NodeConfig(encoder='gcn', **{**SMALL, 'epochs': 2}))
    assert torch.allclose(trainer.embed_graph(torch.eye(20), data.edge_index), trainer.embed())
    fewer = trainer.embed_graph(torch.eye(20), data.edge_index[:, :10])
    assert fewer.shape == (20, 16) and not torch.allclose(fewer, trainer.embed())
    with pytest.raises(ValueError, match='cannot embed a graph with other nodes'):
        trainer.embed_graph(torch.zeros(25, 3), data.edge_index)


def test_a_graph_without_x_trains_end_to_end_through_the_cli(tmp_path, monkeypatch):
    from genurl_pyg.cli import main
    monkeypatch.setenv('GENURL_DATA', str(tmp_path / 'data'))
    out = tmp_path / 'run'
    assert main(['train', '--dataset', 'PlantedPartition', '--seeds', '1', '--out', str(out),
                 '--set', 'epochs=60', '--set', 'lr=0.01', '--set', 'hidden_channels=32', '--set',
                 'out_channels=16', '--no-progress']) == 0
    import json
    result = json.loads((out / 'result.json').read_text())
    assert result['accuracy']['mean'] > 0.6
    assert torch.load(out / 'embeddings' / 'seed0.pt').shape == (400, 16)


def test_auto_graph_part_takes_walks_on_sparse_featureless_graphs_only():
    from genurl_pyg.node.config import resolved_graph_part
    cfg = NodeConfig()
    assert resolved_graph_part(cfg, featureless=True, mean_degree=4.0) == 'walks'
    assert resolved_graph_part(cfg, featureless=True, mean_degree=500.0) == 'geodesic'
    assert resolved_graph_part(cfg, featureless=False, mean_degree=4.0) == 'geodesic'
    assert resolved_graph_part(NodeConfig(graph_part='walks'), False, 500.0) == 'walks'
    with pytest.raises(ConfigError, match="'graph_part'"):
        NodeConfig(graph_part='paths').validate()


def test_a_table_ignores_feature_masks_and_row_normalisation():
    """Node ids have no columns: feature masking (views) and feature_norm 'row' do not apply
    to a table's input, with features present (encoder 'embedding') or absent."""
    with_x = planted_partition_graph(2, 10, 0.5, 0.05)
    with_x.x = torch.rand(20, 5, generator=torch.Generator().manual_seed(0))
    small = dict(hidden_channels=8, out_channels=4, epochs=2, feature_mask=0.3)
    h = NodeEmbeddingTrainer(with_x, NodeConfig(encoder='embedding', **small)).fit()
    assert h.shape == (20, 4) and torch.isfinite(h).all()
    featureless = planted_partition_graph(2, 10, 0.5, 0.05)
    trainer = NodeEmbeddingTrainer(featureless, NodeConfig(feature_norm='row', **small))
    assert trainer.fit().shape == (20, 4)
    assert torch.equal(trainer.x_enc, torch.arange(20))


def test_encoder_input_hops_is_rejected_where_the_encoder_reads_ids():
    """Node ids have no columns to smooth: the setting would silently do nothing."""
    featureless = planted_partition_graph(2, 10, 0.5, 0.05)
    with pytest.raises(ConfigError, match="'encoder_input_hops'.*no node features"):
        NodeEmbeddingTrainer(featureless, NodeConfig(encoder_input_hops=1, epochs=1))
    with_x = planted_partition_graph(2, 10, 0.5, 0.05)
    with_x.x = torch.rand(20, 5, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ConfigError, match="'encoder_input_hops'.*'embedding'"):
        NodeEmbeddingTrainer(with_x, NodeConfig(encoder='embedding', encoder_input_hops=1,
                                                epochs=1))


def test_degree_sized_walks_reach_the_trainer_and_keep_every_training_edge():
    """graph_part 'degree_walks' builds P's graph part with the first step exact: every
    training edge is a pair of P (plain walk rows of 50 could drop some on denser graphs)."""
    from genurl_pyg.structure.walks import walk_similarity
    data = planted_partition_graph(4, 50, 0.2, 0.01, seed=3)
    trainer = NodeEmbeddingTrainer(data, NodeConfig(graph_part='degree_walks', **SMALL))
    index, weight = trainer.builder.graph_part_
    ref = walk_similarity(data.edge_index, data.num_nodes, seed=trainer.cfg.seed,
                          size_to_degree=True)
    assert torch.equal(index, ref[0]) and torch.equal(weight, ref[1])
    pairs = set(map(tuple, index.t().tolist()))
    edges = {tuple(e) for e in data.edge_index.t().tolist() if e[0] != e[1]}
    assert edges <= pairs
