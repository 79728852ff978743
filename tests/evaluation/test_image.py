import numpy as np
import pytest
import torch

from genurl_pyg.evaluation.image import image_linear_probe, knn_accuracy, knn_predict


def _reference_knn(train, ytr, test, k, t):
    """Loops: cosine similarity to every training row, top k, exp(s/t) votes."""
    tr = train / np.linalg.norm(train, axis=1, keepdims=True)
    out = []
    for q in test:
        s = tr @ (q / np.linalg.norm(q))
        top = np.argsort(-s, kind='stable')[:k]
        votes = {}
        for j in top:
            votes[ytr[j]] = votes.get(ytr[j], 0.0) + np.exp(s[j] / t)
        out.append(max(votes, key=votes.get))
    return np.array(out)


def test_knn_predict_matches_a_loop_reference():
    g = torch.Generator().manual_seed(0)
    train, test = torch.randn(300, 8, generator=g), torch.randn(50, 8, generator=g)
    ytr = torch.randint(0, 4, (300,), generator=g)
    for k, t in ((1, 0.1), (20, 0.1), (200, 0.5)):
        got = knn_predict(train, ytr, test, k=k, temperature=t, chunk=7).numpy()
        ref = _reference_knn(train.double().numpy(), ytr.numpy(), test.double().numpy(), k, t)
        assert (got == ref).mean() >= 0.98, (k, t)  # float ties may flip a rare vote


def test_knn_and_linear_probe_separate_clusters():
    g = torch.Generator().manual_seed(1)
    centres = torch.randn(5, 16, generator=g) * 3

    def draw(n):
        y = torch.randint(0, 5, (n,), generator=g)
        return centres[y] + torch.randn(n, 16, generator=g), y
    (xtr, ytr), (xte, yte) = draw(500), draw(200)
    assert knn_accuracy(xtr, ytr, xte, yte) > 0.95
    assert knn_accuracy(torch.randn(500, 16, generator=g), ytr, xte, yte) < 0.4
    res = image_linear_probe(xtr, ytr, xte, yte)
    assert res.test_accuracy > 0.95 and res.val_accuracy > 0.9


def test_bad_inputs_are_named():
    x, y = torch.randn(10, 4), torch.zeros(10, dtype=torch.long)
    with pytest.raises(ValueError, match='labels of shape'):
        knn_accuracy(x, y[:5], x, y)
    with pytest.raises(ValueError, match=r'\[N, 4\]'):
        knn_predict(x, y, torch.randn(3, 5))
    with pytest.raises(ValueError, match="'k'"):
        knn_predict(x, y, x, k=0)
    with pytest.raises(ValueError, match='NaN'):
        knn_accuracy(x, y, torch.full((2, 4), float('nan')), y[:2])
    with pytest.raises(ValueError, match='val_fraction'):
        image_linear_probe(x, y, x, y, val_fraction=1.0)
