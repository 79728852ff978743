"""TeacherBank: the feature-similarity lookup of the teacher's embeddings, against a
brute-force reference written with scipy."""
import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from genurl_pyg.distill.bank import TeacherBank


def reference_codes(x_bank, t_bank, queries, k):
    """The module doc's formula, row by row, with scipy's cosine distance."""
    t = (t_bank - t_bank.mean(0)) / t_bank.std(0, ddof=1)
    sim = 1.0 - cdist(queries, x_bank, 'cosine')
    out = np.zeros((queries.shape[0], t.shape[1]))
    for i, row in enumerate(sim):
        row = np.where(row > 1 - 1e-6, -np.inf, row)
        top = np.argsort(-row, kind='stable')[:k]
        w = np.clip(row[top], 0.0, None)
        if w.sum() > 0:
            out[i] = (w[:, None] * t[top]).sum(0) / w.sum()
    return out


def test_codes_match_the_brute_force_reference():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(60, 12, generator=g) - 0.3  # some negative similarities
    t = torch.randn(60, 5, generator=g)
    q = torch.rand(25, 12, generator=g) - 0.3
    bank = TeacherBank(x, t, k=7, max_dim=None)
    want = reference_codes(x.double().numpy(), t.double().numpy(), q.double().numpy(), 7)
    np.testing.assert_allclose(bank(q).numpy(), want, rtol=1e-4, atol=1e-5)


def test_a_training_row_never_reads_its_own_teacher_embedding():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(40, 6, generator=g)
    t = torch.randn(40, 3, generator=g)
    bank = TeacherBank(x, t, k=5, max_dim=None)
    want = reference_codes(x.double().numpy(), t.double().numpy(), x.double().numpy(), 5)
    np.testing.assert_allclose(bank(x).numpy(), want, rtol=1e-4, atol=1e-5)
    # a training row and a new row with the same features get the same code
    np.testing.assert_allclose(bank(x[:3] * 2.0).numpy(), bank(x[:3]).numpy(), atol=1e-6)


def test_all_zero_rows_and_rows_without_similar_training_rows_get_the_zero_code():
    x = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0.9, 0.1, 0], [0, 0, 0.0]])
    t = torch.randn(4, 2)
    bank = TeacherBank(x, t, k=2, max_dim=None)
    codes = bank(torch.tensor([[0, 0, 0.0], [0, 0, 1.0], [-1.0, 0, 0]]))
    assert torch.equal(codes, torch.zeros(3, 2))
    assert torch.isfinite(bank(x)).all()


def test_wide_features_are_searched_on_a_projection_that_keeps_the_neighbours():
    # three well-separated clusters in 400 columns: the rank-16 projection keeps each
    # row's neighbours inside its own cluster, so the code is that cluster's mean teacher row
    g = torch.Generator().manual_seed(2)
    centres = torch.randn(3, 400, generator=g) * 5
    label = torch.arange(90) % 3
    x = centres[label] + torch.randn(90, 400, generator=g)
    t = torch.nn.functional.one_hot(label, 3).float() + 0.01 * torch.randn(90, 3, generator=g)
    bank = TeacherBank(x, t, k=10, max_dim=16)
    assert bank.keys.size(1) == 16
    codes = bank(centres[label[:30]] + torch.randn(30, 400, generator=g))
    assert torch.equal(codes.argmax(1), label[:30])


def sparse_rows(n, d, density, generator):
    """Bag-of-words-like rows: ``density`` of the entries non-zero, with distinct weights
    (so that the k-th similarity has no ties and the reference's order is the bank's)."""
    mask = torch.rand(n, d, generator=generator) < density
    return torch.where(mask, torch.rand(n, d, generator=generator) + 0.5, torch.zeros(n, d))


def test_sparse_features_are_searched_as_csr_and_give_the_reference_codes(monkeypatch):
    from genurl_pyg.distill import bank as bank_module
    g = torch.Generator().manual_seed(3)
    x = sparse_rows(200, 300, 0.03, g)
    x[5] = 0.0  # an all-zero training row weighs nothing
    t = torch.randn(200, 6, generator=g)
    q = torch.cat([sparse_rows(30, 300, 0.03, g), torch.zeros(1, 300), x[:4]])
    bank = TeacherBank(x, t, k=9)
    assert bank.sparse_keys is not None and bank.sparse_keys.layout == torch.sparse_csr
    codes = bank(q)
    want = reference_codes(x.double().numpy(), t.double().numpy(), q.double().numpy(), 9)
    np.testing.assert_allclose(codes.numpy(), want, rtol=1e-4, atol=1e-5)
    assert torch.equal(codes[30], torch.zeros(6))
    # the dense search (what denser features get) answers with the same codes
    monkeypatch.setattr(bank_module, 'SPARSE_DENSITY', 0.0)
    dense = TeacherBank(x, t, k=9)
    assert dense.sparse_keys is None
    torch.testing.assert_close(dense(q), codes, rtol=1e-5, atol=1e-6)
    monkeypatch.undo()
    # reloaded from its state, the bank searches the same way and answers the same
    again = TeacherBank.from_state_dict(bank.state_dict())
    assert again.sparse_keys is not None
    assert torch.equal(again(q), codes)


def test_dense_features_keep_the_dense_search():
    g = torch.Generator().manual_seed(4)
    assert TeacherBank(torch.rand(30, 8, generator=g), torch.randn(30, 2), k=3).sparse_keys is None


@pytest.mark.parametrize('kwargs, match', [
    (dict(k=0), "'k'"), (dict(k=10), 'smaller than the 10 training rows'),
    (dict(teacher=torch.randn(9, 2)), 'one teacher row per training row'),
    (dict(teacher=torch.full((10, 2), float('nan'))), 'teacher embeddings'),
    (dict(max_dim=0), "'max_dim'")])
def test_bad_inputs_are_refused_by_name(kwargs, match):
    args = dict(x=torch.rand(10, 4), teacher=torch.randn(10, 2), k=3)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        TeacherBank(**args)


def test_queries_of_another_width_are_refused():
    bank = TeacherBank(torch.rand(10, 4), torch.randn(10, 2), k=3)
    with pytest.raises(ValueError, match='5 columns but the bank was built on 4'):
        bank(torch.rand(2, 5))
    assert 'k=3' in repr(bank)
