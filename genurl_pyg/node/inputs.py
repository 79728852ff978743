"""Encoder inputs in the layouts that make PyG's layers cheap on CPU: bag-of-words features
as CSR, the graph as a transposed CSR adjacency, optional L1 row normalisation. Shared by the
node trainer and the benchmark's peers, so every method gets the same inputs."""
from __future__ import annotations

import warnings

from torch import Tensor

from ..nn.adjacency import csr_adjacency  # noqa: F401  (re-exported for the trainer, peers)

# Below this share of non-zeros, a CSR copy makes the first Linear O(nnz * d), not O(N D d).
SPARSE_INPUT_DENSITY = 0.1


def density(x: Tensor) -> float:
    """Share of non-zero entries of ``x``. O(N D)."""
    return float((x != 0).sum()) / max(1, x.numel())


def normalize_rows(x: Tensor) -> Tensor:
    """Rows scaled to unit L1 norm (sum 1 for the usual non-negative bag-of-words; all-zero
    rows stay zero), a new tensor. O(N D)."""
    return x / x.abs().sum(1, keepdim=True).clamp_min(1e-12)


def csr_if_sparse(x: Tensor, density_of: Tensor = None) -> Tensor:
    """``x`` as a CSR tensor when ``density_of`` (default ``x``) is below
    :data:`SPARSE_INPUT_DENSITY`, else ``x`` itself."""
    if density(x if density_of is None else density_of) >= SPARSE_INPUT_DENSITY:
        return x
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='Sparse CSR tensor support')
        return x.to_sparse_csr()
