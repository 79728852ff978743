"""GenURL as a PyG model: any encoder, a projector, and the GenURL objective."""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

from ...structure.similarity import Similarity
from ..losses.genurl_loss import GenURLLoss


def _reset(module: Optional[torch.nn.Module]) -> None:
    if module is None:
        return
    if hasattr(module, 'reset_parameters'):
        module.reset_parameters()
        return
    for child in module.children():
        _reset(child)


class GenURL(torch.nn.Module):
    r"""The GenURL model (LDT stage): :math:`h = f(\cdot)`, :math:`z = g(h)`,
    :math:`Q_{ij} = \kappa_\nu(\lVert z_i - z_j\rVert^2)`, trained to match a sparse input
    similarity :math:`P` (see :mod:`genurl_pyg.structure`).

    In the spirit of :class:`torch_geometric.nn.models.DeepGraphInfomax`:

    .. code-block:: python

        model = GenURL(encoder=GCN(1433, 512, 2), projector=MLP([512, 512, 64]))
        P = build_similarity(data.x, data.edge_index)
        h, z = model(data.x, data.edge_index)
        loss = model.loss(z, P)
        emb = model.embed(data.x, data.edge_index)   # what you keep

    Args:
        encoder (Module): maps the inputs to representations :math:`h` (``[N, d_h]``).
        projector (Module, optional): maps :math:`h` to :math:`z`; identity if ``None``.
        loss (GenURLLoss, optional): the objective; ``GenURLLoss()`` (GKL, ν=1) if ``None``.
    """

    def __init__(self, encoder: torch.nn.Module, projector: Optional[torch.nn.Module] = None,
                 loss: Optional[GenURLLoss] = None) -> None:
        super().__init__()
        if not isinstance(encoder, torch.nn.Module):
            raise TypeError(f"'encoder' must be a torch.nn.Module, got {type(encoder).__name__}")
        self.encoder = encoder
        self.projector = projector if projector is not None else torch.nn.Identity()
        self.criterion = loss if loss is not None else GenURLLoss()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset(self.encoder)
        _reset(self.projector)

    def forward(self, *args, **kwargs) -> Tuple[Tensor, Tensor]:
        """Returns ``(h, z)``: the representation and its projection."""
        h = self.encoder(*args, **kwargs)
        return h, self.projector(h)

    @torch.no_grad()
    def embed(self, *args, **kwargs) -> Tensor:
        """The representation :math:`h` users keep, in eval mode and without gradients."""
        was_training = self.training
        self.eval()
        h = self.encoder(*args, **kwargs)
        self.train(was_training)
        return h

    def loss(self, z: Tensor, sim, nodes: Optional[Tensor] = None,
             num_pos: Optional[int] = None, num_neg: Optional[int] = None,
             generator: Optional[torch.Generator] = None,
             shared_negatives: bool = False, block_precision: str = 'float32') -> Tensor:
        """All-pairs loss (``sim`` dense or :class:`Similarity` plus optional ``nodes``), or,
        when ``num_pos`` and ``num_neg`` are given, the unbiased sampled loss (its negatives
        as shared columns with ``shared_negatives``, the block's products in
        ``block_precision``: :meth:`GenURLLoss.sampled`). A ``z`` of
        shape ``[N, C, d]`` (from a :class:`~genurl_pyg.nn.models.ChannelProjector`) gets
        one loss per channel, summed."""
        if z.dim() == 3:  # one loss per channel (e.g. EgoGCN's ego and graph channels)
            return sum(self.loss(z[:, c], sim, nodes, num_pos, num_neg, generator,
                                 shared_negatives, block_precision)
                       for c in range(z.size(1)))
        if num_pos is not None or num_neg is not None:
            if not isinstance(sim, Similarity) or num_pos is None or num_neg is None:
                raise ValueError('the sampled loss needs a Similarity and both num_pos and '
                                 'num_neg')
            return self.criterion.sampled(z, sim, num_pos, num_neg, generator,
                                          shared_negatives, block_precision)
        return self.criterion(z, sim, nodes)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(encoder={self.encoder.__class__.__name__}, '
                f'projector={self.projector.__class__.__name__}, '
                f'loss={self.criterion.variant!r}, nu={self.criterion.nu})')
