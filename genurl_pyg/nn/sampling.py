"""Pair sampling from a sparse similarity, for the unbiased sampled loss. O(s + m) per call."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional

import torch
from torch import Tensor

from .._validation import check_positive_int
from ..structure.similarity import Similarity


@dataclass
class PairSample:
    """Sampled positive pairs (from P's support) and negative pairs (uniform partners).

    ``pos_weight``/``neg_weight`` (optional) are per-pair inverse inclusion rates for draws
    that are not uniform over all pairs (anchor batches); ``None`` means uniform draws.
    """
    pos_i: Tensor
    pos_j: Tensor
    pos_p: Tensor
    neg_i: Tensor
    neg_j: Tensor
    num_support: int
    num_pairs: int
    pos_weight: Optional[Tensor] = None
    neg_weight: Optional[Tensor] = None

    def nodes(self) -> Tensor:
        """Every node the sample touches, in the order the loss reads them."""
        return torch.cat([self.pos_i, self.pos_j, self.neg_i, self.neg_j])


def sample_pairs(sim: Similarity, num_pos: int, num_neg: int,
                 generator: Optional[torch.Generator] = None) -> PairSample:
    """Draws ``num_pos`` support entries and ``num_neg`` off-diagonal pairs, uniformly with
    replacement (what :func:`~genurl_pyg.nn.functional.sampled_pairs_loss` assumes)."""
    check_positive_int(num_pos, 'num_pos')
    check_positive_int(num_neg, 'num_neg')
    n = sim.num_nodes
    if n < 2:
        raise ValueError('sampling pairs needs at least 2 nodes')
    if sim.num_pairs == 0:
        raise ValueError('the similarity has no pairs to sample positives from')
    device = sim.index.device
    pick = torch.randint(0, sim.num_pairs, (num_pos,), generator=generator).to(device)
    neg_i = torch.randint(0, n, (num_neg,), generator=generator)
    neg_j = (neg_i + torch.randint(1, n, (num_neg,), generator=generator)) % n
    return PairSample(sim.index[0, pick], sim.index[1, pick], sim.weight[pick],
                      neg_i.to(device), neg_j.to(device), sim.num_pairs, n * (n - 1))


def dense_block(sim: Similarity, nodes: Tensor) -> Tensor:
    """``P[nodes][:, nodes]`` as a dense ``[B, B]`` tensor, from the sparse support.

    O(E) to scan the support (a boolean membership map of size N); meant for batches.
    """
    n = sim.num_nodes
    pos = torch.full((n,), -1, dtype=torch.long, device=sim.index.device)
    pos[nodes] = torch.arange(nodes.numel(), device=nodes.device)
    r, c = pos[sim.index[0]], pos[sim.index[1]]
    keep = (r >= 0) & (c >= 0)
    out = sim.weight.new_zeros(nodes.numel(), nodes.numel())
    out[r[keep], c[keep]] = sim.weight[keep]
    return out


def anchor_batches(num_nodes: int, batch_size: int,
                   generator: Optional[torch.Generator] = None) -> Iterator[Tensor]:
    """One epoch of anchor batches: a random permutation of the nodes cut into batches of
    ``batch_size`` (the last one may be smaller). Each batch is a uniform random subset."""
    check_positive_int(batch_size, 'batch_size')
    if batch_size > num_nodes:
        raise ValueError(f"'batch_size' ({batch_size}) is larger than the number of nodes "
                         f"({num_nodes}); use at most {num_nodes}, or full-batch training")
    perm = torch.randperm(num_nodes, generator=generator)
    yield from perm.split(batch_size)


def sample_anchor_pairs(sim: Similarity, anchors: Tensor, pos_per_anchor: int,
                        neg_per_anchor: int, generator: Optional[torch.Generator] = None,
                        rowptr: Optional[Tensor] = None) -> PairSample:
    r"""Pairs for a batch of ``B`` anchors: ``r = pos_per_anchor`` draws (with replacement)
    from each anchor's row of P and ``m = neg_per_anchor`` uniform partners :math:`j \ne i`.

    With the anchors a uniform ``B``-subset of the ``N`` nodes, a pair :math:`(i, j)` of row
    :math:`i` (support size :math:`k_i`) is drawn :math:`\frac{B}{N}\frac{r}{k_i}` times in
    expectation as a positive and :math:`\frac{B}{N}\frac{m}{N-1}` times as a negative; the
    returned weights are those rates inverted, so
    :func:`~genurl_pyg.nn.functional.sampled_pairs_loss` stays an unbiased estimate of the
    all-pairs loss. O(B (r + m)) time and memory; ``rowptr`` (``sim.rowptr()``) may be
    passed in to skip its O(E) computation.
    """
    check_positive_int(pos_per_anchor, 'pos_per_anchor')
    check_positive_int(neg_per_anchor, 'neg_per_anchor')
    n = sim.num_nodes
    if n < 2:
        raise ValueError('sampling pairs needs at least 2 nodes')
    anchors = anchors.to(sim.index.device)
    b = anchors.numel()
    if b == 0 or b > n:
        raise ValueError(f"the anchor batch must hold 1 to {n} nodes, got {b}")
    rowptr = sim.rowptr() if rowptr is None else rowptr
    start = rowptr[anchors]
    deg = rowptr[anchors + 1] - start
    has = deg > 0
    a_pos, s_pos, d_pos = anchors[has], start[has], deg[has]
    u = torch.rand(a_pos.numel(), pos_per_anchor, generator=generator).to(deg.device)
    pick = s_pos.unsqueeze(1) + (u * d_pos.unsqueeze(1)).long().clamp_max(
        d_pos.unsqueeze(1) - 1)
    pick = pick.reshape(-1)
    pos_w = ((n / b) * d_pos.double() / pos_per_anchor).repeat_interleave(pos_per_anchor)
    neg_i = anchors.repeat_interleave(neg_per_anchor)
    neg_j = (neg_i + torch.randint(1, n, (neg_i.numel(),), generator=generator)
             .to(neg_i.device)) % n
    neg_w = torch.full((neg_i.numel(),), (n / b) * (n - 1) / neg_per_anchor,
                       dtype=torch.float64, device=neg_i.device)
    dtype = sim.weight.dtype
    return PairSample(sim.index[0, pick], sim.index[1, pick], sim.weight[pick], neg_i, neg_j,
                      sim.num_pairs, n * (n - 1), pos_w.to(dtype), neg_w.to(dtype))
