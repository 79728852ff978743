import numpy as np
import pytest
import torch

from genurl_pyg.nn import functional as F
from genurl_pyg.nn.sampling import anchor_batches, sample_anchor_pairs
from genurl_pyg.structure import build_similarity
from genurl_pyg.structure.similarity import Similarity


def _anchor_estimate(z, sim, batch, r, m, g, variant='gkl'):
    anchors = next(anchor_batches(sim.num_nodes, batch, g))
    s = sample_anchor_pairs(sim, anchors, r, m, g)
    return F.sampled_pairs_loss(z[s.pos_i], z[s.pos_j], s.pos_p, z[s.neg_i], z[s.neg_j],
                                s.num_support, s.num_pairs, 1.0, variant,
                                pos_weight=s.pos_weight, neg_weight=s.neg_weight).item()


@pytest.mark.parametrize('variant', ['gkl', 'fuzzy_ce'])
def test_anchor_batch_loss_is_unbiased(variant):
    # Mini-batch loss equals the full (all-pairs) loss in expectation.
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 4, generator=g)
    sim = build_similarity(x, k=4, feature_hops=2)
    assert len(set(sim.rowptr().diff().tolist())) > 1  # rows of unequal size: weights matter
    z = torch.randn(50, 2, generator=g)
    full = F.all_pairs_loss(z, sim.to_dense(), nu=1.0, variant=variant).item()
    draws = np.array([_anchor_estimate(z, sim, 8, 3, 4, g, variant) for _ in range(4000)])
    stderr = draws.std() / np.sqrt(len(draws))
    assert abs(draws.mean() - full) < 4 * stderr, (draws.mean(), full, stderr)


def test_anchor_pairs_come_from_the_anchor_rows():
    g = torch.Generator().manual_seed(1)
    sim = build_similarity(torch.randn(40, 3, generator=g), k=3)
    anchors = torch.tensor([3, 17, 25])
    s = sample_anchor_pairs(sim, anchors, 6, 5, g)
    dense = sim.to_dense()
    assert s.pos_i.numel() == 18 and s.neg_i.numel() == 15
    assert set(s.pos_i.tolist()) <= {3, 17, 25} and set(s.neg_i.tolist()) <= {3, 17, 25}
    torch.testing.assert_close(dense[s.pos_i, s.pos_j], s.pos_p)
    assert (s.pos_p > 0).all() and (s.neg_i != s.neg_j).all()
    k3 = int((dense[3] > 0).sum())
    assert s.pos_weight[0].item() == pytest.approx(40 / 3 * k3 / 6, rel=1e-6)
    assert s.neg_weight[0].item() == pytest.approx(40 / 3 * 39 / 5, rel=1e-6)


def test_anchors_with_empty_rows_only_get_negatives():
    sim = Similarity(torch.tensor([[0, 1], [1, 0]]), torch.tensor([0.5, 0.5]), 5)
    s = sample_anchor_pairs(sim, torch.tensor([0, 3]), 2, 2)
    assert s.pos_i.tolist() == [0, 0] and s.pos_j.tolist() == [1, 1]
    assert s.neg_i.tolist() == [0, 0, 3, 3]


def test_anchor_batches_partition_the_nodes():
    batches = list(anchor_batches(10, 4, torch.Generator().manual_seed(0)))
    assert [b.numel() for b in batches] == [4, 4, 2]
    assert sorted(torch.cat(batches).tolist()) == list(range(10))


@pytest.mark.parametrize('size, match', [(11, 'larger than the number of nodes'),
                                         (0, 'batch_size')])
def test_bad_batch_size_is_named(size, match):
    with pytest.raises(ValueError, match=match):
        next(anchor_batches(10, size))


def test_bad_pair_counts_are_named():
    sim = build_similarity(torch.randn(20, 3), k=3)
    with pytest.raises(ValueError, match='pos_per_anchor'):
        sample_anchor_pairs(sim, torch.tensor([0]), 0, 1)
    with pytest.raises(ValueError, match='anchor batch'):
        sample_anchor_pairs(sim, torch.arange(21) % 20, 1, 1)
