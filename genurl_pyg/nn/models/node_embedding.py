r"""One learnable vector per node: the encoder of graphs without node features."""
from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor


class NodeEmbedding(torch.nn.Module):
    r"""A table :math:`E \in \mathbb{R}^{N \times d}` read by node id, optionally followed
    by a message-passing network over the looked-up vectors:

    .. math:: h = E[\mathrm{ids}] \quad\text{or}\quad h = \mathrm{GNN}(E[\mathrm{ids}], A)

    The first form is the encoder of node2vec, DeepWalk and LINE; the second passes messages
    over learnable node vectors (a GCN on one-hot ids computes the same function with an
    :math:`N \times N` input it never needs). Called ``(ids, graph)`` like the other
    encoders: ``ids`` is a ``[n]`` tensor of node ids (``arange(N)`` for the whole graph;
    stacked views repeat it), ``graph`` whatever ``gnn`` takes (ignored without one).

    Args:
        num_nodes (int): :math:`N`.
        embedding_dim (int): :math:`d`, the table's width (the GNN's input width).
        gnn (Module, optional): called ``gnn(E[ids], graph)``.

    Cost: O(n·d) per lookup plus the GNN's; memory O(N·d) parameters (with Adam, three
    copies). Initialised :math:`\mathcal{N}(0, 1/d)`, so inner products start O(1).
    """

    def __init__(self, num_nodes: int, embedding_dim: int,
                 gnn: Optional[torch.nn.Module] = None) -> None:
        super().__init__()
        for name, value in (('num_nodes', num_nodes), ('embedding_dim', embedding_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"'{name}' must be a positive integer, got {value!r}")
        self.num_nodes = num_nodes
        self.embedding_dim = embedding_dim
        self.table = torch.nn.Embedding(num_nodes, embedding_dim)
        self.gnn = gnn
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.normal_(self.table.weight, std=self.embedding_dim ** -0.5)
        if self.gnn is not None and hasattr(self.gnn, 'reset_parameters'):
            self.gnn.reset_parameters()

    def forward(self, ids: Tensor, graph: Any = None) -> Tensor:
        if ids.dtype != torch.long or ids.dim() != 1:
            raise ValueError(f'NodeEmbedding takes a 1-D tensor of node ids, got dtype '
                             f'{ids.dtype} and shape {tuple(ids.shape)}')
        h = self.table(ids)
        return h if self.gnn is None else self.gnn(h, graph)

    def __repr__(self) -> str:
        tail = '' if self.gnn is None else f', gnn={self.gnn.__class__.__name__}'
        return f'{self.__class__.__name__}({self.num_nodes}, {self.embedding_dim}{tail})'
