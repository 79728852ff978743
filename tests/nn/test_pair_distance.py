import pytest
import torch

from genurl_pyg.nn import functional as F
from genurl_pyg.nn import pair_distance
from genurl_pyg.nn.pair_distance import MIN_FUSED_DIM, column_block_sqdist, pair_sqdist


def _pairs(n, m, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, n, (m,), generator=g), torch.randint(0, n, (m,), generator=g)


@pytest.fixture
def tiny_chunks(monkeypatch):
    # A few rows per chunk, so that every test crosses many chunk boundaries.
    monkeypatch.setattr(pair_distance, '_chunk_rows', lambda z: 7)


@pytest.mark.parametrize('dim', [3, MIN_FUSED_DIM, 40])
def test_matches_cdist(dim, tiny_chunks):
    z = torch.randn(30, dim, dtype=torch.float64)
    i, j = _pairs(30, 101)
    ref = torch.cdist(z, z)[i, j] ** 2
    torch.testing.assert_close(pair_sqdist(z, i, j), ref)


@pytest.mark.parametrize('dim', [3, 40])
def test_gradient_is_the_autograd_gradient_of_the_plain_expression(dim, tiny_chunks):
    z = torch.randn(25, dim, dtype=torch.float64, requires_grad=True)
    i, j = _pairs(25, 90, seed=1)
    i[:5] = j[:5]  # zero-length pairs and repeated rows in several chunks
    w = torch.rand(90, dtype=torch.float64)
    (pair_sqdist(z, i, j) * w).sum().backward()
    fused = z.grad.clone()
    z.grad = None
    ((z[i] - z[j]).pow(2).sum(-1) * w).sum().backward()
    torch.testing.assert_close(fused, z.grad)


def test_gradcheck(tiny_chunks):
    z = torch.randn(9, MIN_FUSED_DIM + 1, dtype=torch.float64, requires_grad=True)
    i, j = _pairs(9, 20, seed=2)
    assert torch.autograd.gradcheck(lambda t: pair_sqdist(t, i, j), (z,))


def test_default_chunking_on_a_realistic_batch():
    z = torch.randn(500, 128)
    i, j = _pairs(500, 5000, seed=3)  # > one default CPU chunk (2048 rows at d = 128)
    torch.testing.assert_close(pair_sqdist(z, i, j), (z[i] - z[j]).pow(2).sum(-1))


def test_indexed_loss_equals_the_gathered_loss():
    g = torch.Generator().manual_seed(4)
    z = torch.randn(60, 32, generator=g, dtype=torch.float64, requires_grad=True)
    pi, pj = _pairs(60, 40, seed=5)
    ni, nj = _pairs(60, 70, seed=6)
    p = torch.rand(40, generator=g, dtype=torch.float64)
    pw = torch.rand(40, generator=g, dtype=torch.float64)
    for variant in F.ELEMENTWISE:
        indexed = F.indexed_pairs_loss(z, pi, pj, p, ni, nj, 300, 3540, 0.7, variant,
                                       pos_weight=pw)
        gathered = F.sampled_pairs_loss(z[pi], z[pj], p, z[ni], z[nj], 300, 3540, 0.7,
                                        variant, pos_weight=pw)
        torch.testing.assert_close(indexed, gathered)
        ga, = torch.autograd.grad(indexed, z)
        gb, = torch.autograd.grad(gathered, z)
        torch.testing.assert_close(ga, gb)


def test_indexed_loss_rejects_rowwise_variants():
    z = torch.randn(5, 20)
    i, j = _pairs(5, 4)
    with pytest.raises(ValueError, match='elementwise'):
        F.indexed_pairs_loss(z, i, j, torch.rand(4), i, j, 4, 20, variant='kl')


@pytest.mark.parametrize('z, i, j, match', [
    (torch.randn(5), torch.tensor([0]), torch.tensor([1]), "'z' must be"),
    (torch.ones(5, 20, dtype=torch.long), torch.tensor([0]), torch.tensor([1]), "'z' must be"),
    (torch.randn(5, 20), torch.tensor([0.0]), torch.tensor([1]), "'index_i'"),
    (torch.randn(5, 20), torch.tensor([0]), torch.tensor([[1]]), "'index_j'"),
    (torch.randn(5, 20), torch.tensor([0, 1]), torch.tensor([1]), 'same length'),
])
def test_bad_inputs(z, i, j, match):
    with pytest.raises(ValueError, match=match):
        pair_sqdist(z, i, j)


def test_out_of_range_index():
    with pytest.raises(IndexError):
        pair_sqdist(torch.randn(5, 20), torch.tensor([0, 5]), torch.tensor([1, 2]))


@pytest.mark.parametrize('index_dtype', [torch.long, torch.int])
def test_cpu_sparse_gradient_equals_the_chunked_gradient(index_dtype, tiny_chunks):
    """The CPU backward (one CSR product) and the accelerator's chunked gathers give the
    same gradient, with repeated pairs, zero-length pairs and rows in no pair."""
    g = torch.Generator().manual_seed(7)
    z = torch.randn(40, 24, dtype=torch.float64, generator=g)
    i, j = _pairs(35, 120, seed=8)  # rows 35-39 in no pair
    i[:6], j[:6] = j[6:12], i[6:12]  # the same pairs reversed
    i[12:15] = j[12:15]
    w = torch.randn(120, dtype=torch.float64, generator=g)
    i, j = i.to(index_dtype), j.to(index_dtype)
    sparse = pair_distance._laplacian_times(z, i, j, w)
    chunked = pair_distance._chunked_gradient(z, i, j, w)
    torch.testing.assert_close(sparse, chunked)
    assert sparse[35:].abs().max() == 0


def _plain_block(z, cols):
    zc = z[cols]
    return ((z * z).sum(1, keepdim=True) + (zc * zc).sum(1) - 2 * z @ zc.t()).clamp_min(0)


def test_column_block_matches_cdist_and_the_autograd_gradient():
    g = torch.Generator().manual_seed(9)
    z = torch.randn(30, 20, dtype=torch.float64, generator=g, requires_grad=True)
    cols = torch.tensor([4, 0, 4, 29])  # a repeated column, and the block's self-pairs
    d = column_block_sqdist(z, cols)
    torch.testing.assert_close(d, torch.cdist(z, z[cols]).pow(2).detach())
    w = torch.randn(30, 4, dtype=torch.float64, generator=g)
    got, = torch.autograd.grad((d * w).sum(), z)
    want, = torch.autograd.grad((_plain_block(z, cols) * w).sum(), z)
    torch.testing.assert_close(got, want)


def test_column_block_gradcheck():
    z = torch.randn(8, 6, dtype=torch.float64, requires_grad=True)
    cols = torch.tensor([1, 6, 6])
    # the self-pairs sit at the clamp's kink; leave them out of the checked function
    off = torch.ones(8, 3, dtype=torch.float64)
    off[1, 0] = off[6, 1] = off[6, 2] = 0
    assert torch.autograd.gradcheck(lambda t: column_block_sqdist(t, cols) * off, (z,))


def test_column_block_bfloat16_rounds_the_products_only():
    """bfloat16 operands: close to float32 (about 2^-8 relative) but not equal, so the
    switch really takes the other path; the result stays float32."""
    g = torch.Generator().manual_seed(10)
    z = torch.randn(200, 64, generator=g, requires_grad=True)
    cols = torch.randint(0, 200, (16,), generator=g)
    w = torch.rand(200, 16, generator=g)
    full = column_block_sqdist(z, cols)
    low = column_block_sqdist(z, cols, precision='bfloat16')
    assert low.dtype == torch.float32
    g_full, = torch.autograd.grad((full * w).sum(), z)
    g_low, = torch.autograd.grad((low * w).sum(), z)
    assert not torch.equal(full, low) and not torch.equal(g_full, g_low)
    assert ((low - full).norm() / full.norm()) < 1e-2
    assert ((g_low - g_full).norm() / g_full.norm()) < 2e-2


@pytest.mark.parametrize('z, cols, precision, match', [
    (torch.randn(5), torch.tensor([0]), 'float32', "'z' must be"),
    (torch.randn(5, 3), torch.tensor([[0]]), 'float32', "'cols' must be"),
    (torch.randn(5, 3), torch.tensor([], dtype=torch.long), 'float32', "'cols' must be"),
    (torch.randn(5, 3), torch.tensor([0.0]), 'float32', "'cols' must be"),
    (torch.randn(5, 3), torch.tensor([0]), 'float16', "'precision' must be one of"),
])
def test_column_block_bad_inputs(z, cols, precision, match):
    with pytest.raises(ValueError, match=match):
        column_block_sqdist(z, cols, precision)
