"""Dimension-reduction quality metrics (exact, chunked, O(N·chunk) memory).

* trustworthiness :math:`T(k)` (Venna & Kaski): are embedding neighbours true neighbours?

  .. math::
      T(k) = 1 - \\frac{2}{n k (2n - 3k - 1)} \\sum_i \\sum_{j \\in U_i^k} (r(i, j) - k)

  with :math:`r(i, j)` the rank of :math:`j` among :math:`i`'s neighbours in the input space
  and :math:`U_i^k` the embedding's k nearest neighbours of :math:`i` that are not among its
  input-space k nearest. Same definition as :func:`sklearn.manifold.trustworthiness`.
* continuity :math:`C(k)`: the same with input and embedding swapped (are true neighbours
  kept?).
* :func:`pointwise_trustworthiness`: each point's term of :math:`T(k)`; ``n_queries``
  turns :func:`trustworthiness` and :func:`continuity` into unbiased estimates from a sample
  of points (large N), with :func:`sampled_standard_error`.
* :func:`knn_accuracy`: k-NN classification accuracy in the embedding, stratified k-fold.
* :func:`distance_spearman`: Spearman correlation of pairwise distances on a subsample
  (global structure).
* :func:`silhouette`: scikit-learn's silhouette score (on a subsample for large N).
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np
import torch


def _as_tensor(a) -> torch.Tensor:
    if hasattr(a, 'toarray'):
        a = a.toarray()
    return torch.as_tensor(np.asarray(a), dtype=torch.float64)


def _sq_dists(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    d = (a.pow(2).sum(1, keepdim=True) + b.pow(2).sum(1) - 2 * a @ b.t()).clamp_min(0)
    return d


def _ranking_errors(ref, emb, k: int, rows: torch.Tensor, chunk: int) -> torch.Tensor:
    """Per query row i: Σ_{j in kNN_emb(i) \\ kNN_ref(i)} (rank_ref(i, j) - k), ranks from 1.

    O(len(rows) · N · (D + log N)) time, O(chunk · N) memory."""
    n = ref.size(0)
    out = torch.empty(rows.numel(), dtype=torch.float64)
    for s in range(0, rows.numel(), chunk):
        r_idx = rows[s:s + chunk]
        local = torch.arange(r_idx.numel())
        d_ref = _sq_dists(ref[r_idx], ref)
        d_ref[local, r_idx] = float('inf')
        d_emb = _sq_dists(emb[r_idx], emb)
        d_emb[local, r_idx] = float('inf')
        # Ranks in the reference space: a stable argsort, as scikit-learn breaks ties.
        order = torch.argsort(d_ref, dim=1, stable=True)
        ranks = torch.empty_like(order)
        ranks.scatter_(1, order, torch.arange(1, n + 1).expand(r_idx.numel(), n))
        nn_emb = torch.argsort(d_emb, dim=1, stable=True)[:, :k]
        r = ranks.gather(1, nn_emb)
        out[s:s + r_idx.numel()] = (r - k).clamp_min(0).sum(1).double()
    return out


def _check_pair(x: torch.Tensor, y: torch.Tensor, n_neighbors: int) -> None:
    n = x.size(0)
    if y.size(0) != n:
        raise ValueError(f"'X' and 'Y' must have the same number of rows, got {n} and {y.size(0)}")
    if not 1 <= n_neighbors < n / 2:
        raise ValueError(f"'n_neighbors' must be in [1, n_samples / 2), got {n_neighbors}")


def pointwise_trustworthiness(X, Y, n_neighbors: int = 10, rows=None,
                              chunk: int = 512) -> np.ndarray:
    """Each point's share :math:`t_i` of trustworthiness, so that :math:`T(k)` is their mean.

    .. math::
        t_i = 1 - \\frac{2}{k (2n - 3k - 1)} \\sum_{j \\in U_i^k} (r(i, j) - k)

    Low values mark the points whose map neighbours are not their true neighbours (worth
    colouring a map by). ``rows`` (indices) restricts the computation to those points.
    Cost: O(|rows| · N · (D + log N)) time, O(chunk · N) memory."""
    x, y = _as_tensor(X), _as_tensor(Y)
    _check_pair(x, y, n_neighbors)
    n, k = x.size(0), n_neighbors
    idx = torch.arange(n) if rows is None else torch.as_tensor(np.asarray(rows), dtype=torch.long)
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= n):
        raise ValueError(f"'rows' must index the {n} points, got values outside [0, {n})")
    err = _ranking_errors(x, y, k, idx, chunk)
    return (1.0 - err * 2.0 / (k * (2.0 * n - 3.0 * k - 1.0))).numpy()


def query_rows(n: int, n_queries: Optional[int], random_state=0) -> Optional[np.ndarray]:
    """The points a sampled metric is computed on: None (all ``n``) when ``n_queries`` is
    None or at least ``n``, else ``n_queries`` indices drawn without replacement, sorted."""
    if n_queries is None or n_queries >= n:
        return None
    if int(n_queries) < 1:
        raise ValueError(f"'n_queries' must be a positive number of points, got {n_queries}")
    return np.sort(np.random.default_rng(random_state).choice(n, int(n_queries), replace=False))


def trustworthiness(X, Y, n_neighbors: int = 10, chunk: int = 512,
                    n_queries: Optional[int] = None, random_state=0) -> float:
    """Trustworthiness of embedding ``Y`` of data ``X`` (euclidean), in [0, 1].

    Exact over all points by default (O(N² (D + log N)) time). With ``n_queries`` < N, the
    mean of :func:`pointwise_trustworthiness` over that many points drawn without
    replacement (seeded by ``random_state``): an unbiased estimate at O(n_queries · N · D)
    cost, for data sets where N² rankings are out of reach; its standard error is
    :func:`sampled_standard_error` of the same points."""
    x, y = _as_tensor(X), _as_tensor(Y)
    _check_pair(x, y, n_neighbors)
    rows = query_rows(x.size(0), n_queries, random_state)
    return float(pointwise_trustworthiness(x, y, n_neighbors, rows, chunk).mean())


def continuity(X, Y, n_neighbors: int = 10, chunk: int = 512,
               n_queries: Optional[int] = None, random_state=0) -> float:
    """Continuity: trustworthiness with the roles of input and embedding swapped."""
    return trustworthiness(Y, X, n_neighbors, chunk, n_queries, random_state)


def sampled_standard_error(pointwise: np.ndarray, n_total: int) -> float:
    """Standard error of the mean of ``pointwise`` values drawn without replacement from
    ``n_total`` (finite-population correction); 0 when every point was used."""
    m = len(pointwise)
    if m >= n_total:
        return 0.0
    if m < 2:
        raise ValueError('a standard error needs at least two sampled points')
    return float(np.std(pointwise, ddof=1) / np.sqrt(m) * np.sqrt(1 - m / n_total))


def knn_accuracy(Y, labels, n_neighbors: int = 5, n_folds: int = 5, seed: int = 0) -> float:
    """Mean accuracy of a k-NN classifier on the embedding, stratified k-fold."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier
    cv = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return float(cross_val_score(KNeighborsClassifier(n_neighbors), np.asarray(Y),
                                 np.asarray(labels), cv=cv).mean())


def distance_spearman(X, Y, n_samples: int = 1000, seed: int = 0) -> float:
    """Spearman correlation between pairwise input and embedding distances of a subsample."""
    from scipy.spatial.distance import pdist
    from scipy.stats import spearmanr
    x, y = _as_tensor(X).numpy(), _as_tensor(Y).numpy()
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(x), size=min(n_samples, len(x)), replace=False)
    return float(spearmanr(pdist(x[idx]), pdist(y[idx])).statistic)


def silhouette(Y, labels, n_samples: int = 5000, seed: int = 0) -> float:
    from sklearn.metrics import silhouette_score
    y = np.asarray(Y)
    return float(silhouette_score(y, np.asarray(labels),
                                  sample_size=min(n_samples, len(y)), random_state=seed))


def dr_report(X, Y, labels: Optional[np.ndarray] = None, k: int = 10) -> Dict[str, float]:
    """All metrics at once: T(k), C(k), and with labels 5-NN accuracy and silhouette.

    Small data: ``k`` is lowered to the largest valid value (``k < n/2``; the key names the
    ``k`` used), T/C are left out below 4 points and the label metrics below 10 points
    (5-fold cross-validation)."""
    n = len(Y)
    k = min(k, (n - 1) // 2)
    out: Dict[str, float] = {}
    if k >= 1:
        out[f'trustworthiness_{k}'] = trustworthiness(X, Y, k)
        out[f'continuity_{k}'] = continuity(X, Y, k)
    if n >= 3:
        out['distance_spearman'] = distance_spearman(X, Y)
    if labels is not None and n >= 10:
        out['knn5_accuracy'] = knn_accuracy(Y, labels, 5)
        out['silhouette'] = silhouette(Y, labels)
    return out
