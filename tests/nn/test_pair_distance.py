import pytest
import torch

from genurl_pyg.nn import functional as F
from genurl_pyg.nn import pair_distance
from genurl_pyg.nn.pair_distance import MIN_FUSED_DIM, pair_sqdist


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
