r"""The input similarity :math:`P` of GenURL (DSM step 6): adaptive graph + feature mix.

.. math::
    P = (1 - \lambda)\, P_{\text{feat}} + \lambda\, P_{\text{graph}}

over the union of both sparse supports (a pair missing from one part counts as 0 there).

* :math:`P_{\text{feat}}`: kNN graph of the features (:func:`~.knn.knn_graph`), calibrated
  per point (:func:`~.calibration.calibrate`), extended along the manifold by hop-limited
  geodesic distances on that kNN graph (:func:`~.geodesic.geodesic_distances`), turned into
  memberships :math:`\hat\kappa_\nu(\max(g_{ij}-\rho_i,0)/\sigma_i)` and symmetrised by the
  fuzzy union :math:`A + A^\top - A \circ A^\top`.
* :math:`P_{\text{graph}}`: hop counts :math:`h_{ij}` on the (symmetrised) predefined graph,
  :math:`\hat\kappa_\nu(h_{ij} - 1)`: 1 for direct neighbours, about :math:`e^{-1}` for two
  hops with the default :math:`\nu = 100`.
* :math:`\lambda`: a float in [0, 1] or ``'auto'`` (:func:`estimate_lambda`).

Self pairs are never stored. Memory is :math:`O(N \cdot k^{H})` at most (bounded further by
``max_pairs_per_row``); no :math:`N \times N` matrix is formed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple, Union

import torch
from torch import Tensor

from .._validation import check_edge_index, check_features, check_positive_int
from .calibration import DEFAULT_INPUT_NU, calibrate, calibrated_weights
from .geodesic import geodesic_distances, hop_distances
from .kernels import student_t
from .knn import knn_graph
from .sparse_ops import coalesce_sum, lookup
from .trust import estimate_lambda  # noqa: F401  (re-exported: P's lambda lives here)

Lambda = Union[float, str]


@dataclass
class Similarity:
    """A sparse, symmetric similarity matrix in sorted COO form (CSR order).

    Attributes:
        index (LongTensor): ``[2, E]`` pairs ``(i, j)``, ``i != j``, sorted by ``(i, j)``.
        weight (Tensor): ``[E]`` values in (0, 1].
        num_nodes (int): :math:`N`.
        lam (float): the graph weight :math:`\\lambda` that was used.
    """
    index: Tensor
    weight: Tensor
    num_nodes: int
    lam: float = 0.0
    info: dict = field(default_factory=dict)

    @property
    def num_pairs(self) -> int:
        return int(self.weight.numel())

    def rowptr(self) -> Tensor:
        counts = torch.bincount(self.index[0], minlength=self.num_nodes)
        return torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])

    def to(self, device) -> 'Similarity':
        return Similarity(self.index.to(device), self.weight.to(device), self.num_nodes,
                          self.lam, dict(self.info))

    def to_dense(self) -> Tensor:
        """Dense ``[N, N]`` copy: O(N^2) memory, meant for small N and tests."""
        out = self.weight.new_zeros(self.num_nodes, self.num_nodes)
        out[self.index[0], self.index[1]] = self.weight
        return out

    def __repr__(self) -> str:
        return (f'Similarity(num_nodes={self.num_nodes}, num_pairs={self.num_pairs}, '
                f'lam={self.lam:.3f})')


def _to_keys(index: Tensor, n: int) -> Tensor:
    return index[0] * n + index[1]


def _from_keys(keys: Tensor, n: int) -> Tensor:
    return torch.stack([keys // n, keys % n])


def fuzzy_union(index: Tensor, weight: Tensor, num_nodes: int) -> Tuple[Tensor, Tensor]:
    r"""Symmetrises memberships :math:`A` as :math:`A + A^\top - A \circ A^\top`. O(E log E)."""
    n = num_nodes
    keys, w = coalesce_sum(_to_keys(index, n), weight)  # duplicates would double count: sum is
    w = w.clamp_max(1.0)                                 # then clipped to a membership
    t_keys = index[1] * n + index[0]
    t_keys, t_w = coalesce_sum(t_keys, weight)
    t_w = t_w.clamp_max(1.0)
    all_keys = torch.unique(torch.cat([keys, t_keys]))
    _, a = lookup(keys, w, all_keys)
    _, at = lookup(t_keys, t_w, all_keys)
    return _from_keys(all_keys, n), a + at - a * at


def feature_similarity(x: Tensor, k: int = 15, metric: str = 'euclidean', hops: int = 2,
                       nu: float = DEFAULT_INPUT_NU, knn_method: str = 'auto',
                       max_pairs_per_row: Optional[int] = None,
                       min_weight: float = 1e-4,
                       knn: Optional[Tuple[Tensor, Tensor]] = None,
                       knn_info: Optional[dict] = None) -> Tuple[Tensor, Tensor]:
    r"""The feature part :math:`P_{\text{feat}}` (sparse, symmetric, no self pairs).

    Steps and costs: kNN (see :func:`knn_graph`), calibration O(N·k·iters), geodesics
    O(N·k^H) (``hops = 1`` uses the kNN distances directly), fuzzy union O(E log E).

    Geodesic pairs whose membership would fall below ``min_weight`` are never generated:
    the relaxation runs with the per-point radius
    :math:`r_i = \max(\rho_i + \sigma_i t^*, d_{ik})` where
    :math:`\hat\kappa_\nu(t^*) = w_{\min}`, so every kNN pair is kept. In high dimensions
    most 2-hop pairs lie far outside it (measured on 100k Gaussian points, D = 64: median
    membership 1e-12), and keeping them would multiply memory for entries that contribute
    nothing to the loss.

    ``knn`` may pass a precomputed ``(index, dist)`` from :func:`knn_graph` (same ``k``).
    """
    x = check_features(x, 'x', min_rows=2)
    hops = check_positive_int(hops, 'hops')
    n = x.size(0)
    nbr, dist = knn if knn is not None else knn_graph(x, k, metric=metric, method=knn_method,
                                                      info=knn_info)
    if nbr.shape != (n, k):
        raise ValueError(f"'knn' must hold [N, k] = {(n, k)} arrays, got {tuple(nbr.shape)}")
    rho, sigma = calibrate(dist, nu=nu)
    rows = torch.arange(n, device=x.device).repeat_interleave(k)
    if hops == 1:
        index = torch.stack([rows, nbr.flatten()])
        g = dist.flatten()
    else:
        radius = None
        if min_weight > 0:
            # Invert the kernel: (1 + t/nu)^-(nu+1) = w  <=>  t = nu (w^(-1/(nu+1)) - 1).
            t_star = nu * (min_weight ** (-1.0 / (nu + 1)) - 1)
            radius = torch.maximum(rho + sigma * t_star, dist[:, -1])
        index, g = geodesic_distances(torch.stack([rows, nbr.flatten()]), dist.flatten(),
                                      n, hops, max_pairs_per_row=max_pairs_per_row,
                                      max_dist=radius)
    w = calibrated_weights(g, rho[index[0]], sigma[index[0]], nu=nu)
    # Geodesics never come out shorter than the direct distance, so memberships stay in (0, 1].
    return fuzzy_union(index, w, n)


def graph_similarity(edge_index: Tensor, num_nodes: int, hops: int = 1,
                     nu: float = DEFAULT_INPUT_NU, max_pairs_per_row: Optional[int] = None,
                     seed: int = 0) -> Tuple[Tensor, Tensor]:
    r""":math:`P_{\text{graph}}_{ij} = \hat\kappa_\nu(h_{ij} - 1)` for hop counts
    :math:`h_{ij} \le H` on the predefined graph taken as undirected. O(N·d^H) time.

    ``max_pairs_per_row`` bounds memory on dense graphs, where the 2-hop pairs number
    :math:`\sum_j d_j^2`: every row keeps its nearest hop levels whole and a uniform random
    subset (seeded by ``seed``) of the level that overflows the cap (see
    :func:`~genurl_pyg.structure.hop_distances`). Memory :math:`O(N \cdot \text{cap})`.
    The result is then no longer symmetric for capped rows (each row samples its own).
    """
    edge_index = check_edge_index(edge_index, num_nodes)
    both = torch.cat([edge_index, edge_index.flip(0)], dim=1)
    gen = torch.Generator().manual_seed(seed) if max_pairs_per_row else None
    index, hop = hop_distances(both, num_nodes, hops, max_pairs_per_row, gen)
    return index, student_t((hop - 1).to(torch.float32), nu, normalize=True)


def combine(feat: Optional[Tuple[Tensor, Tensor]], graph: Optional[Tuple[Tensor, Tensor]],
            lam: float, num_nodes: int) -> Tuple[Tensor, Tensor]:
    """:math:`(1-\\lambda) P_f + \\lambda P_g` over the union of supports; zero entries dropped."""
    parts = []
    if feat is not None and lam < 1:
        parts.append((feat[0], feat[1] * (1 - lam)))
    if graph is not None and lam > 0:
        parts.append((graph[0], graph[1] * lam))
    if not parts:
        raise ValueError('combine() needs at least one non-empty part')
    keys = torch.cat([_to_keys(i, num_nodes) for i, _ in parts])
    vals = torch.cat([w.to(parts[0][1].dtype) for _, w in parts])
    keys, vals = coalesce_sum(keys, vals)
    keep = vals > 0
    return _from_keys(keys[keep], num_nodes), vals[keep]
