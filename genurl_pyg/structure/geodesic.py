r"""Hop-limited shortest paths on sparse graphs (DSM steps 3 and 4).

For a directed graph with non-negative edge lengths :math:`w`, the hop-limited distance

.. math::
    g^{(H)}_{ij} = \min \Big\{ \textstyle\sum_{e \in \pi} w_e :
                    \pi \text{ a path } i \to j \text{ with at most } H \text{ edges} \Big\}

is computed by :math:`H` rounds of sparse min-plus relaxation (Bellman–Ford limited to
:math:`H` rounds): :math:`D^{(h+1)} = \min(D^{(h)}, D^{(h)} \otimes W)`. Only entries that
improved in the previous round (the *frontier*) are expanded, and rows are processed in
independent chunks, so the work is :math:`O(N \bar d^{H})` and memory is bounded by the chunk
and the output. Everything is torch tensor code (sort, searchsorted, scatter), so it runs
unchanged on CUDA.

Edge direction follows PyG: ``edge_index[0]`` is the source, ``edge_index[1]`` the target,
and a path from ``i`` to ``j`` follows edges source → target.
"""
from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
from torch import Tensor

from .._validation import check_edge_index, check_edge_weight, check_positive_int
from .sparse_ops import coalesce_min, csr_rowptr, expand_csr, lookup, topk_per_row

_TARGET_CANDIDATES_PER_CHUNK = 1 << 22


def geodesic_distances(edge_index: Tensor, edge_weight: Optional[Tensor], num_nodes: int,
                       max_hops: int, max_pairs_per_row: Optional[int] = None,
                       chunk_size: Optional[int] = None,
                       max_dist: Union[float, Tensor, None] = None,
                       tie_break: Optional[torch.Generator] = None) -> Tuple[Tensor, Tensor]:
    r"""Shortest-path lengths using at most ``max_hops`` edges, for all reachable pairs.

    Args:
        edge_index (LongTensor): ``[2, E]`` directed edges (source, target).
        edge_weight (Tensor, optional): ``[E]`` non-negative lengths (``None``: all 1).
        num_nodes (int): number of nodes :math:`N`.
        max_hops (int): the hop limit :math:`H \ge 1`.
        max_pairs_per_row (int, optional): keep only this many closest targets per source.
            Applied after every round to bound memory for large :math:`N`; when it binds, a
            pruned intermediate pair can make a farther pair missing (an approximation).
        chunk_size (int, optional): source rows per chunk (default: sized from the degree).
        max_dist (float or Tensor, optional): radius, a scalar or one per source node
            (``[N]``): only pairs with :math:`g_{ij} \le r_i` are returned. Pruning happens
            during the relaxation and is exact, since lengths are non-negative (a path longer
            than the radius cannot become shorter by extending it).
        tie_break (Generator, optional): with ``max_pairs_per_row``, break ties between
            equally distant targets uniformly at random (each tied target equally likely to
            be kept) instead of by index. Meant for hop counts, where ties are the rule.

    Returns:
        (LongTensor, Tensor): ``index`` ``[2, M]`` of pairs :math:`(i, j)`, :math:`i \ne j`,
        sorted by ``(i, j)``, and ``dist`` ``[M]``. Pairs with no path of at most
        :math:`H` edges are absent (never ``inf``); disconnected graphs are fine.

    Complexity:
        Time :math:`O(N \bar d^{H} \log)` for average out-degree :math:`\bar d`; memory
        :math:`O(M + \text{chunk} \cdot \bar d^{H})`.
    """
    num_nodes = check_positive_int(num_nodes, 'num_nodes')
    edge_index = check_edge_index(edge_index, num_nodes)
    max_hops = check_positive_int(max_hops, 'max_hops')
    if max_pairs_per_row is not None:
        check_positive_int(max_pairs_per_row, 'max_pairs_per_row')
    device = edge_index.device
    if edge_weight is None:
        edge_weight = torch.ones(edge_index.size(1), device=device)
    edge_weight = check_edge_weight(edge_weight, edge_index.size(1))

    src, dst = edge_index
    # Self loops never shorten a path with non-negative lengths; parallel edges keep the min.
    keep = src != dst
    keys, weight = coalesce_min(src[keep] * num_nodes + dst[keep], edge_weight[keep])
    src, dst = keys // num_nodes, keys % num_nodes
    rowptr = csr_rowptr(src, num_nodes)
    radius = _radius(max_dist, num_nodes, weight)

    if chunk_size is None:
        avg_deg = max(1.0, keys.numel() / num_nodes)
        per_row = min(float(num_nodes), avg_deg ** max_hops + avg_deg)
        chunk_size = int(max(1, min(num_nodes, _TARGET_CANDIDATES_PER_CHUNK // per_row)))

    out_keys, out_dist = [], []
    for start in range(0, num_nodes, chunk_size):
        stop = min(num_nodes, start + chunk_size)
        lo, hi = int(rowptr[start]), int(rowptr[stop])
        if lo == hi:
            continue
        first_k, first_d = keys[lo:hi], weight[lo:hi]
        if radius is not None:
            inside = first_d <= radius[src[lo:hi]]
            first_k, first_d = first_k[inside], first_d[inside]
        best_k, best_d = _relax_rows(first_k, first_d, dst, weight, rowptr,
                                     num_nodes, max_hops, max_pairs_per_row, radius, tie_break)
        out_keys.append(best_k)
        out_dist.append(best_d)
    if not out_keys:
        return (torch.empty(2, 0, dtype=torch.long, device=device),
                torch.empty(0, dtype=edge_weight.dtype, device=device))
    keys = torch.cat(out_keys)
    dist = torch.cat(out_dist)
    return torch.stack([keys // num_nodes, keys % num_nodes]), dist


def _relax_rows(first_keys: Tensor, first_dist: Tensor, dst: Tensor, weight: Tensor,
                rowptr: Tensor, num_nodes: int, max_hops: int,
                cap: Optional[int], radius: Optional[Tensor],
                tie_break: Optional[torch.Generator] = None) -> Tuple[Tensor, Tensor]:
    """Runs the hop-limited relaxation for the source rows whose out-edges are given."""
    best_k, best_d = first_keys, first_dist
    if cap is not None:
        best_k, best_d = _cap(best_k, best_d, num_nodes, cap, tie_break)
    front_k, front_d = best_k, best_d
    for _ in range(max_hops - 1):
        if front_k.numel() == 0:
            break
        rows, mids = front_k // num_nodes, front_k % num_nodes
        owner, pos = expand_csr(rowptr, mids)
        cand_rows = rows[owner]
        cand_cols = dst[pos]
        cand_d = front_d[owner] + weight[pos]
        not_self = cand_rows != cand_cols
        if radius is not None:
            not_self &= cand_d <= radius[cand_rows]
        cand_k, cand_d = coalesce_min(cand_rows[not_self] * num_nodes + cand_cols[not_self],
                                      cand_d[not_self])
        found, old = lookup(best_k, best_d, cand_k)
        improved = ~found | (cand_d < old)
        front_k, front_d = cand_k[improved], cand_d[improved]
        best_k, best_d = coalesce_min(torch.cat([best_k, front_k]), torch.cat([best_d, front_d]))
        if cap is not None:
            best_k, best_d = _cap(best_k, best_d, num_nodes, cap, tie_break)
            # A pruned pair should not seed further paths.
            found, _ = lookup(best_k, best_d, front_k)
            front_k, front_d = front_k[found], front_d[found]
    return best_k, best_d


def _radius(max_dist, num_nodes: int, weight: Tensor) -> Optional[Tensor]:
    if max_dist is None:
        return None
    if isinstance(max_dist, Tensor):
        if max_dist.shape != (num_nodes,):
            raise ValueError(f"'max_dist' must be a scalar or have shape [{num_nodes}], got "
                             f"{tuple(max_dist.shape)}")
        if not bool((max_dist >= 0).all()):
            raise ValueError("'max_dist' must be non-negative (and not NaN)")
        return max_dist.to(device=weight.device, dtype=weight.dtype)
    if isinstance(max_dist, bool) or not isinstance(max_dist, (int, float)) or not max_dist >= 0:
        raise ValueError(f"'max_dist' must be a non-negative number, got {max_dist!r}")
    return torch.full((num_nodes,), float(max_dist), dtype=weight.dtype, device=weight.device)


def _cap(keys: Tensor, dist: Tensor, num_nodes: int, cap: int,
         tie_break: Optional[torch.Generator] = None) -> Tuple[Tensor, Tensor]:
    rank = dist
    if tie_break is not None:
        # Random offsets below the smallest gap between distinct hop counts (1): the order
        # between hop levels is kept, and within a level every subset is equally likely.
        jitter = torch.rand(dist.numel(), generator=tie_break).to(dist.device, dist.dtype)
        rank = dist + 0.5 * jitter
    keep = topk_per_row(keys // num_nodes, rank, cap)
    return keys[keep], dist[keep]


def hop_distances(edge_index: Tensor, num_nodes: int, max_hops: int,
                  max_pairs_per_row: Optional[int] = None,
                  generator: Optional[torch.Generator] = None) -> Tuple[Tensor, Tensor]:
    r"""Breadth-first hop counts :math:`1..H` on an unweighted graph, pairs :math:`i \ne j`.

    The hop count is the geodesic distance with unit lengths, so this is
    :func:`geodesic_distances` with ``edge_weight = 1`` and integer output.

    ``max_pairs_per_row`` caps each row's pairs without materialising the full
    neighbourhood beyond one chunk of rows: the nearest hop levels are kept whole, and the
    level that overflows the cap is sampled uniformly without replacement (ties broken with
    ``generator``; a fresh one seeded 0 when not given, so the result is deterministic).

    Returns:
        (LongTensor, LongTensor): ``index`` ``[2, M]`` sorted by ``(i, j)`` and ``hops`` ``[M]``
        with values in ``1..max_hops``; unreachable pairs are absent.
    """
    num_nodes = check_positive_int(num_nodes, 'num_nodes')
    edge_index = check_edge_index(edge_index, num_nodes)
    ones = torch.ones(edge_index.size(1), dtype=torch.float32, device=edge_index.device)
    if max_pairs_per_row is not None and generator is None:
        generator = torch.Generator().manual_seed(0)
    index, dist = geodesic_distances(edge_index, ones, num_nodes, max_hops, max_pairs_per_row,
                                     tie_break=generator if max_pairs_per_row else None)
    return index, dist.round().long()
