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
Cost: O(|Q|·|C|·(d_A + d_B)) time in chunks of queries, O(chunk·|C|) memory.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor


def _nearest(x: Tensor, queries: Tensor, candidates: Tensor, k: int, chunk: int) -> Tensor:
    x = torch.nn.functional.normalize(x.float(), dim=1)
    cand = x[candidates]
    out = []
    for rows in queries.split(chunk):
        sim = x[rows] @ cand.t()
        # a query that is also a candidate is not its own neighbour
        sim[rows.unsqueeze(1) == candidates.unsqueeze(0)] = float('-inf')
        out.append(candidates[sim.topk(k, dim=1).indices])
    return torch.cat(out)


def neighbour_overlap(a: Tensor, b: Tensor, queries: Tensor,
                      candidates: Optional[Tensor] = None, k: int = 10,
                      chunk: int = 1024) -> float:
    """Mean share of the ``k`` nearest candidates (cosine) that embeddings ``a`` and ``b``
    (``[N, d_a]``, ``[N, d_b]``, the same N nodes) agree on, over the ``queries`` (see the
    module doc).

    Args:
        queries, candidates: boolean masks ``[N]`` or index tensors; ``candidates``
            defaults to every node.
        k: neighbours per query; at most the number of candidates other than the query.
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
