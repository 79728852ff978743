r"""t-SNE's perplexity-calibrated input similarity, as an alternative feature part of P.

Each point's row of a kNN graph becomes a conditional distribution with a Gaussian kernel
on squared distances, its precision :math:`\beta_i` set so that the row's entropy is
:math:`\log(\text{perplexity})`:

.. math::
    p_{j|i} = \frac{\exp(-\beta_i d_{ij}^2)}{\sum_{l \in N_k(i)} \exp(-\beta_i d_{il}^2)},
    \qquad H_i = -\sum_j p_{j|i} \log p_{j|i} = \log(\text{perplexity}),

on the :math:`k = \min(\lfloor 3\,\text{perplexity} \rfloor, N - 1)` nearest neighbours
(openTSNE's and FIt-SNE's truncation), then symmetrised as
:math:`p_{ij} = (p_{j|i} + p_{i|j}) / 2`, so every row of the conditional sums to 1 and P's
values lie in (0, 1].

This is not the paper's P (GenURL's feature part is a UMAP-style fuzzy membership on
geodesic kNN distances, :mod:`genurl_pyg.structure.calibration`); it is ours, offered
because the non-parametric layout with the normalised KL is t-SNE's objective, whose
faithfulness to local neighbourhoods comes with this P (issue 16).

Cost: the kNN search, then ``n_iter`` bisection rounds of O(N·k) each, and an O(N·k log)
symmetrisation; memory O(N·k).
"""
from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
from torch import Tensor

from .._validation import check_positive_float, check_positive_int
from .calibration import check_distance_rows
from .knn import knn_graph
from .similarity import _from_keys, _to_keys
from .sparse_ops import coalesce_sum


def neighbors_for_perplexity(perplexity: float, num_points: int) -> int:
    """The kNN size a perplexity needs: ``min(floor(3 perplexity), N - 1)``, at least 1."""
    return max(1, min(int(3 * perplexity), num_points - 1))


def perplexity_probabilities(dist: Tensor, perplexity: float, n_iter: int = 64) -> Tensor:
    r"""Conditional probabilities :math:`p_{j|i}` of each row of ``dist`` (``[N, k]``,
    unsquared distances) whose entropy is :math:`\log(\min(\text{perplexity}, k))`.

    The entropy falls monotonically as :math:`\beta_i` grows, so :math:`\log \beta_i` is
    found by bisection, vectorised over all rows, on the distances scaled by each row's mean
    squared distance (so the bracket :math:`[e^{-30}, e^{30}]` fits any data scale).
    A perplexity of at least k asks for the uniform row, which is returned. Float64 inside;
    returned in the dtype of ``dist``.
    """
    dist = check_distance_rows(dist)
    check_positive_float(perplexity, 'perplexity')
    check_positive_int(n_iter, 'n_iter')
    k = dist.size(1)
    d2 = dist.double() ** 2
    d2 = d2 - d2.min(1, keepdim=True).values           # softmax is shift-invariant
    scale = d2.mean(1, keepdim=True).clamp_min(1e-300)  # all-equal rows: any beta is uniform
    d2 = d2 / scale
    target = math.log(min(float(perplexity), float(k)))
    lo = torch.full((d2.size(0), 1), -30.0, dtype=torch.float64, device=d2.device)
    hi = torch.full_like(lo, 30.0)
    for _ in range(n_iter):
        mid = (lo + hi) / 2
        logits = -mid.exp() * d2
        logp = logits - torch.logsumexp(logits, 1, keepdim=True)
        entropy = -(logp.exp() * logp).sum(1, keepdim=True)
        too_flat = entropy > target                     # raise beta: a more peaked row
        lo = torch.where(too_flat, mid, lo)
        hi = torch.where(too_flat, hi, mid)
    logits = -((lo + hi) / 2).exp() * d2
    return torch.softmax(logits, 1).to(dist.dtype)


def perplexity_similarity(x: Tensor, perplexity: float = 30.0, metric: str = 'euclidean',
                          knn_method: str = 'auto', knn_info: Optional[dict] = None
                          ) -> Tuple[Tensor, Tensor]:
    r"""``(index [2, E], weight [E])`` of the symmetric perplexity-calibrated P of ``x``:
    :math:`p_{ij} = (p_{j|i} + p_{i|j}) / 2` on the :func:`neighbors_for_perplexity` nearest
    neighbours (module docstring). Rows are sorted; no self-pairs."""
    n = x.size(0)
    if n < 2:
        raise ValueError(f"a perplexity-calibrated P needs at least 2 points, got {n}")
    k = neighbors_for_perplexity(perplexity, n)
    nbr, dist = knn_graph(x, k, metric=metric, method=knn_method, info=knn_info)
    p = perplexity_probabilities(dist, perplexity)
    rows = torch.arange(n, device=x.device).repeat_interleave(k)
    cols = nbr.reshape(-1)
    half = p.reshape(-1) / 2
    index = torch.stack([torch.cat([rows, cols]), torch.cat([cols, rows])])
    keys, weight = coalesce_sum(_to_keys(index, n), torch.cat([half, half]))
    return _from_keys(keys, n), weight
