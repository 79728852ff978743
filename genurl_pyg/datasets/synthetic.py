r"""Graphs of controlled homophily on real features (the "syn-Cora" sweep of H2GCN, Zhu et
al., NeurIPS 2020, in the simple form used by issue 13).

Keep a data set's features ``x`` and labels ``y``; throw its edges away and give every node
``degree`` new out-neighbours, each drawn

* with probability :math:`h` uniformly from the *other* nodes of its own class, and
* otherwise uniformly from the nodes of the other classes,

then symmetrise. An edge :math:`i \to j` is intra-class with probability :math:`h`, so the
edge homophily of the result is :math:`h` up to sampling noise and the few edges that
coincide (the reverse edge of an intra-class edge is intra-class too). :math:`h` at "chance"
is :math:`\sum_c (n_c/N)^2`, about 0.18 on Cora: below it the graph is *anti*-informative.
Cost O(N·degree) time and memory, plus a sort for de-duplication.

Registry names: ``syn-<base>-h<h>`` (``syn-cora-h0.1``) with an optional seed suffix
``-s<seed>`` (default 0); the same name always gives the same graph.
"""
from __future__ import annotations

import re
from typing import Optional, Tuple

import torch
from torch import Tensor

SYNTHETIC_NAME = re.compile(r'^syn-(?P<base>[a-z0-9_]+)-h(?P<h>[0-9]*\.?[0-9]+)'
                            r'(?:-s(?P<seed>[0-9]+))?$')
DEFAULT_DEGREE = 4


def parse_synthetic_name(name: str) -> Optional[Tuple[str, float, int]]:
    """``(base, h, seed)`` for a name like ``syn-cora-h0.1-s2``; None if it is not one.
    Raises ``ValueError`` for a well-formed name whose ``h`` is outside [0, 1]."""
    m = SYNTHETIC_NAME.match(str(name).lower())
    if m is None:
        return None
    h = float(m.group('h'))
    if not 0.0 <= h <= 1.0:
        raise ValueError(f"synthetic data set {name!r}: the homophily h must be in [0, 1], "
                         f"got {h:g}")
    return m.group('base'), h, int(m.group('seed') or 0)


def homophily_rewired_edges(y: Tensor, homophily: float, degree: int = DEFAULT_DEGREE,
                            seed: int = 0) -> Tensor:
    """An undirected ``[2, E]`` edge index (both directions, no self-loops, no duplicates)
    over the nodes labelled by ``y``, with edge homophily about ``homophily``.

    Every class needs at least two nodes (an intra-class partner other than oneself) and
    there must be at least two classes (an inter-class partner), unless ``homophily`` is
    exactly 1 or 0 respectively.
    """
    if isinstance(homophily, bool) or not isinstance(homophily, (int, float)) \
            or not 0.0 <= float(homophily) <= 1.0:
        raise ValueError(f"'homophily' must be a number in [0, 1], got {homophily!r}")
    if isinstance(degree, bool) or not isinstance(degree, int) or degree < 1:
        raise ValueError(f"'degree' must be an integer >= 1, got {degree!r}")
    y = torch.as_tensor(y).view(-1).long()
    n = y.numel()
    if n < 2:
        raise ValueError('rewiring needs at least 2 labelled nodes')
    if bool((y < 0).any()):
        raise ValueError("'y' must label every node (no negative labels)")
    gen = torch.Generator().manual_seed(int(seed))
    # Nodes grouped by class: order[start[c]:start[c] + count[c]] are the nodes of class c.
    order = torch.argsort(y, stable=True)
    count = torch.bincount(y)
    start = torch.cumsum(count, 0) - count
    src = torch.arange(n).repeat_interleave(degree)
    cls = y[src]
    same = torch.rand(src.numel(), generator=gen) < float(homophily)
    if bool(same.any()) and int(count[cls[same]].min()) < 2:
        raise ValueError('every class needs at least 2 nodes for intra-class edges')
    if bool((~same).any()) and int((count > 0).sum()) < 2:
        raise ValueError('inter-class edges need at least 2 classes')
    dst = torch.empty_like(src)
    # Intra-class: a uniform other member of the own class (skip oneself by a shift).
    s_src, s_cls = src[same], cls[same]
    size = count[s_cls]
    pos_self = _position_in_class(s_src, y, order, start)
    r = (torch.rand(s_src.numel(), generator=gen) * (size - 1)).long().clamp_max(size - 2)
    r = r + (r >= pos_self).long()
    dst[same] = order[start[s_cls] + r]
    # Inter-class: a uniform node outside the own class (skip the own class's block).
    o_cls = cls[~same]
    outside = n - count[o_cls]
    r = (torch.rand(o_cls.numel(), generator=gen) * outside).long().clamp_max(outside - 1)
    r = r + (r >= start[o_cls]).long() * count[o_cls]
    dst[~same] = order[r]
    ei = torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], dim=1)
    keys = torch.unique(ei[0] * n + ei[1])
    return torch.stack([keys // n, keys % n])


def _position_in_class(nodes: Tensor, y: Tensor, order: Tensor, start: Tensor) -> Tensor:
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel())
    return rank[nodes] - start[y[nodes]]


def homophily_sweep_graph(data, homophily: float, degree: int = DEFAULT_DEGREE, seed: int = 0):
    """A copy of ``data`` (features, labels) whose edges are replaced by
    :func:`homophily_rewired_edges`; ``data`` itself is not changed. The split masks of the
    base graph are dropped (the sweep uses random splits)."""
    from torch_geometric.data import Data
    if getattr(data, 'y', None) is None or getattr(data, 'x', None) is None:
        raise ValueError('the base graph needs node features x and labels y')
    edge_index = homophily_rewired_edges(data.y, homophily, degree, seed)
    out = Data(x=data.x.clone(), y=data.y.clone(), edge_index=edge_index,
               num_nodes=data.num_nodes)
    out.homophily = float(homophily)
    return out


def planted_partition_graph(blocks: int = 4, block_size: int = 100, p_in: float = 0.1,
                            p_out: float = 0.01, seed: int = 0):
    r"""A planted-partition (stochastic block) graph **without node features**: ``blocks``
    groups of ``block_size`` nodes, each pair joined with probability ``p_in`` inside a
    group and ``p_out`` across; ``y`` is the group. Only the structure tells the groups
    apart, so it tests featureless embeddings (registry name ``PlantedPartition``: 4 x 100,
    0.1 / 0.01, seed 0). O(N²) pair draws: meant for small graphs."""
    from torch_geometric.data import Data
    n = blocks * block_size
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) // block_size
    iu = torch.triu_indices(n, n, offset=1)
    same = y[iu[0]] == y[iu[1]]
    prob = torch.where(same, torch.tensor(p_in), torch.tensor(p_out))
    keep = torch.rand(prob.numel(), generator=g) < prob
    ei = iu[:, keep]
    return Data(edge_index=torch.cat([ei, ei.flip(0)], 1), y=y, num_nodes=n)
