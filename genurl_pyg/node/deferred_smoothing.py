r"""Input smoothing applied after the encoder's first weight matrix instead of before it.

With ``encoder_input_hops: h`` the encoder reads :math:`S X` with :math:`S = \hat A^h`. Its
first operation is a linear map, and both are linear, so

.. math::
    (S X)\,W^\top + b \;=\; S\,(X W^\top) + b,

and a feature-column mask ``M`` (the views) commutes too: :math:`(S X M) W^\top =
S (X M W^\top)`. The left side multiplies the smoothed rows, which fill in: on Cora
:math:`\hat A X` holds 3.7x the non-zeros of ``X`` (181 k against 49 k). The right side
multiplies the sparse ``X`` and then propagates the ``d``-wide result ``h`` times over the
graph: time :math:`O((\mathrm{nnz}(X) + h\,\mathrm{nnz}(\hat A))\,d)` per forward, against
:math:`O(\mathrm{nnz}(S X)\,d)`, the same in the backward pass. The trainer picks the
cheaper side from those counts (:func:`deferral_pays`); the two give the same function up
to float rounding.

Cost of the layer: one sparse-dense product and ``h`` propagations per call; memory
O(N d) beyond the input. The smoothing graph is an attribute, not a buffer: checkpoints
hold only the weights, the same keys as the plain layer's.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Optional

import torch
from torch import Tensor
from torch_geometric.nn.dense.linear import Linear

from .._validation import check_positive_int


class SmoothedInputLinear(Linear):
    r"""PyG's :class:`~torch_geometric.nn.dense.linear.Linear` on the smoothed input:
    :math:`x \mapsto \hat A^h (x W^\top) + b`, which equals ``Linear`` applied to
    :math:`\hat A^h x` (see the module docstring). The operator is set with
    :meth:`smooth_over`; a call on ``k N`` rows (``k`` stacked views of an ``N``-node
    graph, as the distributed path stacks them) smooths each block of ``N`` rows."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True,
                 weight_initializer: Optional[str] = None,
                 bias_initializer: Optional[str] = None) -> None:
        super().__init__(in_channels, out_channels, bias=bias,
                         weight_initializer=weight_initializer,
                         bias_initializer=bias_initializer)
        self.adj: Optional[Tensor] = None
        self.hops = 0

    @classmethod
    def replacing(cls, lin: Linear) -> 'SmoothedInputLinear':
        """A layer that shares ``lin``'s parameter tensors (same state-dict keys)."""
        if not isinstance(lin, Linear) or lin.in_channels <= 0:
            raise TypeError(f'expected an initialised torch_geometric Linear, got {lin!r}')
        new = cls.__new__(cls)
        torch.nn.Module.__init__(new)
        new.in_channels, new.out_channels = lin.in_channels, lin.out_channels
        new.weight_initializer = lin.weight_initializer
        new.bias_initializer = lin.bias_initializer
        new.weight = lin.weight
        new.register_parameter('bias', lin.bias)
        new.adj, new.hops = None, 0
        return new

    def smooth_over(self, adj: Tensor, hops: int) -> None:
        """Sets :math:`S = \\text{adj}^{hops}` (``adj``: the ``[N, N]`` normalised
        adjacency, CSR)."""
        hops = check_positive_int(hops, 'hops')
        if adj.dim() != 2 or adj.size(0) != adj.size(1):
            raise ValueError(f"'adj' must be a square [N, N] matrix, got {tuple(adj.shape)}")
        self.adj, self.hops = adj, hops

    @contextmanager
    def smoothing(self, adj: Tensor, hops: int) -> Iterator[None]:
        """:meth:`smooth_over` for the duration of a block (another graph's inference)."""
        saved = self.adj, self.hops
        self.smooth_over(adj, hops)
        try:
            yield
        finally:
            self.adj, self.hops = saved

    def forward(self, x: Tensor) -> Tensor:
        if self.adj is None:
            raise RuntimeError('SmoothedInputLinear has no smoothing operator; call '
                               'smooth_over(adj, hops) first')
        y = torch.nn.functional.linear(x, self.weight)
        n = self.adj.size(0)
        if y.size(0) % n:
            raise ValueError(f'the input has {y.size(0)} rows, not a multiple of the '
                             f'{n} nodes of the smoothing graph')
        blocks = []
        for block in y.split(n):
            for _ in range(self.hops):
                block = self.adj @ block
            blocks.append(block)
        y = blocks[0] if len(blocks) == 1 else torch.cat(blocks)
        return y if self.bias is None else y + self.bias

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, {self.out_channels}, '
                f'bias={self.bias is not None}, hops={self.hops})')


def first_linear_owner(encoder: torch.nn.Module):
    """``(module, attribute)`` of the encoder's first weight layer where it is a PyG
    ``Linear`` reading the raw input (GCN's first convolution, the MLP's first layer; a
    ``ModuleList`` entry's attribute is its index as a string), else ``None`` (GAT,
    GraphSAGE, EgoGCN, node-id tables: smoothing stays before them)."""
    from torch_geometric.nn.conv import GCNConv
    from torch_geometric.nn.models import GCN
    from .encoders import FeatureMLP, _WithAct
    if isinstance(encoder, _WithAct) and isinstance(encoder.gnn, GCN):
        conv = encoder.gnn.convs[0]
        if isinstance(conv, GCNConv) and isinstance(conv.lin, Linear):
            return conv, 'lin'
    if isinstance(encoder, FeatureMLP):
        return encoder.mlp.lins, '0'
    return None


def smooth_after(module: torch.nn.Module, name: str, adj: Tensor,
                 hops: int) -> SmoothedInputLinear:
    """Replaces the ``Linear`` at ``module.<name>`` (a ``ModuleList`` index as a string
    too) by a :class:`SmoothedInputLinear` over ``adj^hops`` sharing its parameters, and
    returns it."""
    layer = SmoothedInputLinear.replacing(getattr(module, name))
    layer.smooth_over(adj, hops)
    setattr(module, name, layer)
    return layer


def defer_input_smoothing(encoder: torch.nn.Module, adj: Tensor,
                          hops: int) -> Optional[SmoothedInputLinear]:
    """Swaps the encoder's first ``Linear`` for a :class:`SmoothedInputLinear` over
    ``adj^hops`` (same parameters) and returns it; ``None`` where the encoder has no such
    layer. An ``input_skip`` path, which reads the same input, is smoothed the same way."""
    owner = first_linear_owner(encoder)
    if owner is None:
        return None
    skip = getattr(encoder, 'skip', None)
    if skip is not None:  # input_skip reads the same input
        reader = getattr(skip, 'input_layer', None)
        if reader:  # a composite skip (LowRankSkip) names its sub-layer that reads it
            smooth_after(skip, reader, adj, hops)
        else:  # a plain Linear skip is that layer itself
            smooth_after(encoder, 'skip', adj, hops)
    return smooth_after(*owner, adj, hops)


def smoothed_nnz(x: Tensor, adj: Tensor, hops: int, max_block_entries: int = 1 << 22) -> int:
    r"""The number of non-zeros of :math:`\hat A^{hops} X`, from the sparsity patterns alone
    (without forming the dense ``[N, D]`` product): a block of rows of
    :math:`\text{pattern}(\hat A)^{hops}\,\text{pattern}(X)` at a time, in scipy's sparse
    products. Exact for the pattern; the dense product can only have fewer non-zeros
    (a sum that cancels to zero). Memory O(nnz(X) + nnz(Â)) plus one block of at most
    ``max_block_entries`` output entries; time O(h·nnz(Â)·fill + nnz(result))."""
    import numpy as np
    import scipy.sparse as sp
    if isinstance(hops, bool) or not isinstance(hops, int) or hops < 1:
        raise ValueError(f"'hops' must be an integer >= 1, got {hops!r}")
    n = adj.size(0)
    if x.dim() != 2 or x.size(0) != n:
        raise ValueError(f"'x' must be [N, D] with the adjacency's N = {n} rows, got "
                         f'{tuple(x.shape)}')

    def pattern(rows: Tensor, cols: Tensor, shape) -> 'sp.csr_matrix':
        ones = np.ones(rows.numel(), dtype=np.float32)  # positive: no cancellation
        return sp.csr_matrix((ones, (rows.cpu().numpy(), cols.cpu().numpy())), shape=shape)

    a = adj.to_sparse_coo().coalesce().indices()
    a = pattern(a[0], a[1], (n, n))
    xi = x.to_sparse_coo().coalesce().indices() if x.is_sparse else (x != 0).nonzero().t()
    xp = pattern(xi[0], xi[1], tuple(x.shape))
    block = max(1, max_block_entries // max(1, x.size(1)))  # a dense block's worth at most
    total = 0
    for start in range(0, n, block):
        rows = a[start:start + block]
        for _ in range(hops - 1):
            rows = rows @ a
        total += (rows @ xp).nnz
    return int(total)


def deferral_pays(input_nnz: int, smoothed_nnz: int, adj_nnz: int, hops: int) -> bool:
    """Whether :math:`S (X W^\\top)` is cheaper than :math:`(S X) W^\\top`: the products'
    multiply-adds per output column, :math:`\\mathrm{nnz}(X) + h\\,\\mathrm{nnz}(\\hat A)`
    against :math:`\\mathrm{nnz}(S X)`."""
    return input_nnz + hops * adj_nnz < smoothed_nnz
