"""The non-parametric path (GenURLEmbedding(parametric=False), genurl_pyg.manifold.layout)."""
import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

from genurl_pyg.evaluation.dr import knn_accuracy, trustworthiness
from genurl_pyg.manifold import GenURLEmbedding
from genurl_pyg.manifold.layout import (block_layout_loss, fft_layout_loss, layout_loss,
                                        optimize_layout, pca_init, place_new_points)

NP = dict(parametric=False, n_epochs=300, exaggeration_iter=75, random_state=0)


@pytest.fixture(scope='module')
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600], y[:600]


@pytest.fixture(scope='module')
def fitted(digits):
    return GenURLEmbedding(**NP).fit(digits[0])


def test_keeps_neighbourhoods_far_better_than_pca(digits, fitted):
    X, y = digits
    Y = fitted.embedding_
    assert Y.shape == (600, 2) and Y.dtype == np.float64
    t_pca = trustworthiness(X, PCA(2).fit_transform(X), 10)
    t = trustworthiness(X, Y, 10)
    assert t > 0.97 and t > t_pca + 0.1, (t, t_pca)
    assert knn_accuracy(Y, y) > 0.95


def test_deterministic_under_random_state(digits, fitted):
    again = GenURLEmbedding(**NP).fit(digits[0]).embedding_
    np.testing.assert_array_equal(fitted.embedding_, again)
    other = GenURLEmbedding(**{**NP, 'random_state': 1}).fit(digits[0]).embedding_
    assert not np.allclose(fitted.embedding_, other)


def test_transform_places_new_points_beside_their_neighbours(digits, fitted):
    X, y = digits
    new = load_digits().data[600:900]
    Y_new = fitted.transform(new)
    assert Y_new.shape == (300, 2) and np.isfinite(Y_new).all()
    # A new point's label, read from the training points around where it landed, is
    # nearly as good as the 5-NN vote in the raw 64-d space (0.91 on these points).
    from sklearn.neighbors import KNeighborsClassifier
    y_new = load_digits().target[600:900]
    raw = KNeighborsClassifier(5).fit(X, y).score(new, y_new)
    placed = KNeighborsClassifier(5).fit(fitted.embedding_, y).score(Y_new, y_new)
    assert placed > raw - 0.05, (placed, raw)
    # A training point keeps its fitted coordinates; a slightly moved one lands near them.
    np.testing.assert_array_equal(fitted.transform(X[:50]), fitted.embedding_[:50])
    moved = fitted.transform(X[:50] + 0.01)
    spread = fitted.embedding_.std(0).mean()
    assert np.median(np.linalg.norm(moved - fitted.embedding_[:50], axis=1)) < 0.2 * spread


def test_place_new_points_is_the_weighted_mean():
    layout = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]], dtype=torch.float64)
    nbrs = torch.tensor([[0, 1], [1, 2]])
    w = torch.tensor([[1.0, 3.0], [1.0, 1.0]], dtype=torch.float64)
    out = place_new_points(nbrs, w, layout)
    torch.testing.assert_close(out, torch.tensor([[1.5, 0.0], [1.0, 2.0]], dtype=torch.float64))


def _random_layout(seed: int, n: int, pairs: int):
    """Coordinates ``[n, 2]`` and ``pairs`` random non-self pairs with values in (0, 1),
    float64, and the generator for further draws."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randn(n, 2, generator=g, dtype=torch.float64)
    i = torch.randint(0, n, (pairs,), generator=g)
    j = (i + torch.randint(1, n, (pairs,), generator=g)) % n
    return g, y, i, j, torch.rand(pairs, generator=g, dtype=torch.float64)


def _exact_kl_parts(y, i, j, p, nu):
    """Brute force: the attraction -sum p~ log w and log Z over all ordered pairs (their
    sum is t-SNE's KL up to the constant sum p~ log p~)."""
    w = (1 + torch.cdist(y, y).pow(2) / nu).pow(-(nu + 1) / 2)
    w = w * (1 - torch.eye(y.size(0), dtype=y.dtype))
    return -((p / p.sum()) * w[i, j].log()).sum(), w.sum().log()


def test_sampled_kl_matches_the_exact_normalised_kl():
    """With many uniform pairs, the sampled objective equals t-SNE's KL with our kernel
    (up to the constant sum p log p), computed over all pairs by brute force."""
    n, nu = 40, 0.5
    g, y, i, j, p = _random_layout(0, n, 120)
    exact = sum(_exact_kl_parts(y, i, j, p, nu))
    m = 400_000
    ni = torch.randint(0, n, (m,), generator=g)
    nj = (ni + torch.randint(1, n, (m,), generator=g)) % n
    sampled = layout_loss(y, i, j, p, ni, nj, 'kl', nu)
    assert abs(sampled.item() - exact.item()) < 2e-3


def test_block_kl_value_is_the_exact_kl_when_the_block_covers_every_point():
    n, nu = 25, 0.3
    _, y, i, j, p = _random_layout(2, n, 60)
    attraction, log_z = _exact_kl_parts(y, i, j, p, nu)
    value = block_layout_loss(y, i, j, p, torch.arange(n), nu, exaggeration=3.0)
    torch.testing.assert_close(value, 3.0 * attraction + log_z)


def test_block_kl_gradient_rows_only_doubled_is_the_exact_gradient():
    """With the block = every point once, the rows-only, doubled gradient of the block
    estimate equals autograd's gradient of the exact KL over all pairs."""
    g = torch.Generator().manual_seed(3)
    n, nu = 30, 0.5
    y = torch.randn(n, 2, generator=g, dtype=torch.float64, requires_grad=True)
    i = torch.arange(n)
    j = (i + 1) % n
    p = torch.rand(n, generator=g, dtype=torch.float64)
    sum(_exact_kl_parts(y, i, j, p, nu)).backward()
    exact, y.grad = y.grad.clone(), None
    block_layout_loss(y, i, j, p, torch.randperm(n, generator=g), nu).backward()
    torch.testing.assert_close(y.grad, exact)


def test_block_partition_function_is_unbiased():
    """Averaged over random blocks (with repeats and self pairs drawn), Z's estimate
    approaches the exact sum over all ordered pairs."""
    g = torch.Generator().manual_seed(4)
    n, nu, b = 40, 0.3, 5
    y = torch.randn(n, 2, generator=g, dtype=torch.float64)
    i, j, p = torch.tensor([0]), torch.tensor([1]), torch.ones(1, dtype=torch.float64)
    attraction, log_z = _exact_kl_parts(y, i, j, p, nu)
    z_hat = torch.stack([(block_layout_loss(y, i, j, p, torch.randint(0, n, (b,), generator=g),
                                            nu) - attraction).exp() for _ in range(20000)])
    assert abs(z_hat.mean().item() / log_z.exp().item() - 1) < 0.01


def test_block_repulsion_needs_the_kl_loss():
    sim = GenURLEmbedding(n_neighbors=3, **NP).fit(np.random.rand(30, 3)).similarity_
    with pytest.raises(ValueError, match="repulsion='block'"):
        optimize_layout(sim, torch.zeros(30, 2), loss='gkl', repulsion='block')
    with pytest.raises(ValueError, match="'repulsion'"):
        optimize_layout(sim, torch.zeros(30, 2), repulsion='exact')
    with pytest.raises(ValueError, match="repulsion='fft'"):
        optimize_layout(sim, torch.zeros(30, 2), loss='gkl', repulsion='fft')
    with pytest.raises(ValueError, match='2-D grid'):
        optimize_layout(sim, torch.zeros(30, 3), repulsion='fft')


def test_fft_kl_value_and_gradient_match_the_exact_kl():
    """The grid's log Z and its hand-written gradient against brute force over all pairs
    (autograd through the exact sum), on a layout spread like a fitted one."""
    g = torch.Generator().manual_seed(5)
    n, nu = 400, 0.3
    y = (torch.randn(n, 2, generator=g, dtype=torch.float64) * 8).requires_grad_(True)
    i = torch.randint(0, n, (800,), generator=g)
    j = (i + torch.randint(1, n, (800,), generator=g)) % n
    p = torch.rand(800, generator=g, dtype=torch.float64)
    exact = sum(_exact_kl_parts(y, i, j, p, nu))
    exact.backward()
    exact_grad, y.grad = y.grad.clone(), None
    value = fft_layout_loss(y, i, j, p, nu)
    value.backward()
    assert abs(value.item() - exact.item()) < 3e-3  # log Z: Z within 0.3 %
    err = (y.grad - exact_grad).norm(dim=1) / exact_grad.norm(dim=1)
    assert err.median() < 0.02 and (y.grad - exact_grad).norm() < 0.05 * exact_grad.norm()


def test_fft_repulsion_keeps_neighbourhoods_with_t_sne_steps(digits, fitted):
    """'fft' (the 2-D default) takes openTSNE's iteration count and step (max(N /
    exaggeration, 50), over the factor 4 our gradient keeps) and is at least as
    trustworthy as the block on the same P."""
    X, y = digits
    est = GenURLEmbedding(**{**NP, 'n_epochs': 'auto'})
    est._check_params(600)
    assert est.repulsion_ == 'fft' and est.n_epochs_ == 750 and est.learning_rate_ == 12.5
    assert fitted.repulsion_ == 'fft'
    block = GenURLEmbedding(**NP, repulsion='block').fit(X)
    t_fft = trustworthiness(X, fitted.embedding_, 10)
    assert t_fft > 0.98 and t_fft > trustworthiness(X, block.embedding_, 10) - 0.003
    assert knn_accuracy(fitted.embedding_, y, 5) > 0.95


def test_sampled_gkl_is_unbiased_for_the_all_pairs_mean():
    from genurl_pyg.nn.functional import gkl_elementwise
    from genurl_pyg.structure.kernels import student_t
    g = torch.Generator().manual_seed(1)
    n, nu = 30, 0.3
    y = torch.randn(n, 2, generator=g, dtype=torch.float64)
    i = torch.arange(n)
    j = (i + 1) % n
    p = torch.full((n,), 0.7, dtype=torch.float64)
    P = torch.zeros(n, n, dtype=torch.float64)
    P[i, j] = p
    Q = student_t(torch.cdist(y, y).pow(2), nu)
    off = ~torch.eye(n, dtype=torch.bool)
    exact = gkl_elementwise(P, Q, 0.1)[off].mean()
    m = 500_000
    ni = torch.randint(0, n, (m,), generator=g)
    nj = (ni + torch.randint(1, n, (m,), generator=g)) % n
    sampled = layout_loss(y, i, j, p, ni, nj, 'gkl', nu, alpha=0.1)
    assert abs(sampled.item() - exact.item()) < 0.01 * abs(exact.item())


def test_pca_init_scale_and_padding():
    x = torch.randn(50, 5, generator=torch.Generator().manual_seed(0))
    y = pca_init(x, 2, std=3.0)
    assert y.shape == (50, 2) and abs(y[:, 0].std().item() - 3.0) < 1e-5
    assert pca_init(x[:, :1], 2).shape == (50, 2)  # one feature: second column padded


@pytest.mark.parametrize('params, match', [
    ({'parametric': 'no'}, "'parametric'"),
    ({'parametric': True, 'loss': 'kl'}, "parametric=False"),
    ({'parametric': False, 'loss': 'hinge'}, "'loss'"),
    ({'parametric': False, 'mixup': 0.3}, 'parametric=True'),
    ({'parametric': False, 'dynamic': True}, 'parametric=True'),
    ({'parametric': False, 'early_exaggeration': -1}, "'early_exaggeration'"),
    ({'parametric': False, 'exaggeration_iter': 0}, "'exaggeration_iter'"),
    ({'parametric': False, 'n_epochs': 0}, "'n_epochs'"),
    ({'parametric': False, 'learning_rate': float('nan')}, "'learning_rate'"),
    ({'parametric': False, 'repulsion': 'exact'}, "'repulsion'"),
    ({'parametric': False, 'repulsion': 'fft', 'n_components': 3}, '2-D grid'),
    ({'parametric': True, 'repulsion': 'fft'}, "parametric=False"),
    ({'parametric': False, 'loss': 'gkl', 'repulsion': 'block'}, "repulsion='block'"),
    ({'parametric': True, 'repulsion': 'block'}, "parametric=False"),
])
def test_bad_parameters_name_themselves(params, match):
    with pytest.raises(ValueError, match=match):
        GenURLEmbedding(n_neighbors=3, **params).fit(np.random.rand(20, 3))


def test_sampled_repulsions_keep_neighbourhoods(digits, fitted):
    """'auto' is the grid in 2-D and the shared block in other dimensions; the block and
    independent pairs remain selectable, and an elementwise loss falls back to pairs."""
    X, y = digits
    three = GenURLEmbedding(**NP, n_components=3)
    three._check_params(600)
    assert three.repulsion_ == 'block' and three.negative_rate_ == 128
    for repulsion, rate in (('block', 128), ('pairs', 15)):
        est = GenURLEmbedding(**NP, repulsion=repulsion).fit(X)
        assert est.negative_rate_ == rate
        assert trustworthiness(X, est.embedding_, 10) > 0.97
        assert not np.allclose(est.embedding_, fitted.embedding_)
    gkl = GenURLEmbedding(**NP, loss='gkl')
    gkl._check_params(600)
    assert gkl.repulsion_ == 'pairs' and gkl.negative_rate_ == 15


def test_non_finite_layout_is_an_error(digits):
    with pytest.raises(FloatingPointError, match='learning_rate'):
        GenURLEmbedding(parametric=False, learning_rate=1e30, n_epochs=5,
                        random_state=0).fit(digits[0][:100])


def test_transform_searches_in_the_space_p_was_built_in(digits):
    """With reduce_dim < D, new points are projected like P's kNN input (same basis as
    structure.builder.reduce_features), and training points still map to themselves."""
    from genurl_pyg.structure.builder import reduce_features
    X, _ = digits
    est = GenURLEmbedding(**{**NP, 'n_epochs': 50, 'reduce_dim': 16}).fit(X)
    assert est.train_x_.shape == (600, 16)
    x = torch.as_tensor(X, dtype=torch.float32)
    torch.testing.assert_close(est.train_x_, reduce_features(x, 16))
    np.testing.assert_array_equal(est.transform(X[:20]), est.embedding_[:20])


def test_perplexity_p_keeps_neighbourhoods_and_is_clipped_with_a_warning(digits):
    X, y = digits
    emb = GenURLEmbedding(**NP, perplexity=10.0).fit(X)
    assert emb.similarity_.num_pairs >= 600 * 30  # floor(3 x 10) neighbours per point
    assert trustworthiness(X, emb.embedding_, 10) > 0.97
    assert knn_accuracy(emb.embedding_, y) > 0.95
    with pytest.warns(UserWarning, match='using perplexity = 3'):
        GenURLEmbedding(**{**NP, 'n_epochs': 5}, perplexity=30.0).fit(X[:10])
    with pytest.raises(ValueError, match="'perplexity'"):
        GenURLEmbedding(**NP, perplexity=0).fit(X[:50])


def test_two_scale_p_is_the_thinned_mixture_drawn_from_random_state(digits, fitted):
    """wide_neighbors='auto': (1 - 0.2) P_15 + 0.2 P_45 with 15 % of the wide-only pairs
    kept, the draw seeded by random_state; checked against the structure function. The
    default (None) is the one-scale P."""
    from genurl_pyg.structure.two_scale import two_scale_similarity
    X, _ = digits
    two = GenURLEmbedding(**{**NP, 'n_epochs': 5, 'wide_neighbors': 'auto'}).fit(X)
    assert two.wide_neighbors_ == 45
    x = torch.as_tensor(X, dtype=torch.float32)  # 64 columns: no projection below 256
    index, weight = two_scale_similarity(x, 15, 45, 0.2, 0.15, knn_method='exact', seed=0)
    assert torch.equal(two.similarity_.index, index)
    torch.testing.assert_close(two.similarity_.weight, weight)
    assert fitted.wide_neighbors_ is None
    assert fitted.similarity_.num_pairs < two.similarity_.num_pairs < \
        1.6 * fitted.similarity_.num_pairs
    other = GenURLEmbedding(**{**NP, 'n_epochs': 5, 'wide_neighbors': 'auto',
                               'random_state': 1}).fit(X)
    assert not torch.equal(other.similarity_.index, index)  # another draw of the wide pairs


def test_two_scale_is_off_where_it_does_not_apply(digits):
    X, _ = digits
    assert GenURLEmbedding(parametric=True, n_epochs=1, random_state=0,
                           wide_neighbors='auto').fit(X[:100]).wide_neighbors_ is None
    auto = {**NP, 'n_epochs': 5, 'wide_neighbors': 'auto'}
    assert GenURLEmbedding(**auto, perplexity=5.0).fit(X[:100]).wide_neighbors_ is None
    with pytest.warns(UserWarning, match='using n_neighbors = 7'):
        tiny = GenURLEmbedding(**auto).fit(X[:8])
    assert tiny.wide_neighbors_ is None
    assert GenURLEmbedding(**auto).fit(X[:30]).wide_neighbors_ == 29


@pytest.mark.parametrize('params, match', [
    (dict(wide_neighbors=10), "'wide_neighbors' \\(10\\) must be larger"),
    (dict(wide_neighbors=2.5), "'wide_neighbors' must be a positive integer"),
    (dict(wide_neighbors=30, perplexity=5.0), 'feature_hops=1 and perplexity=None'),
    (dict(wide_neighbors=30, feature_hops=2), 'feature_hops=1 and perplexity=None'),
    (dict(wide_weight=1.5), "'wide_weight' must be in \\[0, 1\\]"),
    (dict(wide_share=0), "'wide_share' must be in \\(0, 1\\]"),
    (dict(wide_share='x'), "'wide_share'"),
])
def test_bad_two_scale_parameters_are_named(digits, params, match):
    with pytest.raises(ValueError, match=match):
        GenURLEmbedding(**{**NP, 'n_epochs': 5, **params}).fit(digits[0][:50])


@pytest.mark.parametrize('nu', [0.3, 1.0])
@pytest.mark.parametrize('symmetric', [False, True])
@pytest.mark.parametrize('dim', [2, 3])
def test_hand_written_attraction_gradient_matches_autograd(nu, symmetric, dim):
    from genurl_pyg.manifold.layout import _KLAttraction, _kl_attraction, _log_kernel
    from genurl_pyg.nn.pair_distance import pair_sqdist
    gen = torch.Generator().manual_seed(0)
    y = torch.randn(50, dim, generator=gen, dtype=torch.float64)
    i = torch.randint(0, 50, (300,), generator=gen)
    j = (i + torch.randint(1, 50, (300,), generator=gen)) % 50
    p = torch.rand(300, generator=gen, dtype=torch.float64)
    if symmetric:  # both orders with equal weights, as GenURL's fuzzy union gives
        keys = torch.unique(torch.cat([i * 50 + j, j * 50 + i]))
        i, j = keys // 50, keys % 50
        p = torch.rand(50, 50, generator=gen, dtype=torch.float64)
        p = (p + p.t())[i, j]
    attraction = _KLAttraction(i, j, p, nu, 50)
    assert attraction.symmetric == symmetric
    for _ in range(2):  # the second call reuses the buffers
        value, grad = attraction(y)
    yy = y.clone().requires_grad_(True)
    ref = _kl_attraction(p, _log_kernel(pair_sqdist(yy, i, j), nu))
    ref.backward()
    assert value.item() == pytest.approx(ref.item(), rel=1e-12)
    torch.testing.assert_close(grad, yy.grad, rtol=1e-10, atol=1e-12)


def test_fft_log_z_gradient_is_the_autograd_functions():
    from genurl_pyg.manifold.layout import _FFTLogZ, _fft_log_z_and_grad
    y = torch.randn(400, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    value, grad = _fft_log_z_and_grad(y, 0.3, None)
    yy = y.clone().requires_grad_(True)
    ref = _FFTLogZ.apply(yy, 0.3, None)
    (2.5 * ref).backward()
    assert value.item() == ref.item()
    torch.testing.assert_close(2.5 * grad, yy.grad)
