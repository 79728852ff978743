r"""A feature-decorrelation term that can stand in for GKL's Student-t repulsion.

GKL keeps an embedding from collapsing by pushing every pair with :math:`p_{ij} = 0` apart
(:math:`\alpha q_{ij}`), one pairwise term per non-neighbour. The self-supervised methods
that read best under a linear probe (Barlow Twins, VICReg, CCA-SSG, W-MSE) use no pairwise
repulsion: they pull positive pairs together and keep the representation spread by a
constraint on its covariance. :func:`decorrelation_loss` is that constraint written for
GenURL's Q on a sphere (:class:`~genurl_pyg.nn.models.SphereProjection`): points on a sphere
of radius :math:`r` in :math:`D` dimensions that are centred and spread evenly over every
direction have covariance :math:`(r^2/D) I`, so

.. math::
    \mathcal{L}_{\text{dec}} = \frac{1}{V}\sum_{v=1}^{V}
        \frac{1}{D}\Big\lVert \frac{D}{r^2}\,\mathrm{Cov}(z^{(v)}) - I \Big\rVert_F^2,
    \qquad \mathrm{Cov}(z) = \frac{1}{N}(z - \bar z)^\top (z - \bar z),

one term per view :math:`v` (as CCA-SSG computes its term per view). It is 0 for an
isotropic, centred cloud, 1 when every point sits at one place, and :math:`D/m - 1` when
the points spread evenly over only :math:`m` of the :math:`D` directions. Unlike CCA-SSG's
correlation matrix (columns standardised first) it reads the covariance itself: on the
sphere, standardising would let the whole cloud shrink into a small cap, where GenURL's
attraction :math:`-p \log q` is smallest, without changing the term. Ours, not the paper's.

Cost: O(V N D^2) time, O(D^2) memory per view (one :math:`D \times D` product). When
:math:`N \le D` the covariance has rank below :math:`D` and the term cannot reach 0.

:func:`correlation_loss` is the scale-free form, CCA-SSG's own term, for use *beside* GKL's
repulsion (``repulsion: 'student_t+decorrelation'``): there the Student-t repulsion sets the
cloud's scale, so the columns can be standardised first and only their correlations are
pulled to 0,

.. math::
    \mathcal{L}_{\text{corr}} = \frac{1}{V}\sum_{v=1}^{V}
        \frac{1}{D}\big\lVert \tilde z^{(v)\top} \tilde z^{(v)} - I \big\rVert_F^2,
    \qquad \tilde z_{:d} = \frac{z_{:d} - \bar z_{:d}}{\sqrt{N}\,\sigma_d},

which is 0 when the :math:`D` columns are uncorrelated and :math:`D - 1` when they are all
one column (up to sign). Same cost as :func:`decorrelation_loss`. With ``probes`` m > 0 it
is estimated instead (Hutchinson's trace estimator): for :math:`r` with
:math:`E[r r^\top] = I`, :math:`\lVert A - I\rVert_F^2 = E\,\lVert (A - I)\,r\rVert^2`
with :math:`A = \tilde z^\top \tilde z`, and :math:`(A - I) r = \tilde z^\top(\tilde z r) - r`
costs O(N D) per probe, so m Gaussian probes give an unbiased estimate of the term and of
its gradient in O(V N D m) instead of O(V N D^2) (a 512-wide embedding with m = 16: 16x
fewer multiply-adds; the estimate's relative spread is about :math:`\sqrt{2/m}`).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .._validation import check_tensor


def decorrelation_loss(z: Tensor, radius: float, num_views: int = 1) -> Tensor:
    r"""The covariance of each view's points against :math:`(r^2/D) I` (module doc).

    Args:
        z (Tensor): ``[V N, D]`` points, the ``V = num_views`` views stacked view by view
            (view ``v``'s node ``i`` in row ``v N + i``), as the node trainer stacks them.
        radius (float): the sphere's radius :math:`r > 0` that Q's points lie on (the
            target's scale; points off the sphere are allowed).
        num_views (int): :math:`V \ge 1`.

    Returns:
        A scalar tensor (differentiable in ``z``).
    """
    if isinstance(radius, bool) or not isinstance(radius, (int, float)) or not radius > 0:
        raise ValueError(f"'radius' must be a number > 0, got {radius!r}")
    n, dim = _check_views(z, num_views)
    scale = dim / float(radius) ** 2
    eye = torch.eye(dim, dtype=z.dtype, device=z.device)
    total = z.new_zeros(())
    for view in z.view(num_views, n, dim):
        centred = view - view.mean(0, keepdim=True)
        cov = centred.t() @ centred / n
        total = total + (cov * scale - eye).pow(2).sum() / dim
    return total / num_views


def correlation_loss(z: Tensor, num_views: int = 1, eps: float = 1e-8, probes: int = 0,
                     generator: Optional[torch.Generator] = None) -> Tensor:
    r"""Each view's column correlation matrix against :math:`I` (CCA-SSG's term; module doc).

    Args:
        z (Tensor): ``[V N, D]`` points, the ``V = num_views`` views stacked view by view.
        num_views (int): :math:`V \ge 1`.
        eps (float): added to each column's variance, so a constant column standardises to
            0 instead of NaN (its correlations with the rest then read 0 and its diagonal
            entry 0, a distance of 1 from :math:`I`).
        probes (int): 0 (default): the exact term, O(V N D^2); m > 0: its unbiased estimate
            from m Gaussian probe vectors per view, O(V N D m) (module doc).
        generator (torch.Generator, optional): draws the probes (on its own device).

    Returns:
        A scalar tensor (differentiable in ``z``).
    """
    n, dim = _check_views(z, num_views)
    if isinstance(probes, bool) or not isinstance(probes, int) or probes < 0:
        raise ValueError(f"'probes' must be an integer >= 0, got {probes!r}")
    if probes:
        return _probed_correlation(z, num_views, n, dim, eps, probes, generator)
    eye = torch.eye(dim, dtype=z.dtype, device=z.device)
    total = z.new_zeros(())
    for view in z.view(num_views, n, dim):
        centred = view - view.mean(0, keepdim=True)
        std = (centred.pow(2).mean(0, keepdim=True) + eps).sqrt()
        unit = centred / (std * n ** 0.5)
        total = total + (unit.t() @ unit - eye).pow(2).sum() / dim
    return total / num_views


def _probed_correlation(z: Tensor, num_views: int, n: int, dim: int, eps: float, probes: int,
                        generator: Optional[torch.Generator]) -> Tensor:
    """Hutchinson's estimate of :func:`correlation_loss`, one :class:`_ProbedCorrelation`
    per view with its own m probes."""
    device = generator.device if generator is not None else z.device
    total = z.new_zeros(())
    for view in z.view(num_views, n, dim):
        r = torch.randn(dim, probes, generator=generator, device=device,
                        dtype=z.dtype).to(z.device)
        total = total + _ProbedCorrelation.apply(view, r, eps)
    return total / num_views


class _ProbedCorrelation(torch.autograd.Function):
    r""":math:`\lVert (A - I) R\rVert_F^2 / (m D)` for one view, :math:`A = \tilde z^\top
    \tilde z`, with the gradient written out instead of left to autograd.

    Forward reads z in two skinny products and never forms :math:`\tilde z`:
    :math:`U = \tilde z R = (z S - 1\mu^\top S)` with :math:`S = R / (\sigma\sqrt N)`
    row-wise, and :math:`AR = \tilde z^\top U`. Backward, with :math:`G = \partial L /
    \partial (AR)`: :math:`\partial L / \partial \tilde z = (\tilde z G) R^\top + U
    G^\top`, then the standardisation's (batch normalisation's) backward,
    :math:`\partial L / \partial z = (\sigma\sqrt N)^{-1}[\partial L / \partial \tilde z
    - \tilde z \odot c]` with :math:`c_d = \sum_i (\partial L / \partial \tilde
    z)_{id}\,\tilde z_{id} = (AG \odot R + AR \odot G)\,1` (its mean term is 0: the
    columns of :math:`\tilde z` sum to 0). That is two more skinny products and one
    :math:`[N, 2m+1] \times [2m+1, D]` product that writes the gradient, one pass to
    finish it: about half the time of autograd through the same expression, which walks
    a dozen ``[N, D]`` temporaries (``experiments/correlation_speed.py``). Tested against
    autograd. Memory O(N m + D m) saved for backward, besides z."""

    @staticmethod
    def forward(ctx, view: Tensor, r: Tensor, eps: float) -> Tensor:
        n, dim = view.shape
        mean = view.mean(0)
        centred = view - mean                       # transient: the variances only
        inv = ((centred * centred).mean(0) + eps).rsqrt() / n ** 0.5   # 1 / (sigma sqrt N)
        del centred
        u = _standardised_times(view, mean, inv, r)            # z~ R, [N, m]
        a_r = _standardised_t_times(view, mean, inv, u)        # A R, [D, m]
        ctx.save_for_backward(view, mean, inv, r, u, a_r)
        return (a_r - r).pow(2).sum() / (r.size(1) * dim)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        view, mean, inv, r, u, a_r = ctx.saved_tensors
        n, dim = view.shape
        g = (a_r - r) * (2.0 * grad / (r.size(1) * dim))          # dL / d(A R), [D, m]
        zg = _standardised_times(view, mean, inv, g)              # z~ G, [N, m]
        a_g = _standardised_t_times(view, mean, inv, zg)          # A G, [D, m]
        c = (a_g * r).sum(1) + (a_r * g).sum(1)
        b = c * inv * inv
        # [z~G, U, 1] @ [R^T / (sigma sqrt N); G^T / (sigma sqrt N); mu b]: the gradient
        # less z b, the constant row folded in as a column of ones.
        left = torch.cat([zg, u, zg.new_ones(n, 1)], 1)
        right = torch.cat([r.t() * inv, g.t() * inv, (mean * b)[None]], 0)
        out = left @ right
        out.addcmul_(view, b, value=-1.0)
        return out, None, None


def _standardised_times(view: Tensor, mean: Tensor, inv: Tensor, m: Tensor) -> Tensor:
    r""":math:`\tilde z M = (z - 1\mu^\top)(M / (\sigma\sqrt N))` without forming
    :math:`\tilde z` (``inv`` is :math:`1 / (\sigma\sqrt N)` per column): one skinny product."""
    s = m * inv[:, None]
    return view @ s - mean @ s


def _standardised_t_times(view: Tensor, mean: Tensor, inv: Tensor, u: Tensor) -> Tensor:
    r""":math:`\tilde z^\top U = (z^\top U - \mu\,1^\top U) / (\sigma\sqrt N)` without
    forming :math:`\tilde z`: one skinny product."""
    return (view.t() @ u - mean[:, None] * u.sum(0)) * inv[:, None]


def _check_views(z: Tensor, num_views: int):
    """``(N, D)`` of a ``[V N, D]`` stack of views, or a ValueError naming what is wrong."""
    check_tensor(z, 'z')
    if z.dim() != 2:
        raise ValueError(f"'z' must be [V N, D], got shape {tuple(z.shape)}")
    if isinstance(num_views, bool) or not isinstance(num_views, int) or num_views < 1:
        raise ValueError(f"'num_views' must be an integer >= 1, got {num_views!r}")
    if z.size(0) % num_views:
        raise ValueError(f"'z' has {z.size(0)} rows, not a multiple of num_views={num_views}")
    n = z.size(0) // num_views
    if n < 2:
        raise ValueError(f'a covariance needs at least 2 points per view, got {n}')
    return n, z.size(1)
