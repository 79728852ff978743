"""Projections rescaled onto a sphere before GenURL's Student-t kernel."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from .genurl import _reset


class SphereProjection(torch.nn.Module):
    r"""Puts projections on a sphere of radius :math:`r` before :math:`Q`:

    .. math::
        z' = r\,\frac{g(h)}{\max(\lVert g(h)\rVert, \varepsilon)}, \qquad
        Q_{ij} = \kappa_\nu(\lVert z'_i - z'_j\rVert^2) \in
        \big[(1 + 4r^2/\nu)^{-(\nu+1)/2},\ 1\big].

    Without it the scale of :math:`z` is free, and an objective can settle where every
    pair's :math:`Q` is close to 1 and :math:`P`'s neighbourhoods barely enter the gradient
    (CiteSeer's validation-chosen configuration kept mean :math:`|h|` near 0.02:
    ``experiments/results/node_study.md`` section 5). With it, :math:`r` and :math:`\nu`
    fix the range of :math:`Q` instead. Ours, not the paper's. The normalisation acts on
    the last dimension, so ``[N, C, d]`` channel projections are normalised per channel.

    Args:
        radius (float): :math:`r > 0`.
        inner (Module, optional): the projector :math:`g` (identity if ``None``).

    Cost: O(N d) beyond ``inner``; no parameters of its own.
    """

    def __init__(self, radius: float, inner: Optional[torch.nn.Module] = None,
                 eps: float = 1e-12) -> None:
        super().__init__()
        if isinstance(radius, bool) or not isinstance(radius, (int, float)) or not radius > 0:
            raise ValueError(f"'radius' must be a number > 0, got {radius!r}")
        self.radius = float(radius)
        self.eps = float(eps)
        self.inner = inner if inner is not None else torch.nn.Identity()

    def reset_parameters(self) -> None:
        _reset(self.inner)  # GenURL's own reset: the module's, else its children's

    def forward(self, h: Tensor) -> Tensor:
        z = self.inner(h)
        return torch.nn.functional.normalize(z, dim=-1, eps=self.eps) * self.radius

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(radius={self.radius}, inner={self.inner})'
