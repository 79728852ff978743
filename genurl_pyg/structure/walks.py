r"""Random walks on a graph and the walk-visit similarity built from them.

:func:`random_walks` draws node2vec's second-order walks (Grover & Leskovec, 2016): the step
from ``v`` (previous node ``t``) to a neighbour ``x`` has unnormalised probability
:math:`1/p` if :math:`x = t`, :math:`1` if ``x`` neighbours ``t``, :math:`1/q` otherwise,
drawn by rejection sampling (propose a uniform neighbour, accept with the ratio to the
largest weight): O(walks · length · tries · log deg), every walker advanced together.

:func:`walk_similarity` is P's graph part for graphs without features. For every node
``u``, ``walks_per_node`` walks of ``window`` steps start at ``u``; the share of visits
that land on ``v`` estimates :math:`\frac{1}{T}\sum_{t=1}^{T} (D^{-1}A)^t_{uv}` (``T =
window``), the random-walk proximity that DeepWalk and node2vec factorise implicitly. Each
row keeps its ``top_k`` largest, the result is symmetrised (the larger of the two
directions) and scaled by :math:`1/\sqrt{m_u m_v}` (``m``: each row's largest), which keeps
it symmetric with weights in (0, 1].
On a sparse graph it reaches the nodes a few hops away that one-hop P misses, weighted by
how many paths lead there (geodesic hops weigh a node reached by one path as much as one
reached by fifty). Cost O(N · walks · window) time; rows are built in blocks, so memory
is O(N · top_k) plus one block's visits.

With ``size_to_degree=True`` (ours) the rows follow the degree, for graphs whose one hop
already holds more neighbours than ``top_k`` (ogbl-ddi: about 500 per drug): the first
step's term :math:`\frac{1}{T}(D^{-1}A)_{uv}` is added exactly instead of sampled, so every
one-hop neighbour is kept; a node starts :math:`\max(\text{walks\_per\_node}, d_u)` walks,
so a sampled visit weighs no more than an exact neighbour; and each row keeps its
:math:`d_u` neighbours plus the ``top_k`` largest visits beyond them. Cost O((E + N ·
walks) · window) time, memory O(E + N · top_k) plus one block's visits.
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor

from .._validation import check_edge_index, check_positive_int

VISIT_BLOCK = 4_000_000  # visits counted at once (one block of start nodes)
DEFAULT_TOP_K = 50       # entries kept per row before symmetrisation
#: The ``graph_part`` values built by :func:`walk_similarity` (``'degree_walks'``:
#: ``size_to_degree=True``).
WALK_PARTS = ('walks', 'degree_walks')


def sorted_csr(edge_index: Tensor, num_nodes: int) -> Tuple[Tensor, Tensor]:
    """``(rowptr, col)`` of the symmetrised, de-duplicated graph, columns sorted per row.
    O(E log E)."""
    ei = torch.cat([edge_index, edge_index.flip(0)], 1)
    keys = torch.unique(ei[0] * num_nodes + ei[1])  # sorted: by row, then column
    row, col = keys // num_nodes, keys % num_nodes
    rowptr = torch.zeros(num_nodes + 1, dtype=torch.long)
    rowptr[1:] = torch.cumsum(torch.bincount(row, minlength=num_nodes), 0)
    return rowptr, col


def random_walks(rowptr: Tensor, col: Tensor, start: Tensor, length: int, p: float = 1.0,
                 q: float = 1.0, generator: torch.Generator = None,
                 max_tries: int = 100) -> Tensor:
    """``[len(start), length + 1]`` node2vec walks on the CSR graph ``(rowptr, col)``
    (columns sorted per row, as :func:`sorted_csr` gives); a walk at a node without
    neighbours stays there. With ``p = q = 1`` every step is a uniform neighbour
    (DeepWalk)."""
    n = rowptr.numel() - 1
    deg = rowptr[1:] - rowptr[:-1]
    walks = torch.empty(start.numel(), length + 1, dtype=torch.long)
    walks[:, 0] = start
    w_return, w_in, w_out = 1.0 / p, 1.0, 1.0 / q
    w_max = max(w_return, w_in, w_out)
    last = max(col.numel() - 1, 0)

    def propose(cur: Tensor) -> Tensor:
        d = deg[cur]
        off = (torch.rand(cur.numel(), generator=generator) * d).long()
        off = torch.minimum(off, (d - 1).clamp(min=0))
        nxt = col[(rowptr[cur] + off).clamp(max=last)] if col.numel() else cur
        return torch.where(d > 0, nxt, cur)

    keys = None
    for step in range(1, length + 1):
        cur = walks[:, step - 1]
        if step == 1 or (p == 1.0 and q == 1.0):
            walks[:, step] = propose(cur)
            continue
        if keys is None:  # sorted edge keys row * N + col, for "x neighbours t" by search
            keys = torch.repeat_interleave(torch.arange(n), deg) * n + col
        prev = walks[:, step - 2]
        nxt = cur.clone()
        todo = torch.arange(cur.numel())
        for _ in range(max_tries):
            if todo.numel() == 0:
                break
            c, t = cur[todo], prev[todo]
            x = propose(c)
            query = t * n + x
            pos = torch.searchsorted(keys, query).clamp(max=max(keys.numel() - 1, 0))
            linked = keys[pos] == query if keys.numel() else torch.zeros_like(x, dtype=torch.bool)
            weight = torch.full(x.shape, w_out)
            weight[linked] = w_in
            weight[x == t] = w_return
            accept = torch.rand(todo.numel(), generator=generator) * w_max < weight
            accept |= deg[c] == 0
            nxt[todo[accept]] = x[accept]
            todo = todo[~accept]
        if todo.numel():  # out of tries (tiny acceptance): the last proposal as is
            nxt[todo] = propose(cur[todo])
        walks[:, step] = nxt
    return walks


def _top_k_rows(row: Tensor, col: Tensor, weight: Tensor, k: int) -> Tuple[Tensor, Tensor,
                                                                           Tensor]:
    """The ``k`` largest entries of every row (ties: lower column first)."""
    order = torch.sort(weight, descending=True, stable=True).indices
    order = order[torch.sort(row[order], stable=True).indices]
    row, col, weight = row[order], col[order], weight[order]
    starts = torch.searchsorted(row, row, right=False)
    keep = torch.arange(row.numel()) - starts < k
    return row[keep], col[keep], weight[keep]


def _start_blocks(counts: Tensor, window: int) -> list:
    """Consecutive node ranges ``(lo, hi)`` whose walks make at most :data:`VISIT_BLOCK`
    visits (one range per node at least)."""
    ends = torch.cumsum(counts * window, 0)
    blocks, lo, offset = [], 0, 0
    n = counts.numel()
    while lo < n:
        hi = int(torch.searchsorted(ends, offset + VISIT_BLOCK, right=True))
        hi = max(hi, lo + 1)
        blocks.append((lo, hi))
        offset = int(ends[hi - 1])
        lo = hi
    return blocks


def walk_similarity(edge_index: Tensor, num_nodes: int, walks_per_node: int = 40,
                    window: int = 10, top_k: int = DEFAULT_TOP_K, seed: int = 0,
                    size_to_degree: bool = False) -> Tuple[Tensor, Tensor]:
    """P's graph part from random-walk visits (see the module docstring): ``(index [2, E],
    weight [E])``, symmetric, sorted by ``(i, j)``, no self-pairs, weights in (0, 1].
    ``size_to_degree``: the first step exact, every neighbour kept, walks and rows sized to
    the degree. Deterministic for a ``seed``."""
    edge_index = check_edge_index(edge_index, num_nodes, allow_empty=True)
    for name, value in (('walks_per_node', walks_per_node), ('window', window),
                        ('top_k', top_k)):
        check_positive_int(value, name)
    n = num_nodes
    rowptr, col = sorted_csr(edge_index.cpu(), n)
    deg = rowptr[1:] - rowptr[:-1]
    gen = torch.Generator().manual_seed(seed)
    counts = (torch.clamp(deg, min=walks_per_node) if size_to_degree else
              torch.full((n,), walks_per_node, dtype=torch.long))
    rows, cols, weights = [], [], []
    for lo, hi in _start_blocks(counts, window):
        nodes = torch.arange(lo, hi)
        start = nodes.repeat_interleave(counts[lo:hi])
        visits = random_walks(rowptr, col, start, window, generator=gen)[:, 1:]
        if size_to_degree:  # the first step enters exactly below, not sampled
            visits = visits[:, 1:]
        src = start.unsqueeze(1).expand_as(visits).reshape(-1)
        dst = visits.reshape(-1)
        keep = src != dst
        keys, hits = torch.unique(src[keep] * n + dst[keep], return_counts=True)
        w = hits.float() / (counts[keys // n] * window).float()
        if size_to_degree:  # the block's edges (u, v), u != v, each with 1 / (T d_u)
            eu = nodes.repeat_interleave(deg[lo:hi])
            ev = col[rowptr[lo]:rowptr[hi]]
            no_loop = eu != ev
            eu, ev = eu[no_loop], ev[no_loop]
            first_w = 1.0 / (deg[eu] * window).float()
            num_visited = keys.numel()
            keys, inverse = torch.unique(torch.cat([keys, eu * n + ev]), return_inverse=True)
            w = torch.zeros(keys.numel()).index_add_(0, inverse, torch.cat([w, first_w]))
            is_edge = torch.zeros(keys.numel(), dtype=torch.bool)
            is_edge[inverse[num_visited:]] = True  # the entries an edge contributed to
            r, c = keys // n, keys % n
            far = _top_k_rows(r[~is_edge], c[~is_edge], w[~is_edge], top_k)
            r = torch.cat([r[is_edge], far[0]])
            c = torch.cat([c[is_edge], far[1]])
            w = torch.cat([w[is_edge], far[2]])
        else:
            r, c, w = _top_k_rows(keys // n, keys % n, w, top_k)
        rows.append(r)
        cols.append(c)
        weights.append(w)
    r, c, w = torch.cat(rows), torch.cat(cols), torch.cat(weights)
    keys = torch.cat([r * n + c, c * n + r])
    uniq, inverse = torch.unique(keys, return_inverse=True)
    sym = torch.zeros(uniq.numel()).scatter_reduce_(0, inverse, torch.cat([w, w]), 'amax')
    i, j = uniq // n, uniq % n
    row_max = torch.zeros(n).scatter_reduce_(0, i, sym, 'amax')
    # symmetric scaling: w_ij <= min(max_i, max_j) <= sqrt(max_i max_j), so weights stay in
    # (0, 1] and a node with few, concentrated visits is not outweighed by a hub
    weight = (sym / (row_max[i] * row_max[j]).sqrt().clamp_min(1e-12)).clamp(max=1.0)
    return torch.stack([i, j]), weight
