r"""Decoupled (SIGN-style) feature propagation: the graph is used once, before training.

.. math::
    X_{\text{sign}} = [\,X,\ \hat A X,\ \hat A^2 X,\ \dots,\ \hat A^K X\,], \qquad
    \hat A = D^{-1/2}(A + I)D^{-1/2}

computed with :math:`K` sparse-dense products: time :math:`O(K\,E\,D)`, memory
:math:`O(N (K+1) D)`. An MLP on these rows is then a graph encoder whose mini-batch cost does
not depend on the neighbourhood size (Frasca et al., SIGN, 2020), so GenURL can train with
per-step cost :math:`O(B (k + m) d)` on graphs of millions of nodes. Pure torch (CPU, CUDA);
no pyg-lib or torch-sparse needed.
"""
from __future__ import annotations

import warnings

from typing import Optional

import torch
from torch import Tensor

from .._validation import check_edge_index, check_features, check_positive_int


def normalized_adjacency(edge_index: Tensor, num_nodes: int) -> Tensor:
    """:math:`D^{-1/2}(A+I)D^{-1/2}` (A symmetrised, duplicates and given self-loops
    counted once) as a CSR tensor. O(E log E): one sort of the pair keys, which already
    leaves them in CSR order, so the matrix is assembled without a COO coalesce (the
    views' own smoothing builds one per view and step)."""
    edge_index = check_edge_index(edge_index, num_nodes, allow_empty=True)
    loops = torch.arange(num_nodes, device=edge_index.device).repeat(2, 1)
    ei = torch.cat([edge_index, edge_index.flip(0), loops], dim=1)
    keys = torch.unique(ei[0] * num_nodes + ei[1])  # sorted: row-major, as CSR stores
    row, col = keys // num_nodes, keys % num_nodes
    counts = torch.bincount(row, minlength=num_nodes)
    deg = counts.float()
    w = deg[row].rsqrt() * deg[col].rsqrt()
    crow = torch.zeros(num_nodes + 1, dtype=torch.long, device=keys.device)
    torch.cumsum(counts, 0, out=crow[1:])
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='Sparse CSR tensor support')
        return torch.sparse_csr_tensor(crow, col, w, (num_nodes, num_nodes),
                                       check_invariants=False)


def smooth_features(x: Tensor, edge_index: Tensor, hops: int,
                    adj: Optional[Tensor] = None) -> Tensor:
    """:math:`\\hat A^{hops} X` alone (SGC's smoothing; ``hops = 0``: ``x`` itself).
    ``adj``: :math:`\\hat A` of ``edge_index`` when the caller already holds it (it is not
    checked against ``edge_index``). O(hops·E·D) time, O(N·D) memory."""
    x = check_features(x, 'x')
    if isinstance(hops, bool) or not isinstance(hops, int) or hops < 0:
        raise ValueError(f"'hops' must be an integer >= 0, got {hops!r}")
    if hops == 0:
        return x
    if adj is None:
        adj = normalized_adjacency(edge_index, x.size(0))
    for _ in range(hops):
        x = adj @ x
    return x


def propagate_features(x: Tensor, edge_index: Tensor, hops: int = 2) -> Tensor:
    """``[N, (hops + 1) * D]`` concatenation of :math:`\\hat A^k X`, k = 0..hops."""
    x = check_features(x, 'x')
    check_positive_int(hops, 'hops')
    adj = normalized_adjacency(edge_index, x.size(0))
    out, cur = [x], x
    for _ in range(hops):
        cur = adj @ cur
        out.append(cur)
    return torch.cat(out, dim=1)
