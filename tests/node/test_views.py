"""The views' feature-mask forms and where their input smoothing runs (``view_smoothing``),
against masks and smoothing recomputed by hand (dense matrix powers as the reference)."""
import pytest
import torch

from genurl_pyg import NodeConfig
from genurl_pyg.node.config import ConfigError
from genurl_pyg.node.propagation import normalized_adjacency
from genurl_pyg.node.trainer import NodeEmbeddingTrainer
from genurl_pyg.node.views import augment, mask_entries

from .test_trainer import _force_deferral, karate


def test_mask_entries_drops_single_entries_at_the_rate_and_keeps_the_rest():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(200, 50) + 0.5  # no zeros: every zero of the result is a dropped entry
    out = mask_entries(x, 0.3, g)
    dropped = out == 0
    assert torch.equal(out[~dropped], x[~dropped])
    assert abs(float(dropped.float().mean()) - 0.3) < 0.02  # 10,000 draws: SE 0.005
    # entries, not columns or rows: no column and no row is dropped whole
    assert not dropped.all(0).any() and not dropped.all(1).any()
    assert torch.equal(mask_entries(x, 0.0, g), x)


def test_mask_entries_on_csr_draws_for_stored_entries_and_keeps_the_layout():
    g = torch.Generator().manual_seed(1)
    dense = torch.rand(40, 30) * (torch.rand(40, 30, generator=g) < 0.2)
    x = dense.to_sparse_csr()
    out = mask_entries(x, 0.5, torch.Generator().manual_seed(2))
    assert out.layout == torch.sparse_csr
    assert torch.equal(out.col_indices(), x.col_indices())
    kept = out.values() != 0
    assert torch.equal(out.values()[kept], x.values()[kept])
    assert 0.35 < float((~kept).float().mean()) < 0.65
    assert torch.equal(dense, x.to_dense())  # the input is untouched


def test_augment_column_form_is_the_default_draw_for_draw_and_rejects_unknown_forms():
    x, ei = torch.rand(20, 10), torch.randint(0, 20, (2, 50))
    a = augment(x, ei, 0.4, 0.3, torch.Generator().manual_seed(5))
    b = augment(x, ei, 0.4, 0.3, torch.Generator().manual_seed(5), 'columns')
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    xe, _ = augment(x, ei, 0.4, 0.0, torch.Generator().manual_seed(5), 'entries')
    assert not (xe == 0).all(0).any()  # entries: no whole column gone (200 draws, p 0.4)
    with pytest.raises(ValueError, match="'mask_form'"):
        augment(x, ei, 0.4, 0.3, mask_form='rows')


def _cfg(**kw):
    base = dict(encoder='gcn', encoder_input_hops=2, epochs=2, hidden_channels=8,
                out_channels=8, projector_channels=4, k=5, seed=3, feature_mask=0.3,
                edge_drop=0.3)
    return NodeConfig(**{**base, **kw})


@pytest.mark.parametrize('form', ['columns', 'entries'])
def test_own_view_smoothing_smooths_the_masked_input_over_the_views_edges(form, monkeypatch):
    """Without deferral the views' inputs are explicit: each must be
    A_v^2 (X masked), with A_v the normalised adjacency of that view's kept edges."""
    _force_deferral(monkeypatch, False)
    data = karate()
    trainer = NodeEmbeddingTrainer(data, _cfg(view_smoothing='own', feature_mask_form=form))
    state = trainer.generator.get_state()
    views = trainer._augmented_views()
    trainer.generator.set_state(state)
    for x_view, ei_view in views:
        xm, ei = augment(data.x, data.edge_index, 0.3, 0.3, trainer.generator, form)
        assert torch.equal(ei, ei_view)
        adj = normalized_adjacency(ei, 34).to_dense().double()
        expected = torch.linalg.matrix_power(adj, 2) @ xm.double()
        torch.testing.assert_close(x_view.to_dense().double(), expected, atol=1e-5, rtol=0)
    assert not torch.equal(views[0][1], data.edge_index)  # edges were dropped


def test_own_view_smoothing_deferred_equals_explicit(monkeypatch):
    """Smoothing in the first layer over each view's graph is the same function as
    smoothing the view's input first: the same embeddings after training."""
    data = karate()
    out = {}
    for deferred in (False, True):
        _force_deferral(monkeypatch, deferred)
        trainer = NodeEmbeddingTrainer(data, _cfg(view_smoothing='own'))
        assert (trainer.input_smoothing is not None) == deferred
        out[deferred] = trainer.fit()
    torch.testing.assert_close(out[True], out[False], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize('deferred', [False, True])
def test_own_equals_shared_without_edge_dropping_and_differs_with_it(deferred, monkeypatch):
    """Column masks commute with A_hat, so with every edge kept the two placements are one
    function (same draws); dropped edges are what 'own' changes."""
    _force_deferral(monkeypatch, deferred)
    data = karate()

    def fit(**kw):
        return NodeEmbeddingTrainer(data, _cfg(**kw)).fit()
    torch.testing.assert_close(fit(view_smoothing='own', edge_drop=0.0),
                               fit(view_smoothing='shared', edge_drop=0.0),
                               atol=1e-4, rtol=1e-4)
    assert not torch.allclose(fit(view_smoothing='own'), fit(view_smoothing='shared'),
                              atol=1e-3)


def test_view_settings_reject_what_they_cannot_do():
    with pytest.raises(ConfigError, match="'view_smoothing' must be one of"):
        _cfg(view_smoothing='per_view')
    with pytest.raises(ConfigError, match="'feature_mask_form' must be one of"):
        _cfg(feature_mask_form='rows')
    with pytest.raises(ConfigError, match="'encoder_input_hops' is 0"):
        _cfg(view_smoothing='own', encoder_input_hops=0)
    with pytest.raises(ConfigError, match='SIGN'):
        _cfg(view_smoothing='own', encoder='sign')
    data = karate()
    with pytest.raises(ConfigError, match="'feature_mask_form: entries' needs full-graph"):
        # SIGN's mini-batches mask precomputed rows with one column mask per view
        NodeEmbeddingTrainer(data, _cfg(encoder='sign', encoder_input_hops=0,
                                        batch_mode='sampled', feature_mask_form='entries'))


def test_own_view_smoothing_rejects_the_neighbour_sampled_path(monkeypatch):
    """The sampled subgraphs carry precomputed smoothed rows: no view graph to smooth over.
    (The check comes before any sampler is needed, so none is installed here.)"""
    import genurl_pyg.node.trainer as trainer_mod
    monkeypatch.setattr(trainer_mod, 'require_neighbor_sampling', lambda: None)
    with pytest.raises(ConfigError, match="'view_smoothing: own' needs full-graph steps"):
        NodeEmbeddingTrainer(karate(), _cfg(graph_batching='neighbor', view_smoothing='own'))
