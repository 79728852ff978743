"""Linear-probe evaluation of frozen node embeddings (the protocol every table names).

* ``public``: the data set's own train/val/test masks (Planetoid's public split).
* ``random-10/10/80``: a random split per seed, 10 % train, 10 % validation, 80 % test.
* ``random-50/25/25``: the same with 50/25/25 %, for tiny graphs such as KarateClub, the
  facebook100 graphs (as in LINKX) and the synthetic homophily sweep.
* ``random-planetoid``: the public split's sizes redrawn per seed (20 training nodes per
  class, 500 validation, 1,000 test; :func:`random_planetoid_split`), the "random splits"
  of Shchur et al. (2018) and of PyG's ``RandomNodeSplit``: the same label budget as the
  public split, on many draws of the nodes instead of one.
* ``official-10-splits``: the data set's own ``[N, 10]`` masks (PyG's
  ``HeterophilousGraphDataset``); seed ``s`` uses split ``s mod 10``.

Random splits are drawn over the labelled nodes only: a label ``y < 0`` (LINKX's marker of
an unlabelled node) is never trained on or scored.

Two probes, both choosing every setting on the validation nodes only (the test nodes are
used once, for the reported number):

* :func:`linear_probe` (the project's probe, in every table): L2-regularised multinomial
  logistic regression (scikit-learn, L-BFGS) on standardised embeddings (statistics from the
  training nodes only), inverse regularisation ``C`` chosen on validation.
* :func:`adam_linear_probe` (the probe most published self-supervised graph papers use:
  DGI, GRACE, CCA-SSG, GraphMAE): one linear layer trained full-batch with Adam on the raw
  embeddings; the reported test accuracy is the one at the epoch (and weight decay) of the
  best validation accuracy. Use it to put numbers beside published ones.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from .._validation import all_finite

DEFAULT_CS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 1.0, 10.0)
# every evaluation protocol split_for knows (see the module doc)
PROTOCOLS = ('public', 'ogb-official', 'official-10-splits', 'random-10/10/80',
             'random-50/25/25', 'random-planetoid')


@dataclass
class ProbeResult:
    """``predictions``: the chosen probe's class for every node (``metric='accuracy'``),
    for paired, per-node comparisons of two embeddings on the same nodes.
    ``predictions_by_c`` (``keep_all=True``): every ``C``'s classes, ``[len(Cs), N]`` in the
    order of ``Cs``, to read a comparison with ``C`` fixed instead of chosen on validation.
    ``log_proba`` (``keep_proba=True``): the chosen probe's class log-probabilities for
    every node, ``[N, len(classes)]``, columns in the order of ``classes`` (the sorted
    classes of the training nodes): a classifier's logits, e.g. GLNN's teacher."""
    test_accuracy: float
    val_accuracy: float
    C: float
    predictions: Optional[np.ndarray] = None
    predictions_by_c: Optional[np.ndarray] = None
    Cs: Optional[Tuple[float, ...]] = None
    log_proba: Optional[np.ndarray] = None
    classes: Optional[np.ndarray] = None


def random_split(num_nodes: int, seed: int, train: float = 0.1, val: float = 0.1,
                 candidates: Optional[Tensor] = None) -> Tuple[Tensor, Tensor, Tensor]:
    """Boolean masks of a uniformly random train/val/test split (rest is test) of the
    ``candidates`` (a boolean mask; default every node)."""
    gen = torch.Generator().manual_seed(seed)
    if candidates is None:
        perm = torch.randperm(num_nodes, generator=gen)
    else:
        pool = torch.nonzero(candidates.cpu().view(-1)).view(-1)
        perm = pool[torch.randperm(pool.numel(), generator=gen)]
    total = perm.numel()
    n_train, n_val = int(round(train * total)), int(round(val * total))
    masks = []
    for idx in (perm[:n_train], perm[n_train:n_train + n_val], perm[n_train + n_val:]):
        m = torch.zeros(num_nodes, dtype=torch.bool)
        m[idx] = True
        masks.append(m)
    return masks[0], masks[1], masks[2]


def random_planetoid_split(y: Tensor, seed: int, per_class: int = 20, num_val: int = 500,
                           num_test: int = 1000) -> Tuple[Tensor, Tensor, Tensor]:
    """Boolean masks with ``per_class`` training nodes of every class, then ``num_val``
    validation and ``num_test`` test nodes drawn uniformly from the remaining labelled
    nodes (a label ``< 0`` is unlabelled and never drawn). Seeded; O(N).

    Raises ``ValueError`` naming the class when a class has fewer than ``per_class``
    labelled nodes, or the counts when too few nodes are left for validation and test.
    """
    y = y.view(-1).cpu()
    gen = torch.Generator().manual_seed(seed)
    labelled = y >= 0
    train = torch.zeros(y.numel(), dtype=torch.bool)
    for c in torch.unique(y[labelled]).tolist():
        pool = torch.nonzero(y == c).view(-1)
        if pool.numel() < per_class:
            raise ValueError(f'class {c} has {pool.numel()} labelled nodes, fewer than the '
                             f'{per_class} training nodes per class of random-planetoid')
        train[pool[torch.randperm(pool.numel(), generator=gen)[:per_class]]] = True
    rest = torch.nonzero(labelled & ~train).view(-1)
    if rest.numel() < num_val + num_test:
        raise ValueError(f'random-planetoid needs {num_val} + {num_test} labelled nodes '
                         f'outside the training nodes, only {rest.numel()} are left')
    rest = rest[torch.randperm(rest.numel(), generator=gen)]
    val = torch.zeros_like(train)
    test = torch.zeros_like(train)
    val[rest[:num_val]] = True
    test[rest[num_val:num_val + num_test]] = True
    return train, val, test


def split_for(data, protocol: str, seed: int) -> Tuple[Tensor, Tensor, Tensor]:
    if protocol in ('public', 'ogb-official'):
        for key in ('train_mask', 'val_mask', 'test_mask'):
            if getattr(data, key, None) is None:
                raise ValueError(f"protocol {protocol!r} needs data.{key}")
        return data.train_mask, data.val_mask, data.test_mask
    if protocol == 'official-10-splits':
        masks = []
        for key in ('train_mask', 'val_mask', 'test_mask'):
            m = getattr(data, key, None)
            if m is None or m.dim() != 2:
                raise ValueError(f"protocol {protocol!r} needs data.{key} of shape [N, splits]")
            masks.append(m[:, seed % m.size(1)])
        return masks[0], masks[1], masks[2]
    y = getattr(data, 'y', None)
    labelled = (y.view(-1) >= 0) if y is not None and bool((y < 0).any()) else None
    if protocol == 'random-10/10/80':
        return random_split(data.num_nodes, seed, candidates=labelled)
    if protocol == 'random-50/25/25':  # tiny graphs (KarateClub): 10 % would be 3 nodes
        return random_split(data.num_nodes, seed, train=0.5, val=0.25, candidates=labelled)
    if protocol == 'random-planetoid':
        if y is None:
            raise ValueError(f"protocol {protocol!r} needs data.y")
        return random_planetoid_split(y, seed)
    raise ValueError(f"unknown evaluation protocol {protocol!r}")


def ogb_node_metric(name: str) -> Callable[[np.ndarray, np.ndarray], float]:
    """OGB's official scorer for node data set ``name`` (accuracy for ogbn-arxiv/products/
    papers100M): ``score(y_true, y_pred) -> float``."""
    from .._optional import require
    require('ogb', f'the official evaluator of {name}')
    from ogb.nodeproppred import Evaluator
    evaluator = Evaluator(name)
    key = evaluator.eval_metric

    def score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return float(evaluator.eval({'y_true': y_true.reshape(-1, 1),
                                     'y_pred': y_pred.reshape(-1, 1)})[key])
    return score


def _accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float((y_true == y_pred).mean())


def linear_probe(embeddings: Tensor, y: Tensor, train_mask: Tensor, val_mask: Tensor,
                 test_mask: Tensor, Cs: Sequence[float] = DEFAULT_CS,
                 max_iter: int = 1000,
                 score: Optional[Callable[[np.ndarray, np.ndarray], float]] = None,
                 metric: str = 'accuracy', keep_all: bool = False,
                 keep_proba: bool = False) -> ProbeResult:
    """Fits the probe for each ``C`` on train, keeps the best on val, reports test.

    ``keep_proba``: also return the chosen probe's class log-probabilities of every node
    (``log_proba``, ``classes``; O(N · classes) floats).
    ``keep_all``: also return every ``C``'s predicted classes (``predictions_by_c``, an
    extra O(len(Cs) · N) integers; ``metric='accuracy'`` only). The validation score of the
    chosen ``C`` is a maximum over the grid on the validation nodes, so it reads higher, and
    noisier, than a node set the choice never saw; the fixed-``C`` predictions let a paired
    comparison (``experiments/paired_nodes.py --fixed-c``) separate the two.

    ``metric``: ``'accuracy'`` (of the predicted class) or ``'roc_auc'`` (binary labels,
    scored on the decision function, as the heterophilous benchmark of Platonov et al. 2023
    does); both choose ``C`` on validation. ``score(y_true, y_pred)`` replaces accuracy
    (OGB data sets pass their official evaluator, :func:`ogb_node_metric`).

    Memory: one float64 copy of the embeddings (8 N d bytes), standardised in place, plus
    the training and validation rows while a ``C`` is fitted and scored; the test nodes
    are scored from the predictions of every row, without a copy of their rows. The input
    is never modified."""
    if metric not in ('accuracy', 'roc_auc'):
        raise ValueError(f"'metric' must be 'accuracy' or 'roc_auc', got {metric!r}")
    if metric == 'roc_auc':
        if score is not None:
            raise ValueError("pass either 'score' or metric='roc_auc', not both")
        if torch.unique(y[train_mask]).numel() != 2:
            raise ValueError("metric='roc_auc' needs binary labels (two classes among the "
                             "training nodes)")
        from sklearn.metrics import roc_auc_score
    if keep_all and metric != 'accuracy':
        raise ValueError("keep_all=True keeps predicted classes: it needs metric='accuracy'")
    score = score or _accuracy
    from sklearn.linear_model import LogisticRegression
    # One float64 copy, standardised in place: the same arithmetic as (emb - mean) / std
    # without its two temporaries, which on wide raw features (Physics: 34k x 8415) were
    # 4.6 GB. A float64 input would be shared by .double(), so it is copied: the caller's
    # tensor is never written.
    checked = _checked_embeddings(embeddings, y)
    emb = checked.double().numpy()
    if checked.dtype == torch.float64:
        emb = emb.copy()
    labels = y.cpu().numpy()
    tr, va, te = (m.cpu().numpy() for m in (train_mask, val_mask, test_mask))
    mean = emb[tr].mean(0)
    std = emb[tr].std(0) + 1e-8
    emb -= mean
    emb /= std

    def outputs(clf, x: np.ndarray) -> np.ndarray:
        """What the metric reads of rows ``x``: decision values (ROC-AUC) or classes."""
        return clf.decision_function(x) if metric == 'roc_auc' else clf.predict(x)

    def measured(rows, out: np.ndarray) -> float:
        return (roc_auc_score if metric == 'roc_auc' else score)(labels[rows], out)
    best: Optional[Tuple[float, float, object]] = None
    every = []
    for C in Cs:
        clf = LogisticRegression(C=C, max_iter=max_iter)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # convergence chatter at large C
            clf.fit(emb[tr], labels[tr])
        acc = measured(va, outputs(clf, emb[va]))
        if keep_all:
            every.append(clf.predict(emb))
        if best is None or acc > best[0]:
            best = (acc, C, clf)
    val_acc, C, clf = best
    # the test score from one pass over every row (which the result returns anyway), not
    # from emb[te]: that fancy-indexed copy of the test rows was the probe's largest
    # temporary (1.8 GB of float64 on Physics' raw features, 80 % of its rows)
    every_row = outputs(clf, emb)
    test_acc = measured(te, every_row[te])
    return ProbeResult(test_acc, val_acc, C, every_row if metric == 'accuracy' else None,
                       np.stack(every) if keep_all else None,
                       tuple(float(c) for c in Cs) if keep_all else None,
                       clf.predict_log_proba(emb) if keep_proba else None,
                       clf.classes_.copy() if keep_proba else None)


@dataclass
class AdamProbeResult:
    test_accuracy: float
    val_accuracy: float
    weight_decay: float
    epoch: int


DEFAULT_WEIGHT_DECAYS = (0.0, 1e-4, 1e-3, 1e-2)


def adam_linear_probe(embeddings: Tensor, y: Tensor, train_mask: Tensor, val_mask: Tensor,
                      test_mask: Tensor, lr: float = 0.01,
                      weight_decays: Sequence[float] = DEFAULT_WEIGHT_DECAYS,
                      epochs: int = 300, seed: int = 0,
                      score: Optional[Callable[[np.ndarray, np.ndarray], float]] = None
                      ) -> AdamProbeResult:
    r"""The published papers' probe: :math:`\hat y = \operatorname{argmax}(hW + b)` trained
    with cross-entropy and Adam (full batch, ``lr``) for ``epochs`` epochs per weight decay in
    ``weight_decays``; returns the test score at the (weight decay, epoch) of the best
    validation score (earliest on ties).

    Cost: O(len(weight_decays) · epochs · N_train · d · C) for training plus one
    O(N · d · C) evaluation per epoch. Deterministic for a given ``seed`` (the layer's
    initialisation; the data order does not matter in full batch).
    """
    score = score or _accuracy
    emb = _checked_embeddings(embeddings, y).float()
    if not (isinstance(epochs, int) and epochs >= 1):
        raise ValueError(f"'epochs' must be a positive integer, got {epochs!r}")
    if not (lr > 0 and np.isfinite(lr)):
        raise ValueError(f"'lr' must be a positive finite number, got {lr!r}")
    if not weight_decays or any(not (w >= 0 and np.isfinite(w)) for w in weight_decays):
        raise ValueError(f"'weight_decays' must be non-negative finite numbers, got {weight_decays!r}")
    labels = y.cpu().long()
    num_classes = int(labels.max()) + 1
    tr, va, te = (m.cpu().bool() for m in (train_mask, val_mask, test_mask))
    y_va, y_te = labels[va].numpy(), labels[te].numpy()
    best = AdamProbeResult(-1.0, -1.0, 0.0, 0)
    for wd in weight_decays:
        gen = torch.Generator().manual_seed(seed)
        layer = torch.nn.Linear(emb.size(1), num_classes)
        with torch.no_grad():  # PyTorch's default init, drawn from our own generator
            bound = 1.0 / emb.size(1) ** 0.5
            layer.weight.uniform_(-bound, bound, generator=gen)
            layer.bias.uniform_(-bound, bound, generator=gen)
        opt = torch.optim.Adam(layer.parameters(), lr=lr, weight_decay=wd)
        for epoch in range(1, epochs + 1):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(layer(emb[tr]), labels[tr]).backward()
            opt.step()
            with torch.no_grad():
                pred = layer(emb).argmax(1)
            val = score(y_va, pred[va].numpy())
            if val > best.val_accuracy:
                best = AdamProbeResult(score(y_te, pred[te].numpy()), val, float(wd), epoch)
    return best


def _checked_embeddings(embeddings: Tensor, y: Tensor) -> Tensor:
    emb = embeddings.detach().cpu()
    if emb.dim() != 2 or emb.size(0) != y.numel():
        raise ValueError(f"'embeddings' must be [N, d] with N = {y.numel()}, "
                         f"got {tuple(emb.shape)}")
    if not all_finite(emb):
        raise ValueError("'embeddings' contain NaN or infinite values")
    return emb


def summarize(accuracies: Sequence[float]) -> Dict[str, object]:
    arr = np.asarray(accuracies, dtype=float)
    return {'mean': float(arr.mean()), 'std': float(arr.std(ddof=0)),
            'per_seed': [float(a) for a in arr]}
