r"""Label-free agreement of two embeddings of the same nodes: do they name the same
neighbours?

:func:`neighbour_overlap` is the fidelity of a distilled student to its teacher on nodes
neither was fitted on (or the agreement of raw features with a teacher), read without
labels:

.. math::
    \operatorname{overlap}_k = \frac{1}{|Q|}\sum_{i \in Q}
        \frac{|N_k^{A}(i) \cap N_k^{B}(i)|}{k},

with :math:`N_k^{A}(i)` the :math:`k` nearest *candidate* nodes of query :math:`i` by cosine
similarity in embedding :math:`A` (the query itself excluded when it is a candidate). 1: the
two embeddings rank the same neighbours first; :math:`k / |C|`: chance.
Cost: O(|Q|·|C|·(d_A + d_B)) time in chunks of queries (the exact search of
:mod:`genurl_pyg.structure.knn`), O(chunk·|C|) memory.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from ..structure.knn import _knn_exact, _unit_rows


def _nearest(x: Tensor, queries: Tensor, candidates: Tensor, k: int,
             chunk: Optional[int]) -> Tensor:
    """The ``k`` nearest candidates (node ids, nearest first) of each query by cosine
    similarity, through the structure package's exact search and its cosine convention
    (all-zero rows orthogonal to the rest, equal to each other)."""
    unit = _unit_rows(x.float())
    position = torch.full((x.size(0),), -1, dtype=torch.long)
    position[candidates] = torch.arange(candidates.numel())
    index, _ = _knn_exact(unit[queries], unit[candidates], k + 1, chunk, exclude_self=False)
    # a query that is also a candidate is not its own neighbour: drop it where it was
    # found, else the farthest of the k + 1
    drop = index == position[queries].unsqueeze(1)
    drop[~drop.any(dim=1), -1] = True
    return candidates[index[~drop].view(-1, k)]


def neighbour_overlap(a: Tensor, b: Tensor, queries: Tensor,
                      candidates: Optional[Tensor] = None, k: int = 10,
                      chunk: Optional[int] = None) -> float:
    """Mean share of the ``k`` nearest candidates (cosine) that embeddings ``a`` and ``b``
    (``[N, d_a]``, ``[N, d_b]``, the same N nodes) agree on, over the ``queries`` (see the
    module doc).

    Args:
        queries, candidates: boolean masks ``[N]`` or index tensors; ``candidates``
            defaults to every node.
        k: neighbours per query; at most the number of candidates other than the query.
        chunk: queries per block of the search (default: the kNN module's memory plan).
    """
    if a.dim() != 2 or b.dim() != 2 or a.size(0) != b.size(0):
        raise ValueError(f"'a' and 'b' must be [N, d] embeddings of the same N nodes, got "
                         f'{tuple(a.shape)} and {tuple(b.shape)}')
    n = a.size(0)

    def index(mask_or_index, name):
        t = torch.as_tensor(mask_or_index)
        if t.dtype == torch.bool:
            if t.numel() != n:
                raise ValueError(f"'{name}' mask has {t.numel()} entries for {n} nodes")
            t = t.nonzero().view(-1)
        t = t.long().view(-1)
        if t.numel() and (t.min() < 0 or t.max() >= n):
            raise ValueError(f"'{name}' holds node ids outside [0, {n})")
        return t

    q = index(queries, 'queries')
    c = torch.arange(n) if candidates is None else index(candidates, 'candidates')
    if q.numel() == 0:
        raise ValueError("'queries' selects no node")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= c.numel() - 1:
        raise ValueError(f"'k' must be an integer in [1, {c.numel() - 1}] (candidates minus "
                         f'one), got {k!r}')
    na = _nearest(a, q, c, k, chunk)
    nb = _nearest(b, q, c, k, chunk)
    shared = (na.unsqueeze(2) == nb.unsqueeze(1)).any(2).sum(1)
    return float(shared.float().mean() / k)
