"""PyG transform that attaches GenURL's input similarity P to a graph."""
from __future__ import annotations

import copy
from typing import Optional

from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform

from ..structure.builder import SimilarityBuilder


class GenURLSimilarity(BaseTransform):
    r"""Attaches :math:`P = (1-\lambda)P_{\text{feat}} + \lambda P_{\text{graph}}` as
    ``data.sim_index`` (``[2, E]``), ``data.sim_weight`` (``[E]``) and ``data.sim_lambda``.

    Uses ``data.edge_index`` as the predefined graph when present, otherwise the kNN graph of
    ``data.x`` alone. The input ``Data`` is never modified: a shallow copy is returned.

    Args:
        **kwargs: forwarded to :class:`~genurl_pyg.structure.SimilarityBuilder`
            (``k``, ``metric``, ``feature_hops``, ``graph_hops``, ``lam``, ``nu``, ...).
    """

    def __init__(self, **kwargs) -> None:
        self.kwargs = kwargs
        SimilarityBuilder(**kwargs)  # validates the arguments now, not at first call

    def forward(self, data: Data) -> Data:
        x = getattr(data, 'x', None)
        edge_index: Optional = getattr(data, 'edge_index', None)
        if x is None and edge_index is None:
            raise ValueError("GenURLSimilarity needs 'data.x' or 'data.edge_index'")
        if x is not None and not x.is_floating_point():
            x = x.float()
        sim = SimilarityBuilder(**self.kwargs).build(x, edge_index, num_nodes=data.num_nodes)
        out = copy.copy(data)
        out.sim_index = sim.index
        out.sim_weight = sim.weight
        out.sim_lambda = sim.lam
        return out

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v!r}' for k, v in self.kwargs.items())
        return f'{self.__class__.__name__}({args})'
