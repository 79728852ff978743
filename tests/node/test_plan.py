import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.datasets import KarateClub

from genurl_pyg.node import NodeConfig
from genurl_pyg.node.plan import (MemoryBudgetError, current_rss_mb, feature_pairs_cap,
                                  neighbourhood_bounds, plan_memory)
from genurl_pyg.node.trainer import NodeEmbeddingTrainer
from genurl_pyg.structure import hop_distances


def _graph(n=300, degree=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, n * degree // 2), generator=g)
    ei = torch.cat([ei, ei.flip(0)], 1)
    return Data(x=torch.randn(n, 8, generator=g), edge_index=ei, num_nodes=n)


def test_neighbourhood_bounds_hold_against_exact_enumeration():
    data = _graph()
    n = data.num_nodes
    for hops in (1, 2):
        index, _ = hop_distances(data.edge_index, n, hops)
        exact = torch.bincount(index[0], minlength=n).double()
        bound = neighbourhood_bounds(data.edge_index, n, hops)
        assert (bound >= exact).all()
        if hops == 1:  # duplicates and both directions count once
            assert torch.equal(bound, exact)


def test_tiny_budget_fails_before_p_is_built(monkeypatch):
    from genurl_pyg.structure.builder import SimilarityBuilder

    def never(*args, **kwargs):
        raise AssertionError('P was built despite the budget')
    monkeypatch.setattr(SimilarityBuilder, 'build', never)
    cfg = NodeConfig(epochs=1, memory_budget_mb=1.0)
    with pytest.raises(MemoryBudgetError, match="memory_budget_mb"):
        NodeEmbeddingTrainer(KarateClub()[0], cfg)


def test_auto_cap_is_the_largest_that_fits_the_budget():
    data = _graph(n=400, degree=16)
    base = NodeConfig(epochs=1, k=5, use_features=False, views=False, hidden_channels=4,
                      out_channels=4)  # P dominates the plan

    def plan(budget, cap='auto'):
        cfg = NodeConfig.from_dict({'memory_budget_mb': budget, 'graph_pairs_per_row': cap},
                                   base=base)
        return plan_memory(400, data.edge_index, 8, cfg, 'gcn', False, 'exact', base_mb=0)
    full = plan(1e6)
    assert full.settings['graph_pairs_per_row'] == 'all'
    graph_mb = next(s.mb for s in full.stages if s.name == 'P graph part')
    budget = full.peak_mb - graph_mb * 2  # between the capped and the uncapped plan
    chosen = plan(budget)
    cap = chosen.settings['graph_pairs_per_row']
    assert isinstance(cap, int) and 8 <= cap < int(neighbourhood_bounds(
        data.edge_index, 400, 2).max())
    assert chosen.peak_mb <= budget
    assert plan(1e6, cap + 1).peak_mb > budget  # one more pair per node would not fit
    with pytest.raises(MemoryBudgetError, match="'memory_budget_mb'"):
        plan(plan(1e6, 8).peak_mb * 0.5)  # not even the smallest cap fits


def test_a_tight_plan_bounds_the_feature_part_too(monkeypatch):
    """Where the graph part had to be capped, the feature part's estimate becomes a bound:
    each row keeps its nearest geodesic pairs, at most half the planned pairs per node."""
    from genurl_pyg.node import trainer as trainer_module
    data = _graph(n=400, degree=16)
    base = NodeConfig(epochs=1, k=5, views=False, lam=0.5, hidden_channels=4, out_channels=4)

    def plan(budget):
        cfg = NodeConfig.from_dict({'memory_budget_mb': budget}, base=base)
        return plan_memory(400, data.edge_index, 8, cfg, 'gcn', False, 'faiss', base_mb=0)
    full = plan(1e6)
    assert 'feature_pairs_per_row' not in full.settings  # fits: P stays the paper's
    graph_mb = next(s.mb for s in full.stages if s.name == 'P graph part')
    tight = plan(full.peak_mb - graph_mb * 2)
    assert isinstance(tight.settings['graph_pairs_per_row'], int)
    cap = tight.settings['feature_pairs_per_row']
    assert cap == feature_pairs_cap(5) == 8
    feat = next(s for s in tight.stages if s.name == 'P feature part')
    assert feat.pairs >= 2 * cap * 400 * 0.9  # the estimate covers the union's doubling

    monkeypatch.setattr(trainer_module, 'plan_memory', lambda *a, **k: tight)
    trainer = NodeEmbeddingTrainer(data, base)
    assert trainer.builder.max_pairs_per_row == cap
    monkeypatch.undo()
    loose = NodeEmbeddingTrainer(data, NodeConfig.from_dict({'k': 5}, base=base))
    assert loose.builder.max_pairs_per_row is None
    # The cap keeps each row's nearest geodesic pairs: P's feature part is no larger than
    # the uncapped one, and every capped row holds at most 2 * cap pairs after the union.
    from genurl_pyg.structure.similarity import feature_similarity
    capped = feature_similarity(data.x, k=5, max_pairs_per_row=cap)
    free = feature_similarity(data.x, k=5)
    assert capped[1].numel() < free[1].numel()
    assert int(torch.bincount(capped[0][0], minlength=400).sum()) <= 2 * cap * 400


def test_fixed_cap_is_respected_and_recorded(tmp_path):
    data = _graph()
    # lam fixed: 'auto' would leave these random edges out of P (they are noise)
    cfg = NodeConfig(epochs=1, k=5, graph_pairs_per_row=20, views=False, lam=0.5)
    trainer = NodeEmbeddingTrainer(data, cfg)
    assert trainer.plan.settings == {}  # nothing left to 'auto'
    counts = torch.bincount(trainer.builder.graph_part_[0][0])
    assert int(counts.max()) <= 20
    lines = trainer.plan.lines()
    assert lines[0].startswith('memory plan: budget') and any('20 pairs per node' in l
                                                              for l in lines)
    d = trainer.plan.to_dict()
    assert d['peak_mb'] >= d['base_mb'] and {s['name'] for s in d['stages']} >= {
        'P graph part', 'building P', 'training step'}


def test_mini_batch_paths_do_not_materialise_the_views():
    data = _graph(n=200)
    cfg = NodeConfig(epochs=1, k=5, encoder='sign', batch_mode='sampled', batch_size=64)
    trainer = NodeEmbeddingTrainer(data, cfg)
    assert trainer.minibatch and trainer.implicit_views
    assert trainer.train_sim is trainer.sim and trainer.num_anchors == 400
    assert any(s.name == 'views' and s.mb == 0 for s in trainer.plan.stages)
    loss = trainer.run_epoch()
    assert loss == loss  # finite
    assert current_rss_mb() > 0


def test_bad_budget_and_cap_values():
    from genurl_pyg.node.config import ConfigError
    for values in ({'memory_budget_mb': -1}, {'memory_budget_mb': float('nan')},
                   {'graph_pairs_per_row': -3}, {'graph_pairs_per_row': 'many'}):
        with pytest.raises(ConfigError):
            NodeConfig(**values)


def test_smoothed_encoder_input_is_planned_as_a_dense_copy():
    data = _graph(n=300)
    cfg = NodeConfig(epochs=1, k=5)

    def encoder_input_mb(c):
        plan = NodeEmbeddingTrainer(data, c).plan
        return next(s.mb for s in plan.stages if s.name == 'encoder input')
    plain = encoder_input_mb(cfg)
    assert plain == pytest.approx(300 * 8 * 4 / 2 ** 20, rel=1e-6)
    assert encoder_input_mb(NodeConfig.from_dict({'encoder_input_hops': 2}, cfg)) == \
        pytest.approx(2 * plain)


def test_degree_sized_walk_rows_are_planned_from_the_degree():
    """graph_part 'degree_walks': each row holds every neighbour plus top_k visits beyond,
    at most doubled by the symmetrisation; the plan's bound holds against the built part."""
    from genurl_pyg.structure.walks import DEFAULT_TOP_K, walk_similarity
    data = _graph(n=200, degree=80)  # one hop wider than the plain walk rows (50)
    n = data.num_nodes
    cfg = NodeConfig(graph_part='degree_walks', use_features=False)
    cfg.validate()
    plan = plan_memory(n, data.edge_index, 8, cfg, 'gcn', False, 'exact', budget_mb=1e6,
                       base_mb=0)
    stage = next(s for s in plan.stages if s.name == 'P graph part')
    deg = neighbourhood_bounds(data.edge_index, n, 1)
    assert stage.pairs == int((2 * (deg + DEFAULT_TOP_K)).sum())
    index, _ = walk_similarity(data.edge_index, n, size_to_degree=True)
    rows = torch.bincount(index[0], minlength=n)
    assert (rows.double() <= 2 * (deg + DEFAULT_TOP_K)).all()
    assert (rows.double() >= deg).all()  # every neighbour kept
