"""t-SNE's perplexity-calibrated P (genurl_pyg.structure.perplexity) against independent
references: scalar root finding per row (scipy) and a dense brute-force symmetrisation."""
import math

import numpy as np
import pytest
import torch
from scipy.optimize import brentq

from genurl_pyg.structure import SimilarityBuilder
from genurl_pyg.structure.perplexity import (neighbors_for_perplexity,
                                             perplexity_probabilities, perplexity_similarity)


def _row_by_root_finding(d, perplexity):
    d2 = d.astype(np.float64) ** 2

    def entropy_gap(log_beta):
        w = np.exp(-np.exp(log_beta) * (d2 - d2.min()))
        p = w / w.sum()
        return -(p[p > 0] * np.log(p[p > 0])).sum() - math.log(perplexity)
    log_beta = brentq(entropy_gap, -40, 40, xtol=1e-12)
    w = np.exp(-np.exp(log_beta) * (d2 - d2.min()))
    return w / w.sum()


def test_rows_match_scalar_root_finding():
    g = torch.Generator().manual_seed(0)
    dist = torch.rand(20, 30, generator=g, dtype=torch.float64) * torch.logspace(
        -3, 3, 20, dtype=torch.float64).unsqueeze(1)  # rows on very different scales
    p = perplexity_probabilities(dist, 7.5)
    for row in range(20):
        np.testing.assert_allclose(p[row].numpy(), _row_by_root_finding(dist[row].numpy(), 7.5),
                                   rtol=1e-6, atol=1e-9)
    entropy = -(p * p.log()).sum(1)
    torch.testing.assert_close(entropy, torch.full((20,), math.log(7.5), dtype=torch.float64))


def test_perplexity_at_least_k_gives_uniform_rows_and_equal_distances_are_finite():
    dist = torch.rand(5, 4, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(perplexity_probabilities(dist, 10.0), torch.full((5, 4), 0.25))
    same = perplexity_probabilities(torch.ones(3, 6), 2.0)  # every neighbour equally far
    torch.testing.assert_close(same, torch.full((3, 6), 1 / 6))


def test_similarity_is_the_symmetrised_conditional_on_3_perplexity_neighbours():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(60, 4, generator=g, dtype=torch.float64)
    index, weight = perplexity_similarity(x, 5.0, knn_method='exact')
    k = neighbors_for_perplexity(5.0, 60)
    assert k == 15
    # Brute force: dense conditional P on each point's 15 nearest others, then (C + C^T)/2.
    d = torch.cdist(x, x)
    d.fill_diagonal_(float('inf'))
    nbr = d.topk(k, largest=False).indices
    cond = torch.zeros(60, 60, dtype=torch.float64)
    for i in range(60):
        cond[i, nbr[i]] = torch.from_numpy(_row_by_root_finding(d[i, nbr[i]].numpy(), 5.0))
    expected = (cond + cond.t()) / 2
    dense = torch.zeros_like(expected)
    dense[index[0], index[1]] = weight
    torch.testing.assert_close(dense, expected, rtol=1e-6, atol=1e-9)
    assert (index[0] != index[1]).all()
    assert neighbors_for_perplexity(30.0, 50) == 49 and neighbors_for_perplexity(0.1, 50) == 1


def test_builder_switch_uses_it_and_names_itself():
    x = torch.randn(40, 3, generator=torch.Generator().manual_seed(3))
    builder = SimilarityBuilder(use_graph=False, lam=0.0, perplexity=4.0, knn_method='exact')
    sim = builder.build(x)
    index, weight = perplexity_similarity(x, 4.0, knn_method='exact')
    torch.testing.assert_close(sim.to_dense(), torch.sparse_coo_tensor(
        index, weight, (40, 40)).to_dense())
    assert 'perplexity=4.0' in repr(builder)


@pytest.mark.parametrize('call, match', [
    (lambda: perplexity_probabilities(torch.ones(3, 2), 0.0), "'perplexity'"),
    (lambda: perplexity_probabilities(torch.ones(3), 2.0), r"shape \[N, k\]"),
    (lambda: perplexity_probabilities(-torch.ones(3, 2), 2.0), 'non-negative'),
    (lambda: perplexity_probabilities(torch.full((3, 2), float('nan')), 2.0), 'finite'),
    (lambda: perplexity_similarity(torch.ones(1, 2), 2.0), 'at least 2 points'),
    (lambda: SimilarityBuilder(perplexity=-1.0), "'perplexity'"),
])
def test_bad_inputs_name_the_problem(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
