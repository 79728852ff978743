r"""The self-supervised image protocols: a weighted kNN classifier and a linear probe.

* :func:`knn_accuracy` (the "kNN monitor" of InstDisc, MoCo and lightly's benchmarks): the
  test feature's cosine similarity :math:`s_j` to every training feature, its ``k = 200``
  most similar training images vote for their class with weight
  :math:`\exp(s_j / T)`, ``T = 0.1``; the class with the largest sum wins. Cost
  O(N_test·N_train·D) in chunks of ``chunk`` test rows: memory O(chunk·N_train).
* :func:`image_linear_probe`: the project's probe (:func:`~genurl_pyg.evaluation.node.
  linear_probe`: logistic regression on standardised features, ``C`` chosen on
  validation) with the validation images held out of the training set by a fixed,
  stratified draw (``val_fraction``), the test set scored once.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from .._validation import all_finite
from .node import ProbeResult, linear_probe


def _check(features: Tensor, labels: Tensor, what: str) -> None:
    if features.dim() != 2:
        raise ValueError(f'{what} features must be [N, D], got shape {tuple(features.shape)}')
    if labels.shape != (features.size(0),):
        raise ValueError(f'{what} has {features.size(0)} feature rows but labels of shape '
                         f'{tuple(labels.shape)}')
    if not all_finite(features):
        raise ValueError(f'{what} features hold NaN or infinite values')


@torch.no_grad()
def knn_predict(train_features: Tensor, train_labels: Tensor, test_features: Tensor,
                k: int = 200, temperature: float = 0.1, num_classes: Optional[int] = None,
                chunk: int = 1024) -> Tensor:
    """Predicted class of every test row (see the module doc)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"'k' must be a positive integer, got {k!r}")
    if not temperature > 0:
        raise ValueError(f"'temperature' must be > 0, got {temperature!r}")
    if test_features.dim() != 2 or test_features.size(1) != train_features.size(1):
        raise ValueError(f'test features must be [N, {train_features.size(1)}], got shape '
                         f'{tuple(test_features.shape)}')
    k = min(k, train_features.size(0))
    c = int(num_classes if num_classes is not None else int(train_labels.max()) + 1)
    bank = torch.nn.functional.normalize(train_features.float(), dim=1)
    labels = train_labels.to(bank.device).long()
    out = []
    for rows in test_features.split(chunk):
        q = torch.nn.functional.normalize(rows.float().to(bank.device), dim=1)
        sim, idx = (q @ bank.T).topk(k, dim=1)
        votes = torch.zeros(q.size(0), c, device=bank.device)
        votes.scatter_add_(1, labels[idx], (sim / temperature).exp())
        out.append(votes.argmax(1))
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


def knn_accuracy(train_features: Tensor, train_labels: Tensor, test_features: Tensor,
                 test_labels: Tensor, k: int = 200, temperature: float = 0.1,
                 chunk: int = 1024) -> float:
    """Accuracy of :func:`knn_predict` on the test rows."""
    _check(train_features, train_labels, 'training')
    _check(test_features, test_labels, 'test')
    num_classes = int(max(int(train_labels.max()), int(test_labels.max()))) + 1
    pred = knn_predict(train_features, train_labels, test_features, k, temperature,
                       num_classes, chunk)
    return float((pred.cpu() == test_labels.cpu()).double().mean())


def image_linear_probe(train_features: Tensor, train_labels: Tensor, test_features: Tensor,
                       test_labels: Tensor, val_fraction: float = 0.1, seed: int = 0,
                       max_iter: int = 1000) -> ProbeResult:
    """Logistic regression on frozen features, ``C`` chosen on a stratified
    ``val_fraction`` of the training images (fixed by ``seed``), test accuracy once."""
    _check(train_features, train_labels, 'training')
    _check(test_features, test_labels, 'test')
    if not 0 < val_fraction < 1:
        raise ValueError(f"'val_fraction' must be in (0, 1), got {val_fraction!r}")
    n = train_features.size(0)
    gen = torch.Generator().manual_seed(seed)
    val = torch.zeros(n, dtype=torch.bool)
    y = train_labels.cpu().long()
    for cls in torch.unique(y):  # stratified: every class keeps its share in validation
        members = (y == cls).nonzero().view(-1)
        members = members[torch.randperm(members.numel(), generator=gen)]
        val[members[:max(1, round(val_fraction * members.numel()))]] = True
    features = torch.cat([train_features.cpu(), test_features.cpu()]).float()
    labels = torch.cat([y, test_labels.cpu().long()])
    m = test_features.size(0)
    train_mask = torch.cat([~val, torch.zeros(m, dtype=torch.bool)])
    val_mask = torch.cat([val, torch.zeros(m, dtype=torch.bool)])
    test_mask = torch.cat([torch.zeros(n, dtype=torch.bool), torch.ones(m, dtype=torch.bool)])
    return linear_probe(features, labels, train_mask, val_mask, test_mask, max_iter=max_iter)
