"""genurl_pyg.distill.graph's inductive protocol helpers."""
import torch


def test_held_out_validation_splits_validation_in_half_and_a_fifth_of_test():
    from genurl_pyg.distill.graph import held_out_validation, inductive_split
    val = torch.zeros(100, dtype=torch.bool)
    val[:40] = True
    test = torch.zeros(100, dtype=torch.bool)
    test[50:] = True
    held, held_val, fit_val = held_out_validation(val, test, seed=3)
    assert int(held_val.sum()) == 20 and int((held & test).sum()) == 10
    assert torch.equal(held_val | fit_val, val) and not (held_val & fit_val).any()
    assert torch.equal(held, held_val | inductive_split(test, 0.2, 3))


def test_glnn_targets_are_the_probes_log_probabilities_and_the_training_labels():
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from genurl_pyg.distill import glnn_targets
    from genurl_pyg.evaluation import linear_probe
    g = torch.Generator().manual_seed(0)
    y = torch.arange(3).repeat(40)
    h = torch.randn(120, 4, generator=g) + y[:, None].float()
    train = torch.zeros(120, dtype=torch.bool)
    train[:60] = True
    val = ~train
    logits, labels = glnn_targets(h, y, train, val)
    assert logits.shape == (120, 3)
    x = h.double().numpy()
    xs = (x - x[:60].mean(0)) / (x[:60].std(0) + 1e-8)
    C = linear_probe(h, y, train, val, val).C
    clf = LogisticRegression(C=C, max_iter=1000).fit(xs[:60], y[:60].numpy())
    np.testing.assert_allclose(logits.numpy(), clf.predict_log_proba(xs), rtol=1e-4,
                               atol=1e-6)
    assert torch.equal(labels[:60], y[:60]) and (labels[60:] == -1).all()
    # a class with no training node: a (renormalised) near-zero column, not an error
    y_missing = y.clone()
    y_missing[:60][y[:60] == 2] = 0
    logits, _ = glnn_targets(h, y_missing, train, val)
    assert logits.shape == (120, 3) and (logits[:, 2] < -18).all()
    torch.testing.assert_close(logits.exp().sum(1), torch.ones(120))
