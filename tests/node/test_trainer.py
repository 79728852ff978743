import os

import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.datasets import KarateClub

from genurl_pyg import NodeConfig, fit_node_embeddings
from genurl_pyg.evaluation import linear_probe
from genurl_pyg.node.trainer import NodeEmbeddingTrainer
from genurl_pyg.node.config import ConfigError
from genurl_pyg.node.views import augment, two_view_similarity
from genurl_pyg.structure import build_similarity

needs_mirror = pytest.mark.skipif(not os.environ.get('GENURL_DATA_MIRROR'),
                                  reason='needs GENURL_DATA_MIRROR (../shared/datasets)')


@needs_mirror
def test_short_cora_run_beats_raw_features(tmp_path, monkeypatch):
    monkeypatch.setenv('GENURL_DATA', str(tmp_path))
    from genurl_pyg.datasets import load_dataset
    data = load_dataset('Cora')
    masks = (data.train_mask, data.val_mask, data.test_mask)
    raw = linear_probe(data.x, data.y, *masks).test_accuracy
    h = fit_node_embeddings(data, epochs=40, seed=0, hidden_channels=256, out_channels=256,
                            num_pos=10000, num_neg=40000)
    assert h.shape == (2708, 256) and torch.isfinite(h).all()
    acc = linear_probe(h, data.y, *masks).test_accuracy
    assert acc > raw + 0.1, (acc, raw)


@pytest.mark.parametrize('encoder', ['gcn', 'sage', 'ego-gcn', 'gat', 'mlp'])
def test_every_encoder_trains_on_karate(encoder):
    data = karate()
    h = fit_node_embeddings(data, encoder=encoder, epochs=3, hidden_channels=16,
                            out_channels=8, projector_channels=4, k=5)
    width = 16 if encoder == 'ego-gcn' else 8  # two channels of out_channels each
    assert h.shape == (34, width) and torch.isfinite(h).all()


@pytest.mark.parametrize('overrides', [
    {'views': False, 'batch_mode': 'all'},
    {'batch_mode': 'sampled', 'num_pos': 64, 'num_neg': 64},
    {'loss': 'infonce', 'batch_mode': 'all'},
    {'dynamic': True, 'dynamic_start': 1, 'dynamic_every': 1},
    {'use_graph': False}, {'use_features': False}, {'lam': 0.3, 'projector_channels': 0},
])
def test_ablation_switches_run(overrides):
    data = karate()
    base = dict(epochs=3, hidden_channels=16, out_channels=8, projector_channels=4, k=5)
    trainer = NodeEmbeddingTrainer(data, NodeConfig.from_dict({**base, **overrides}))
    trainer.fit()
    assert len(trainer.state.losses) == 3
    if overrides.get('dynamic'):
        assert trainer.sim.info.get('dynamic_epoch') == 2


def karate():
    """KarateClub with features: each node's row of I + A, which neighbours share (one-hot
    ids alone make a featureless graph, which trains a NodeEmbedding table:
    test_featureless.py)."""
    data = KarateClub()[0]
    adj = torch.zeros(34, 34)
    adj[data.edge_index[0], data.edge_index[1]] = 1.0
    data.x = torch.eye(34) + adj
    return data


def test_same_seed_same_embeddings():
    data = karate()
    kw = dict(epochs=5, hidden_channels=16, out_channels=8, projector_channels=4, k=5, seed=3)
    torch.testing.assert_close(fit_node_embeddings(data, **kw), fit_node_embeddings(data, **kw))


def test_bad_data():
    with pytest.raises(ValueError, match=r"'data.x' must be \[num_nodes, num_features\]"):
        fit_node_embeddings(Data(x=torch.ones(4, 2), edge_index=torch.tensor([[0, 1], [1, 2]]),
                                 num_nodes=3))
    with pytest.raises(TypeError, match="'data'"):
        fit_node_embeddings({'x': torch.ones(3, 2)})
    with pytest.raises(ValueError, match="'device'"):
        fit_node_embeddings(karate(), device='cuda' if not torch.cuda.is_available()
                            else 'cuda:999', epochs=1)


def test_augment_leaves_inputs_untouched_and_handles_csr():
    x = torch.rand(20, 10)
    ei = torch.randint(0, 20, (2, 50))
    x0, ei0 = x.clone(), ei.clone()
    g = torch.Generator().manual_seed(0)
    xa, eia = augment(x, ei, 0.5, 0.5, g)
    assert torch.equal(x, x0) and torch.equal(ei, ei0)
    zero_cols = (xa == 0).all(0)
    assert 0 < int(zero_cols.sum()) < 10 and eia.size(1) < 50
    g = torch.Generator().manual_seed(0)
    xs, _ = augment(x.to_sparse_csr(), ei, 0.5, 0.5, g)
    torch.testing.assert_close(xs.to_dense(), xa)


def test_two_view_similarity_blocks():
    sim = build_similarity(torch.randn(6, 2), k=2)
    two = two_view_similarity(sim, view_weight=1.0).to_dense()
    P = sim.to_dense()
    torch.testing.assert_close(two[:6, :6], P)
    torch.testing.assert_close(two[6:, 6:], P)
    torch.testing.assert_close(two[:6, 6:], (P + torch.eye(6)).clamp_max(1))


def test_multi_view_similarity_against_dense_blocks():
    from genurl_pyg.node.views import multi_view_similarity
    sim = build_similarity(torch.randn(6, 2), k=2)
    P = sim.to_dense()
    for w in (0.0, 0.4):
        many = multi_view_similarity(sim, w, 3).to_dense()
        want = torch.cat([torch.cat([P + (w * torch.eye(6) if a != b else 0) for b in range(3)],
                                    1) for a in range(3)]).clamp_max(1)
        torch.testing.assert_close(many, want)


def test_propagation_matches_dense_formula():
    from genurl_pyg.node.propagation import propagate_features
    x = torch.randn(6, 3)
    ei = torch.tensor([[0, 1, 2, 4], [1, 2, 0, 5]])
    A = torch.zeros(6, 6)
    A[ei[0], ei[1]] = 1
    A = ((A + A.t()) > 0).float() + torch.eye(6)
    d = A.sum(1).rsqrt()
    Ahat = d[:, None] * A * d[None, :]
    want = torch.cat([x, Ahat @ x, Ahat @ Ahat @ x], dim=1)
    torch.testing.assert_close(propagate_features(x, ei, 2), want, rtol=1e-5, atol=1e-6)
    from genurl_pyg.node.propagation import smooth_features
    torch.testing.assert_close(smooth_features(x, ei, 2), Ahat @ Ahat @ x, rtol=1e-5, atol=1e-6)
    assert smooth_features(x, ei, 0) is x
    with pytest.raises(ValueError, match="'hops'"):
        smooth_features(x, ei, -1)


def test_knn_input_hops_builds_the_feature_part_on_smoothed_features():
    data = sbm_graph(n_per=20, dim=8)
    from genurl_pyg.node.propagation import smooth_features
    from genurl_pyg.structure import SimilarityBuilder
    cfg = NodeConfig(epochs=1, lam=0.5, knn_input_hops=2, k=5, views=False)
    trainer = NodeEmbeddingTrainer(data, cfg)
    want = SimilarityBuilder(k=5, metric=cfg.metric, feature_hops=cfg.feature_hops,
                             graph_hops=trainer.cfg.graph_hops, lam=0.5, nu=cfg.nu_input,
                             reduce_dim=cfg.knn_max_dim).build(
        smooth_features(data.x, data.edge_index, 2), data.edge_index, data.num_nodes)
    assert torch.equal(trainer.sim.index, want.index)
    torch.testing.assert_close(trainer.sim.weight, want.weight)
    raw = NodeEmbeddingTrainer(data, NodeConfig(epochs=1, lam=0.5, k=5, views=False))
    assert not (raw.sim.index.shape == want.index.shape and torch.equal(raw.sim.index, want.index))


def test_neighbor_scaling_reaches_the_builder_and_the_plan():
    data = sbm_graph(n_per=20, dim=8)
    from genurl_pyg.structure import SimilarityBuilder
    cfg = NodeConfig(epochs=1, lam=0.5, k=5, views=False, knn_input_hops=0,
                     neighbor_scaling='local')
    trainer = NodeEmbeddingTrainer(data, cfg)
    want = SimilarityBuilder(k=5, metric=cfg.metric, feature_hops=cfg.feature_hops,
                             graph_hops=trainer.cfg.graph_hops, lam=0.5, nu=cfg.nu_input,
                             reduce_dim=cfg.knn_max_dim, neighbor_scaling='local').build(
        data.x, data.edge_index, data.num_nodes)
    assert torch.equal(trainer.sim.index, want.index)
    torch.testing.assert_close(trainer.sim.weight, want.weight)
    knn = next(s for s in trainer.plan.stages if s.name == 'kNN search')
    assert knn.pairs == data.num_nodes * 15 and 'local scaling' in knn.method


def test_knn_input_hops_auto_smooths_only_an_approximate_search_on_a_trusted_graph():
    from genurl_pyg.node.config import resolved_knn_input_hops
    from genurl_pyg.structure.trust import LOW_TRUST
    auto = NodeConfig()
    assert auto.knn_input_hops == 'auto'
    for method in ('faiss', 'pynndescent'):
        assert resolved_knn_input_hops(auto, method, LOW_TRUST, True) == 2
        assert resolved_knn_input_hops(auto, method, LOW_TRUST - 0.01, True) == 0  # unlike ends
        assert resolved_knn_input_hops(auto, method, None, True) == 0  # not measured
        assert resolved_knn_input_hops(auto, method, float('nan'), True) == 0
        assert resolved_knn_input_hops(auto, method, 0.9, False) == 0  # no graph part in P
    assert resolved_knn_input_hops(auto, 'exact', 0.9, True) == 0  # the paper's P
    no_feat = NodeConfig(use_features=False)
    assert resolved_knn_input_hops(no_feat, 'faiss', 0.9, True) == 0
    assert resolved_knn_input_hops(NodeConfig(knn_input_hops=3), 'exact', 0.0, True) == 3


def test_knn_input_hops_auto_in_the_trainer_and_lambda_from_the_raw_features():
    pytest.importorskip('faiss')
    from genurl_pyg.node.propagation import smooth_features
    from genurl_pyg.structure import SimilarityBuilder
    from genurl_pyg.structure.trust import graph_feature_agreement, lambda_from_agreement
    data = sbm_graph(n_per=20, dim=8)
    g = torch.Generator().manual_seed(1)  # features that follow the blocks closely
    data.x = torch.randn(3, 8, generator=g)[data.y] * 2 + torch.randn(60, 8, generator=g)
    trust = graph_feature_agreement(data.x, data.edge_index, metric='cosine', seed=0)
    assert trust > 0.25  # the SBM graph agrees with its features
    # An explicit MLP and a fixed lambda read no graph statistics: 'auto' measures them.
    for over in ({}, {'encoder': 'mlp', 'lam': 0.5}):
        trainer = NodeEmbeddingTrainer(data, NodeConfig(epochs=1, k=5, views=False,
                                                        knn_method='faiss', **over))
        assert trainer.cfg.knn_input_hops == 2
        assert 'A_hat^2 X' in trainer.plan.stages[0].method
    assert NodeEmbeddingTrainer(data, NodeConfig(epochs=1, k=5, views=False)
                                ).cfg.knn_input_hops == 0  # exact search: raw X
    # lambda 'auto' is the raw features' agreement, not the smoothed rows' (near 1).
    smoothed = smooth_features(data.x, data.edge_index, 2)
    assert graph_feature_agreement(smoothed, data.edge_index, metric='cosine',
                                   seed=0) > trust + 0.2
    cfg = NodeConfig(epochs=1, k=5, views=False, knn_input_hops=2)
    trainer = NodeEmbeddingTrainer(data, cfg)
    assert trainer.sim.lam == pytest.approx(lambda_from_agreement(trust))
    want = SimilarityBuilder(k=5, metric=cfg.metric, feature_hops=cfg.feature_hops,
                             graph_hops=trainer.cfg.graph_hops, lam=lambda_from_agreement(trust),
                             nu=cfg.nu_input, reduce_dim=cfg.knn_max_dim).build(
        smoothed, data.edge_index, data.num_nodes)
    assert torch.equal(trainer.sim.index, want.index)
    torch.testing.assert_close(trainer.sim.weight, want.weight)


def sbm_graph(n_per=60, blocks=3, dim=16, seed=0):
    """Communities in the graph and weak community signal in noisy features."""
    from torch_geometric.utils import stochastic_blockmodel_graph
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    sizes = [n_per] * blocks
    probs = torch.full((blocks, blocks), 0.01) + torch.eye(blocks) * 0.15
    ei = stochastic_blockmodel_graph(sizes, probs)
    y = torch.arange(blocks).repeat_interleave(n_per)
    x = torch.randn(blocks, dim, generator=g)[y] * 0.6 + torch.randn(len(y), dim, generator=g)
    return Data(x=x, edge_index=ei, y=y)


def knn1_accuracy(h, y):
    d = torch.cdist(h, h)
    d.fill_diagonal_(float('inf'))
    return float((y[d.argmin(1)] == y).float().mean())


def test_sign_minibatch_path_learns_communities():
    data = sbm_graph()
    cfg = NodeConfig(encoder='sign', epochs=80, hidden_channels=64, out_channels=32,
                     projector_channels=16, k=10, batch_mode='sampled', num_pos=1024,
                     num_neg=2048, lr=0.01)
    trainer = NodeEmbeddingTrainer(data, cfg)
    h = trainer.fit()
    assert trainer.encoder_name == 'sign' and h.shape == (180, 32)
    assert knn1_accuracy(h, data.y) > 0.9
    assert knn1_accuracy(h, data.y) > knn1_accuracy(data.x, data.y) + 0.1


def test_auto_encoder_picks_by_size(monkeypatch):
    import genurl_pyg.node.trainer as trainer_mod
    data = karate()
    small = dict(epochs=1, hidden_channels=8, out_channels=8, projector_channels=4, k=5)
    assert NodeEmbeddingTrainer(data, NodeConfig(encoder='auto', **small)).encoder_name == 'gcn'
    monkeypatch.setattr(trainer_mod, 'AUTO_SIGN_MIN_NODES', 10)
    assert NodeEmbeddingTrainer(data, NodeConfig(encoder='auto', **small)).encoder_name == 'sign'


def test_row_feature_norm_scales_the_encoder_input_only():
    data = karate()
    data.x = data.x * 3.0 + torch.rand(data.x.shape) * torch.arange(34).unsqueeze(1)
    before = data.x.clone()
    cfg = NodeConfig(feature_norm='row', epochs=1, hidden_channels=8, out_channels=8,
                     projector_channels=4, k=5)
    trainer = NodeEmbeddingTrainer(data, cfg)
    plain = NodeEmbeddingTrainer(data, NodeConfig.from_dict({'feature_norm': 'none'}, cfg))
    x_enc = trainer.x_enc.to_dense() if trainer.x_enc.is_sparse_csr else trainer.x_enc
    expected = before / before.abs().sum(1, keepdim=True)
    assert torch.allclose(x_enc, expected)
    assert torch.equal(data.x, before)  # the caller's data is untouched
    # P (cosine kNN) does not depend on the row scale.
    assert torch.equal(trainer.static_sim.index, plain.static_sim.index)
    assert torch.allclose(trainer.static_sim.weight, plain.static_sim.weight)


def _gcn_smoothed(x, edge_index, hops):
    """Brute-force reference: (D^-1/2 (A + I) D^-1/2)^hops X with a dense matrix (the edge
    index must be symmetric, as KarateClub's is)."""
    from ..nn.test_ego_gcn import dense_gcn_operator
    return torch.linalg.matrix_power(dense_gcn_operator(edge_index, x.size(0)), hops) @ x


def _force_deferral(monkeypatch, deferred):
    """Makes the trainer smooth after the first weight matrix (``deferred``) or before it,
    whatever the non-zero counts say."""
    import genurl_pyg.node.trainer as trainer_mod
    monkeypatch.setattr(trainer_mod, 'deferral_pays', lambda *a: deferred)


@pytest.mark.parametrize('deferred', [False, True])
@pytest.mark.parametrize('hops', [1, 2])
def test_encoder_input_hops_smooths_what_the_encoder_reads_and_nothing_else(
        hops, deferred, monkeypatch):
    _force_deferral(monkeypatch, deferred)
    data = karate()
    before = data.x.clone()
    cfg = NodeConfig(encoder_input_hops=hops, epochs=2, hidden_channels=8, out_channels=8,
                     projector_channels=4, k=5)
    trainer = NodeEmbeddingTrainer(data, cfg)
    plain = NodeEmbeddingTrainer(data, NodeConfig.from_dict({'encoder_input_hops': 0}, cfg))
    x_enc = trainer.x_enc.to_dense() if trainer.x_enc.is_sparse_csr else trainer.x_enc
    expected = _gcn_smoothed(before, data.edge_index, hops)
    assert (trainer.input_smoothing is not None) == deferred
    if deferred:  # the encoder reads the raw rows and its first layer smooths
        assert torch.equal(x_enc, before)
        lin = trainer.model.encoder.gnn.convs[0].lin
        assert torch.allclose(lin(before), expected @ lin.weight.t(), atol=1e-5)
    else:
        assert torch.allclose(x_enc, expected, atol=1e-5)
        assert not torch.allclose(x_enc, before)
    assert torch.equal(data.x, before)  # the caller's data is untouched
    # P is built from the raw features, whatever the encoder reads.
    assert torch.equal(trainer.static_sim.index, plain.static_sim.index)
    assert torch.allclose(trainer.static_sim.weight, plain.static_sim.weight)
    h = trainer.fit()
    assert torch.isfinite(h).all()
    # A new graph gets the same preprocessing: the training graph itself gives embed().
    assert torch.allclose(trainer.embed_graph(data.x, data.edge_index), h, atol=1e-5)


def test_encoder_input_hops_composes_with_row_normalisation_on_sparse_rows(monkeypatch):
    """Bag-of-words rows are kept as CSR for the first Linear; smoothing fills them in, and
    then the smoothed rows' own density decides (not the raw rows'), where the smoothing
    stays before the encoder."""
    from genurl_pyg.node.inputs import SPARSE_INPUT_DENSITY, density
    _force_deferral(monkeypatch, False)
    data = karate()
    data.x = torch.zeros(34, 200)
    data.x[torch.arange(34), torch.arange(34) * 5] = 2.0  # 0.5 % dense: CSR without smoothing
    data.x[torch.arange(34), torch.arange(34) * 5 + 1] = 1.0
    cfg = NodeConfig(feature_norm='row', epochs=1, hidden_channels=8, out_channels=8,
                     projector_channels=4, k=5, use_features=False)
    assert NodeEmbeddingTrainer(data, cfg).x_enc.is_sparse_csr
    for hops in (1, 3):
        smoothed = NodeEmbeddingTrainer(data, NodeConfig.from_dict(
            {'encoder_input_hops': hops}, cfg))
        expected = _gcn_smoothed(data.x / data.x.sum(1, keepdim=True), data.edge_index, hops)
        x_enc = smoothed.x_enc
        assert x_enc.is_sparse_csr == (density(expected) < SPARSE_INPUT_DENSITY)
        assert torch.allclose(x_enc.to_dense() if x_enc.is_sparse_csr else x_enc, expected,
                              atol=1e-6)
        if hops == 3:  # three hops reach most of the karate club: dense rows
            assert not x_enc.is_sparse_csr


def test_neighbour_subgraphs_carry_the_encoders_input(monkeypatch):
    """The sampled subgraphs slice the preprocessed input (row-normalised and smoothed),
    not the raw features: both paths train the same encoder on the same rows."""
    import genurl_pyg.node.trainer as trainer_mod
    seen = {}

    class Recorder:
        def __init__(self, x, edge_index, num_nodes, num_neighbors):
            seen['x'] = x

    monkeypatch.setattr(trainer_mod, 'neighbor_sampling_available', lambda: True)
    monkeypatch.setattr(trainer_mod, 'require_neighbor_sampling', lambda: None)
    monkeypatch.setattr(trainer_mod, 'NeighborSubgraphs', Recorder)
    data = karate()
    cfg = NodeConfig(graph_batching='neighbor', feature_norm='row', encoder_input_hops=1,
                     epochs=1, hidden_channels=8, out_channels=8, projector_channels=4, k=5)
    trainer = NodeEmbeddingTrainer(data, cfg)
    assert trainer.path == 'neighbor'
    expected = _gcn_smoothed(data.x / data.x.sum(1, keepdim=True), data.edge_index, 1)
    assert torch.allclose(seen['x'], expected, atol=1e-6)


def test_shared_negatives_reach_the_full_graph_step(monkeypatch):
    """shared_negatives: the sampled step lays its negatives out as shared columns
    (ceil(num_neg / rows) of them), the independent-pairs path is not called; bad values
    are refused by name."""
    import genurl_pyg.nn.functional as LF
    calls = []
    real = LF.shared_columns_loss

    def spy(z, pos_i, pos_j, p_pos, cols, *args, **kwargs):
        calls.append((z.size(0), cols.numel()))
        return real(z, pos_i, pos_j, p_pos, cols, *args, **kwargs)

    monkeypatch.setattr(LF, 'shared_columns_loss', spy)
    monkeypatch.setattr(LF, 'indexed_pairs_loss', None)  # would fail if called
    cfg = NodeConfig(epochs=2, hidden_channels=16, out_channels=8, k=5, batch_mode='sampled',
                     num_pos=64, num_neg=100, shared_negatives=True)
    trainer = NodeEmbeddingTrainer(karate(), cfg)
    trainer.fit()
    assert calls == [(68, 2), (68, 2)]  # two views of 34 nodes, ceil(100 / 68) columns
    assert all(torch.isfinite(torch.tensor(trainer.state.losses)))
    with pytest.raises(Exception, match="'shared_negatives'"):
        NodeConfig(shared_negatives='yes').validate()


def test_block_precision_reaches_the_block(monkeypatch):
    """block_precision: the shared-negatives block gets it by name; refused without the
    block and for an unknown precision."""
    import genurl_pyg.nn.functional as LF
    seen = []
    real = LF.shared_columns_loss

    def spy(*args, **kwargs):
        seen.append(args[-1])  # the precision, passed last by GenURLLoss.sampled
        return real(*args, **kwargs)

    monkeypatch.setattr(LF, 'shared_columns_loss', spy)
    cfg = NodeConfig(epochs=1, hidden_channels=16, out_channels=16, k=5, batch_mode='sampled',
                     num_pos=64, num_neg=100, shared_negatives=True,
                     block_precision='bfloat16')
    NodeEmbeddingTrainer(karate(), cfg).fit()
    assert seen == ['bfloat16']
    import genurl_pyg.node.trainer as trainer_module
    for native, want in ((True, 'bfloat16'), (False, 'float32')):  # 'auto' asks the device
        monkeypatch.setattr(trainer_module, 'native_bfloat16', lambda device: native)
        NodeEmbeddingTrainer(karate(), NodeConfig.from_dict(
            {'block_precision': 'auto'}, base=cfg)).fit()
        assert seen[-1] == want
    NodeConfig(block_precision='auto')  # no block: auto has nothing to set, and is allowed
    with pytest.raises(ConfigError, match="without 'shared_negatives: true' there is no"):
        NodeConfig(block_precision='bfloat16')
    with pytest.raises(ConfigError, match="'block_precision' must be one of"):
        NodeConfig(block_precision='half', shared_negatives=True)


def test_normalized_adjacency_matches_the_dense_formula():
    """Symmetrised, duplicate edges and given self-loops counted once, isolated nodes kept
    (their own loop only), CSR with sorted columns; the empty graph is the identity."""
    from genurl_pyg.node.propagation import normalized_adjacency
    n = 7
    ei = torch.tensor([[0, 1, 1, 2, 4, 3, 3], [1, 0, 2, 0, 5, 3, 4]])  # 0-1 twice, loop 3
    A = torch.zeros(n, n)
    A[ei[0], ei[1]] = 1
    A = (((A + A.t()) > 0).float() + torch.eye(n)).clamp_max(1)
    d = A.sum(1).rsqrt()
    adj = normalized_adjacency(ei, n)
    assert adj.layout == torch.sparse_csr
    torch.testing.assert_close(adj.to_dense(), d[:, None] * A * d[None, :])
    crow, col = adj.crow_indices(), adj.col_indices()
    for i in range(n):  # columns sorted within each row, as CSR products expect
        assert torch.all(col[crow[i]:crow[i + 1]].diff() > 0)
    empty = normalized_adjacency(torch.empty(2, 0, dtype=torch.long), 3)
    torch.testing.assert_close(empty.to_dense(), torch.eye(3))
