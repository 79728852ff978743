r"""One projector per channel of a representation, for one GenURL loss per channel."""
from __future__ import annotations

from typing import List, Sequence

import torch
from torch import Tensor
from torch_geometric.nn import MLP


class ChannelProjector(torch.nn.Module):
    r"""Splits the representation :math:`h = [h^{(1)} \Vert \dots \Vert h^{(C)}]` into its
    channels and projects each on its own:

    .. math::
        z_{i,c} = g_c\big(h_i^{(c)}\big), \qquad
        \mathcal L = \sum_{c=1}^{C} \mathrm{GKL}\big(P \,\Vert\, Q(z_{\cdot,c})\big),

    returning ``[N, C, out]``; :meth:`GenURL.loss <genurl_pyg.nn.models.GenURL.loss>` sums
    one loss per channel over such a ``z``. Every channel must then match P by itself: used
    with :class:`~genurl_pyg.nn.models.EgoGCN`, the ego channel learns what the features
    alone say and the GCN channel what the smoothed features say, whether or not the
    graph helps, and neither's errors move the other's distances.

    Each :math:`g_c` is a PReLU MLP ``[w_c, w_c, out_channels]`` (the single projector's
    shape); ``out_channels = 0`` means no projection (every channel must then have the same
    width). Cost: :math:`O(N \sum_c w_c (w_c + \text{out}))`.

    Args:
        channels (Sequence[int]): the widths :math:`w_c` of the channels, in order.
        out_channels (int): the width of every projection (0: identity).
    """

    def __init__(self, channels: Sequence[int], out_channels: int) -> None:
        super().__init__()
        channels = [int(c) for c in channels]
        if not channels or min(channels) < 1:
            raise ValueError(f"'channels' must be one or more widths >= 1, got {channels!r}")
        if out_channels < 0:
            raise ValueError(f"'out_channels' must be >= 0, got {out_channels}")
        if out_channels == 0 and len(set(channels)) > 1:
            raise ValueError(f'without a projection (out_channels=0) the channels must have '
                             f'one width, got {channels}')
        self.channels, self.out_channels = channels, out_channels
        self.heads = torch.nn.ModuleList(
            MLP([c, c, out_channels], norm=None, act='prelu') if out_channels
            else torch.nn.Identity() for c in channels)

    def reset_parameters(self) -> None:
        for head in self.heads:
            if hasattr(head, 'reset_parameters'):
                head.reset_parameters()

    def forward(self, h: Tensor) -> Tensor:
        if h.size(-1) != sum(self.channels):
            raise ValueError(f'expected a representation of width {sum(self.channels)} '
                             f'(channels {self.channels}), got {h.size(-1)}')
        parts = h.split(self.channels, dim=-1)
        return torch.stack([head(part) for head, part in zip(self.heads, parts)], dim=1)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(channels={self.channels}, '
                f'out_channels={self.out_channels})')


__all__: List[str] = ['ChannelProjector']
