"""The GenURL objective as a module: one switch over the divergence variants."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from ..._validation import check_positive_float
from ...structure.similarity import Similarity
from .. import functional as F
from ..sampling import dense_block, sample_pairs


class GenURLLoss(torch.nn.Module):
    r"""Divergence between the input similarity :math:`P` and
    :math:`Q_{ij} = \kappa_\nu(\lVert z_i - z_j\rVert^2)`.

    Args:
        variant (str): ``'gkl'`` (default), ``'kl'``, ``'fuzzy_ce'``, ``'l1'``, ``'mse'`` or
            ``'infonce'`` (see :mod:`genurl_pyg.nn.functional`).
        nu (float): embedding-side Student-t degrees of freedom (small: heavy tail).
        alpha (float): weight of GKL's :math:`|P - Q|` term.
        eps (float): added inside the logarithms.

    Forms:
        * :meth:`forward` with a dense ``p`` ``[B, B]``: all pairs, O(B^2 d).
        * :meth:`forward` with a :class:`~genurl_pyg.structure.Similarity` and ``nodes``:
          the dense block of those nodes, all pairs.
        * :meth:`sampled`: unbiased estimate over the whole graph from ``num_pos`` support
          pairs and ``num_neg`` uniform pairs, O((s + m) d).
    """

    def __init__(self, variant: str = 'gkl', nu: float = 1.0, alpha: float = 0.1,
                 eps: float = 1e-10) -> None:
        super().__init__()
        if variant not in F.VARIANTS:
            raise ValueError(f"'variant' must be one of {F.VARIANTS}, got {variant!r}")
        self.variant = variant
        self.nu = check_positive_float(nu, 'nu')
        if alpha < 0:
            raise ValueError(f"'alpha' must be >= 0, got {alpha}")
        self.alpha, self.eps = float(alpha), float(eps)

    def forward(self, z: Tensor, p, nodes: Optional[Tensor] = None,
                no_repulsion: Optional[Tensor] = None,
                targets: Optional[Tensor] = None,
                columns: Optional[Tensor] = None) -> Tensor:
        """All pairs (see the class doc); ``no_repulsion``: a boolean ``[B, B]`` of pairs
        left out where :math:`p = 0`; ``targets``: fixed column points, :math:`Q_{ij}` from
        ``z_i`` to ``targets_j``; ``columns``: ``M`` fixed points after the batch's columns,
        with a dense ``p`` of ``[B, B + M]`` (all three
        :func:`~genurl_pyg.nn.functional.all_pairs_loss`)."""
        if isinstance(p, Similarity):
            if nodes is None:
                if z.size(0) != p.num_nodes:
                    raise ValueError(f"'z' has {z.size(0)} rows but P has {p.num_nodes} nodes; "
                                     "pass 'nodes' for a batch")
                nodes = torch.arange(p.num_nodes, device=z.device)
            p = dense_block(p, nodes)
        return F.all_pairs_loss(z, p, self.nu, self.variant, self.alpha, self.eps,
                                no_repulsion, targets, columns)

    def sampled(self, z: Tensor, sim: Similarity, num_pos: int, num_neg: int,
                generator: Optional[torch.Generator] = None,
                shared_negatives: bool = False, block_precision: str = 'float32') -> Tensor:
        """The sampled estimate. ``shared_negatives``: the ``num_neg`` negatives as every
        row against ``ceil(num_neg / N)`` shared uniform columns, one matrix product
        (:func:`~genurl_pyg.nn.functional.shared_columns_loss`; its operands in bfloat16
        with ``block_precision='bfloat16'``), instead of independent uniform pairs."""
        if z.size(0) != sim.num_nodes:
            raise ValueError(f"'z' has {z.size(0)} rows but P has {sim.num_nodes} nodes")
        if shared_negatives:
            n = sim.num_nodes
            m = max(1, -(-int(num_neg) // n))
            s = sample_pairs(sim, num_pos, 1, generator)
            cols = torch.randint(0, n, (m,), generator=generator).to(z.device)
            return F.shared_columns_loss(z, s.pos_i, s.pos_j, s.pos_p, cols, s.num_support,
                                         self.nu, self.variant, self.alpha, self.eps,
                                         block_precision)
        s = sample_pairs(sim, num_pos, num_neg, generator)
        return F.indexed_pairs_loss(z, s.pos_i, s.pos_j, s.pos_p, s.neg_i, s.neg_j,
                                    s.num_support, s.num_pairs, self.nu, self.variant,
                                    self.alpha, self.eps)

    def extra_repr(self) -> str:
        return f'variant={self.variant!r}, nu={self.nu}, alpha={self.alpha}'
