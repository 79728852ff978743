import numpy as np
import pytest
import torch

from genurl_pyg.nn import functional as F
from genurl_pyg.nn import GenURLLoss
from genurl_pyg.nn.sampling import dense_block, sample_pairs
from genurl_pyg.structure import build_similarity, student_t


def test_gkl_value_against_numpy():
    rng = np.random.default_rng(0)
    p, q = rng.uniform(size=50), rng.uniform(size=50)
    want = np.mean(-p * np.log(q + 1e-10)) + 0.1 * np.mean(np.abs(p - q))
    got = F.gkl_loss(torch.from_numpy(p), torch.from_numpy(q))
    assert got.item() == pytest.approx(want, rel=1e-12)


def test_gkl_gradcheck():
    p = torch.rand(20, dtype=torch.float64)
    q = (torch.rand(20, dtype=torch.float64) * 0.9 + 0.05).requires_grad_()
    # Keep |p - q| away from 0, where the absolute value has a kink.
    p = torch.where((p - q.detach()).abs() < 1e-3, p + 0.01, p)
    assert torch.autograd.gradcheck(lambda q_: F.gkl_loss(p, q_, alpha=0.3), (q,))


def test_all_pairs_gradcheck_through_kernel():
    z = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    p = torch.rand(6, 6, dtype=torch.float64)
    for variant in F.VARIANTS:
        assert torch.autograd.gradcheck(
            lambda z_: F.all_pairs_loss(z_, p, nu=0.5, variant=variant), (z,)), variant


def test_all_pairs_matches_explicit_loop():
    z = torch.randn(7, 2, dtype=torch.float64)
    p = torch.rand(7, 7, dtype=torch.float64)
    vals = []
    for i in range(7):
        for j in range(7):
            if i != j:
                q = student_t(((z[i] - z[j]) ** 2).sum(), 1.0)
                vals.append(-p[i, j] * torch.log(q + 1e-10) + 0.1 * (p[i, j] - q).abs())
    assert F.all_pairs_loss(z, p).item() == pytest.approx(torch.stack(vals).mean().item())


def test_targets_put_q_between_rows_and_fixed_points():
    """Q_ij from z_i to t_j: the loss equals a loop over the off-diagonal pairs with
    scipy's distances, no gradient reaches the targets, and every variant runs."""
    from scipy.spatial.distance import cdist
    rng = np.random.default_rng(1)
    z = torch.from_numpy(rng.normal(size=(6, 3))).requires_grad_()
    t = torch.from_numpy(rng.normal(size=(6, 3))).requires_grad_()
    p = torch.from_numpy(rng.uniform(size=(6, 6)))
    d2 = cdist(z.detach().numpy(), t.detach().numpy(), 'sqeuclidean')
    q = student_t(torch.from_numpy(d2), 2.0).numpy()
    off = ~np.eye(6, dtype=bool)
    pn = p.numpy()
    want = np.mean(-pn[off] * np.log(q[off] + 1e-10) + 0.3 * np.abs(pn[off] - q[off]))
    got = F.all_pairs_loss(z, p, nu=2.0, alpha=0.3, targets=t)
    assert got.item() == pytest.approx(want, rel=1e-10)
    got.backward()
    assert t.grad is None and z.grad is not None and z.grad.abs().sum() > 0
    # targets equal to the rows: the symmetric form (its diagonal also left out)
    same = F.all_pairs_loss(z, p, nu=2.0, alpha=0.3, targets=z.detach())
    assert same.item() == pytest.approx(F.all_pairs_loss(z, p, nu=2.0, alpha=0.3).item(),
                                        rel=1e-10)
    for variant in F.VARIANTS:
        assert torch.isfinite(F.all_pairs_loss(z, p, variant=variant, targets=t))
    with pytest.raises(ValueError, match="'targets' must have the shape of 'z'"):
        F.all_pairs_loss(z, p, targets=t[:5])


def test_kl_matches_scipy_entropy():
    from scipy.stats import entropy
    p = torch.rand(5, 5, dtype=torch.float64)
    q = torch.rand(5, 5, dtype=torch.float64)
    off = ~torch.eye(5, dtype=torch.bool)
    want = np.mean([entropy(p[i][off[i]].numpy(), q[i][off[i]].numpy()) for i in range(5)])
    assert F.kl_loss(p, q).item() == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize('shared', [False, True])
@pytest.mark.parametrize('variant', ['gkl', 'fuzzy_ce', 'l1', 'mse'])
def test_sampled_loss_is_unbiased(variant, shared):
    """Independent uniform negatives, or every row against ceil(num_neg / N) shared
    uniform columns: either way the mean over draws equals the all-pairs loss."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(60, 4, generator=g)
    sim = build_similarity(x, k=5, feature_hops=1)
    z = torch.randn(60, 2, generator=g)
    full = F.all_pairs_loss(z, sim.to_dense(), nu=1.0, variant=variant).item()
    loss = GenURLLoss(variant=variant, nu=1.0)
    draws = torch.tensor([loss.sampled(z, sim, 64, 256, generator=g,
                                       shared_negatives=shared).item()
                          for _ in range(3000)])
    stderr = draws.std().item() / np.sqrt(len(draws))
    assert abs(draws.mean().item() - full) < 4 * stderr + 1e-9, (draws.mean(), full, stderr)


def test_shared_columns_equal_the_same_pairs_listed_one_by_one():
    """The block's value and gradient equal indexed_pairs_loss over the explicit pairs
    (i, c) with i != c, scaled as uniform pairs (the GEMM distances against the gathers)."""
    g = torch.Generator().manual_seed(2)
    n, d = 30, 24
    z = torch.randn(n, d, dtype=torch.float64, generator=g, requires_grad=True)
    pos_i, pos_j = torch.randint(0, n, (40,), generator=g), torch.randint(0, n, (40,),
                                                                           generator=g)
    p_pos = torch.rand(40, dtype=torch.float64, generator=g)
    cols = torch.tensor([3, 17, 3, 29])  # a repeated column is two columns
    got = F.shared_columns_loss(z, pos_i, pos_j, p_pos, cols, 123.0, nu=2.0, alpha=0.3)
    rows = torch.arange(n).repeat_interleave(cols.numel())
    tiled = cols.repeat(n)
    keep = rows != tiled
    want = F.indexed_pairs_loss(z, pos_i, pos_j, p_pos, rows[keep], tiled[keep], 123.0,
                                n * (n - 1), nu=2.0, alpha=0.3)
    torch.testing.assert_close(got, want)
    g_got, = torch.autograd.grad(got, z)
    g_want, = torch.autograd.grad(want, z)
    torch.testing.assert_close(g_got, g_want)
    with pytest.raises(ValueError, match="'cols'"):
        F.shared_columns_loss(z, pos_i, pos_j, p_pos, cols[:0], 123.0)


def test_sampled_rejects_rowwise_variant():
    sim = build_similarity(torch.randn(20, 3), k=3)
    with pytest.raises(ValueError, match='elementwise'):
        GenURLLoss('kl').sampled(torch.randn(20, 2), sim, 4, 4)


def test_sample_pairs_properties():
    sim = build_similarity(torch.randn(30, 3), k=3)
    s = sample_pairs(sim, 500, 500, torch.Generator().manual_seed(1))
    assert (s.neg_i != s.neg_j).all()
    dense = sim.to_dense()
    torch.testing.assert_close(dense[s.pos_i, s.pos_j], s.pos_p)
    assert s.num_pairs == 30 * 29


def test_dense_block():
    sim = build_similarity(torch.randn(30, 3), k=3)
    nodes = torch.tensor([4, 0, 17, 9])
    torch.testing.assert_close(dense_block(sim, nodes), sim.to_dense()[nodes][:, nodes])


def test_bad_inputs():
    with pytest.raises(ValueError, match="'p' and 'q'"):
        F.gkl_loss(torch.ones(3), torch.ones(4))
    with pytest.raises(ValueError, match="'variant'"):
        GenURLLoss('hinge')
    with pytest.raises(ValueError, match="'nu'"):
        GenURLLoss(nu=0)
    with pytest.raises(ValueError, match="'p'"):
        F.all_pairs_loss(torch.randn(4, 2), torch.rand(3, 3))
