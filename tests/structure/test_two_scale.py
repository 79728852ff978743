import pytest
import torch

from genurl_pyg.structure import feature_similarity
from genurl_pyg.structure.two_scale import thin_wide_pairs, two_scale_similarity


def points(n=200, d=6, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def dense(pair, n):
    (i, j), w = pair
    out = torch.zeros(n, n, dtype=torch.float64)
    out[i, j] = w.double()
    return out


def test_full_share_is_the_mixture_of_two_separate_searches():
    # Reference: two independent exact kNN searches, mixed densely.
    x, n = points(), 200
    got = dense(two_scale_similarity(x, 10, 30, 0.25, knn_method='exact'), n)
    local = dense(feature_similarity(x, k=10, hops=1, knn_method='exact'), n)
    wide = dense(feature_similarity(x, k=30, hops=1, knn_method='exact'), n)
    torch.testing.assert_close(got, 0.75 * local + 0.25 * wide)


def test_zero_weight_is_the_local_similarity():
    x, n = points(), 200
    got = dense(two_scale_similarity(x, 10, 30, 0.0, knn_method='exact'), n)
    local = dense(feature_similarity(x, k=10, hops=1, knn_method='exact'), n)
    torch.testing.assert_close(got, local)


def test_thinning_keeps_the_local_support_symmetry_and_is_unbiased():
    x, n = points(), 200
    local = feature_similarity(x, k=10, hops=1, knn_method='exact')
    wide = feature_similarity(x, k=30, hops=1, knn_method='exact')
    full, local_d = dense(wide, n), dense(local, n)
    outer = (full > 0) & (local_d == 0)
    draws = []
    for seed in range(60):
        thin = thin_wide_pairs(wide, local, n, 0.25, seed)
        t = dense(thin, n)
        torch.testing.assert_close(t, t.t())  # both orders of a pair kept or dropped together
        inner = local_d > 0
        torch.testing.assert_close(t[inner & (full > 0)], full[inner & (full > 0)])
        share = (t[outer] > 0).double().mean().item()
        assert share == pytest.approx(0.25, abs=0.05)
        draws.append(t)
    # E[thinned] = P_K entry by entry: the mean over draws approaches the full wide part
    mean = torch.stack(draws).mean(0)
    assert (mean[outer].sum() / full[outer].sum()).item() == pytest.approx(1.0, abs=0.05)
    # the same seed draws the same pairs
    a, b = thin_wide_pairs(wide, local, n, 0.25, 3), thin_wide_pairs(wide, local, n, 0.25, 3)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_thinned_mixture_has_fewer_pairs_and_the_same_mass_on_average():
    x = points(400)
    full = two_scale_similarity(x, 10, 40, 0.2, 1.0, knn_method='exact')
    thin = two_scale_similarity(x, 10, 40, 0.2, 0.2, knn_method='exact', seed=1)
    assert thin[1].numel() < 0.6 * full[1].numel()
    assert thin[1].sum().item() == pytest.approx(full[1].sum().item(), rel=0.05)
    assert (thin[0][0] != thin[0][1]).all()  # no self pairs


@pytest.mark.parametrize('kwargs, match', [
    (dict(k=10, wide_k=10), "'wide_k'"),
    (dict(k=10, wide_k=200), "'wide_k'"),
    (dict(wide_weight=1.5), "'wide_weight'"),
    (dict(wide_weight=True), "'wide_weight'"),
    (dict(wide_share=0.0), "'wide_share'"),
    (dict(wide_share=1.2), "'wide_share'"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        two_scale_similarity(points(), **{'k': 10, 'wide_k': 30, **kwargs})
