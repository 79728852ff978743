r"""Squared distances of indexed row pairs without materialising the gathered rows.

The sampled GenURL loss needs :math:`d_k = \lVert z_{i_k} - z_{j_k}\rVert^2` for some
:math:`10^5` pairs a step. Written as ``(z[i] - z[j]).pow(2).sum(-1)``, autograd keeps two
gathered ``[m, d]`` copies, their difference and its square alive for the backward pass and
streams each through memory several times: on one CPU core that was about 60 % of a Cora
epoch. :func:`pair_sqdist` instead walks the pairs in cache-sized chunks, keeps only ``z`` and
the indices for the backward pass and recomputes each chunk's difference there:

.. math::
    \frac{\partial L}{\partial z_a} = \sum_{k:\,i_k=a} 2 g_k (z_{i_k} - z_{j_k})
                                    - \sum_{k:\,j_k=a} 2 g_k (z_{i_k} - z_{j_k}),
    \qquad g_k = \frac{\partial L}{\partial d_k}.

Measured on one core (``experiments/pair_distance_benchmark.py``, 120k pairs): 3x to 9x
faster for ``d = 128`` (the fewer the rows, the more of them stay in cache) and 4.7x for
``d = 512``; for ``d < 16`` the plain expression is faster and is used. On a CPU the
backward is one sparse product instead (:func:`_laplacian_times`, about 2x faster again on
Cora's step); on an accelerator it stays the chunked gathers and scatters.
Time O(m d), extra memory O(m + chunk d) instead of O(m d).

:func:`column_block_sqdist` gives the other layout the loss uses: every row against the same
``M`` columns (shared negatives), from one matrix product, with its gradient written out so
that the backward pass touches ``[N, d]`` twice instead of through half a dozen autograd
temporaries (and, optionally, the two large products in bfloat16).
"""
from __future__ import annotations

import warnings
from typing import Optional

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

#: Below this width the gathers are cheap and the plain autograd expression wins.
MIN_FUSED_DIM = 16
#: Elements per chunk: 1 MiB of float32 stays in a CPU core's cache; on an accelerator the
#: chunk only bounds the temporary memory.
CPU_CHUNK_ELEMENTS = 1 << 18
DEVICE_CHUNK_ELEMENTS = 1 << 26


def _chunk_rows(z: Tensor) -> int:
    elements = CPU_CHUNK_ELEMENTS if z.device.type == 'cpu' else DEVICE_CHUNK_ELEMENTS
    return max(256, elements // max(1, z.size(1)))


def _chunk_differences(z: Tensor, index_i: Tensor, index_j: Tensor):
    """Yields ``(start, stop, z[i] - z[j])`` for consecutive chunks of pairs."""
    step = _chunk_rows(z)
    for start in range(0, index_i.numel(), step):
        stop = min(start + step, index_i.numel())
        diff = z.index_select(0, index_i[start:stop])
        diff.sub_(z.index_select(0, index_j[start:stop]))
        yield start, stop, diff


class _PairSqdist(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z: Tensor, index_i: Tensor, index_j: Tensor) -> Tensor:
        out = z.new_empty(index_i.numel())
        for start, stop, diff in _chunk_differences(z, index_i, index_j):
            torch.linalg.vecdot(diff, diff, out=out[start:stop])
        ctx.save_for_backward(z, index_i, index_j)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        z, index_i, index_j = ctx.saved_tensors
        # a CPU core reads the pairs' rows faster through one sparse product; an
        # accelerator keeps the chunked gathers (not yet measured there)
        gradient = _laplacian_times if z.device.type == 'cpu' else _chunked_gradient
        return gradient(z, index_i, index_j, 2 * grad), None, None


def _chunked_gradient(z: Tensor, index_i: Tensor, index_j: Tensor, weight: Tensor) -> Tensor:
    """:func:`_laplacian_times` by gathers and scatters, chunk by chunk: each pair's
    difference recomputed, scaled by its weight and added to one row, subtracted from the
    other. O(m d) time, O(chunk d) memory beyond the ``[N, d]`` result."""
    grad_z = torch.zeros_like(z)
    for start, stop, diff in _chunk_differences(z, index_i, index_j):
        diff.mul_(weight[start:stop].unsqueeze(1))
        grad_z.index_add_(0, index_i[start:stop], diff)
        grad_z.index_add_(0, index_j[start:stop], diff, alpha=-1)
    return grad_z


def _laplacian_times(z: Tensor, index_i: Tensor, index_j: Tensor, weight: Tensor) -> Tensor:
    r"""The pairs' gradient as one sparse product: with :math:`W` the symmetric ``[N, N]``
    matrix holding ``weight[k]`` at :math:`(i_k, j_k)` and :math:`(j_k, i_k)` (repeats
    summed), :math:`\sum_k w_k (e_{i_k} - e_{j_k})(z_{i_k} - z_{j_k})^\top
    = (\operatorname{diag}(W 1) - W) z`. On a CPU core this reads each pair's two rows once
    (CSR times dense) where the chunked gathers read them twice and scatter twice: about
    2x faster on Cora's step (20,000 pairs, d = 512). O(m log m + m d) time, O(m) memory
    beyond the ``[N, d]`` result."""
    n = z.size(0)
    rows = torch.cat([index_i, index_j])
    cols = torch.cat([index_j, index_i])
    values = torch.cat([weight, weight])
    order = torch.argsort(rows)
    crow = rows.new_zeros(n + 1)
    torch.cumsum(torch.bincount(rows, minlength=n), 0, out=crow[1:])
    with warnings.catch_warnings():  # torch's notice that sparse CSR is in beta
        warnings.simplefilter('ignore')
        w = torch.sparse_csr_tensor(crow, cols[order], values[order], (n, n))
    degree = z.new_zeros(n).index_add_(0, rows, values)
    return torch.sparse.mm(w, z).neg_().addcmul_(degree.unsqueeze(1), z)


def pair_sqdist(z: Tensor, index_i: Tensor, index_j: Tensor) -> Tensor:
    r"""Squared euclidean distances :math:`\lVert z_{i_k} - z_{j_k}\rVert^2` of ``m`` pairs.

    Args:
        z (Tensor): rows ``[N, d]`` (floating point; gradients flow to it).
        index_i, index_j (LongTensor): pair endpoints ``[m]``, values in ``[0, N)``.

    Returns:
        Tensor: ``[m]`` distances, same dtype and device as ``z``.

    Raises:
        ValueError: on shapes that do not describe ``m`` pairs of rows of ``z``.
        IndexError: on an index outside ``[0, N)`` (from ``index_select``).

    Complexity: O(m d) time, O(m) memory beyond ``z`` and its gradient.
    """
    if z.dim() != 2 or not z.is_floating_point():
        raise ValueError(f"'z' must be a floating point [N, d] tensor, got "
                         f"{z.dtype} of shape {tuple(z.shape)}")
    for name, index in (('index_i', index_i), ('index_j', index_j)):
        if index.dim() != 1 or index.dtype not in (torch.long, torch.int):
            raise ValueError(f"'{name}' must be a 1-D integer tensor, got {index.dtype} of "
                             f"shape {tuple(index.shape)}")
    if index_i.numel() != index_j.numel():
        raise ValueError(f"'index_i' and 'index_j' must have the same length, got "
                         f"{index_i.numel()} and {index_j.numel()}")
    if z.size(1) < MIN_FUSED_DIM:
        return (z.index_select(0, index_i) - z.index_select(0, index_j)).pow(2).sum(-1)
    return _PairSqdist.apply(z, index_i, index_j)


#: Product precisions :func:`column_block_sqdist` accepts by name.
PRODUCT_DTYPES = {'float32': None, 'bfloat16': torch.bfloat16}


def _product(a: Tensor, b: Tensor, low: Optional[torch.dtype]) -> Tensor:
    """``a @ b`` in ``a``'s dtype, its operands rounded to ``low`` first when given."""
    if low is None:
        return torch.mm(a, b)
    return torch.mm(a.to(low), b.to(low)).to(a.dtype)


class _ColumnBlockSqdist(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z: Tensor, cols: Tensor, low: Optional[torch.dtype]) -> Tensor:
        zc = z.index_select(0, cols)
        sq = torch.linalg.vecdot(z, z)
        d = _product(z, zc.t(), low).mul_(-2.0)
        d.add_(sq.unsqueeze(1)).add_(sq.index_select(0, cols).unsqueeze(0))
        # clamp_min's gradient is zero where it clamped (rounding, mostly at the
        # self-pairs): remember where, so that the backward equals autograd's
        clamped = d < 0
        d.clamp_min_(0.0)
        ctx.low = low
        ctx.save_for_backward(z, zc, cols, clamped)
        return d

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        z, zc, cols, clamped = ctx.saved_tensors
        grad = grad.masked_fill(clamped, 0.0)
        # d_im = |z_i|^2 + |c_m|^2 - 2 z_i.c_m:
        #   dL/dz_i = 2 (sum_m g_im) z_i - 2 sum_m g_im c_m,
        #   dL/dc_m = 2 (sum_i g_im) c_m - 2 sum_i g_im z_i  (added to rows cols[m])
        row_sums = grad.sum(1, keepdim=True).mul_(2.0)
        col_sums = grad.sum(0).mul_(2.0).unsqueeze(1)
        grad_z = _product(grad, zc, ctx.low).mul_(-2.0).addcmul_(row_sums, z)
        grad_c = _product(grad.t(), z, ctx.low).mul_(-2.0).addcmul_(col_sums, zc)
        grad_z.index_add_(0, cols, grad_c)
        return grad_z, None, None


def column_block_sqdist(z: Tensor, cols: Tensor, precision: str = 'float32') -> Tensor:
    r"""Squared euclidean distances of every row of ``z`` to the rows ``cols``:
    :math:`D_{im} = \lVert z_i - z_{c_m}\rVert^2 = \lVert z_i\rVert^2 + \lVert z_{c_m}
    \rVert^2 - 2 z_i^\top z_{c_m}`, clamped at 0 (rounding makes the self-pairs' slightly
    negative).

    The gradient is written out (see the module doc): one ``[N, M] x [M, d]`` and one
    ``[M, N] x [N, d]`` product, one fused pass over ``[N, d]`` and an ``index_add_`` of
    ``M`` rows, where autograd kept the squared norms' ``[N, d]`` power, a zero-filled
    ``[N, d]`` gradient for the gathered columns and the sums of three ``[N, d]``
    contributions. ``precision='bfloat16'`` rounds the three products' operands to
    bfloat16 (accumulating in float32): about 4x faster products on CPUs with AVX512-BF16 or
    AMX and on recent GPUs, with about 2^-8 relative error per operand (a change to the
    numbers, to be chosen on validation data like any other); on CPUs without native
    bfloat16 it is emulated and slower.

    Args:
        z (Tensor): rows ``[N, d]``, float32 (gradients flow to it).
        cols (LongTensor): ``[M]`` column rows, values in ``[0, N)``.
        precision (str): ``'float32'`` or ``'bfloat16'``, the products' operands.

    Returns:
        Tensor: ``[N, M]`` distances, ``z``'s dtype.

    Raises:
        ValueError: on a ``z`` that is not a float ``[N, d]`` tensor, ``cols`` that is not a
            non-empty 1-D integer tensor, or an unknown ``precision``.

    Complexity: O(N M d) time (three GEMMs with the backward), O(N M) memory beyond ``z``.
    """
    if z.dim() != 2 or not z.is_floating_point():
        raise ValueError(f"'z' must be a floating point [N, d] tensor, got "
                         f"{z.dtype} of shape {tuple(z.shape)}")
    if cols.dim() != 1 or cols.numel() == 0 or cols.dtype not in (torch.long, torch.int):
        raise ValueError(f"'cols' must be a non-empty 1-D integer tensor, got {cols.dtype} "
                         f"of shape {tuple(cols.shape)}")
    if precision not in PRODUCT_DTYPES:
        raise ValueError(f"'precision' must be one of {sorted(PRODUCT_DTYPES)}, "
                         f"got {precision!r}")
    return _ColumnBlockSqdist.apply(z, cols, PRODUCT_DTYPES[precision])
