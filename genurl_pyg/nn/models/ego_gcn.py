r"""Ego and GCN channels side by side: a representation that keeps what the node's own
features know and what its neighbourhood average knows, and lets the probe choose."""
from __future__ import annotations

from typing import List, Optional

import torch
from torch import Tensor
from torch_geometric.nn import Linear
from torch_geometric.nn.conv import GCNConv

from ..adjacency import as_csr_adjacency, layer_widths


class EgoGCN(torch.nn.Module):
    r"""Two channels, concatenated (the ego/neighbour separation and the final
    concatenation of H2GCN, Zhu et al., NeurIPS 2020, with GCN's averaging as the
    neighbour channel):

    .. math::
        h_i = \Big[\; \sigma\big(W_{\text{ego}} x_i\big) \;\Big\Vert\;
            \sigma\Big(\sum_{j \in \mathcal N(i) \cup \{i\}}
            \tfrac{1}{\sqrt{\hat d_i \hat d_j}}\, W_{\text{gcn}} x_j\Big) \;\Big].

    Each channel is ``out_channels`` wide, so :math:`h` has ``2 * out_channels`` columns.
    With more layers each channel is a stack of its own layers (a PReLU MLP; a GCN). A GCN
    alone averages every node with its neighbours through one weight: where neighbours carry
    other labels it erases the node's own features, where they carry the same label it
    denoises them. A GraphSAGE layer sums both inside one activation, and training on a
    feature-led P often leaves its neighbour weight small even where averaging would pay.
    Here neither channel can absorb the other: the ego channel is the feature-only
    representation, the GCN channel the smoothed one, and a downstream linear model weighs
    them. The price is width: each channel is as wide as a single encoder's output, because
    halving it cost the ego channel what a wider representation knows (syn-Cora, h = 0.1,
    the ego half alone: 70.3 % at 256 columns, 74.3 % at 512; seed 0).

    Train it with one projector and one loss per channel
    (:class:`~genurl_pyg.nn.models.ChannelProjector` over :attr:`channels`; what
    ``encoder: ego-gcn`` does): with one loss on the concatenation, the GCN channel's
    noise on a heterophilous graph enters every distance and costs the ego channel
    (measured on syn-Cora, h = 0.2, seed 0, with 256-column channels: 71.0 % with one
    loss, 74.2 % with two; GenURL without the graph 74.0 %).

    Cost per layer: :math:`O(\mathrm{nnz}(X)\,d + E\,d)` time (both channels project first,
    as :class:`~torch_geometric.nn.conv.GCNConv` does), :math:`O(N d)` memory, twice one
    stack's. With one loss per channel an epoch of GenURL costs about 1.7x that of a single
    encoder (syn-Cora, 200 epochs, one thread: about 78 s against 45 s for SAGE). Pure
    torch sparse products (CPU and CUDA).

    Args:
        in_channels (int): input width :math:`D`.
        hidden_channels (int): width of each channel's hidden layers.
        out_channels (int): width of each channel (the representation has twice as many).
        num_layers (int): layers per channel (>= 1).
        dropout (float): dropout on the input of every layer after the first.

    Call as ``model(x, adj_t)`` with ``adj_t`` the transposed CSR adjacency
    (:func:`~genurl_pyg.nn.adjacency.csr_adjacency`, self-loops are added here) or an
    ``[2, E]`` edge index; ``x`` dense or CSR.
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int,
                 num_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        pairs = layer_widths(in_channels, hidden_channels, out_channels, num_layers, dropout)
        self.in_channels, self.hidden_channels = in_channels, hidden_channels
        self.out_channels, self.num_layers, self.dropout = out_channels, num_layers, dropout
        # The widths of the concatenated channels: GenURL gives each its own projector and
        # loss (ChannelProjector), so that neither has to serve the other's structure.
        self.channels = (out_channels, out_channels)
        self.ego = torch.nn.ModuleList(Linear(a, b, bias=True) for a, b in pairs)
        self.gcn = torch.nn.ModuleList(GCNConv(a, b, cached=False) for a, b in pairs)
        self.ego_acts = torch.nn.ModuleList(torch.nn.PReLU(b) for _, b in pairs)
        self.gcn_acts = torch.nn.ModuleList(torch.nn.PReLU(b) for _, b in pairs)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for module in (*self.ego, *self.gcn, *self.ego_acts, *self.gcn_acts):
            module.reset_parameters()

    def forward(self, x: Tensor, adj_t: Tensor) -> Tensor:
        adj_t = as_csr_adjacency(adj_t, x.size(0))
        ego = self._channel(x, None)
        smooth = self._channel(x, adj_t)
        return torch.cat([ego, smooth], dim=-1)

    def _channel(self, x: Tensor, adj_t: Optional[Tensor]) -> Tensor:
        h = x
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0:
                h = torch.nn.functional.dropout(h, self.dropout, self.training)
            if adj_t is None:
                h = self.ego_acts[layer](self.ego[layer](h))
            else:
                h = self.gcn_acts[layer](self.gcn[layer](h, adj_t))
        return h

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, {self.out_channels}, '
                f'num_layers={self.num_layers})')


__all__: List[str] = ['EgoGCN']
