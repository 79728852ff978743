import numpy as np
import pytest
import torch

from genurl_pyg.nn import functional as F
from genurl_pyg.nn.sampling import anchor_batches, neighbour_batch, sample_anchor_pairs
from genurl_pyg.structure import build_similarity
from genurl_pyg.structure.similarity import Similarity


def _anchor_estimate(z, sim, batch, r, m, g, variant='gkl', in_batch=False):
    anchors = next(anchor_batches(sim.num_nodes, batch, g))
    s = sample_anchor_pairs(sim, anchors, r, m, g, in_batch_negatives=in_batch)
    return F.sampled_pairs_loss(z[s.pos_i], z[s.pos_j], s.pos_p, z[s.neg_i], z[s.neg_j],
                                s.num_support, s.num_pairs, 1.0, variant,
                                pos_weight=s.pos_weight, neg_weight=s.neg_weight).item()


@pytest.mark.parametrize('variant, in_batch', [('gkl', False), ('fuzzy_ce', False),
                                               ('gkl', True)])
def test_anchor_batch_loss_is_unbiased(variant, in_batch):
    # Mini-batch loss equals the full (all-pairs) loss in expectation.
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 4, generator=g)
    sim = build_similarity(x, k=4, feature_hops=2)
    assert len(set(sim.rowptr().diff().tolist())) > 1  # rows of unequal size: weights matter
    z = torch.randn(50, 2, generator=g)
    full = F.all_pairs_loss(z, sim.to_dense(), nu=1.0, variant=variant).item()
    draws = np.array([_anchor_estimate(z, sim, 8, 3, 4, g, variant, in_batch)
                      for _ in range(4000)])
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


def test_in_batch_negatives_pair_anchors_with_other_anchors():
    g = torch.Generator().manual_seed(3)
    sim = build_similarity(torch.randn(40, 3, generator=g), k=3)
    anchors = torch.tensor([3, 17, 25, 30])
    s = sample_anchor_pairs(sim, anchors, 2, 50, g, in_batch_negatives=True)
    assert set(s.neg_j.tolist()) == {3, 17, 25, 30}  # 50 draws each: every other anchor
    assert (s.neg_i != s.neg_j).all()
    # the same inverse rate as uniform partners: the estimate's expectation is unchanged
    assert s.neg_weight[0].item() == pytest.approx(40 / 4 * 39 / 50, rel=1e-6)
    with pytest.raises(ValueError, match='at least 2 anchors'):
        sample_anchor_pairs(sim, torch.tensor([3]), 2, 5, g, in_batch_negatives=True)


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


@pytest.mark.parametrize('view_weight', [0.0, 0.7, 1.5])
def test_two_view_sampler_matches_the_materialised_two_view_p(view_weight):
    from genurl_pyg.nn.sampling import sample_two_view_pairs
    from genurl_pyg.node.views import two_view_similarity
    g = torch.Generator().manual_seed(2)
    sim = build_similarity(torch.randn(30, 3, generator=g), k=3, feature_hops=2)
    explicit = two_view_similarity(sim, view_weight)
    dense2 = explicit.to_dense()
    anchors = torch.arange(60)
    s = sample_two_view_pairs(sim, anchors, 400, 3, view_weight, g)
    # Every draw is an entry of P^(2) with its weight, and each row's whole support is hit.
    torch.testing.assert_close(dense2[s.pos_i, s.pos_j], s.pos_p)
    drawn = {(int(i), int(j)) for i, j in zip(s.pos_i, s.pos_j)}
    support = {(int(i), int(j)) for i, j in explicit.index.t()}
    assert drawn == support
    # Inverse rates: the row size of P^(2) (all 60 anchors in the batch: B = 2N).
    row_size = (dense2 > 0).sum(1).double()
    torch.testing.assert_close(s.pos_weight.double(), (row_size[s.pos_i] / 400).to(torch.float64),
                               rtol=1e-5, atol=0)
    assert s.num_support == explicit.num_pairs and s.num_pairs == 60 * 59
    assert (s.neg_i != s.neg_j).all() and int(s.neg_j.max()) < 60


@pytest.mark.parametrize('in_batch', [False, True])
def test_two_view_sampler_loss_is_unbiased(in_batch):
    from genurl_pyg.nn.sampling import sample_two_view_pairs
    from genurl_pyg.node.views import two_view_similarity
    g = torch.Generator().manual_seed(3)
    sim = build_similarity(torch.randn(25, 4, generator=g), k=4, feature_hops=2)
    z = torch.randn(50, 2, generator=g)
    full = F.all_pairs_loss(z, two_view_similarity(sim, 0.8).to_dense(), nu=1.0,
                            variant='gkl').item()
    draws = []
    for _ in range(3000):
        anchors = next(anchor_batches(50, 8, g))
        s = sample_two_view_pairs(sim, anchors, 3, 4, 0.8, g, in_batch_negatives=in_batch)
        if in_batch:  # every partner is another anchor of the batch
            assert set(s.neg_j.tolist()) <= set(anchors.tolist())
            assert (s.neg_i != s.neg_j).all()
        draws.append(F.sampled_pairs_loss(z[s.pos_i], z[s.pos_j], s.pos_p, z[s.neg_i],
                                          z[s.neg_j], s.num_support, s.num_pairs, 1.0, 'gkl',
                                          pos_weight=s.pos_weight,
                                          neg_weight=s.neg_weight).item())
    draws = np.array(draws)
    stderr = draws.std() / np.sqrt(len(draws))
    assert abs(draws.mean() - full) < 4 * stderr, (draws.mean(), full, stderr)


def test_neighbour_batch_is_the_seeds_then_their_neighbours_without_repeats():
    g = torch.Generator().manual_seed(0)
    sim = build_similarity(torch.randn(1000, 8, generator=g), k=10, feature_hops=1)
    seeds = torch.randperm(1000, generator=g)[:20]
    batch = neighbour_batch(sim, seeds, 5, g)
    assert batch[:20].equal(seeds)  # the seeds first, in their order
    assert batch.unique().numel() == batch.numel()
    rp = sim.rowptr()
    rows = {s: set(sim.index[1, rp[s]:rp[s + 1]].tolist()) for s in seeds.tolist()}
    assert set(batch[20:].tolist()) <= set().union(*rows.values())
    assert 20 < batch.numel() <= 20 * 6
    # the block over the batch has P entries on every seed's row; a uniform batch of the
    # same size holds far fewer of them
    block = (sim.to_dense()[batch][:, batch] > 0).sum(1)[:20]
    uniform = torch.randperm(1000, generator=g)[:batch.numel()]
    assert (block > 0).all()
    uniform_block = (sim.to_dense()[uniform][:, uniform] > 0).sum(1)
    assert block.float().mean() > 2 * uniform_block.float().mean()


def test_neighbour_batch_keeps_seeds_with_empty_rows_and_names_bad_counts():
    sim = Similarity(torch.tensor([[0, 1], [1, 0]]), torch.tensor([0.5, 0.5]), 5)
    assert neighbour_batch(sim, torch.tensor([3, 0]), 2).tolist() == [3, 0, 1]
    with pytest.raises(ValueError, match='per_seed'):
        neighbour_batch(sim, torch.tensor([0]), 0)
