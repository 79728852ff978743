r"""How far the predefined graph can be trusted, without labels.

Let :math:`d_e` be the feature distance across a graph edge and :math:`d_r` across a
uniformly random pair of distinct nodes. The *graph–feature agreement* is

.. math::
    a = 2\,\mathrm{AUC} - 1 \in [-1, 1], \qquad
    \mathrm{AUC} = \Pr[d_e < d_r] + \tfrac12 \Pr[d_e = d_r],

the Mann–Whitney statistic of ``num_samples`` edges against as many random pairs. Edges that
join feature-similar nodes give :math:`a \to 1`; edges no closer than random pairs give
:math:`a \approx 0`; edges that prefer dissimilar nodes give :math:`a < 0`. Cost
O(s·D + s log s), deterministic for a given ``seed``; distances are computed in chunks, so
the extra memory is O(chunk·D), not O(s·D).

Features that give every sampled pair the same distance (one-hot node ids of a featureless
graph, constant columns) carry no geometry to check the graph against: the agreement is
then ``nan`` ("cannot tell"), :math:`\lambda = 1` (the graph is the only structure there
is) and ``encoder: auto`` keeps the GCN.

Two decisions read it (neither looks at labels):

* P's graph weight :math:`\lambda = \operatorname{clip}(a, 0, 1)` under ``lam: 'auto'``
  (:func:`estimate_lambda`);
* the encoder under ``encoder: 'auto'``: below :data:`LOW_TRUST` a message-passing encoder
  that averages a node with its neighbours through one weight (GCN, GAT) erases what the
  node's own features knew, so ``auto`` takes one with a separate ego channel
  (:class:`~genurl_pyg.nn.models.EgoNeighborSAGE`). The threshold and what it buys are
  measured in ``experiments/results/heterophily_benchmark.md``.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from .._validation import check_edge_index, check_features

# Agreement below which 'encoder: auto' avoids GCN-style averaging (see the module doc).
LOW_TRUST = 0.25
_CHUNK = 4096  # rows of the gathered [chunk, D] differences


def graph_feature_agreement(x: Tensor, edge_index: Tensor, metric: str = 'euclidean',
                            num_samples: int = 20_000, seed: int = 0) -> float:
    """The agreement :math:`a = 2\\,\\mathrm{AUC} - 1` of the module doc; 0 for a graph
    without edges (nothing to trust), ``nan`` when every sampled distance is the same."""
    if metric not in ('euclidean', 'cosine'):
        raise ValueError(f"'metric' must be 'euclidean' or 'cosine', got {metric!r}")
    x = check_features(x, 'x', min_rows=2)
    n = x.size(0)
    edge_index = check_edge_index(edge_index, n)
    gen = torch.Generator().manual_seed(seed)
    e = edge_index[:, edge_index[0] != edge_index[1]]
    if e.size(1) == 0:
        return 0.0
    pick = torch.randint(0, e.size(1), (min(num_samples, e.size(1)),), generator=gen)
    e = e[:, pick.to(e.device)]
    s = e.size(1)
    ri = torch.randint(0, n, (s,), generator=gen)
    rj = (ri + torch.randint(1, n, (s,), generator=gen)) % n  # uniform over j != i
    d_edge = pair_distance(x, e[0], e[1], metric)
    d_rand = pair_distance(x, ri.to(x.device), rj.to(x.device), metric)
    both = torch.cat([d_edge, d_rand])
    if float(both.max() - both.min()) <= 1e-9 * max(float(both.abs().max()), 1e-30):
        return float('nan')  # no geometry in the features: cannot tell
    return 2 * mann_whitney_auc(d_rand, d_edge) - 1


def estimate_lambda(x: Tensor, edge_index: Tensor, metric: str = 'euclidean',
                    num_samples: int = 20_000, seed: int = 0) -> float:
    r"""P's graph weight :math:`\lambda = \operatorname{clip}(a, 0, 1)` from the
    graph–feature agreement :math:`a` (:func:`graph_feature_agreement`)."""
    a = graph_feature_agreement(x, edge_index, metric, num_samples, seed)
    if math.isnan(a):
        return 1.0  # the features hold no geometry: the graph is the only structure
    return float(min(1.0, max(0.0, a)))


def pair_distance(x: Tensor, i: Tensor, j: Tensor, metric: str) -> Tensor:
    """Distances of the pairs ``(i[t], j[t])``, ``[s]``; O(s·D) time, O(chunk·D) memory."""
    out = []
    for a, b in zip(i.split(_CHUNK), j.split(_CHUNK)):
        xi, xj = x[a], x[b]
        if metric == 'cosine':
            cos = (xi * xj).sum(1) / (xi.norm(dim=1) * xj.norm(dim=1)).clamp_min(1e-12)
            out.append(1 - cos)
        else:
            out.append((xi - xj).norm(dim=1))
    return torch.cat(out) if out else x.new_zeros(0)


def mann_whitney_auc(larger: Tensor, smaller: Tensor) -> float:
    """P(smaller < larger) + 0.5 P(tie), from average ranks. O(s log s)."""
    values = torch.cat([smaller, larger]).double().cpu()
    uniq, inverse, counts = torch.unique(values, return_inverse=True, return_counts=True)
    first_rank = torch.cumsum(counts, 0) - counts + 1
    avg_rank = first_rank.double() + (counts.double() - 1) / 2
    ranks = avg_rank[inverse]
    n_l = larger.numel()
    n_s = smaller.numel()
    u_larger = ranks[n_s:].sum() - n_l * (n_l + 1) / 2
    return float(u_larger / (n_l * n_s))
