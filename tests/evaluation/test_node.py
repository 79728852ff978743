import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from genurl_pyg.evaluation import (adam_linear_probe, linear_probe, random_planetoid_split,
                                   random_split, split_for, summarize)


def test_random_split_sizes_disjoint_and_seeded():
    a = random_split(1000, seed=3)
    b = random_split(1000, seed=3)
    c = random_split(1000, seed=4)
    assert [int(m.sum()) for m in a] == [100, 100, 800]
    assert not (a[0] & a[1]).any() and not (a[0] & a[2]).any() and (a[0] | a[1] | a[2]).all()
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a[0], c[0])


def test_random_planetoid_split_counts_per_class_and_is_seeded():
    y = torch.arange(3000) % 6
    y[::50] = -1  # unlabelled nodes are never drawn
    tr, va, te = random_planetoid_split(y, seed=5)
    # 20 training nodes of every class, then 500 / 1000 from the rest; disjoint
    assert torch.bincount(y[tr], minlength=6).tolist() == [20] * 6
    assert (int(va.sum()), int(te.sum())) == (500, 1000)
    assert not (tr & va).any() and not (tr & te).any() and not (va & te).any()
    assert (y[tr | va | te] >= 0).all()
    again = random_planetoid_split(y, seed=5)
    assert all(torch.equal(a, b) for a, b in zip((tr, va, te), again))
    assert not torch.equal(tr, random_planetoid_split(y, seed=6)[0])
    data = type('D', (), {'y': y, 'num_nodes': 3000})()
    assert all(torch.equal(a, b) for a, b in zip(split_for(data, 'random-planetoid', 5),
                                                 (tr, va, te)))


def test_random_planetoid_split_refuses_what_it_cannot_draw():
    y = torch.cat([torch.zeros(100), torch.ones(10)]).long()
    with pytest.raises(ValueError, match='class 1 has 10 labelled nodes'):
        random_planetoid_split(y, 0)
    with pytest.raises(ValueError, match='only 70 are left'):
        random_planetoid_split(torch.arange(110) % 2, 0, num_val=50, num_test=50, per_class=20)


def test_probe_matches_sklearn_and_uses_val_for_c():
    rng = np.random.default_rng(0)
    y = torch.from_numpy(rng.integers(0, 3, 600))
    h = torch.from_numpy(rng.normal(size=(600, 5)) + y.numpy()[:, None] * 0.8)
    tr, va, te = random_split(600, seed=0)
    res = linear_probe(h, y, tr, va, te, Cs=(0.01, 1.0))
    x = h.numpy()
    mu, sd = x[tr.numpy()].mean(0), x[tr.numpy()].std(0) + 1e-8
    xs = (x - mu) / sd
    best = max((0.01, 1.0), key=lambda C: (LogisticRegression(C=C, max_iter=1000)
                                           .fit(xs[tr.numpy()], y[tr].numpy())
                                           .score(xs[va.numpy()], y[va].numpy())))
    clf = LogisticRegression(C=best, max_iter=1000).fit(xs[tr.numpy()], y[tr].numpy())
    assert res.C == best
    assert res.test_accuracy == pytest.approx(clf.score(xs[te.numpy()], y[te].numpy()))
    # every node's predicted class, consistent with both reported accuracies
    np.testing.assert_array_equal(res.predictions, clf.predict(xs))
    pred, labels = res.predictions, y.numpy()
    assert res.test_accuracy == pytest.approx((pred == labels)[te.numpy()].mean())
    assert res.val_accuracy == pytest.approx((pred == labels)[va.numpy()].mean())
    assert res.log_proba is None  # off by default
    kept = linear_probe(h, y, tr, va, te, Cs=(0.01, 1.0), keep_proba=True)
    np.testing.assert_allclose(kept.log_proba, clf.predict_log_proba(xs), rtol=1e-6)
    np.testing.assert_array_equal(kept.classes, [0, 1, 2])


def test_probe_standardises_a_copy_never_the_callers_tensor():
    # the probe standardises in place to hold one float64 copy; a float64 input would be
    # shared by .double(), so it must be copied first, and other dtypes give the same copy
    rng = np.random.default_rng(1)
    y = torch.from_numpy(rng.integers(0, 3, 300))
    h64 = torch.from_numpy(rng.normal(size=(300, 4)) * 5 + 2 + y.numpy()[:, None])
    tr, va, te = random_split(300, seed=1)
    before = h64.clone()
    res = linear_probe(h64, y, tr, va, te, Cs=(0.1, 1.0))
    assert torch.equal(h64, before)
    h32 = h64.float()
    before32 = h32.clone()
    res32 = linear_probe(h32, y, tr, va, te, Cs=(0.1, 1.0))
    assert torch.equal(h32, before32)
    # float32 -> float64 is exact, so it is the float64 probe of the same values
    same = linear_probe(h32.double(), y, tr, va, te, Cs=(0.1, 1.0))
    np.testing.assert_array_equal(res32.predictions, same.predictions)
    assert res32.test_accuracy == same.test_accuracy and res.C in (0.1, 1.0)
    res16 = linear_probe(h32.bfloat16(), y, tr, va, te, Cs=(0.1, 1.0))  # no numpy bfloat16
    assert 0.0 <= res16.test_accuracy <= 1.0


def test_probe_rejects_bad_embeddings():
    y = torch.zeros(10, dtype=torch.long)
    masks = random_split(10, 0, 0.5, 0.2)
    with pytest.raises(ValueError, match="'embeddings'"):
        linear_probe(torch.zeros(9, 2), y, *masks)
    with pytest.raises(ValueError, match="'embeddings'"):
        linear_probe(torch.full((10, 2), float('nan')), y, *masks)


def test_summarize():
    s = summarize([0.5, 0.7])
    assert s['mean'] == pytest.approx(0.6) and s['std'] == pytest.approx(0.1)


def _blobs(n=600, d=5, shift=0.8, seed=0):
    rng = np.random.default_rng(seed)
    y = torch.from_numpy(rng.integers(0, 3, n))
    h = torch.from_numpy(rng.normal(size=(n, d)) + y.numpy()[:, None] * shift).float()
    return h, y


def test_adam_probe_separable_data_is_solved():
    h, y = _blobs(shift=0.0)
    h = torch.cat([h, torch.nn.functional.one_hot(y, 3).float() * 5], 1)
    res = adam_linear_probe(h, y, *random_split(600, 0), lr=0.1, epochs=100)
    assert res.val_accuracy == 1.0 and res.test_accuracy >= 0.97  # earliest perfect epoch


def test_adam_probe_reports_test_at_best_validation_epoch():
    h, y = _blobs()
    tr, va, te = random_split(600, 1)
    res = adam_linear_probe(h, y, tr, va, te, weight_decays=(0.0,), epochs=150, seed=3)
    # Independent replay: same init and steps, track val and test per epoch.
    torch.manual_seed(0)
    layer = torch.nn.Linear(5, 3)
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        layer.weight.uniform_(-5 ** -0.5, 5 ** -0.5, generator=gen)
        layer.bias.uniform_(-5 ** -0.5, 5 ** -0.5, generator=gen)
    opt = torch.optim.Adam(layer.parameters(), lr=0.01)
    curve = []
    for _ in range(150):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(layer(h[tr]), y[tr]).backward()
        opt.step()
        pred = layer(h).argmax(1)
        curve.append(((pred[va] == y[va]).float().mean().item(),
                      (pred[te] == y[te]).float().mean().item()))
    best_epoch = int(np.argmax([v for v, _ in curve]))
    assert res.epoch == best_epoch + 1
    assert res.val_accuracy == pytest.approx(curve[best_epoch][0])
    assert res.test_accuracy == pytest.approx(curve[best_epoch][1])
    # Beats chance clearly and is deterministic.
    assert res.test_accuracy > 0.6
    again = adam_linear_probe(h, y, tr, va, te, weight_decays=(0.0,), epochs=150, seed=3)
    assert again == res


def test_adam_probe_rejects_bad_input():
    h, y = _blobs(n=20)
    masks = random_split(20, 0, 0.5, 0.2)
    with pytest.raises(ValueError, match="'embeddings'"):
        adam_linear_probe(h[:19], y, *masks)
    with pytest.raises(ValueError, match="'embeddings'"):
        adam_linear_probe(torch.full((20, 5), float('inf')), y, *masks)
    with pytest.raises(ValueError, match="'epochs'"):
        adam_linear_probe(h, y, *masks, epochs=0)
    with pytest.raises(ValueError, match="'lr'"):
        adam_linear_probe(h, y, *masks, lr=float('nan'))
    with pytest.raises(ValueError, match="'weight_decays'"):
        adam_linear_probe(h, y, *masks, weight_decays=(-1.0,))


def test_random_split_draws_only_labelled_candidates():
    from genurl_pyg.evaluation import split_for
    from torch_geometric.data import Data
    y = torch.tensor([0, 1, -1, 1, 0, -1, 1, 0] * 25)
    tr, va, te = split_for(Data(y=y, num_nodes=200), 'random-50/25/25', seed=1)
    labelled = y >= 0
    assert not bool(((tr | va | te) & ~labelled).any())
    assert bool((tr | va | te)[labelled].all())
    assert [int(m.sum()) for m in (tr, va, te)] == [75, 38, 37]


def test_official_splits_take_the_seeds_column():
    from genurl_pyg.evaluation import split_for
    from torch_geometric.data import Data
    masks = torch.rand(30, 10) > 0.5
    data = Data(y=torch.zeros(30), train_mask=masks, val_mask=~masks, test_mask=masks,
                num_nodes=30)
    tr, va, _ = split_for(data, 'official-10-splits', seed=13)
    assert torch.equal(tr, masks[:, 3]) and torch.equal(va, ~masks[:, 3])
    with pytest.raises(ValueError, match='splits'):
        split_for(Data(y=torch.zeros(3), train_mask=torch.ones(3, dtype=torch.bool),
                       val_mask=torch.ones(3, dtype=torch.bool),
                       test_mask=torch.ones(3, dtype=torch.bool)), 'official-10-splits', 0)


def test_roc_auc_probe_matches_sklearn():
    from sklearn.metrics import roc_auc_score
    rng = np.random.default_rng(1)
    y = torch.from_numpy(rng.integers(0, 2, 400))
    h = torch.from_numpy(rng.normal(size=(400, 4)) + y.numpy()[:, None] * 0.7)
    tr, va, te = random_split(400, seed=0, train=0.5, val=0.25)
    res = linear_probe(h, y, tr, va, te, Cs=(1.0,), metric='roc_auc')
    x = h.numpy()
    mu, sd = x[tr.numpy()].mean(0), x[tr.numpy()].std(0) + 1e-8
    clf = LogisticRegression(C=1.0, max_iter=1000).fit(((x - mu) / sd)[tr.numpy()], y[tr].numpy())
    ref = roc_auc_score(y[te].numpy(), clf.decision_function(((x - mu) / sd)[te.numpy()]))
    assert res.test_accuracy == pytest.approx(ref)
    with pytest.raises(ValueError, match='binary'):
        linear_probe(h, torch.arange(400) % 3, tr, va, te, metric='roc_auc')
    with pytest.raises(ValueError, match="'metric'"):
        linear_probe(h, y, tr, va, te, metric='f1')


def test_probe_keeps_every_c_prediction_on_request():
    rng = np.random.default_rng(1)
    y = torch.from_numpy(rng.integers(0, 3, 300))
    h = torch.from_numpy(rng.normal(size=(300, 4)) + y.numpy()[:, None] * 0.6)
    tr, va, te = random_split(300, seed=1)
    Cs = (1e-3, 0.1, 10.0)
    res = linear_probe(h, y, tr, va, te, Cs=Cs, keep_all=True)
    assert res.Cs == Cs and res.predictions_by_c.shape == (3, 300)
    x = h.numpy()
    xs = (x - x[tr.numpy()].mean(0)) / (x[tr.numpy()].std(0) + 1e-8)
    for i, C in enumerate(Cs):  # each row is that C's own fit, independently refitted
        clf = LogisticRegression(C=C, max_iter=1000).fit(xs[tr.numpy()], y[tr].numpy())
        np.testing.assert_array_equal(res.predictions_by_c[i], clf.predict(xs))
    np.testing.assert_array_equal(res.predictions, res.predictions_by_c[Cs.index(res.C)])
    assert linear_probe(h, y, tr, va, te, Cs=Cs).predictions_by_c is None  # off by default
    with pytest.raises(ValueError, match="keep_all=True keeps predicted classes"):
        linear_probe(h, (y > 0).long(), tr, va, te, metric='roc_auc', keep_all=True)
