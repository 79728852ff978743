"""Pair sampling from a sparse similarity, for the unbiased sampled loss. O(s + m) per call."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor

from .._validation import check_positive_int
from ..structure.similarity import Similarity


@dataclass
class PairSample:
    """Sampled positive pairs (from P's support) and uniform negative pairs."""
    pos_i: Tensor
    pos_j: Tensor
    pos_p: Tensor
    neg_i: Tensor
    neg_j: Tensor
    num_support: int
    num_pairs: int


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
