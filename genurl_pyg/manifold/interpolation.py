r"""Kernel sums over all pairs of 2-D points by polynomial interpolation on a grid and FFT
(the scheme of FIt-SNE, Linderman et al., Nature Methods 2019), for any radial kernel.

For points :math:`y_1..y_N \in \mathbb{R}^2`, charges :math:`c_j \in \mathbb{R}^C` and a
kernel :math:`K(d)` of the squared distance, the potentials

.. math::
    \phi_i = \sum_{j} K(\lVert y_i - y_j\rVert^2)\, c_j \qquad (j = i \text{ included})

cost O(N²·C) directly. Here the bounding square is cut into ``n_boxes²`` boxes of side
``box_width`` with ``n_interp²`` equispaced nodes each (one global grid of side
G = n_boxes·n_interp, spacing g = box_width / n_interp): every charge is spread onto its
box's nodes with Lagrange weights, the grid's potentials are one discrete convolution with
K sampled on the grid's offsets (a 2G × 2G circulant embedding, by real FFT), and every
point reads its box's nodes back with the same weights. Cost: O(N·n_interp²·C) to spread
and gather, O(G² log G · C) for the FFTs (the zero half of the padded input and the
unused half of the output are skipped); memory O(N·n_interp² + G²·C). The error is that of
degree-(n_interp − 1) interpolation of K over one box: small when the box is narrow
against K's core (``box_width``); the tests hold it against the direct sum.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, Optional, Sequence, Tuple

import torch
from torch import Tensor

Kernel = Callable[[Tensor], Tensor]


def _lagrange_weights(t: Tensor, n_interp: int) -> Tensor:
    """Weights ``[N, n_interp]`` of the Lagrange basis on the nodes (k + 1/2)/n_interp of
    [0, 1], evaluated at ``t`` ``[N]`` in [0, 1]."""
    nodes = (torch.arange(n_interp, dtype=t.dtype, device=t.device) + 0.5) / n_interp
    w = torch.ones(t.numel(), n_interp, dtype=t.dtype, device=t.device)
    for k in range(n_interp):
        for m in range(n_interp):
            if m != k:
                w[:, k] *= (t - nodes[m]) / (nodes[k] - nodes[m])
    return w


def _grid(y: Tensor, box_width: float, min_boxes: int, max_boxes: int,
          round_boxes: int) -> Tuple[Tensor, float, int]:
    """Lower corner, box side and boxes per side of the square grid over ``y``. The box
    side stays ``box_width`` (and the box count a multiple of ``round_boxes``) unless that
    needs more than ``max_boxes``: then the boxes widen to fit."""
    lo = y.min(0).values
    span = float((y.max(0).values - lo).max()) * (1 + 1e-6) + 1e-12
    n_boxes = max(math.ceil(span / box_width), min_boxes)
    n_boxes = -(-n_boxes // round_boxes) * round_boxes
    if n_boxes > max_boxes:
        return lo, span / max_boxes, max_boxes
    return lo, box_width, n_boxes


def _kernel_spectrum(kernel: Kernel, side: int, spacing: float, like: Tensor) -> Tensor:
    """rfft2 of K on the grid offsets, wrapped into the 2G × 2G circulant embedding."""
    a = torch.arange(2 * side, dtype=like.dtype, device=like.device)
    sq = (torch.where(a < side, a, a - 2 * side) * spacing).pow(2)
    return torch.fft.rfft2(kernel(sq.unsqueeze(1) + sq.unsqueeze(0)))


def interpolated_kernel_sums(y: Tensor, kernels: Sequence[Kernel], charges: Tensor,
                             channels: Optional[Sequence[Sequence[int]]] = None,
                             box_width: float = 0.3, n_interp: int = 3, min_boxes: int = 20,
                             max_boxes: int = 400, round_boxes: int = 1,
                             dtype: torch.dtype = torch.float64,
                             cache: Optional[Dict] = None) -> list:
    """``[N, len(channels[k])]`` potentials :math:`\\sum_j K_k(\\lVert y_i - y_j\\rVert^2)
    c_j` for each kernel ``K_k`` (a function of squared distance, applied elementwise) on
    the charge columns ``channels[k]`` (default: all) of ``charges`` ``[N, C]``, self pairs
    included. The charges are spread and transformed once, whatever the kernels.

    ``box_width`` is the box side in y's units; more than ``max_boxes`` per side widens the
    boxes instead (bounded cost, larger error for a very spread layout). ``cache``: a dict
    the caller keeps across calls; the kernels' spectra are reused while the grid's size
    and spacing are unchanged (rounding the box count up to a multiple of ``round_boxes``
    makes that most calls for a slowly growing layout). Computed in ``dtype`` (float32
    halves the FFTs' time; its rounding error is far below the interpolation's at the
    layout's grid), returned in ``y``'s dtype. No gradient flows through it: callers write
    their own backward (:class:`~genurl_pyg.manifold.layout._FFTLogZ`).
    """
    if y.dim() != 2 or y.size(1) != 2:
        raise ValueError(f"interpolation on a grid needs 2-D points [N, 2], got shape "
                         f"{tuple(y.shape)}")
    charges = charges.reshape(y.size(0), -1)
    if channels is None:
        channels = [list(range(charges.size(1)))] * len(kernels)
    if len(channels) != len(kernels):
        raise ValueError(f'{len(kernels)} kernels but {len(channels)} channel lists')
    yd = y.detach().to(dtype)
    n, nc = yd.size(0), charges.size(1)
    lo, width, n_boxes = _grid(yd, box_width, min_boxes, max_boxes, round_boxes)
    side, spacing = n_boxes * n_interp, width / n_interp
    pos = (yd - lo) / width  # in box units
    box = pos.floor().clamp_(0, n_boxes - 1)
    wx = _lagrange_weights(pos[:, 0] - box[:, 0], n_interp)
    wy = _lagrange_weights(pos[:, 1] - box[:, 1], n_interp)
    node = torch.arange(n_interp, device=y.device)
    ix = box[:, 0].long().unsqueeze(1) * n_interp + node  # [N, p] grid rows
    iy = box[:, 1].long().unsqueeze(1) * n_interp + node
    flat = (ix.unsqueeze(2) * side + iy.unsqueeze(1)).reshape(n, -1)  # [N, p^2]
    weight = (wx.unsqueeze(2) * wy.unsqueeze(1)).reshape(n, -1)  # [N, p^2]
    grid = torch.zeros(side * side, nc, dtype=dtype, device=y.device)
    grid.index_add_(0, flat.reshape(-1), (weight.unsqueeze(2) * charges.detach().to(dtype)
                                          .unsqueeze(1)).reshape(-1, nc))
    # rfft2 of the zero-padded [C, 2G, 2G] grid, skipping the G zero rows' transforms.
    spec = torch.fft.fft(torch.fft.rfft(grid.T.reshape(nc, side, side), n=2 * side, dim=2),
                         n=2 * side, dim=1)
    out = []
    for k, (kernel, cols) in enumerate(zip(kernels, channels)):
        key = (k, side, spacing, dtype, y.device)
        kern = cache.get(key) if cache is not None else None
        if kern is None:
            kern = _kernel_spectrum(kernel, side, spacing, yd)
            if cache is not None:
                if len(cache) >= 4 * len(kernels):  # an old grid's spectra: drop them
                    cache.clear()
                cache[key] = kern
        prod = spec[list(cols)] * kern
        # Inverse, keeping only the first G rows before the last transform.
        pot = torch.fft.irfft(torch.fft.ifft(prod, dim=1)[:, :side], n=2 * side, dim=2)
        pot = pot[:, :, :side].reshape(len(cols), -1).T  # [G^2, C_k]
        out.append((weight.unsqueeze(2) * pot[flat]).sum(1).to(y.dtype))
    return out
