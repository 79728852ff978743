"""The supervised reference objective 'glnn' (GLNN's logit distillation) against a scipy
reference of its loss, on a task it must learn, and with bad labels named."""
import numpy as np
import pytest
import torch
from scipy.special import log_softmax

from genurl_pyg.distill import DistillConfig, GenURLDistiller
from genurl_pyg.distill.peers import LogitObjective
from genurl_pyg.node.config import ConfigError

SMALL = dict(hidden_channels=64, out_channels=16, batch_size=60, epochs=30, lr=3e-3)


def _classes(n_per=60, seed=0):
    """Three classes whose features carry the class through a linear map, next to louder
    nuisance columns; teacher logits that put 4 nats on the true class."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(3).repeat_interleave(n_per)
    centres = 4 * torch.randn(3, 8, generator=g)
    signal = (centres[y] + torch.randn(y.numel(), 8, generator=g)) @ torch.randn(8, 8,
                                                                                generator=g)
    x = torch.cat([signal / 4, 3 * torch.randn(y.numel(), 12, generator=g)], 1)
    return 4 * torch.nn.functional.one_hot(y, 3).float(), x, y


def _reference(s, t, y, weight):
    """The loss by scipy: (1 - w) mean_i KL(softmax t_i || softmax s_i) + w CE on labelled."""
    log_q, log_p = log_softmax(s, axis=1), log_softmax(t, axis=1)
    kl = (np.exp(log_p) * (log_p - log_q)).sum(1).mean()
    seen = y >= 0
    ce = -log_q[seen, y[seen]].mean() if seen.any() else 0.0
    return (1 - weight) * kl + weight * ce


@pytest.mark.parametrize('weight', [0.0, 0.3, 1.0])
def test_loss_is_the_kl_to_the_teacher_plus_the_labelled_cross_entropy(weight):
    g = torch.Generator().manual_seed(1)
    t = torch.randn(10, 4, generator=g)
    labels = torch.tensor([0, 3, -1, 2, -1, 1, 1, -1, 0, 2])
    obj = LogitObjective(t, DistillConfig(objective='glnn', out_channels=5,
                                          label_weight=weight), labels)
    h = torch.randn(10, 5, generator=g)
    anchors = torch.tensor([1, 2, 4, 7, 9])  # two labelled anchors, three without
    got = obj.loss(lambda rows: h[rows], anchors)
    s = obj.logits(h[anchors]).detach().numpy().astype(np.float64)
    want = _reference(s, t[anchors].numpy().astype(np.float64),
                      labels[anchors].numpy(), weight)
    assert got.item() == pytest.approx(want, rel=1e-5)


def test_student_learns_the_teachers_classes_and_its_embedding_carries_them():
    t, x, y = _classes()
    d = GenURLDistiller(t, x, DistillConfig.from_dict({**SMALL, 'objective': 'glnn'}))

    def agreement():
        with torch.no_grad():
            return float((d.objective.logits(d.embed()).argmax(1) == y).float().mean())
    before = agreement()
    d.fit()
    assert agreement() > 0.95 > before + 0.3, (before, agreement())
    assert d.embed().shape == (180, 16)  # the probe reads the embedding, not the logits


def test_labels_alone_are_learnt_with_label_weight_1():
    """With the teacher's logits pointing at the wrong class everywhere, weight 1 reads the
    labels only, weight 0 the teacher only."""
    t, x, y = _classes()
    wrong = t.roll(1, dims=1)  # the teacher says class c + 1
    for weight, follows in ((1.0, y), (0.0, (y + 1) % 3)):
        cfg = DistillConfig.from_dict({**SMALL, 'objective': 'glnn', 'label_weight': weight})
        d = GenURLDistiller(wrong, x, cfg, labels=y)
        d.fit()
        with torch.no_grad():
            pred = d.objective.logits(d.embed()).argmax(1)
        assert float((pred == follows).float().mean()) > 0.95, weight


@pytest.mark.parametrize('labels, match', [
    (torch.zeros(179, dtype=torch.long), 'one entry per teacher row'),
    (torch.zeros(180), 'integer classes'),
    (torch.full((180,), 3), r'classes in \[0, 3\)'),
    (torch.full((180,), -2), 'found -2'),
    (torch.full((180,), -1), 'at least one labelled row'),
])
def test_bad_labels_are_named(labels, match):
    t, x, _ = _classes()
    cfg = DistillConfig.from_dict({**SMALL, 'objective': 'glnn', 'label_weight': 0.5})
    with pytest.raises(ValueError, match=match):
        GenURLDistiller(t, x, cfg, labels=labels)


def test_glnn_is_refused_where_it_cannot_apply():
    t, x, y = _classes()
    with pytest.raises(ValueError, match='needs .labels. with at least one'):
        GenURLDistiller(t, x, DistillConfig.from_dict({**SMALL, 'objective': 'glnn',
                                                       'label_weight': 0.5}))
    with pytest.raises(ValueError, match='at least 2 columns'):
        GenURLDistiller(t[:, :1], x, DistillConfig.from_dict({**SMALL, 'objective': 'glnn'}))
    with pytest.raises(ValueError, match="glnn objective only"):
        GenURLDistiller(t, x, DistillConfig.from_dict({**SMALL, 'objective': 'mse'}), labels=y)
    with pytest.raises(ConfigError, match='label_weight'):
        DistillConfig.from_dict({'objective': 'mse', 'label_weight': 0.5}).validate()
    with pytest.raises(ConfigError, match='label_weight'):
        DistillConfig.from_dict({'objective': 'glnn', 'label_weight': 1.5}).validate()
