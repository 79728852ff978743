"""Pieces the peers share: feature preprocessing, GCN stacks on a CSR adjacency, views."""
from __future__ import annotations

import time
from typing import Optional, Sequence

import torch
from torch import Tensor
from torch_geometric.nn import GCNConv

from genurl_pyg.node.inputs import csr_adjacency, csr_if_sparse, normalize_rows
from genurl_pyg.node.views import augment


def features(data, row_normalize: bool) -> Tensor:
    """``data.x`` as float, rows scaled to sum 1 when the paper's loader did that (PyG's
    ``NormalizeFeatures``; DGL's citation sets), as a CSR tensor when bag-of-words sparse
    (the same maths, an O(nnz) first product)."""
    x = data.x.float()
    return csr_if_sparse(normalize_rows(x) if row_normalize else x)


def view(x: Tensor, edge_index: Tensor, feature_mask: float, edge_drop: float,
         num_nodes: int, generator: torch.Generator):
    """One augmented view (feature-column masking, edge dropping) as (x, adj_t)."""
    xv, ev = augment(x, edge_index, feature_mask, edge_drop, generator)
    return xv, csr_adjacency(ev, num_nodes)


class GCNStack(torch.nn.Module):
    """``len(channels) - 1`` GCNConv layers with an activation (and optional BatchNorm)
    between them; ``last_act`` also after the last layer."""

    def __init__(self, channels: Sequence[int], act: str = 'relu', last_act: bool = False,
                 batch_norm: bool = False, bn_momentum: float = 0.1) -> None:
        super().__init__()
        self.convs = torch.nn.ModuleList(GCNConv(a, b, cached=False)
                                         for a, b in zip(channels[:-1], channels[1:]))
        n = len(self.convs)
        self.norms = torch.nn.ModuleList(
            torch.nn.BatchNorm1d(c, momentum=bn_momentum) if batch_norm else torch.nn.Identity()
            for c in channels[1:])
        self.acts = torch.nn.ModuleList(
            make_act(act, c) if (i < n - 1 or last_act) else torch.nn.Identity()
            for i, c in enumerate(channels[1:]))

    def forward(self, x: Tensor, adj_t) -> Tensor:
        for conv, norm, act in zip(self.convs, self.norms, self.acts):
            x = act(norm(conv(x, adj_t)))
        return x


def make_act(name: str, channels: int) -> torch.nn.Module:
    if name == 'relu':
        return torch.nn.ReLU()
    if name == 'prelu':
        return torch.nn.PReLU(channels)
    if name == 'rrelu':
        return torch.nn.RReLU()
    if name == 'elu':
        return torch.nn.ELU()
    raise ValueError(f'unknown activation {name!r}')


def out_of_time(deadline: Optional[float]) -> bool:
    return deadline is not None and time.perf_counter() > deadline


def seeded(seed: int) -> torch.Generator:
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
