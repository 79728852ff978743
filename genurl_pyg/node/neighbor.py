"""Message passing on sampled subgraphs: PyG's ``NeighborLoader`` behind a small helper.

PyG's neighbour sampler is compiled code from ``pyg-lib`` or ``torch-sparse``; plain PyG
has neither, so this path is optional and says so clearly when it is asked for.
"""
from __future__ import annotations

import warnings
from typing import List, Sequence

from torch import Tensor
from torch_geometric.data import Data


def neighbor_sampling_available() -> bool:
    """True when PyG can sample neighbourhoods here (pyg-lib or torch-sparse installed)."""
    import torch_geometric.typing as pyg_typing
    return bool(pyg_typing.WITH_PYG_LIB or pyg_typing.WITH_TORCH_SPARSE)


def require_neighbor_sampling(feature: str = "graph_batching: 'neighbor'") -> None:
    if not neighbor_sampling_available():
        raise ImportError(
            f"{feature} needs PyG's neighbour sampler, which comes from the optional package "
            "'pyg-lib' or 'torch-sparse'; neither is installed. Install one (pip install "
            "torch-sparse compiles from source; pyg-lib wheels: "
            "https://data.pyg.org/whl/), or use encoder: sign (decoupled propagation, plain "
            "PyG) or graph_batching: full.")


class NeighborSubgraphs:
    r"""The ``L``-hop computation subgraph of a set of seed nodes, sampled with
    ``num_neighbors[l]`` neighbours per node at hop ``l`` (PyG's ``NeighborLoader``).

    Calling it with ``seeds`` (``[S]`` node ids) returns a ``Data`` whose first ``S`` nodes
    are the seeds in the given order (``batch.n_id[:S] == seeds``). The graph is converted to
    the sampler's CSC layout once, here; each call costs
    :math:`O(S \prod_l \text{num\_neighbors}[l])`, independent of :math:`N`.
    """

    def __init__(self, x: Tensor, edge_index: Tensor, num_nodes: int,
                 num_neighbors: Sequence[int]) -> None:
        require_neighbor_sampling()
        from torch_geometric.loader import NeighborLoader
        self.num_neighbors: List[int] = [int(v) for v in num_neighbors]
        data = Data(x=x, edge_index=edge_index, num_nodes=num_nodes)
        with warnings.catch_warnings():  # torch-sparse's sampler works; PyG nudges to pyg-lib
            warnings.filterwarnings('ignore', message=".*without a 'pyg-lib' installation")
            self.loader = NeighborLoader(data, num_neighbors=self.num_neighbors, batch_size=1)

    def __call__(self, seeds: Tensor) -> Data:
        return self.loader(seeds.cpu())

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(num_neighbors={self.num_neighbors})'
