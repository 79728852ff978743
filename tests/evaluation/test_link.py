import pytest
import torch

from genurl_pyg.evaluation.link import hits_at_k, link_probe, ogb_link_metric


def test_hits_at_k_matches_ogb_evaluator():
    pytest.importorskip('ogb')
    g = torch.Generator().manual_seed(0)
    pos, neg = torch.randn(500, generator=g) + 1.5, torch.randn(2000, generator=g)
    official = ogb_link_metric('ogbl-ddi')
    assert official.metric_name == 'hits@20'
    assert hits_at_k(pos, neg, 20) == pytest.approx(official(pos, neg))


def test_hits_at_k_by_hand():
    neg = torch.tensor([0.1, 0.5, 0.3])
    assert hits_at_k(torch.tensor([0.4, 0.6, 0.2]), neg, 2) == pytest.approx(2 / 3)
    assert hits_at_k(torch.tensor([0.0]), neg, 5) == 1.0  # fewer negatives than K


def _community_edges(n=120, blocks=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % blocks
    src = torch.randint(0, n, (3000,), generator=g)
    dst = torch.randint(0, n, (3000,), generator=g)
    within = y[src] == y[dst]
    pos = torch.stack([src[within], dst[within]], 1)
    neg = torch.stack([src[~within], dst[~within]], 1)
    return y, pos, neg


@pytest.mark.parametrize('predictor, floor', [('dot', 0.9), ('mlp', 0.4)])
def test_link_probe_separates_informative_from_random_embeddings(predictor, floor):
    y, pos, neg = _community_edges()
    good = torch.nn.functional.one_hot(y, 4).float() * 3 + 0.1 * torch.randn(120, 4)
    bad = torch.randn(120, 4)
    args = (pos[:400], pos[400:500], neg[:300], pos[500:600], neg[300:600])
    kw = dict(k=20, predictor=predictor, epochs=30, batch_size=256)
    r_good, r_bad = link_probe(good, *args, **kw), link_probe(bad, *args, **kw)
    # Hits@20 among 300 negatives is strict; an MLP fit on 400 edges gets part of the way.
    assert r_good.test > floor and r_good.test > r_bad.test + 0.3, (r_good, r_bad)
    assert r_good.metric == 'hits@20'


def test_link_probe_bad_inputs_are_named():
    h = torch.randn(10, 3)
    ok = torch.tensor([[0, 1]])
    with pytest.raises(ValueError, match="'val_neg'"):
        link_probe(h, ok, ok, torch.tensor([[0, 10]]), ok, ok)
    with pytest.raises(ValueError, match="'train_pos'"):
        link_probe(h, torch.tensor([0, 1]), ok, ok, ok, ok)
    with pytest.raises(ValueError, match="'predictor'"):
        link_probe(h, ok, ok, ok, ok, ok, predictor='cosine')


def test_auc_score_matches_scikit_learn_with_ties():
    from sklearn.metrics import roc_auc_score
    from genurl_pyg.evaluation.link import auc_score
    g = torch.Generator().manual_seed(0)
    pos = torch.randint(0, 5, (40,), generator=g).float()
    neg = torch.randint(0, 4, (60,), generator=g).float()
    ref = roc_auc_score([1] * 40 + [0] * 60, torch.cat([pos, neg]).numpy())
    assert auc_score(pos, neg) == pytest.approx(ref)
    with pytest.raises(ValueError, match='at least one positive'):
        auc_score(pos, torch.empty(0))


def test_random_link_split_holds_no_held_out_edge_in_the_training_graph():
    from torch_geometric.datasets import KarateClub
    from genurl_pyg.evaluation.link import check_no_leak, random_link_split
    data = KarateClub()[0]
    split = random_link_split(data, 0.1, 0.2, seed=3)
    n = data.num_nodes
    train = set((split.train_data.edge_index[0] * n + split.train_data.edge_index[1]).tolist())
    for pairs in (split.val_pos, split.test_pos):
        for a, b in pairs.tolist():
            assert a * n + b not in train and b * n + a not in train
    # every original undirected edge lands in exactly one of train / val / test
    undirected = {tuple(sorted(e)) for e in data.edge_index.t().tolist()}
    parts = [{tuple(sorted(e)) for e in p.tolist()}
             for p in (split.train_pos, split.val_pos, split.test_pos)]
    assert set.union(*parts) == undirected and sum(map(len, parts)) == len(undirected)
    assert split.val_neg.size(0) == split.val_pos.size(0)
    again = random_link_split(data, 0.1, 0.2, seed=3)
    assert torch.equal(again.test_pos, split.test_pos) and torch.equal(again.test_neg,
                                                                       split.test_neg)
    assert data.edge_index.size(1) == 156  # the input graph is not changed
    # a split whose training graph holds a test edge is refused
    split.train_data.edge_index = torch.cat([split.train_data.edge_index,
                                             split.test_pos[:1].t()], 1)
    with pytest.raises(RuntimeError, match='leaks'):
        check_no_leak(split)
    with pytest.raises(ValueError, match="'val' and 'test'"):
        random_link_split(data, 0.5, 0.6)


@pytest.mark.parametrize('predictor', ['mlp', 'dot'])
def test_link_probe_scores_extra_metrics_at_the_epoch_validation_chose(predictor):
    from genurl_pyg.evaluation.link import auc_score
    g = torch.Generator().manual_seed(0)
    n = 60
    h = torch.randn(n, 8, generator=g)
    pairs = [torch.randint(0, n, (80, 2), generator=g) for _ in range(5)]
    base = link_probe(h, *pairs, metric=auc_score, predictor=predictor, epochs=3)
    both = link_probe(h, *pairs, metric=auc_score, predictor=predictor, epochs=3,
                      also={'hits@5': lambda p, q: hits_at_k(p, q, 5), 'auc2': auc_score})
    assert both.test == pytest.approx(base.test) and both.epoch == base.epoch
    assert both.also['auc2'] == pytest.approx(both.test)
    assert both.also_val['auc2'] == pytest.approx(both.val)  # validation, the same epoch
    if predictor == 'mlp':  # the validation metric per epoch; the best is the one reported
        assert len(both.curve) == 3 and max(both.curve) == pytest.approx(both.val)
        assert both.curve[both.epoch - 1] == pytest.approx(both.val)
    assert 0.0 <= both.also['hits@5'] <= 1.0 and base.also == {} == base.also_val


def test_excluded_negatives_are_never_training_edges_nor_self_pairs():
    from genurl_pyg.evaluation.link import _negative_sampler
    g = torch.Generator().manual_seed(0)
    n = 30  # dense: about half of all ordered pairs are training edges
    train = torch.randint(0, n, (250, 2), generator=g)
    edges = {(a, b) for a, b in train.tolist()} | {(b, a) for a, b in train.tolist()}
    draw = _negative_sampler(train, n, torch.Generator().manual_seed(1), exclude=True)
    neg = draw((2000, 2))
    hits = [(a, b) for a, b in neg.tolist() if (a, b) in edges or a == b]
    # ten redraws leave (1/2)^10 of the pairs: a handful at most in 2,000
    assert len(hits) <= 5, len(hits)
    plain = _negative_sampler(train, n, torch.Generator().manual_seed(1), exclude=False)
    plain_hits = sum((a, b) in edges or a == b for a, b in plain((2000, 2)).tolist())
    assert plain_hits > 500  # uniform pairs hit the dense graph often: the case it repairs


def test_ogb_probe_layers_and_dropout():
    from genurl_pyg.evaluation.link import OGB_DDI_PROBE, _hadamard_mlp
    mlp = _hadamard_mlp(16, 8, 3, 0.5)
    linears = [m for m in mlp if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(16, 8), (8, 8), (8, 1)]
    assert sum(isinstance(m, torch.nn.Dropout) for m in mlp) == 2
    plain = _hadamard_mlp(16, 8, 2, 0.0)  # the default probe: one hidden layer, no dropout
    assert [type(m).__name__ for m in plain] == ['Linear', 'ReLU', 'Linear']
    assert OGB_DDI_PROBE['layers'] == 3 and OGB_DDI_PROBE['epochs'] == 200
    assert OGB_DDI_PROBE['cap_hidden'] is False  # 256 wide for a 4-d input too
    y, pos, neg = _community_edges()
    good = torch.nn.functional.one_hot(y, 4).float() * 3 + 0.1 * torch.randn(120, 4)
    args = (pos[:400], pos[400:500], neg[:300], pos[500:600], neg[300:600])
    kw = {**OGB_DDI_PROBE, 'epochs': 30, 'batch_size': 256}
    r_good = link_probe(good, *args, **kw)
    r_bad = link_probe(torch.randn(120, 4), *args, **kw)
    assert r_good.test > r_bad.test + 0.3, (r_good, r_bad)
    h, ok = torch.randn(10, 3), torch.tensor([[0, 1]])
    with pytest.raises(ValueError, match="'layers'"):
        link_probe(h, ok, ok, ok, ok, ok, layers=0)
    with pytest.raises(ValueError, match="'dropout'"):
        link_probe(h, ok, ok, ok, ok, ok, dropout=1.0)



def test_probe_seconds_count_full_batches_per_epoch():
    from genurl_pyg.evaluation.link import probe_seconds_from_steps
    # 2,500 training edges in batches of 1,000: 3 steps; 1,001 scored pairs: 2 passes
    assert probe_seconds_from_steps(0.5, 0.1, 2500, 1001, 4, 1000) == pytest.approx(
        4 * (3 * 0.5 + 2 * 0.1))
    assert probe_seconds_from_steps(0.5, 0.1, 1000, 1000, 1, 1000) == pytest.approx(0.6)


def test_probe_seconds_estimate_scales_with_epochs_and_keeps_the_global_rng():
    from genurl_pyg.evaluation.link import link_probe_seconds
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    est = link_probe_seconds(50, 400, 200, 16, epochs=5, batch_size=64, exclude_train=True)
    assert torch.equal(torch.rand(3), expected)  # the estimate drew nothing from it
    assert est > 0.0
    for bad in (dict(d=0), dict(batch_size=0), dict(steps=0), dict(num_nodes=0)):
        args = dict(num_nodes=50, num_train_edges=400, num_eval_pairs=200, d=16)
        args.update(bad)
        with pytest.raises(ValueError, match="'d', 'num_nodes', 'steps' and 'batch_size'"):
            link_probe_seconds(**args)
