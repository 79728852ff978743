import pytest
import torch

from genurl_pyg.node.inputs import (SPARSE_INPUT_DENSITY, as_csr, csr_if_sparse, csr_rows,
                                    dense_to_csr, density, normalize_rows)


def _bag_of_words(n, d, share, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, d, generator=g) * (torch.rand(n, d, generator=g) < share)


@pytest.mark.parametrize('shape', [(37, 53), (1, 9), (5, 1), (0, 4), (3, 0)])
def test_dense_to_csr_is_torchs_csr(shape):
    x = _bag_of_words(*shape, share=0.2)
    if x.numel():
        x[0] = 0.0  # an empty row
    csr = dense_to_csr(x)
    ref = x.to_sparse_csr()
    assert csr.is_sparse_csr and csr.shape == x.shape
    assert torch.equal(csr.crow_indices(), ref.crow_indices())
    assert torch.equal(csr.col_indices(), ref.col_indices())
    assert torch.equal(csr.values(), ref.values())
    assert torch.equal(csr.to_dense(), x)


def test_dense_to_csr_reads_a_non_contiguous_matrix_and_keeps_the_dtype():
    x = _bag_of_words(20, 30, 0.3).double().t()  # a transposed view
    csr = dense_to_csr(x)
    assert csr.dtype == torch.float64 and torch.equal(csr.to_dense(), x)
    w = torch.randn(20, 6, dtype=torch.float64)
    torch.testing.assert_close(csr @ w, x @ w)


def test_dense_to_csr_names_a_tensor_that_is_not_a_matrix():
    with pytest.raises(ValueError, match='2-D'):
        dense_to_csr(torch.zeros(2, 3, 4))


def test_density_counts_non_zeros_and_estimates_from_sampled_rows():
    x = _bag_of_words(400, 50, 0.05)
    assert density(x) == pytest.approx(float((x != 0).sum()) / x.numel())
    assert density(torch.zeros(0, 3)) == 0.0
    # the sample is evenly spaced rows: on rows of two kinds it sees both
    mixed = torch.cat([torch.ones(200, 50), torch.zeros(200, 50)])[torch.randperm(
        400, generator=torch.Generator().manual_seed(1))]
    assert density(mixed, sample_rows=64) == pytest.approx(0.5, abs=0.15)
    assert density(x, sample_rows=1000) == density(x)  # more rows than x: exact


def test_csr_if_sparse_converts_sparse_rows_only():
    sparse = _bag_of_words(100, 200, SPARSE_INPUT_DENSITY / 4)
    dense = _bag_of_words(100, 200, 0.9)
    out = csr_if_sparse(sparse)
    assert out.is_sparse_csr and torch.equal(out.to_dense(), sparse)
    assert csr_if_sparse(dense) is dense
    assert csr_if_sparse(out) is out  # already sparse: as is
    assert csr_if_sparse(sparse, sample_rows=10).is_sparse_csr
    # another matrix's density decides when given (the smoothed rows for the raw ones)
    assert csr_if_sparse(sparse, density_of=dense) is sparse


# random features on the karate club: the trainer rightly warns that the edges carry
# nothing about them; this test is about the input's layout, not the graph
@pytest.mark.filterwarnings('ignore::genurl_pyg.node.encoders.UntrustedGraphWarning')
def test_embed_graph_reads_sparse_rows_as_csr_with_the_same_result(monkeypatch):
    """The trained encoder applied to a graph gets its bag-of-words input as CSR (what
    training reads), and gives what the dense input gives."""
    from torch_geometric.datasets import KarateClub

    from genurl_pyg.node import inputs
    from genurl_pyg.node.config import NodeConfig
    from genurl_pyg.node.trainer import NodeEmbeddingTrainer
    data = KarateClub()[0]
    data.x = _bag_of_words(34, 300, 0.02, seed=3) + torch.eye(34, 300)  # no empty row
    cfg = NodeConfig(epochs=2, hidden_channels=8, out_channels=8, projector_channels=4,
                     k=5, encoder='gcn')
    trainer = NodeEmbeddingTrainer(data, cfg)
    assert trainer.x_enc.is_sparse_csr
    h = trainer.fit()
    seen = []
    original = inputs.dense_to_csr
    monkeypatch.setattr(inputs, 'dense_to_csr', lambda x: seen.append(x) or original(x))
    out = trainer.embed_graph(data.x, data.edge_index)
    assert seen, 'embed_graph did not convert the sparse rows'
    torch.testing.assert_close(out, h, atol=1e-5, rtol=1e-5)
    monkeypatch.setattr(inputs, 'SPARSE_INPUT_DENSITY', 0.0)  # force the dense layout
    torch.testing.assert_close(trainer.embed_graph(data.x, data.edge_index), out,
                               atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('start,stop', [(0, 37), (0, 1), (5, 20), (36, 37), (30, 99), (7, 7)])
def test_csr_rows_is_the_dense_slice(start, stop):
    x = _bag_of_words(37, 11, 0.2, seed=1)
    x[6] = 0.0  # an empty row inside a slice
    part = csr_rows(x.to_sparse_csr(), start, stop)
    assert part.is_sparse_csr and torch.equal(part.to_dense(), x[start:stop])


def test_normalize_rows_of_csr_rows_is_the_dense_normalisation_and_keeps_csr():
    x = _bag_of_words(25, 14, 0.3, seed=2) - 0.1 * _bag_of_words(25, 14, 0.2, seed=4)
    x[3] = 0.0  # an all-zero row stays zero
    dense = normalize_rows(x)
    for stored in (x.to_sparse_csr(), x.to_sparse()):  # CSR and COO
        out = normalize_rows(stored)
        assert out.is_sparse_csr
        torch.testing.assert_close(out.to_dense(), dense)
    assert float(dense[3].abs().sum()) == 0.0


def test_as_csr_reads_coo_and_names_another_layout():
    x = _bag_of_words(9, 6, 0.4)
    assert torch.equal(as_csr(x.to_sparse()).to_dense(), x)
    assert as_csr(x) is x
    with pytest.raises(ValueError, match='dense, CSR or COO'):
        as_csr(x.to_sparse_csc())


@pytest.mark.filterwarnings('ignore::genurl_pyg.node.encoders.UntrustedGraphWarning')
@pytest.mark.parametrize('extra', [{}, {'encoder_input_hops': 1}, {'encoder': 'sign'}])
def test_embed_graph_reads_features_stored_sparse(extra):
    """Features kept as CSR or COO at rest give the dense input's embeddings; with a GCN
    they reach the first Linear as CSR (no dense copy), and an encoder that smooths or
    propagates its input first gets them dense."""
    from torch_geometric.datasets import KarateClub

    from genurl_pyg.node.config import NodeConfig
    from genurl_pyg.node.trainer import NodeEmbeddingTrainer
    data = KarateClub()[0]
    data.x = _bag_of_words(34, 300, 0.02, seed=3) + torch.eye(34, 300)
    cfg = NodeConfig.from_dict({'epochs': 1, 'hidden_channels': 8, 'out_channels': 8,
                                'projector_channels': 4, 'k': 5, 'encoder': 'gcn',
                                'feature_norm': 'row', **extra})
    trainer = NodeEmbeddingTrainer(data, cfg)
    trainer.fit()
    dense = trainer.embed_graph(data.x, data.edge_index)
    for stored in (data.x.to_sparse_csr(), data.x.to_sparse()):
        torch.testing.assert_close(trainer.embed_graph(stored, data.edge_index), dense,
                                   atol=1e-5, rtol=1e-5)
    if not extra:
        csr = data.x.to_sparse_csr()
        assert trainer._layer_input(trainer._encoder_input(csr, data.edge_index)).is_sparse_csr
        # dense bag-of-words rows are made CSR before the row normalisation (no dense copy)
        from genurl_pyg.node import trainer as trainer_module
        layouts = []
        original = trainer_module.normalize_rows
        trainer_module.normalize_rows = lambda x: layouts.append(x.layout) or original(x)
        try:
            trainer.embed_graph(data.x, data.edge_index)
        finally:
            trainer_module.normalize_rows = original
        assert layouts == [torch.sparse_csr]
