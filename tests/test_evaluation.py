import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from genurl_pyg.evaluation import linear_probe, random_split, summarize


def test_random_split_sizes_disjoint_and_seeded():
    a = random_split(1000, seed=3)
    b = random_split(1000, seed=3)
    c = random_split(1000, seed=4)
    assert [int(m.sum()) for m in a] == [100, 100, 800]
    assert not (a[0] & a[1]).any() and not (a[0] & a[2]).any() and (a[0] | a[1] | a[2]).all()
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a[0], c[0])


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
