"""Pair sampling from a sparse similarity, for the unbiased sampled loss. O(s + m) per call."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional, Tuple

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


def _draw_from_rows(rowptr: Tensor, rows: Tensor, draws: int,
                    generator: Optional[torch.Generator] = None
                    ) -> Tuple[Tensor, Tensor, Tensor]:
    """``draws`` uniform picks (with replacement) from each non-empty row's support:
    ``(has, deg, pick)``, the rows with entries, their sizes and ``[has.sum() * draws]``
    positions into the support, row by row. O(rows · draws)."""
    start = rowptr[rows]
    deg = rowptr[rows + 1] - start
    has = deg > 0
    s_pos, d_pos = start[has], deg[has]
    u = torch.rand(s_pos.numel(), draws, generator=generator).to(deg.device)
    pick = s_pos.unsqueeze(1) + (u * d_pos.unsqueeze(1)).long().clamp_max(
        d_pos.unsqueeze(1) - 1)
    return has, d_pos, pick.reshape(-1)


def neighbour_batch(sim: Similarity, seeds: Tensor, per_seed: int,
                    generator: Optional[torch.Generator] = None,
                    rowptr: Optional[Tensor] = None) -> Tensor:
    r"""A batch of the ``seeds`` and ``per_seed`` neighbours of each, drawn uniformly (with
    replacement) from the seed's row of P, without repeats: at most ``S (1 + per_seed)``
    nodes. A uniform batch of ``B`` of ``N`` nodes holds about :math:`k B / N` of a node's
    ``k`` neighbours, fewer as ``N`` grows; here each seed has up to ``per_seed`` of them
    whatever ``N`` is (the dense block of P over the batch, :func:`dense_block`, then has
    entries on every seed's row). Seeds without neighbours keep their place alone.
    O(S · per_seed) time; ``rowptr`` (``sim.rowptr()``) may be passed in to skip its O(E)."""
    check_positive_int(per_seed, 'per_seed')
    seeds = seeds.to(sim.index.device)
    rowptr = sim.rowptr() if rowptr is None else rowptr
    _, _, pick = _draw_from_rows(rowptr, seeds, per_seed, generator)
    nodes = torch.cat([seeds, sim.index[1, pick]])
    # unique but in first-seen order (seeds first), so a batch does not sort its rows
    uniq, inv = torch.unique(nodes, return_inverse=True)
    first = torch.full((uniq.numel(),), nodes.numel(), dtype=torch.long, device=nodes.device)
    first.scatter_reduce_(0, inv, torch.arange(nodes.numel(), device=nodes.device), 'amin')
    return nodes[first.sort().values]


def sample_anchor_pairs(sim: Similarity, anchors: Tensor, pos_per_anchor: int,
                        neg_per_anchor: int, generator: Optional[torch.Generator] = None,
                        rowptr: Optional[Tensor] = None,
                        in_batch_negatives: bool = False) -> PairSample:
    r"""Pairs for a batch of ``B`` anchors: ``r = pos_per_anchor`` draws (with replacement)
    from each anchor's row of P and ``m = neg_per_anchor`` uniform partners :math:`j \ne i`.

    With the anchors a uniform ``B``-subset of the ``N`` nodes, a pair :math:`(i, j)` of row
    :math:`i` (support size :math:`k_i`) is drawn :math:`\frac{B}{N}\frac{r}{k_i}` times in
    expectation as a positive and :math:`\frac{B}{N}\frac{m}{N-1}` times as a negative; the
    returned weights are those rates inverted, so
    :func:`~genurl_pyg.nn.functional.sampled_pairs_loss` stays an unbiased estimate of the
    all-pairs loss. O(B (r + m)) time and memory; ``rowptr`` (``sim.rowptr()``) may be
    passed in to skip its O(E) computation.

    ``in_batch_negatives``: each anchor's ``m`` partners are drawn uniformly from the *other
    anchors* instead of from all nodes. A pair :math:`(i, j)` is then drawn
    :math:`\frac{B}{N}\frac{B-1}{N-1}\frac{m}{B-1} = \frac{B}{N}\frac{m}{N-1}` times in
    expectation, the same rate, so the weights and the estimate's expectation are unchanged,
    while the rows a step must encode drop from about :math:`B(1 + r + m)` to
    :math:`B(1 + r)`. Needs ``B >= 2``.
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
    has, d_pos, pick = _draw_from_rows(rowptr, anchors, pos_per_anchor, generator)
    pos_w = ((n / b) * d_pos.double() / pos_per_anchor).repeat_interleave(pos_per_anchor)
    neg_i, neg_j, neg_w = _anchor_negatives(anchors, n, neg_per_anchor, generator,
                                            in_batch_negatives)
    dtype = sim.weight.dtype
    return PairSample(sim.index[0, pick], sim.index[1, pick], sim.weight[pick], neg_i, neg_j,
                      sim.num_pairs, n * (n - 1), pos_w.to(dtype), neg_w.to(dtype))


def _anchor_negatives(anchors: Tensor, n: int, m: int,
                      generator: Optional[torch.Generator],
                      in_batch: bool = False) -> Tuple[Tensor, Tensor, Tensor]:
    """``m`` uniform partners ``j != i`` per anchor among ``n`` nodes (``in_batch``: among
    the other anchors), with the inverse rate of a pair being drawn when the ``B`` anchors
    are a uniform subset: ``(n/B)(n-1)/m`` either way."""
    neg_i = anchors.repeat_interleave(m)
    if in_batch:
        b = anchors.numel()
        if b < 2:
            raise ValueError('in-batch negatives need at least 2 anchors per batch')
        pos = torch.arange(b).repeat_interleave(m)
        other = (pos + torch.randint(1, b, (pos.numel(),), generator=generator)) % b
        neg_j = anchors[other.to(anchors.device)]
    else:
        neg_j = (neg_i + torch.randint(1, n, (neg_i.numel(),), generator=generator)
                 .to(neg_i.device)) % n
    neg_w = torch.full((neg_i.numel(),), (n / anchors.numel()) * (n - 1) / m,
                       dtype=torch.float64, device=neg_i.device)
    return neg_i, neg_j, neg_w


def sample_two_view_pairs(sim: Similarity, anchors: Tensor, pos_per_anchor: int,
                          neg_per_anchor: int, view_weight: float,
                          generator: Optional[torch.Generator] = None,
                          rowptr: Optional[Tensor] = None,
                          in_batch_negatives: bool = False) -> PairSample:
    r""":func:`sample_anchor_pairs` from the two-view similarity :math:`P^{(2)}` of
    :func:`~genurl_pyg.node.views.two_view_similarity` *without building it*.

    Nodes live in ``[0, 2N)``: node ``i`` of view ``v`` is ``v N + i``. The row of
    ``(v, i)`` in :math:`P^{(2)}` holds ``(v', j)`` with weight :math:`P_{ij}` for both views
    ``v'`` and every ``j`` of row ``i`` of P, plus ``(1 - v, i)`` with weight
    :math:`\min(1, w)` when ``view_weight`` :math:`w > 0`: :math:`2 k_i + [w > 0]` entries.
    Positives are drawn uniformly from that row and weighted by the inverse rate, exactly as
    :func:`sample_anchor_pairs` does on the materialised :math:`P^{(2)}` (P has no self
    pairs, so no entry is clipped), and negatives are uniform over the :math:`2N` nodes.
    The estimate of the loss is therefore the same in expectation, while memory stays that
    of P: the explicit :math:`P^{(2)}` holds :math:`4|P| + 2N` entries. With
    ``in_batch_negatives`` the partners are drawn among the other anchors (a uniform
    ``B``-subset of the ``2N`` nodes, so each partner is still uniform over the others, at
    the same rate), and a step touches about ``B (1 + r)`` distinct rows instead of
    ``B (1 + r + m)``. O(B (r + m)) per call.
    """
    check_positive_int(pos_per_anchor, 'pos_per_anchor')
    check_positive_int(neg_per_anchor, 'neg_per_anchor')
    n = sim.num_nodes
    n2 = 2 * n
    anchors = anchors.to(sim.index.device)
    b = anchors.numel()
    if b == 0 or b > n2:
        raise ValueError(f"the anchor batch must hold 1 to {n2} nodes, got {b}")
    rowptr = sim.rowptr() if rowptr is None else rowptr
    view, node = anchors // n, anchors % n
    start = rowptr[node]
    deg = rowptr[node + 1] - start
    extra = 1 if view_weight > 0 else 0
    size = 2 * deg + extra                       # entries in the anchor's row of P^(2)
    has = size > 0
    a_pos, v_pos, i_pos = anchors[has], view[has], node[has]
    s_pos, d_pos, size_pos = start[has], deg[has], size[has]
    r = pos_per_anchor
    u = torch.rand(a_pos.numel(), r, generator=generator).to(deg.device)
    t = (u * size_pos.unsqueeze(1)).long().clamp_max(size_pos.unsqueeze(1) - 1)
    own = t >= 2 * d_pos.unsqueeze(1)            # the other view of the anchor itself
    entry = (s_pos.unsqueeze(1) + torch.div(t, 2, rounding_mode='floor')).clamp_max(
        sim.index.size(1) - 1)
    other_view = t % 2
    j = sim.index[1, entry]
    pos_j = torch.where(own, (1 - v_pos).unsqueeze(1) * n + i_pos.unsqueeze(1),
                        other_view * n + j)
    w = torch.where(own, sim.weight.new_tensor(min(1.0, float(view_weight))),
                    sim.weight[entry])
    pos_i = a_pos.unsqueeze(1).expand(-1, r)
    pos_w = ((n2 / b) * size_pos.double() / r).repeat_interleave(r)
    neg_i, neg_j, neg_w = _anchor_negatives(anchors, n2, neg_per_anchor, generator,
                                            in_batch=in_batch_negatives)
    dtype = sim.weight.dtype
    support = 4 * sim.num_pairs + (n2 if view_weight > 0 else 0)
    return PairSample(pos_i.reshape(-1), pos_j.reshape(-1), w.reshape(-1), neg_i, neg_j,
                      support, n2 * (n2 - 1), pos_w.to(dtype), neg_w.to(dtype))
