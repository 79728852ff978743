"""Encoder inputs in the layouts that make PyG's layers cheap on CPU: bag-of-words features
as CSR, the graph as a transposed CSR adjacency, optional L1 row normalisation. Shared by the
node trainer and the benchmark's peers, so every method gets the same inputs."""
from __future__ import annotations

import warnings
from typing import Optional

import torch
from torch import Tensor

from ..nn.adjacency import csr_adjacency  # noqa: F401  (re-exported for the trainer, peers)

# Below this share of non-zeros, a CSR copy makes the first Linear O(nnz * d), not O(N D d).
SPARSE_INPUT_DENSITY = 0.1
# Rows whose density decides a layout (csr_if_sparse): O(512 D) instead of a pass over
# the matrix (on Physics' 34,493 x 8,415 rows a full count is 0.17 s of the teacher's
# 1.8 s inference); a misjudged share near the threshold costs time only.
LAYOUT_SAMPLE_ROWS = 512


def density(x: Tensor, sample_rows: Optional[int] = None) -> float:
    """Share of non-zero entries of ``x`` (``count_nonzero``: no boolean copy, about 7x
    faster than ``(x != 0).sum()``). O(N D); with ``sample_rows`` an estimate from that many
    evenly spaced rows, O(sample_rows D), for deciding a layout where a misjudged share
    costs time only."""
    if sample_rows is not None and x.dim() > 1 and x.size(0) > sample_rows:
        x = x[torch.linspace(0, x.size(0) - 1, sample_rows, device=x.device).long()]
    return float(x.count_nonzero()) / max(1, x.numel())


def dense_to_csr(x: Tensor) -> Tensor:
    """A dense ``[N, D]`` matrix as a CSR tensor (int64 indices), the same values as
    ``x.to_sparse_csr()`` built from one pass of ``nonzero`` over the flat matrix:
    O(N D) reading, O(nnz) writing; on one thread about 2.5x faster than
    ``to_sparse_csr`` on bag-of-words rows (0.4 % non-zero)."""
    if x.dim() != 2:
        raise ValueError(f'dense_to_csr takes a 2-D matrix, got shape {tuple(x.shape)}')
    flat = x.contiguous().view(-1)
    idx = flat.nonzero().squeeze(1)
    rows = torch.div(idx, x.size(1), rounding_mode='floor') if x.size(1) else idx
    crow = torch.zeros(x.size(0) + 1, dtype=torch.long, device=x.device)
    crow[1:] = torch.bincount(rows, minlength=x.size(0)).cumsum(0)
    return _csr(crow, idx - rows * x.size(1), flat[idx], x.shape)


def is_sparse_rows(x: Tensor) -> bool:
    """Whether ``x`` is stored sparse (CSR or COO) rather than as a strided tensor."""
    return x.layout != torch.strided


def as_csr(x: Tensor) -> Tensor:
    """A sparse matrix (COO or CSR) as CSR, a strided one unchanged. O(nnz log nnz) for COO."""
    if x.layout == torch.sparse_coo:
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', message='Sparse CSR tensor support')
            return x.coalesce().to_sparse_csr()
    if x.layout not in (torch.strided, torch.sparse_csr):
        raise ValueError(f'features stored as {x.layout} are not read; pass a dense, CSR or '
                         'COO matrix')
    return x


def _csr(crow: Tensor, col: Tensor, values: Tensor, shape) -> Tensor:
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='Sparse CSR tensor support')
        return torch.sparse_csr_tensor(crow, col, values, tuple(shape),
                                       check_invariants=False)


def csr_rows(x: Tensor, start: int, stop: int) -> Tensor:
    """Rows ``start:stop`` of a CSR matrix as a CSR matrix (torch cannot slice CSR: it has no
    strides). Views of the index and value arrays, O(stop - start) for the shifted row
    pointers."""
    stop = min(stop, x.size(0))
    crow = x.crow_indices()
    lo, hi = int(crow[start]), int(crow[stop])
    return _csr(crow[start:stop + 1] - lo, x.col_indices()[lo:hi], x.values()[lo:hi],
                (stop - start, x.size(1)))


def sparse_values(x: Tensor) -> Tensor:
    """The stored entries of a sparse matrix (CSR, or COO after coalescing)."""
    return x.coalesce().values() if x.layout == torch.sparse_coo else x.values()


def normalize_rows(x: Tensor) -> Tensor:
    """Rows scaled to unit L1 norm (sum 1 for the usual non-negative bag-of-words; all-zero
    rows stay zero), a new tensor. O(N D); on CSR rows (kept CSR) O(N + nnz)."""
    if is_sparse_rows(x):
        x = as_csr(x)
        crow, values = x.crow_indices(), x.values()
        row = torch.repeat_interleave(torch.arange(x.size(0), device=x.device), crow.diff())
        sums = torch.zeros(x.size(0), dtype=values.dtype, device=x.device)
        sums.index_add_(0, row, values.abs())
        return _csr(crow, x.col_indices(), values / sums.clamp_min(1e-12)[row], x.shape)
    return x / x.abs().sum(1, keepdim=True).clamp_min(1e-12)


def csr_if_sparse(x: Tensor, density_of: Tensor = None,
                  sample_rows: Optional[int] = LAYOUT_SAMPLE_ROWS) -> Tensor:
    """``x`` as a CSR tensor when ``density_of`` (default ``x``) is below
    :data:`SPARSE_INPUT_DENSITY`, else ``x`` itself (also when it is already sparse).
    ``sample_rows``: decide from that many evenly spaced rows (:func:`density`; ``None``:
    from every row)."""
    if x.layout != torch.strided:
        return x
    if density(x if density_of is None else density_of,
               sample_rows) >= SPARSE_INPUT_DENSITY:
        return x
    return dense_to_csr(x)
