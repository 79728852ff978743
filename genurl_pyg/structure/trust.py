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
  (:class:`~genurl_pyg.nn.models.EgoGCN`). The threshold and what it buys are
  measured in ``experiments/results/heterophily_benchmark.md``.

The agreement reads only whether edges join *similar* nodes. A graph can carry information
without that: edges that avoid the own class (syn-Cora at h = 0), or Minesweeper's grid,
whose neighbours' features tell a node's label although they do not resemble its own
features much (agreement 0.017). :func:`graph_feature_information` measures any linear
dependence between the features at the two ends of an edge, against a degree-preserving
shuffle of the same edges. Low information alone does not make a graph noise: with
uninformative features (random node vectors given to a featureless graph) a community graph
reads as low as random edges do. :func:`triangle_closure_ratio` looks at the graph's own
shape: how much more often two neighbours of a node are adjacent than in a random graph with
the same degrees. :func:`graph_is_noise` calls the edges noise when both are low
(information below :data:`LOW_INFORMATION`, closure below :data:`MIN_CLOSURE_RATIO`); then
``encoder: auto`` uses the MLP and ``lam: auto`` leaves the graph out of P (:math:`\lambda`
would be about 0 there anyway): the run is the features-only run.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

from .._validation import check_edge_index, check_features

# Agreement below which 'encoder: auto' avoids GCN-style averaging (see the module doc).
LOW_TRUST = 0.25
# Edge information (nats, graph_feature_information) below which the edges count as noise
# (with a low closure ratio, graph_is_noise). Measured on the heterophily sweep (issue 13,
# 5 seeds): the three cells where the ego-GCN lost 1-2 points to the features alone read
# -0.0006 to 0.0044, Cora h 0.2 (a tie) 0.0002; the two h 0.3 cells, where it won 2-3
# points, 0.0024 and 0.0058 (given up: below the threshold the rule takes the features-only
# side); every cell from 0.0083 up (h 0, h >= 0.4, Minesweeper 0.0246) won.
LOW_INFORMATION = 0.007
# Triangle closure against a random graph of the same degrees from which a graph counts as
# structured (not noise) whatever its features say. Random edges read 0.9-1.5 (the sweep,
# h <= 0.5); real graphs 1.6 (Tolokers, reed98: dense, heavy-tailed degrees) to 710
# (Minesweeper's grid), Cora 10.
MIN_CLOSURE_RATIO = 2.0
_OVERSAMPLE, _POWER_ITERATIONS = 10, 10  # randomised PCA (graph_feature_information)
_SAMPLE_ELEMENTS = 1 << 24  # double values of the PCA sample
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


def graph_feature_information(x: Tensor, edge_index: Tensor, num_components: int = 8,
                              num_shuffles: int = 10, max_edges: int = 200_000,
                              max_rows: int = 50_000, seed: int = 0) -> float:
    r"""How much an edge tells about the features at its other end, beyond chance (nats).

    Project the centred features on their top ``q = num_components`` principal directions
    and scale every component to unit variance (``z``). Over the ``s`` sampled edges
    :math:`(i, j)` (unordered pairs: self-loops and the reverse copies dropped) the symmetrised cross-correlation of the two ends is
    :math:`C = \tfrac{1}{2s}\sum (z_i z_j^\top + z_j z_i^\top)`; for jointly Gaussian ends
    with small correlations the mutual information is about :math:`\tfrac12\|C\|_F^2`. The
    same on the edges with their second ends permuted (every node keeps its degree; the mean
    over ``num_shuffles`` permutations) is what a random graph with these degrees shows from
    finite samples, and is subtracted:

    .. math::
        I = \tfrac12 \left(\|C\|_F^2 - \overline{\|C_\pi\|_F^2}\right).

    Unlike :func:`graph_feature_agreement` it counts dependence of either sign and in any
    direction of feature space: edges that join unlike classes in a consistent way score as
    high as edges that join like ones. Cost O(r·D·q) for the principal directions from at
    most ``max_rows`` sampled rows (fewer where D is wide: the centred sample holds at most
    2^24 values, 134 MB), O(s·D·q + num_shuffles·s·q²) for the edges; memory O((r + s)·q)
    beyond that sample. Deterministic for a given ``seed``, and
    it leaves the global random state untouched (training seeds stay reproducible).
    Returns 0 for a graph without edges, ``nan`` when the features have no variance.
    """
    for name, value, low in (('num_components', num_components, 1),
                             ('num_shuffles', num_shuffles, 1), ('max_edges', max_edges, 1),
                             ('max_rows', max_rows, 2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"'{name}' must be an integer >= {low}, got {value!r}")
    x = check_features(x, 'x', min_rows=2)
    n = x.size(0)
    edge_index = check_edge_index(edge_index, n)
    e = edge_index[:, edge_index[0] != edge_index[1]]
    if e.size(1) == 0:
        return 0.0
    # One row per unordered pair: an undirected graph lists every edge twice, and its two
    # copies are not independent samples, while the shuffled pairs are; counting both would
    # make the real edges look noisier than the null and bias I upwards.
    gen = torch.Generator().manual_seed(seed)
    if e.size(1) > 2 * max_edges:  # sample before de-duplicating: O(s), not O(E), memory
        e = e[:, torch.randperm(e.size(1), generator=gen)[:2 * max_edges].to(e.device)]
    lo, hi = torch.minimum(e[0], e[1]), torch.maximum(e[0], e[1])
    keys = torch.unique(lo * n + hi)
    e = torch.stack([keys // n, keys % n])
    if e.size(1) > max_edges:
        e = e[:, torch.randperm(e.size(1), generator=gen)[:max_edges].to(e.device)]
    # Principal directions from at most max_rows rows and _SAMPLE_ELEMENTS values (a
    # 4,735-column facebook100 graph: 3,543 rows, 134 MB in double precision).
    max_rows = max(2, min(max_rows, _SAMPLE_ELEMENTS // x.size(1)))
    rows = torch.randperm(n, generator=gen)[:max_rows].to(x.device) if n > max_rows else None
    sample = (x if rows is None else x[rows]).double()
    mean = sample.mean(0)
    sample = sample - mean
    q = min(num_components, sample.size(0) - 1, sample.size(1))
    # Randomised PCA with oversampling and extra power iterations: the top directions of
    # bag-of-words features have close eigenvalues, and a loose basis makes I jitter by a
    # third between seeds (measured on Cora's features).
    over = min(q + _OVERSAMPLE, sample.size(0) - 1, sample.size(1))
    with torch.random.fork_rng(devices=[]):  # pca_lowrank draws from the global generator
        torch.manual_seed(seed)
        _, _, v = torch.pca_lowrank(sample, q=over, center=False, niter=_POWER_ITERATIONS)
    v = v[:, :q]
    scale = (sample @ v).std(0)
    keep = scale > 1e-9 * max(float(scale.max()), 1e-300)
    if not bool(keep.any()):
        return float('nan')  # every feature is constant: no geometry to relate
    basis = v[:, keep] / scale[keep]
    z_src = _project(x, e[0], mean, basis)
    z_dst = _project(x, e[1], mean, basis)

    def energy(dst: Tensor) -> float:
        c = z_src.T @ dst / z_src.size(0)
        return float(((c + c.T) / 2).square().sum())

    null = sum(energy(z_dst[torch.randperm(z_dst.size(0), generator=gen).to(z_dst.device)])
               for _ in range(num_shuffles)) / num_shuffles
    return 0.5 * (energy(z_dst) - null)


def triangle_closure_ratio(edge_index: Tensor, num_nodes: int, num_samples: int = 200_000,
                           seed: int = 0) -> float:
    r"""The graph's transitivity over that of a random graph with the same degrees.

    Transitivity :math:`T` is the share of wedges :math:`j - i - k` (two distinct
    neighbours of one node) whose ends are adjacent, estimated from ``num_samples`` wedges
    drawn uniformly (centre :math:`i` with probability :math:`\propto d_i(d_i - 1)`). The
    configuration model with the same degrees expects
    :math:`T_0 = (\langle d^2\rangle - \langle d\rangle)^2 / (N \langle d\rangle^3)`; the
    ratio :math:`T / T_0` is about 1 for random edges, far above for graphs made of
    communities or of a lattice. Edges are taken as undirected, self-loops and duplicates
    dropped. Cost O(E log E) to sort the edges plus O(s log E); memory O(E + s).
    ``nan`` when no node has two neighbours (no wedge) or :math:`T_0 \ge 1`."""
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"'num_samples' must be an integer >= 1, got {num_samples!r}")
    if edge_index.numel() == 0:
        return float('nan')  # no edges, no wedges
    edge_index = check_edge_index(edge_index, num_nodes).cpu()
    e = edge_index[:, edge_index[0] != edge_index[1]]
    n = int(num_nodes)
    keys = torch.unique(torch.cat([e[0] * n + e[1], e[1] * n + e[0]]))  # sorted, both ways
    src, dst = keys // n, keys % n
    deg = torch.bincount(src, minlength=n).double()
    wedges = deg * (deg - 1)
    if keys.numel() == 0 or float(wedges.sum()) == 0:
        return float('nan')
    mean, mean_sq = float(deg.mean()), float(deg.square().mean())
    expected = (mean_sq - mean) ** 2 / (n * mean ** 3)
    if expected >= 1:
        return float('nan')  # hubs so dominant that a random graph closes every wedge
    gen = torch.Generator().manual_seed(seed)
    rowptr = torch.zeros(n + 1, dtype=torch.long)
    rowptr[1:] = torch.cumsum(deg.long(), 0)
    centre = torch.multinomial(wedges, num_samples, replacement=True, generator=gen)
    d = deg[centre].long()
    a = (torch.rand(num_samples, generator=gen, dtype=torch.float64) * d).long()
    b = (torch.rand(num_samples, generator=gen, dtype=torch.float64) * (d - 1)).long()
    b = b + (b >= a).long()  # a second, different neighbour
    query = dst[rowptr[centre] + a] * n + dst[rowptr[centre] + b]
    pos = torch.searchsorted(keys, query).clamp_max(keys.numel() - 1)
    closed = float((keys[pos] == query).double().mean())
    return closed / expected


def graph_is_noise(information: Optional[float], closure_ratio: Optional[float]) -> bool:
    """True when the edges look like a random graph both to the features (information below
    :data:`LOW_INFORMATION`) and in their own shape (closure ratio below
    :data:`MIN_CLOSURE_RATIO`, or no wedges). ``None``/``nan`` information (not measured,
    features without geometry): False, the graph is kept."""
    if information is None or not information < LOW_INFORMATION:
        return False
    return not (closure_ratio is not None and closure_ratio >= MIN_CLOSURE_RATIO)


def _project(x: Tensor, nodes: Tensor, mean: Tensor, basis: Tensor) -> Tensor:
    """Whitened principal components of ``x[nodes]``, ``[s, q]``, in chunks: O(chunk·D)."""
    rows = max(1, _SAMPLE_ELEMENTS // 4 // x.size(1))  # a chunk of at most 32 MB
    out = [(x[c].double() - mean) @ basis for c in nodes.split(rows)]
    return torch.cat(out)


def estimate_lambda(x: Tensor, edge_index: Tensor, metric: str = 'euclidean',
                    num_samples: int = 20_000, seed: int = 0) -> float:
    r"""P's graph weight :math:`\lambda = \operatorname{clip}(a, 0, 1)` from the
    graph–feature agreement :math:`a` (:func:`graph_feature_agreement`)."""
    return lambda_from_agreement(graph_feature_agreement(x, edge_index, metric, num_samples,
                                                         seed))


def lambda_from_agreement(a: float) -> float:
    r""":math:`\operatorname{clip}(a, 0, 1)`; 1 for ``nan`` (the features hold no geometry:
    the graph is the only structure). For callers that measured the agreement already."""
    if math.isnan(a):
        return 1.0
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
