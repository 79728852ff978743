"""The memory bank that can give P's kNN part (``SSLConfig.memory_bank``), its P against a
brute-force reference, the loss over the bank's columns, and the trainer that uses it."""
import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from genurl_pyg.nn.functional import all_pairs_loss, gkl_elementwise, student_t
from genurl_pyg.structure.calibration import calibrate, calibrated_weights
from genurl_pyg.vision.backbones import SmallCNN
from genurl_pyg.vision.config import SSLConfig
from genurl_pyg.vision.memory_bank import MemoryBank, agreed_between_views, bank_similarity
from genurl_pyg.vision.trainer import VisualTrainer

from .test_trainer import FAST, toy_data


def test_the_bank_keeps_the_last_entries_first_in_first_out():
    bank = MemoryBank(5, 2)
    assert not bank.full and bank.count == 0 and bool((bank.ids == -1).all())
    bank.push(torch.arange(6.).view(3, 2), torch.tensor([0, 1, 2]))
    bank.push(torch.arange(6., 14.).view(4, 2), torch.tensor([3, 4, 5, 6]))
    assert bank.full and repr(bank) == 'MemoryBank(size=5, dim=2, filled=5)'
    # seven entries pushed into five slots: ids 5 and 6 overwrote 0 and 1
    assert bank.ids.tolist() == [5, 6, 2, 3, 4]
    assert bank.points[0].tolist() == [10., 11.] and bank.points[2].tolist() == [4., 5.]
    bank.push(torch.ones(8, 2), torch.arange(10, 18))  # more than it holds: the last five
    assert bank.ids.tolist() == [16, 17, 13, 14, 15]  # written from slot 2 on, wrapping
    copy = MemoryBank(5, 2)
    copy.load_state_dict(bank.state_dict())
    assert torch.equal(copy.points, bank.points) and torch.equal(copy.ids, bank.ids)
    assert (copy.next, copy.count) == (bank.next, bank.count)
    with pytest.raises(ValueError, match=r'bank entries must be \[n, 2\]'):
        bank.push(torch.ones(3, 4), torch.arange(3))
    with pytest.raises(ValueError, match=r'bank ids must be \[3\]'):
        bank.push(torch.ones(3, 2), torch.arange(4))
    with pytest.raises(ValueError, match=r'the saved bank is \(5, 2\), this one \[4, 2\]'):
        MemoryBank(4, 2).load_state_dict(bank.state_dict())
    with pytest.raises(ValueError, match="'size' must be >= 1"):
        MemoryBank(0, 2)


def test_bank_p_matches_a_brute_force_neighbour_search():
    g = torch.Generator().manual_seed(0)
    b, m, k, lam = 4, 12, 3, 0.3
    bank = MemoryBank(m, 5)
    bank_ids = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 0, 2, 8, 9])  # images 0 and 2 twice
    bank.push(torch.randn(m, 5, generator=g), bank_ids)
    z = torch.randn(2 * b, 5, generator=g)
    ids = torch.arange(b).repeat(2)
    p, no_rep = bank_similarity(z, ids, bank, k, lam)
    assert p.shape == no_rep.shape == (2 * b, 2 * b + m)
    assert bool(no_rep[:, 2 * b:].all()) and not bool(no_rep[:, :2 * b].any())
    for i in range(2 * b):  # the views: each row's other view, weight lambda, nothing else
        assert p[i, (i + b) % (2 * b)] == pytest.approx(lam)
        assert int((p[i, :2 * b] > 0).sum()) == 1
    # the reference: scipy's cosine distances, own-image entries excluded, k smallest
    d = cdist(z.numpy(), bank.points.numpy(), 'cosine')
    d[ids.numpy()[:, None] == bank_ids.numpy()[None, :]] = np.inf
    nearest = np.argsort(d, axis=1)[:, :k]
    for i in range(2 * b):
        got = set(torch.nonzero(p[i, 2 * b:]).flatten().tolist())
        assert got == set(nearest[i].tolist())
    dist = torch.tensor(np.take_along_axis(d, nearest, 1), dtype=torch.float32)
    rho, sigma = calibrate(dist)
    w = calibrated_weights(dist, rho, sigma)
    got = p[:, 2 * b:].gather(1, torch.tensor(nearest))
    assert torch.allclose(got, (1 - lam) * w, atol=1e-5)
    # the memberships sum to log2 k per row, as the batch kNN's calibration makes them
    assert torch.allclose(got.sum(1), torch.full((2 * b,), (1 - lam) * np.log2(k)), atol=1e-3)


def test_agreement_keeps_what_both_views_of_an_image_found():
    g = torch.Generator().manual_seed(4)
    b, k, m = 5, 4, 9
    nearest = torch.stack([torch.randperm(m, generator=g)[:k] for _ in range(2 * b)])
    got = agreed_between_views(nearest)
    for r in range(2 * b):  # brute force: the other view of row r's image is r +- b
        other = set(nearest[(r + b) % (2 * b)].tolist())
        assert got[r].tolist() == [int(j) in other for j in nearest[r].tolist()]
    # the two views of an image keep the same set of entries
    for i in range(b):
        assert set(nearest[i][got[i]].tolist()) == set(nearest[i + b][got[i + b]].tolist())
    with pytest.raises(ValueError, match=r'\[2B, k\] neighbour indices, got \(3, 2\)'):
        agreed_between_views(torch.zeros(3, 2, dtype=torch.long))


def test_agreed_bank_p_is_the_bank_p_on_the_corroborated_entries_only():
    g = torch.Generator().manual_seed(5)
    b, m, k, lam = 6, 16, 4, 0.5
    bank = MemoryBank(m, 3)
    bank.push(torch.randn(m, 3, generator=g), torch.arange(m) + 100)
    base = torch.randn(b, 3, generator=g)  # two views: the same image, a little noise
    z = torch.cat([base, base + 0.3 * torch.randn(b, 3, generator=g)])
    ids = torch.arange(b).repeat(2)
    plain, _ = bank_similarity(z, ids, bank, k, lam)
    agreed, no_rep = bank_similarity(z, ids, bank, k, lam, agree=True)
    assert torch.equal(agreed[:, :2 * b], plain[:, :2 * b])  # the view pairs untouched
    assert bool(no_rep[:, 2 * b:].all())
    found = plain[:, 2 * b:] > 0
    for i in range(b):  # an entry stays exactly when both views of image i found it
        both = found[i] & found[i + b]
        for r in (i, i + b):
            assert torch.equal(agreed[r, 2 * b:] > 0, both)
            assert torch.allclose(agreed[r, 2 * b:][both], plain[r, 2 * b:][both])
    assert 0 < int((agreed[:, 2 * b:] > 0).sum()) < int(found.sum())  # the case is not void


def test_bank_p_refuses_what_it_cannot_build():
    bank = MemoryBank(6, 3)
    bank.push(torch.randn(4, 3), torch.arange(4))
    with pytest.raises(ValueError, match='holds 4 of its 6 entries'):
        bank_similarity(torch.randn(4, 3), torch.arange(2).repeat(2), bank, 2, 0.5)
    bank.push(torch.randn(2, 3), torch.tensor([0, 0]))
    # image 0's views see only the 3 entries of other images
    with pytest.raises(ValueError, match="only 3 bank entries of other images.*'k' = 4"):
        bank_similarity(torch.randn(4, 3), torch.arange(2).repeat(2), bank, 4, 0.5)
    with pytest.raises(ValueError, match='2B views and their 2B image ids'):
        bank_similarity(torch.randn(3, 3), torch.arange(3), bank, 2, 0.5)


def test_the_loss_over_bank_columns_matches_the_formula():
    g = torch.Generator().manual_seed(2)
    z = torch.randn(4, 3, generator=g, requires_grad=True)
    cols = torch.randn(5, 3, generator=g)
    p = torch.zeros(4, 9)
    p[0, 2] = p[2, 0] = p[1, 3] = p[3, 1] = 0.5
    p[0, 5], p[3, 8] = 0.3, 0.2
    drop = torch.zeros(4, 9, dtype=torch.bool)
    drop[:, 4:] = True
    got = all_pairs_loss(z, p, nu=1.0, alpha=0.4, no_repulsion=drop, columns=cols)
    every = torch.cat([z.detach(), cols]).numpy()
    q = student_t(torch.tensor(cdist(z.detach().numpy(), every, 'sqeuclidean'),
                               dtype=torch.float32), 1.0)
    keep = torch.ones(4, 9, dtype=torch.bool)
    keep[torch.arange(4), torch.arange(4)] = False  # the batch's diagonal
    keep[:, 4:] = p[:, 4:] > 0  # bank pairs with p = 0 left out
    assert got.item() == pytest.approx(float(gkl_elementwise(p[keep], q[keep], 0.4).mean()),
                                       rel=1e-5)
    got.backward()  # the gradient reaches the rows, never the fixed columns
    assert z.grad is not None and torch.isfinite(z.grad).all()
    # without the mask every bank pair repels
    full = all_pairs_loss(z, p, nu=1.0, alpha=0.4, columns=cols)
    keep_all = torch.ones(4, 9, dtype=torch.bool)
    keep_all[torch.arange(4), torch.arange(4)] = False
    assert full.item() == pytest.approx(float(gkl_elementwise(p[keep_all], q[keep_all],
                                                              0.4).mean()), rel=1e-5)
    with pytest.raises(ValueError, match=r"'p' must be \[B, B \+ M\] = \(4, 9\)"):
        all_pairs_loss(z, p[:, :8], columns=cols)
    with pytest.raises(ValueError, match=r"'columns' must be \[M, d = 3\]"):
        all_pairs_loss(z, p, columns=torch.randn(5, 2))
    with pytest.raises(ValueError, match="'columns' applies to the elementwise variants"):
        all_pairs_loss(z, p, variant='kl', columns=cols)


def _run(epochs=3, stop_after=None, checkpoint=None, **kw):
    torch.manual_seed(0)
    cfg = SSLConfig(**dict(FAST, epochs=epochs, monitor_every=0, **kw))
    trainer = VisualTrainer(toy_data(), cfg, backbone=SmallCNN(3, width=4))
    trainer.fit(checkpoint, stop_after=stop_after)
    return trainer


def test_the_bank_is_read_from_knn_start_and_resumes(tmp_path):
    views = _run(view_weight=1.0)
    bank = _run(view_weight=0.5, memory_bank=64, knn_start=2)
    assert bank.teacher is None and bank.bank.full  # no EMA teacher kept for the bank
    assert bank.state.losses[:2] == views.state.losses[:2]  # not read before knn_start
    assert bank.state.losses[2] != views.state.losses[2]
    ckpt = tmp_path / 'bank.pt'
    first = _run(view_weight=0.5, memory_bank=64, knn_start=1, checkpoint=ckpt, stop_after=2)
    second = _run(view_weight=0.5, memory_bank=64, knn_start=1, checkpoint=ckpt)
    whole = _run(view_weight=0.5, memory_bank=64, knn_start=1)
    assert first.state.epoch == 2 and second.state.losses == whole.state.losses
    assert torch.equal(second.bank.points, whole.bank.points)
    for a, b in zip(second.model.state_dict().values(), whole.model.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.parametrize('kw, match', [
    (dict(memory_bank=64), "view_weight' 1 \\(views only\\) leaves out"),
    (dict(memory_bank=5, view_weight=0.5), "must hold at least 'k' \\(10\\)"),
    (dict(memory_bank=64, view_weight=0.5, false_negatives=2), 'replaces the EMA teacher'),
    (dict(memory_bank=64, view_weight=0.5, objective='simclr'), "peer 'simclr'"),
    (dict(memory_bank=64, view_weight=0.5, loss='infonce'), "elementwise 'loss'"),
    (dict(memory_bank=-1), "'memory_bank' must be"),
    (dict(memory_bank_agree=True, view_weight=0.5), "set 'memory_bank' \\(M > 0\\) too"),
])
def test_bad_bank_settings_get_clear_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        SSLConfig(**kw).validate()


def test_agreement_must_be_a_bool():
    with pytest.raises(TypeError, match="'memory_bank_agree' must be true or false, got 'yes'"):
        SSLConfig(memory_bank=64, view_weight=0.5, memory_bank_agree='yes').validate()


def test_the_agreed_bank_trains_and_differs_from_the_plain_bank():
    plain = _run(view_weight=0.5, memory_bank=64, knn_start=2)
    agreed = _run(view_weight=0.5, memory_bank=64, knn_start=2, memory_bank_agree=True)
    assert agreed.state.losses[:2] == plain.state.losses[:2]
    assert agreed.state.losses[2] != plain.state.losses[2]
    assert all(np.isfinite(agreed.state.losses))


def test_a_batch_too_wide_for_the_all_pairs_loss_is_refused(monkeypatch):
    from genurl_pyg.vision import trainer
    monkeypatch.setattr(trainer, 'ALL_PAIRS_MAX', 32)  # FAST's 2 x 32 rows are then too many
    with pytest.raises(ValueError, match="'memory_bank' needs the all-pairs loss: 2 \\* "
                                         "batch_size = 64 rows is above 32"):
        VisualTrainer(toy_data(), SSLConfig(**dict(FAST, memory_bank=64, view_weight=0.5)),
                      backbone=SmallCNN(3, width=4))
    with pytest.raises(ValueError, match="'false_negatives' needs the all-pairs loss"):
        VisualTrainer(toy_data(), SSLConfig(**dict(FAST, false_negatives=2, view_weight=0.5)),
                      backbone=SmallCNN(3, width=4))  # refused when built, not at knn_start
