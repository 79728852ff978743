r"""Non-parametric GenURL layouts: the N × d coordinates optimised directly.

The coordinates :math:`Y` are the parameters; every iteration uses all of :math:`P`'s
support (the attraction, exact) and, for the repulsion, either a uniform sample,
``negative_rate`` = m independent pairs per point (``repulsion='pairs'``) or, for
``'kl'``, every point against one shared block of m uniform points (``'block'``), at
O(N·(r + m)·d) time and memory per iteration for r pairs of :math:`P` per point; or, for
``'kl'`` in 2-D, every pair, interpolated on a grid (``'fft'``, the estimator's 2-D
default, below). No network, no N² term.

Two objectives:

* ``'kl'``: the globally normalised KL of t-SNE with a heavy-tailed Student-t kernel,
  :math:`L = -\sum_{ij} \tilde p_{ij} \log w_{ij} + \log Z`, :math:`\tilde P = P/\sum P`,
  :math:`w_{ij} = (1 + d_{ij}/\nu)^{-(\nu+1)/2}` on squared distances (t-SNE's kernel at
  ν = 1; the square root of the peak-normalised :math:`\hat\kappa_\nu` of
  :func:`~genurl_pyg.structure.student_t`, whose :math:`\kappa_\nu` the elementwise
  variants use), :math:`Z =
  \sum_{k \ne l} w_{kl}` estimated from the uniform pairs (:math:`\hat Z = N(N-1)/M
  \sum_{\text{neg}} w`; the log of an unbiased estimate, consistent as M grows, and M = N·m
  is large). The normalisation is what spreads each cluster's inside as t-SNE does.
* ``'gkl'`` and the other elementwise variants: the unbiased sampled estimate of the
  all-pairs GenURL loss (:func:`~genurl_pyg.nn.functional.indexed_pairs_loss`'s form),
  unnormalised like UMAP's.

``repulsion='fft'`` (``'kl'``, 2-D only) computes the partition function and its gradient
over all pairs by interpolation on a grid (:mod:`~genurl_pyg.manifold.interpolation`,
FIt-SNE's scheme) and then optimises as t-SNE does, gradient descent with momentum (0.5
during exaggeration, then 0.8) and per-coordinate gains (+0.2 when the gradient's sign
flips, ×0.8 when it does not, floor 0.01), step ``learning_rate`` (the estimator's
``'auto'``: openTSNE's N / exaggeration, divided by 4 since our gradient keeps t-SNE's
factor 4 and openTSNE's drops it). The gains need a gradient without sampling noise
(with a 1,024-point block they lost 0.007 T(10)), which is what the grid buys.
O(N·r + G² log G) per iteration for a G × G grid (G grows with the layout's spread).

Early exaggeration (t-SNE): the attraction is multiplied by ``exaggeration`` for the first
``exaggeration_iter`` iterations. Adam with a linearly decaying step. What was measured on
a 10k tuning set (Fashion-MNIST training images 0-9,999, not a benchmark set) is in
``experiments/results/dr_layout_tuning.md``.
"""
from __future__ import annotations

import math
from typing import Callable, Optional, Tuple

import torch
from torch import Tensor

from ..nn import functional as F
from ..nn.pair_distance import pair_sqdist
from ..structure.similarity import Similarity

LAYOUT_LOSSES = ('kl',) + tuple(F.ELEMENTWISE)
REPULSIONS = ('pairs', 'block', 'fft')
# The repulsions that compute the 'kl' loss's partition function (so 'kl' and no network).
PARTITION_REPULSIONS = ('block', 'fft')
# The FFT grid's node spacing, in units of the kernel's core width sqrt(nu): 0.35 sqrt(nu)
# kept the median per-point error of the repulsive force near 1 % on a 3,000-point test
# cloud spanning 100 units (ν = 0.3), about what FIt-SNE's default grid gives at ν = 1.
FFT_SPACING = 0.35
FFT_MAX_BOXES = 500  # per side (1,500 nodes at 3 per box): beyond it the boxes widen


def pca_init(x: Tensor, n_components: int, std: float = 1.0, seed: int = 0) -> Tensor:
    """The top ``n_components`` principal components of ``x``, scaled so that the first has
    standard deviation ``std`` (openTSNE's PCA initialisation, at our kernel's scale).
    O(N·D·q) with randomised PCA; the global random state is untouched."""
    xc = x - x.mean(0)
    q = min(n_components, *xc.shape)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        _, _, v = torch.pca_lowrank(xc, q=q, center=False, niter=4)
    y = xc @ v[:, :n_components]
    if y.size(1) < n_components:  # fewer features than components: pad with small noise
        g = torch.Generator().manual_seed(seed)
        pad = torch.randn(y.size(0), n_components - y.size(1), generator=g) * 1e-4
        y = torch.cat([y, pad.to(y.dtype)], 1)
    scale = y[:, 0].std().clamp_min(1e-12)
    return (y / scale * std).contiguous()


def optimize_layout(sim: Similarity, init: Tensor, loss: str = 'kl', nu: float = 0.3,
                    alpha: float = 0.1, n_iter: int = 1500, exaggeration: float = 12.0,
                    exaggeration_iter: int = 250, negative_rate: int = 5,
                    learning_rate: float = 1.0, generator: Optional[torch.Generator] = None,
                    callback: Optional[Callable[[int, float], None]] = None,
                    repulsion: str = 'pairs') -> Tensor:
    """Optimises the coordinates ``init`` (``[N, d]``, on the device to use) against ``sim``
    and returns them. ``callback(iteration, loss)`` after each iteration (progress).

    ``repulsion``: ``'pairs'``, ``negative_rate`` independent uniform pairs per point
    (:func:`layout_loss`); ``'block'`` (``loss='kl'`` only), one shared block of
    ``negative_rate`` uniform points per iteration against every point
    (:func:`block_layout_loss`); ``'fft'`` (``loss='kl'``, 2-D only): all pairs on a grid
    (:func:`fft_layout_loss`), optimised by t-SNE's momentum and gains with step
    ``learning_rate`` instead of Adam (``negative_rate`` unused).

    Raises ``FloatingPointError`` naming ``learning_rate`` when the loss stops being finite.
    """
    if loss not in LAYOUT_LOSSES:
        raise ValueError(f"'loss' must be one of {LAYOUT_LOSSES}, got {loss!r}")
    check_repulsion(repulsion, loss, init.size(1))
    if repulsion == 'fft':
        return _momentum_gains_descent(sim, init, nu, n_iter, exaggeration, exaggeration_iter,
                                       learning_rate, callback)
    device = init.device
    n = init.size(0)
    y = torch.nn.Parameter(init.detach().clone())
    opt = torch.optim.Adam([y], lr=learning_rate)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda it: 1.0 - it / (n_iter + 1))
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    i, j = sim.index.to(device)
    p = sim.weight.to(device, init.dtype)
    m = n * negative_rate
    for it in range(n_iter):
        ex = exaggeration if it < exaggeration_iter else 1.0
        if repulsion == 'block':
            block = torch.randint(0, n, (negative_rate,), generator=gen).to(device)
            value = block_layout_loss(y, i, j, p, block, nu, ex)
        else:
            ni = torch.randint(0, n, (m,), generator=gen)
            nj = (ni + torch.randint(1, n, (m,), generator=gen)) % n  # never a self-pair
            value = layout_loss(y, i, j, p, ni.to(device), nj.to(device), loss, nu, alpha, ex)
        _check_finite(value, it)
        opt.zero_grad()
        value.backward()
        opt.step()
        sched.step()
        if callback is not None:
            callback(it, value.item())
    return y.detach()


def _momentum_gains_descent(sim: Similarity, init: Tensor, nu: float, n_iter: int,
                            exaggeration: float, exaggeration_iter: int, learning_rate: float,
                            callback: Optional[Callable[[int, float], None]]) -> Tensor:
    """t-SNE's optimiser (van der Maaten 2014; openTSNE's defaults) on
    :func:`fft_layout_loss`; the layout is re-centred after each step (the loss is
    translation invariant, and the grid follows the points)."""
    y = init.detach().clone()
    i, j = sim.index.to(init.device)
    attraction_of = _KLAttraction(i, j, sim.weight.to(init.device, init.dtype), nu,
                                  init.size(0))
    update, gains, cache = torch.zeros_like(y), torch.ones_like(y), {}
    for it in range(n_iter):
        early = it < exaggeration_iter
        # fft_layout_loss's value and gradient, without building an autograd graph
        ex = exaggeration if early else 1.0
        attraction, grad = attraction_of(y)
        log_z, grad_z = _fft_log_z_and_grad(y, nu, cache)
        value = ex * attraction + log_z
        _check_finite(value, it)
        grad = grad.mul_(ex).add_(grad_z)
        with torch.no_grad():
            same_sign = (grad > 0) == (update > 0)
            gains = torch.where(same_sign, gains * 0.8, gains + 0.2).clamp_min_(0.01)
            update = (0.5 if early else 0.8) * update - learning_rate * gains * grad
            y += update
            y -= y.mean(0)
        if callback is not None:
            callback(it, value.item())
    return y.detach()


def _check_finite(value: Tensor, iteration: int) -> None:
    """Stops a fit whose loss is no longer finite, naming the step size to lower."""
    if not torch.isfinite(value):
        raise FloatingPointError(f'the layout loss became {value.item()} at iteration '
                                 f"{iteration}; lower 'learning_rate'")


def _log_kernel(d: Tensor, nu: float) -> Tensor:
    """log w of the layout's Student-t kernel on squared distances ``d``."""
    return -(nu + 1) / 2 * torch.log1p(d / nu)


def _kl_attraction(p: Tensor, log_w_pos: Tensor) -> Tensor:
    r""":math:`-\sum \tilde p \log w` over P's support, :math:`\tilde P = P / \sum P`."""
    return -((p / p.sum()) * log_w_pos).sum()


def check_repulsion(repulsion: str, loss: str, n_components: Optional[int] = None) -> None:
    """Raises ``ValueError`` for an unknown ``repulsion``, a block or grid with a loss it
    cannot compute (both give the partition function of ``'kl'`` only), or a grid in a
    dimension other than 2."""
    if repulsion not in REPULSIONS:
        raise ValueError(f"'repulsion' must be one of {REPULSIONS}, got {repulsion!r}")
    if repulsion in PARTITION_REPULSIONS and loss != 'kl':
        raise ValueError(f"repulsion={repulsion!r} computes the partition function of "
                         f"loss='kl'; got loss={loss!r} (use repulsion='pairs')")
    if repulsion == 'fft' and n_components is not None and n_components != 2:
        raise ValueError(f"repulsion='fft' interpolates on a 2-D grid; got "
                         f"{n_components} components (use repulsion='block')")


def layout_loss(y: Tensor, i: Tensor, j: Tensor, p: Tensor, neg_i: Tensor, neg_j: Tensor,
                loss: str = 'kl', nu: float = 0.3, alpha: float = 0.1,
                exaggeration: float = 1.0) -> Tensor:
    r"""The sampled layout objective for coordinates ``y`` ``[N, d]``: P's support pairs
    ``(i, j)`` with values ``p`` (all of them) and uniform pairs ``(neg_i, neg_j)`` (no
    self-pairs). ``'kl'``: :math:`-\sum \tilde p \log w + \log \hat Z`; elementwise
    variants: the unbiased estimate of the all-pairs mean. O((s + m)·d)."""
    n, s, m = y.size(0), i.numel(), neg_i.numel()
    num_pairs = n * (n - 1)
    if loss == 'kl':
        d = pair_sqdist(y, torch.cat([i, neg_i]), torch.cat([j, neg_j]))
        log_w = _log_kernel(d, nu)
        log_z = torch.logsumexp(log_w[s:], 0) + math.log(num_pairs / m)
        return exaggeration * _kl_attraction(p, log_w[:s]) + log_z
    # Exaggeration enters as a weight on the positive terms of the shared estimator.
    weight = None if exaggeration == 1.0 else torch.full_like(p, exaggeration)
    return F.indexed_pairs_loss(y, i, j, p, neg_i, neg_j, s, num_pairs, nu, loss, alpha,
                                pos_weight=weight)


class _BlockLogZ(torch.autograd.Function):
    r""":math:`\log\hat Z` from the pairs (i, b) of every point i with every point b of a
    shared block (self pairs left out), with a hand-written backward pass.

    Gradient: only the rows (each point against the block) carry it, doubled. The kernel is
    symmetric, so :math:`\partial \log Z / \partial y_i = (2/Z) \sum_j \partial w_{ij} /
    \partial y_i`; the rows' estimate of that sum is unbiased, while routing the columns'
    share through the b block points would hand each of them N/b times a point's usual
    repulsion, a high-variance kick. Forward and backward stream the ``[N, b]`` matrix
    once each (O(N·b·d) time, O(N·b) memory): a 10k-point fit at b = 256 took 33.5 s
    instead of 86.5 s with autograd on the same expression (one thread).
    """

    @staticmethod
    def forward(ctx, y: Tensor, block: Tensor, nu: float) -> Tensor:
        n, b = y.size(0), block.numel()
        yb = y[block]
        d = torch.addmm((y * y).sum(1, keepdim=True), y, yb.T, alpha=-2).add_((yb * yb).sum(1))
        t = d.clamp_min_(0).div_(nu).add_(1)
        w = t.pow(-(nu + 1) / 2)
        s = w.sum() - b  # the b self pairs have d = 0, w = 1
        c = w.div_(t)  # w'(d) up to the factor -(nu + 1) / (2 nu)
        ctx.save_for_backward(y, yb, c, s)
        ctx.nu = nu
        return torch.log(s) + math.log(n / b)  # N(N-1) pairs / the b(N-1) in the block

    @staticmethod
    def backward(ctx, g: Tensor):
        y, yb, c, s = ctx.saved_tensors
        nu = ctx.nu
        # d log S / d y_i = (1/S) sum_b w'(d_ib) 2 (y_i - y_b), doubled for the columns.
        coef = g * (-(nu + 1) / nu) * 2 / s
        grad = (y * c.sum(1, keepdim=True) - c @ yb) * coef
        return grad, None, None


def block_layout_loss(y: Tensor, i: Tensor, j: Tensor, p: Tensor, block: Tensor,
                      nu: float = 0.3, exaggeration: float = 1.0) -> Tensor:
    r"""t-SNE's KL (:func:`layout_loss` with ``'kl'``) with its partition function estimated
    from one shared block of b uniform points: :math:`\hat Z = \frac{N(N-1)}{b(N-1)}
    \sum_{i,\,k:\, i \ne b_k} w_{i b_k} = \frac{N}{b} \sum_{i \ne b_k} w_{i b_k}`
    (all ordered pairs over the block's b(N - 1) non-self pairs; unbiased).

    Against ``b`` independent pairs per point this uses N·b kernel values per iteration
    from a dense ``[N, b]`` block, which costs about what 15 gathered pairs per point cost
    at b = 128 (no gathers, one matrix product), so the repulsion's sample is ~8x larger
    for the same time; what was measured is in ``experiments/results/dr_layout_tuning.md``.
    O(N·(r + b)·d) per iteration."""
    attraction = _kl_attraction(p, _log_kernel(pair_sqdist(y, i, j), nu))
    return exaggeration * attraction + _BlockLogZ.apply(y, block, nu)


class _FFTLogZ(torch.autograd.Function):
    r""":math:`\log Z`, :math:`Z = \sum_{i \ne j} w_{ij}`, over all pairs of 2-D points,
    with its gradient, from two grid-interpolated kernel sums (no sampling).

    With :math:`t = 1 + d/\nu`, :math:`w = t^{-(\nu+1)/2}` and :math:`c = w / t`:
    :math:`\partial \log Z / \partial y_i = -\frac{2(\nu + 1)}{\nu Z}
    \big(y_i \sum_j c_{ij} - \sum_j c_{ij} y_j\big)` (each pair counted in both orders;
    the self terms cancel), so the sums of ``w`` (charge 1) and of ``c`` (charges 1, y)
    give both. O(N + G² log G) per call."""

    @staticmethod
    def forward(ctx, y: Tensor, nu: float, cache: Optional[dict]) -> Tensor:
        log_z, grad = _fft_log_z_and_grad(y, nu, cache)
        ctx.save_for_backward(grad)
        return log_z

    @staticmethod
    def backward(ctx, g: Tensor):
        grad, = ctx.saved_tensors
        return g * grad, None, None


def _fft_log_z_and_grad(y: Tensor, nu: float, cache: Optional[dict]) -> Tuple[Tensor, Tensor]:
    """:class:`_FFTLogZ`'s value and gradient, computed directly (no autograd graph)."""
    from .interpolation import interpolated_kernel_sums
    n = y.size(0)
    y = y.detach()
    charges = torch.cat([torch.ones(n, 1, dtype=y.dtype, device=y.device), y], 1)
    sum_w, sum_c = interpolated_kernel_sums(
        y, [lambda d: (1 + d / nu).pow(-(nu + 1) / 2),
            lambda d: (1 + d / nu).pow(-(nu + 3) / 2)],
        charges, channels=[[0], [0, 1, 2]], box_width=3 * FFT_SPACING * math.sqrt(nu),
        max_boxes=FFT_MAX_BOXES, round_boxes=8, cache=cache,
        dtype=torch.float32 if y.dtype != torch.float64 else torch.float64)
    z = (sum_w.sum() - n).clamp_min(torch.finfo(y.dtype).tiny)  # w_ii = 1: self pairs
    coef = (-2 * (nu + 1) / nu) / z
    return torch.log(z), (y * sum_c[:, :1] - sum_c[:, 1:]) * coef


class _KLAttraction:
    r""":func:`_kl_attraction` of the Student-t kernel and its gradient, by hand, for one fit:
    :math:`\sum_k \tilde p_k \frac{\nu+1}{2} \log(1 + d_k/\nu)`, whose pair k pulls
    :math:`y_{i_k}` by :math:`\tilde p_k \frac{\nu+1}{\nu} \frac{y_{i_k} - y_{j_k}}
    {1 + d_k/\nu}` and pushes :math:`y_{j_k}` by the opposite (``p``: P's weights; they are
    normalised here).

    Why by hand: at 70k points and 1.7M pairs the autograd form spends most of its 73 ms
    per call allocating pair-sized temporaries (page faults) and in slow reductions; here
    the pair buffers are allocated once and every step writes into them (42 ms), and for a
    symmetric P (GenURL's fuzzy union is: both orders, equal weights) only the pairs with
    :math:`i < j` are kept, each counted twice: the reversed pair's term and forces are
    the same, so half the gathers and distances give the whole value and gradient (33 → 21
    ms per call at 70k points and 2.1M pairs, one thread). O(r·d) per call, r pairs."""

    def __init__(self, i: Tensor, j: Tensor, p: Tensor, nu: float, num_nodes: int) -> None:
        self.nu = nu
        p = p / p.sum()
        self.symmetric = _is_symmetric(i, j, p, num_nodes)
        if self.symmetric:  # one of the two orders, counted twice in __call__
            upper = i < j
            i, j, p = i[upper], j[upper], p[upper]
        self.i, self.j, self.p = i, j, p
        self._buffers: Optional[Tuple[Tensor, Tensor, Tensor, Tensor]] = None

    def __call__(self, y: Tensor) -> Tuple[Tensor, Tensor]:
        """``(value, gradient)`` at ``y`` ``[N, d]``."""
        y = y.detach()
        m, d, nu = self.i.numel(), y.size(1), self.nu
        if self._buffers is None or self._buffers[0].shape != (m, d) \
                or self._buffers[0].dtype != y.dtype:
            self._buffers = (y.new_empty(m, d), y.new_empty(m, d), y.new_empty(m),
                             y.new_empty(m))
        diff, other, t, w = self._buffers
        torch.index_select(y, 0, self.i, out=diff)
        torch.index_select(y, 0, self.j, out=other)
        diff.sub_(other)
        torch.mul(diff[:, 0], diff[:, 0], out=t)
        for c in range(1, d):  # column by column: faster than pow(2).sum(1) on [r, 2]
            t.addcmul_(diff[:, c], diff[:, c])
        t.div_(nu).add_(1)
        twice = 2 if self.symmetric else 1
        value = torch.dot(self.p, torch.log(t, out=w)) * (twice * (nu + 1) / 2)
        torch.div(self.p, t, out=w).mul_(twice * (nu + 1) / nu)
        diff.mul_(w.unsqueeze(1))  # the pairs' forces
        grad = torch.zeros_like(y).index_add_(0, self.i, diff)
        # (index_add_ with alpha=-1 takes a ~10x slower path on CPU: negate the source)
        return value, grad.index_add_(0, self.j, diff.neg_())


def _is_symmetric(i: Tensor, j: Tensor, p: Tensor, num_nodes: int) -> bool:
    """Whether the pairs hold (j, i) with the same weight for every (i, j). O(r log r)."""
    keys, reverse = i * num_nodes + j, j * num_nodes + i
    a, b = torch.argsort(keys), torch.argsort(reverse)
    return bool(torch.equal(keys[a], reverse[b]) and torch.equal(p[a], p[b]))


def fft_layout_loss(y: Tensor, i: Tensor, j: Tensor, p: Tensor, nu: float = 0.3,
                    exaggeration: float = 1.0, cache: Optional[dict] = None) -> Tensor:
    r"""t-SNE's KL (:func:`layout_loss` with ``'kl'``) with the partition function over all
    pairs, interpolated on a grid (:class:`_FFTLogZ`): no sampling noise. 2-D ``y`` only;
    ``cache``: a dict kept across the iterations of one fit (the kernels' spectra).
    O(N·r + G² log G) per call."""
    attraction = _kl_attraction(p, _log_kernel(pair_sqdist(y, i, j), nu))
    return exaggeration * attraction + _FFTLogZ.apply(y, nu, cache)


def place_new_points(neighbors: Tensor, weights: Tensor, layout: Tensor) -> Tensor:
    """openTSNE's placement of new points: each at the weighted mean of the layout
    coordinates of its training neighbours. ``neighbors``/``weights`` ``[M, k]``; O(M·k·d)."""
    w = weights.clamp_min(0)
    w = w / w.sum(1, keepdim=True).clamp_min(1e-12)
    return (w.unsqueeze(-1) * layout[neighbors]).sum(1)
