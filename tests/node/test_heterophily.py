"""Issue 13's contract: where the graph's edges are no better than chance, GenURL's
defaults lean on the features (lambda ~ 0, and no message passing: the edges carry no
feature information); where they join unlike nodes in a consistent way, an encoder with a
separate ego channel; where edges join same-class nodes, they use the graph.

"Not worse than the raw features" is a benchmark claim (experiments/results/
heterophily_benchmark.md, the package defaults on Cora's features). On these small Gaussian
classes and the short training a test can afford, GenURL's feature-only objective keeps
slightly less than the raw features (measured: MLP 0.72 and SAGE 0.71 against 0.75 at 200
epochs with weaker classes), so the test allows a 4-point margin and checks the failure
the issue reports: a GCN on such a graph falls to near chance."""
import warnings

import pytest
import torch
from torch_geometric.data import Data

from genurl_pyg.datasets.synthetic import homophily_rewired_edges
from genurl_pyg.evaluation import linear_probe, random_split
from genurl_pyg.node import NodeConfig, NodeEmbeddingTrainer
from genurl_pyg.node.encoders import UntrustedGraphWarning
from genurl_pyg.structure import LOW_INFORMATION, MIN_CLOSURE_RATIO

SMALL = dict(hidden_channels=64, out_channels=64, projector_channels=32, epochs=40, k=10)


def blobs(h, n=600, c=4, d=32, seed=0, signal=0.45):
    """Overlapping Gaussian classes (the raw-feature probe is far from perfect) joined by
    random edges of edge homophily h (h = 0.25 is chance for 4 equal classes)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % c
    x = torch.randn(c, d, generator=g)[y] * signal + torch.randn(n, d, generator=g)
    return Data(x=x, y=y, edge_index=homophily_rewired_edges(y, h, degree=4, seed=seed))


def probe(h, y):
    return linear_probe(h, y, *random_split(y.numel(), 0, train=0.5, val=0.25)).test_accuracy


def test_chance_edges_fall_back_to_the_features():
    data = blobs(0.25)
    trainer = NodeEmbeddingTrainer(data, NodeConfig(**SMALL))
    assert abs(trainer.graph_trust) < 0.1
    assert trainer.sim.lam < 0.05
    assert trainer.graph_information < LOW_INFORMATION and trainer.graph_noise
    assert trainer.encoder_name == 'mlp' and trainer.sim.lam == 0.0
    raw = probe(data.x, data.y)
    emb = probe(trainer.fit(), data.y)
    with pytest.warns(UntrustedGraphWarning):
        gcn = probe(NodeEmbeddingTrainer(data, NodeConfig(encoder='gcn', **SMALL)).fit(),
                    data.y)
    assert 0.6 < raw < 0.95  # the features alone know a lot, not everything
    assert emb >= raw - 0.04
    assert gcn < emb - 0.3  # what the old default did: averaging over random neighbours


def test_homophilous_edges_are_used():
    data = blobs(1.0, signal=0.3)  # weaker classes: the raw probe is about 0.75
    trainer = NodeEmbeddingTrainer(data, NodeConfig(**SMALL))
    assert trainer.sim.lam > 0.15  # against ~0 at chance
    assert probe(trainer.fit(), data.y) > probe(data.x, data.y) + 0.15


def test_defaults_on_random_edges_are_the_feature_only_run():
    """Where the edges look like a random graph, 'auto' leaves them out of the encoder and
    of P: the run is the use_graph=False run, bit for bit (the benchmark's 'never worse than
    without the graph' then holds by construction, not by the noise of two runs)."""
    data = blobs(0.25)
    cfg = dict(SMALL, epochs=3)
    auto = NodeEmbeddingTrainer(data, NodeConfig(**cfg)).fit()
    alone = NodeEmbeddingTrainer(data, NodeConfig(use_graph=False, encoder='mlp', **cfg)).fit()
    assert torch.equal(auto, alone)


def test_a_community_graph_is_kept_even_when_the_features_say_nothing():
    """Random node vectors (what a featureless graph is often given) carry no information
    about the edges, but a graph made of dense communities closes triangles far more often
    than random edges: not noise, so 'auto' keeps message passing."""
    g = torch.Generator().manual_seed(0)
    n, c = 600, 30  # 30 communities of 20, about 5 neighbours each, all inside
    y = torch.arange(n) % c
    data = Data(x=torch.randn(n, 16, generator=g), y=y,
                edge_index=homophily_rewired_edges(y, 1.0, degree=3, seed=0))
    trainer = NodeEmbeddingTrainer(data, NodeConfig(**SMALL))
    assert trainer.graph_information < LOW_INFORMATION
    assert trainer.graph_closure >= MIN_CLOSURE_RATIO and not trainer.graph_noise
    assert trainer.encoder_name == 'ego-gcn' and trainer.sim.lam >= 0


def test_consistently_heterophilous_edges_get_the_ego_channel():
    """h = 0: every neighbour is of another class. The agreement is negative, but the edges
    say which classes a node is not: information above the threshold, so 'auto' keeps
    message passing beside the node's own features."""
    trainer = NodeEmbeddingTrainer(blobs(0.0), NodeConfig(**SMALL))
    assert trainer.graph_trust < 0 and trainer.graph_information > LOW_INFORMATION
    assert trainer.encoder_name == 'ego-gcn'


def test_trusted_graph_keeps_the_gcn():
    trainer = NodeEmbeddingTrainer(blobs(1.0), NodeConfig(**SMALL))
    assert trainer.graph_trust > 0.3 and trainer.encoder_name == 'gcn'


def test_averaging_encoder_on_an_untrusted_graph_warns():
    data = blobs(0.0)
    with pytest.warns(UntrustedGraphWarning, match="encoder 'gcn'.*agreement"):
        NodeEmbeddingTrainer(data, NodeConfig(encoder='gcn', **SMALL))
    with warnings.catch_warnings():
        warnings.simplefilter('error', UntrustedGraphWarning)
        NodeEmbeddingTrainer(data, NodeConfig(encoder='ego-gcn', **SMALL))
        NodeEmbeddingTrainer(data, NodeConfig(encoder='sage', **SMALL))
        NodeEmbeddingTrainer(blobs(1.0), NodeConfig(encoder='gcn', **SMALL))


@pytest.mark.parametrize('encoder', ['sage', 'ego-gcn', 'gcn'])
def test_message_passing_over_random_looking_edges_warns(encoder):
    with pytest.warns(UntrustedGraphWarning, match=f"encoder '{encoder}'.*random edges"):
        trainer = NodeEmbeddingTrainer(blobs(0.25), NodeConfig(encoder=encoder, **SMALL))
    assert trainer.encoder_name == encoder  # a warning, not an override
    with warnings.catch_warnings():  # the MLP reads no edges; nothing to warn about
        warnings.simplefilter('error', UntrustedGraphWarning)
        NodeEmbeddingTrainer(blobs(0.25), NodeConfig(encoder='mlp', **SMALL))


@pytest.mark.parametrize('h, picked', [(0.0, 'ego-gcn'), (0.25, 'mlp')])
def test_auto_trains_exactly_the_encoder_it_picks(h, picked):
    """Measuring the trust and the information draws from their own generators: 'auto'
    resolving to an encoder gives the same embeddings as asking for it (so forced-encoder
    benchmark rows stand for it)."""
    data = blobs(h)
    cfg = dict(SMALL, epochs=2)
    auto = NodeEmbeddingTrainer(data, NodeConfig(**cfg))
    assert auto.encoder_name == picked
    assert torch.equal(auto.fit(), NodeEmbeddingTrainer(data, NodeConfig(encoder=picked, **cfg)).fit())


def test_the_feature_only_path_ignores_the_edges():
    """With ``use_graph: false`` and an MLP, nothing reads the edges (not even the views'
    edge dropping), so the run is the same on any graph over the same nodes: the benchmark
    trains it once per feature set and seed."""
    a, b = blobs(0.0), blobs(1.0)
    assert torch.equal(a.x, b.x) and not torch.equal(a.edge_index, b.edge_index)
    cfg = NodeConfig(use_graph=False, encoder='mlp', **dict(SMALL, epochs=3))
    assert torch.equal(NodeEmbeddingTrainer(a, cfg).fit(), NodeEmbeddingTrainer(b, cfg).fit())
