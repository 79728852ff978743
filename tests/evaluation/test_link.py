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
