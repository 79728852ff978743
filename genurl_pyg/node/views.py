"""Graph views for GenURL's instance term (feature masking and edge dropping) and the
similarity over two stacked views."""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor

from ..structure.similarity import Similarity
from ..structure.sparse_ops import coalesce_sum
from .config import FEATURE_MASK_FORMS


def augment(x: Tensor, edge_index: Tensor, feature_mask: float, edge_drop: float,
            generator: Optional[torch.Generator] = None,
            mask_form: str = 'columns') -> Tuple[Tensor, Tensor]:
    """Masks features with probability ``feature_mask`` and drops each edge with
    probability ``edge_drop`` (GRACE-style). ``mask_form``: ``'columns'`` masks whole
    feature columns (one draw per column, O(D)), ``'entries'`` each stored (node, feature)
    entry on its own (one draw per stored entry: O(nnz), or O(N D) for dense rows).
    Returns new tensors; inputs are untouched. O(D + E) for column masks."""
    if mask_form not in FEATURE_MASK_FORMS:
        raise ValueError(f"'mask_form' must be one of {FEATURE_MASK_FORMS}, got {mask_form!r}")
    if feature_mask > 0:
        if mask_form == 'columns':
            keep = (torch.rand(x.size(1), generator=generator) >= feature_mask).to(x.device)
            x = mask_columns(x, keep)
        else:
            x = mask_entries(x, feature_mask, generator)
    if edge_drop > 0 and edge_index.numel() > 0:
        keep = torch.rand(edge_index.size(1), generator=generator) >= edge_drop
        edge_index = edge_index[:, keep.to(edge_index.device)]
    return x, edge_index


def mask_columns(x: Tensor, keep: Tensor) -> Tensor:
    """Zeroes the columns where ``keep`` is False; dense or sparse CSR ``x``. O(nnz)."""
    if x.layout == torch.sparse_csr:
        values = x.values() * keep[x.col_indices()].to(x.dtype)
        return torch.sparse_csr_tensor(x.crow_indices(), x.col_indices(), values, x.shape,
                                       check_invariants=False)
    return x * keep.to(x.dtype)


def mask_entries(x: Tensor, rate: float, generator: Optional[torch.Generator] = None
                 ) -> Tensor:
    """Zeroes each entry with probability ``rate``, independently; dense or sparse CSR
    ``x`` (a CSR input draws only for its stored entries: the zeros stay zero). The
    pattern is kept (dropped entries hold 0), so the result has ``x``'s layout. O(nnz)."""
    if x.layout == torch.sparse_csr:
        values = x.values()
        keep = torch.rand(values.numel(), generator=generator) >= rate
        return torch.sparse_csr_tensor(x.crow_indices(), x.col_indices(),
                                       values * keep.to(values.device, values.dtype), x.shape,
                                       check_invariants=False)
    keep = torch.rand(x.shape, generator=generator) >= rate
    return x * keep.to(x.device, x.dtype)


def disjoint_union(views: Sequence[Tuple[Tensor, Tensor]], num_nodes: int
                   ) -> Tuple[Tensor, Tensor]:
    """The views as one graph of ``len(views) * num_nodes`` nodes (view ``v``'s node ``i`` is
    ``v * num_nodes + i``): one encoder call for all views, which DDP needs (one forward per
    backward). Same result as separate calls for encoders without batch statistics. O(nnz+E).
    """
    xs = [x for x, _ in views]
    if xs[0].layout == torch.sparse_csr:
        x = torch.cat([v.to_sparse_coo() for v in xs]).to_sparse_csr()
    else:
        x = torch.cat(xs)
    ei = torch.cat([e + v * num_nodes for v, (_, e) in enumerate(views)], dim=1)
    return x, ei


def two_view_similarity(sim: Similarity, view_weight: float) -> Similarity:
    r"""P over ``2N`` stacked nodes (view 1 then view 2).

    .. math::
        P^{(2)} = \begin{pmatrix} P & P + w I \\ P + w I & P \end{pmatrix}, \text{ clipped to } 1,

    so structural neighbours attract within and across views, and the two views of one node
    attract with weight :math:`w` (the instance-discrimination end of GenURL). O(E).
    """
    return multi_view_similarity(sim, view_weight, 2)


def multi_view_similarity(sim: Similarity, view_weight: float, num_views: int) -> Similarity:
    r"""P over ``V N`` stacked nodes (``V = num_views`` views, view by view): every block
    :math:`(a, b)` holds P, and the off-diagonal blocks also :math:`w I`, clipped to 1
    (:func:`two_view_similarity` is ``V = 2``). O(V^2 E)."""
    n, size = sim.num_nodes, num_views * sim.num_nodes
    i, j = sim.index
    ar = torch.arange(n, device=i.device)
    rows, cols, weights = [], [], []
    for a in range(num_views):
        for b in range(num_views):
            rows.append(i + a * n), cols.append(j + b * n), weights.append(sim.weight)
            if a != b and view_weight > 0:
                rows.append(ar + a * n), cols.append(ar + b * n)
                weights.append(sim.weight.new_full((n,), view_weight))
    keys, vals = coalesce_sum(torch.cat(rows) * size + torch.cat(cols), torch.cat(weights))
    index = torch.stack([keys // size, keys % size])
    return Similarity(index, vals.clamp_max(1.0), size, sim.lam, dict(sim.info))
