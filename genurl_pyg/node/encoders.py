"""Message-passing (and MLP) encoders from PyG, built by name for configs and the CLI."""
from __future__ import annotations

import warnings
from typing import Optional

import torch
from torch import Tensor
from torch_geometric.nn import MLP
from torch_geometric.nn.models import GAT, GCN

from .._validation import check_positive_int
from ..structure.trust import LOW_INFORMATION, LOW_TRUST, graph_is_noise
from .config import SKIP_ENCODERS

# Encoders that average a node with its neighbours through one weight: they erase the
# node's own features where the neighbours are unlike it.
AVERAGING_ENCODERS = ('gcn', 'gat')
# Encoders that pass messages at all (the MLP reads no edges; SIGN is chosen by size).
GRAPH_ENCODERS = AVERAGING_ENCODERS + ('sage', 'ego-gcn')


class UntrustedGraphWarning(UserWarning):
    """The chosen encoder passes messages over a graph that will likely make it worse than
    the features alone: edges that join unlike nodes, or that carry no feature
    information."""


def warn_about_graph(encoder: str, trust: Optional[float],
                     information: Optional[float] = None,
                     closure: Optional[float] = None) -> None:
    """Warns when ``encoder`` passes messages over edges that look like a random graph
    (:func:`~genurl_pyg.structure.trust.graph_is_noise` of the edges' feature
    ``information`` and triangle ``closure`` ratio; any message-passing encoder), or
    averages over neighbours while the graph–feature agreement ``trust`` is below
    :data:`~genurl_pyg.structure.trust.LOW_TRUST` (GCN, GAT). ``None`` or ``nan``: no
    warning (not measured, or features without geometry cannot judge the graph)."""
    if encoder in GRAPH_ENCODERS and graph_is_noise(information, closure):
        warnings.warn(
            f"encoder {encoder!r} passes messages over a graph that looks like random edges: "
            f"an edge tells {information:.4f} nats about the features at its other end "
            f"beyond a random graph with the same degrees (< {LOW_INFORMATION}), and "
            f"neighbours of a node are no more often adjacent than there. The neighbours it "
            f"mixes in are close to noise; on such graphs message passing cost 1-2 points "
            f"against the features alone (experiments/results/heterophily_benchmark.md). "
            f"encoder 'mlp' (or 'auto', which picks it here) does not read the edges.",
            UntrustedGraphWarning, stacklevel=3)
        return
    if encoder not in AVERAGING_ENCODERS or trust is None or not trust < LOW_TRUST:
        return  # 'not <' also skips nan: features without geometry cannot judge the graph
    warnings.warn(
        f"encoder {encoder!r} averages every node with its neighbours, but this graph's edges "
        f"join nodes whose features agree little more than random pairs do (graph-feature "
        f"agreement {trust:.3f} < {LOW_TRUST}); on such graphs it can do much worse than the "
        f"features alone. encoder 'ego-gcn' (or 'auto', which picks it here) keeps each "
        f"node's own features in a separate channel ('sage' too, in a shared one); 'mlp' "
        f"uses the graph only in P.",
        UntrustedGraphWarning, stacklevel=3)


class FeatureMLP(torch.nn.Module):
    """An MLP that ignores the graph: same call signature as the GNNs, ``(x, edge_index)``."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int,
                 num_layers: int, dropout: float) -> None:
        super().__init__()
        channels = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.mlp = MLP(channels, dropout=dropout, act='prelu', norm=None, plain_last=False)

    def reset_parameters(self) -> None:
        self.mlp.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor = None) -> Tensor:
        return self.mlp(x)


class LowRankSkip(torch.nn.Module):
    r"""A bias-free linear map of rank at most ``rank``, :math:`x \mapsto x U V`
    (:math:`U` ``in_channels x rank``, :math:`V` ``rank x out_channels``), the
    ``input_skip`` path of config ``input_skip_rank``: it keeps the input linearly readable
    in the representation with ``rank (D + d)`` weights instead of ``D d`` (on Coauthor-CS's
    6,805 words and d = 512, 0.23 M at rank 32 against 3.5 M). O(nnz(X) r + N r d) per
    forward. ``down`` reads the raw input, so deferred smoothing (Â^h X U = Â^h (X U))
    swaps it like the encoder's first weight layer."""

    #: the sub-layer that reads the raw input (what deferred input smoothing swaps)
    input_layer = 'down'

    def __init__(self, in_channels: int, out_channels: int, rank: int) -> None:
        super().__init__()
        from torch_geometric.nn import Linear
        self.rank = check_positive_int(rank, 'rank')
        self.down = Linear(in_channels, rank, bias=False)
        self.up = Linear(rank, out_channels, bias=False)

    def reset_parameters(self) -> None:
        self.down.reset_parameters()
        self.up.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        return self.up(self.down(x))

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.down.in_channels}, '
                f'{self.up.out_channels}, rank={self.rank})')


class _WithAct(torch.nn.Module):
    """PyG's basic GNNs end without an activation; the representation gets one (PReLU, as in
    DGI's encoder) so that a single layer is a non-linear map too. With ``skip`` (a
    bias-free ``Linear`` from the input, config ``input_skip``) the activation reads
    ``gnn(x) + skip(x)``."""

    def __init__(self, gnn: torch.nn.Module, channels: int,
                 skip: Optional[torch.nn.Module] = None) -> None:
        super().__init__()
        self.gnn = gnn
        self.skip = skip
        self.act = torch.nn.PReLU(channels)

    def reset_parameters(self) -> None:
        self.gnn.reset_parameters()
        if self.skip is not None:
            self.skip.reset_parameters()
        self.act.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        out = self.gnn(x, edge_index)
        if self.skip is not None:
            out = out + self.skip(x)
        return self.act(out)


def build_encoder(name: str, in_channels: int, hidden_channels: int, out_channels: int,
                  num_layers: int = 1, dropout: float = 0.0,
                  input_skip: bool = False, input_skip_rank: int = 0) -> torch.nn.Module:
    """``'gcn'``, ``'gat'`` (PyG basic GNNs), ``'sage'``, ``'ego-gcn'`` or ``'mlp'``; called
    ``(x, edge_index)`` (or a CSR adjacency for ``'sage'`` and ``'ego-gcn'``).
    ``input_skip`` (GCN, GAT): the output is ``PReLU(gnn(x) + x W_s)``, ``W_s`` a bias-free
    ``in_channels x out_channels`` map, or with ``input_skip_rank`` r >= 1 the rank-r
    product :class:`LowRankSkip`."""
    if input_skip_rank and not input_skip:
        raise ValueError("'input_skip_rank' needs 'input_skip' (it sets the skip path's rank)")
    if input_skip and name not in SKIP_ENCODERS:
        raise ValueError(f"'input_skip' needs encoder 'gcn' or 'gat', got {name!r}")
    if name == 'mlp':
        return FeatureMLP(in_channels, hidden_channels, out_channels, num_layers, dropout)
    if name == 'sage':  # GraphSAGE computed projection-first (cheap on bag-of-words rows)
        from ..nn.models import EgoNeighborSAGE
        return EgoNeighborSAGE(in_channels, hidden_channels, out_channels, num_layers, dropout)
    if name == 'ego-gcn':  # an MLP channel beside a GCN channel, concatenated
        from ..nn.models import EgoGCN
        return EgoGCN(in_channels, hidden_channels, out_channels, num_layers, dropout)
    # One layer never applies the hidden activation: leaving it out keeps every parameter
    # used, which DistributedDataParallel requires.
    kwargs = dict(in_channels=in_channels, hidden_channels=hidden_channels,
                  num_layers=num_layers, out_channels=out_channels, dropout=dropout,
                  act='prelu' if num_layers > 1 else None)
    if name == 'gcn':
        gnn = GCN(**kwargs, cached=False)
    elif name == 'gat':
        heads = 4 if out_channels % 4 == 0 and hidden_channels % 4 == 0 else 1
        gnn = GAT(**kwargs, heads=heads, concat=True)
    else:
        raise ValueError(f"'encoder' must be one of gcn, sage, ego-gcn, gat, mlp; "
                         f"got {name!r}")
    skip = None
    if input_skip and input_skip_rank:
        skip = LowRankSkip(in_channels, out_channels, input_skip_rank)
    elif input_skip:
        from torch_geometric.nn import Linear
        skip = Linear(in_channels, out_channels, bias=False)
    return _WithAct(gnn, out_channels, skip)
