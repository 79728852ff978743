r"""node2vec (Grover & Leskovec, KDD 2016) in pure torch: second-order random walks and a
skip-gram with negative sampling over one learnable vector per node. It reads no features,
so it runs on featureless graphs as on any other.

Walks: from every node ``walks_per_node`` walks of ``walk_length`` steps, second-order
with return / in-out parameters ``p`` / ``q`` (:func:`genurl_pyg.structure.walks.
random_walks`, rejection sampling as in KnightKing and torch-cluster).
Skip-gram: every window of ``context_size`` nodes of a walk gives positive pairs (its
first node, each other node); each positive window is matched with
``num_negative_samples`` windows of uniformly random nodes; loss
:math:`-\log\sigma(z_u^\top z_v) - \log(1 - \sigma(z_u^\top z_n))`, optimised with
Adam (SparseAdam for tables over 50M entries; PyG's ``Node2Vec`` layout of the same
objective).

Hyper-parameters: OGB's ogbl-ddi / ogbn node2vec baselines (dimension 128, walk length 40,
context 20, 10 walks per node, 1 negative, batch 256 start nodes, lr 0.01, p = q = 1);
``epochs`` is ours (the budget stops training earlier where it must).
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
from torch import Tensor

from ...structure.walks import random_walks, sorted_csr  # noqa: F401  (the walker)
from ._common import out_of_time, seeded

NAME = 'node2vec'
SOURCE = ('Grover & Leskovec 2016; settings of OGB\'s node2vec baselines '
          '(examples/linkproppred/ddi/node2vec.py): dim 128, walk 40, context 20, 10 walks '
          'per node, 1 negative, lr 0.01, p = q = 1, every data set')
PARAMS: Dict[str, Dict] = {'default': dict(dim=128, walk_length=40, context_size=20,
                                           walks_per_node=10, num_negative_samples=1,
                                           p=1.0, q=1.0, batch_size=256, lr=0.01, epochs=5)}


def window_pairs(length: int, context: int) -> Tuple[Tensor, Tensor]:
    """Positions ``(i, j)`` of the skip-gram pairs of one walk of ``length`` nodes: each
    window of ``context`` consecutive nodes pairs its first node with the others, so
    ``0 <= i <= length - context`` and ``i < j < i + context`` (each pair once)."""
    i = torch.arange(length - context + 1).repeat_interleave(context - 1)
    j = i + torch.arange(1, context).repeat(length - context + 1)
    return i, j


def embed(data, params: Dict, seed: int, deadline: Optional[float] = None) -> Tensor:
    gen = seeded(seed)
    n = int(data.num_nodes)
    if params['context_size'] < 2 or params['context_size'] > params['walk_length'] + 1:
        raise ValueError("node2vec 'context_size' must be in [2, walk_length + 1]")
    rowptr, col = sorted_csr(data.edge_index.cpu(), n)
    # A table small enough for a dense Adam step (every bench graph) trains 2x faster than
    # with sparse gradients, whose coalescing dominates; large tables use SparseAdam.
    sparse = n * params['dim'] > 50_000_000
    emb = torch.nn.Embedding(n, params['dim'], sparse=sparse)
    torch.nn.init.normal_(emb.weight, std=1.0 / params['dim'] ** 0.5)
    opt = (torch.optim.SparseAdam if sparse else torch.optim.Adam)(list(emb.parameters()),
                                                                   lr=params['lr'])
    pairs = window_pairs(params['walk_length'] + 1, params['context_size'])
    for _ in range(params['epochs']):
        if out_of_time(deadline):
            break
        order = torch.randperm(n, generator=gen).repeat(params['walks_per_node'])
        for batch in order.split(params['batch_size']):
            if out_of_time(deadline):
                break
            pos = random_walks(rowptr, col, batch, params['walk_length'], params['p'],
                               params['q'], gen)
            neg = torch.randint(0, n, (batch.numel() * params['num_negative_samples'],
                                       params['walk_length'] + 1), generator=gen)
            neg[:, 0] = batch.repeat(params['num_negative_samples'])
            loss = skipgram_loss(emb, pos, neg, pairs)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return emb.weight.detach().clone()


def skipgram_loss(emb: torch.nn.Embedding, pos: Tensor, neg: Tensor,
                  pairs: Tuple[Tensor, Tensor]) -> Tensor:
    """Negative-sampling loss over the window pairs of positive walks ``pos`` and negative
    walks ``neg`` (``[B, L]`` node ids). Every walk's Gram matrix comes from one batched
    GEMM (O(B L² d)), then the pairs are read from it: several times faster on a CPU than
    gathering each window's vectors (O(B L c d) memory traffic)."""
    eps = 1e-15
    i, j = pairs

    def scores(walks: Tensor) -> Tensor:
        z = emb(walks)                                   # [B, L, d]
        return torch.bmm(z, z.transpose(1, 2))[:, i, j]  # [B, pairs]
    pos_loss = -torch.log(torch.sigmoid(scores(pos)) + eps).mean()
    neg_loss = -torch.log(1 - torch.sigmoid(scores(neg)) + eps).mean()
    return pos_loss + neg_loss
