r"""k-nearest-neighbour graphs of feature matrices (DSM step 1).

For points :math:`x_1, \dots, x_N \in \mathbb{R}^D` the kNN graph lists, for every point
:math:`i`, the :math:`k` points :math:`j \ne i` with the smallest distance

* ``'euclidean'``: :math:`d_{ij} = \lVert x_i - x_j \rVert_2` (**not** squared),
* ``'cosine'``: :math:`d_{ij} = 1 - \frac{x_i^\top x_j}{\lVert x_i\rVert\,\lVert x_j\rVert}`.

A point never lists itself (exclusion is by index), but an exact duplicate of it is a
legitimate neighbour at distance 0.

Backends and cost:

* ``'exact'``: rows in chunks of ``C``; each chunk forms its ``C x N`` block of distances with
  one matrix product and keeps the top-k. Time :math:`O(N^2 D)`, memory :math:`O(N k + C N)`.
  Works on CPU and CUDA. Distances of the kept pairs are recomputed directly from the
  differences, so they carry no cancellation error from the expanded product.
* ``'faiss'``: a hierarchical navigable small-world graph (``IndexHNSWFlat``, M = 32,
  efConstruction = 64, efSearch = max(32, 2(k+1))), approximate, time
  :math:`O(N \log N \cdot D)` in practice. (An inverted-file index was measured first: its
  recall on a 50-cluster mixture fell from 0.74 at 100k to 0.45 at 1M points with a fixed
  number of probed lists; HNSW's does not depend on how clusters split into cells.)
* ``'faiss-checked'``: the faiss index, then its recall@k measured against the exact search
  on :data:`CHECKED_QUERIES` points drawn with a fixed seed (one ``Q x N`` product); below
  :data:`CHECKED_MIN_RECALL` the exact search replaces it (and the index's time is lost).
  For data whose neighbours an HNSW graph finds easily (images: recall 0.99 on all of
  Fashion-MNIST, 5.4 s against the exact search's 29.6 s at 256 dimensions, two threads)
  it is the fast path; on hard data (near-isotropic clusters, recall 0.43-0.70 in
  ``experiments/results/knn_benchmark.md``) it costs the index's time and keeps exact
  neighbours. ``knn_graph(..., info=d)`` writes the backend used and the measured recall
  into the dict ``d``.
* ``'pynndescent'``: nearest-neighbour descent, approximate, near-linear.
* ``'auto'``: exact up to ``100_000`` points (or on a GPU), otherwise faiss, then
  pynndescent if installed, else exact.
"""
from __future__ import annotations

import warnings
from typing import Tuple

import numpy as np
import torch
from torch import Tensor

from .._optional import is_available, require
from .._validation import check_features, check_positive_int

METRICS = ('euclidean', 'cosine')
METHODS = ('auto', 'exact', 'faiss', 'faiss-checked', 'pynndescent')
AUTO_EXACT_MAX_N = 100_000
CHECKED_MIN_RECALL = 0.95
CHECKED_QUERIES = 256
_CHUNK_BYTES = 256 * 2**20


def knn_graph(x: Tensor, k: int, metric: str = 'euclidean', method: str = 'auto',
              chunk_size: int | None = None, info: dict | None = None) -> Tuple[Tensor, Tensor]:
    r"""Computes the k nearest *other* points of every row of ``x``.

    Args:
        x (Tensor): features ``[N, D]``, float, finite, on CPU or CUDA.
        k (int): neighbours per point, :math:`1 \le k < N`.
        metric (str): ``'euclidean'`` or ``'cosine'``.
        method (str): ``'auto'``, ``'exact'``, ``'faiss'``, ``'faiss-checked'`` or
            ``'pynndescent'``.
        chunk_size (int, optional): rows per block for the exact path (default: sized so a
            block of distances takes about 256 MiB).
        info (dict, optional): receives ``'method'`` (the backend that produced the
            result) and, for ``'faiss-checked'``, ``'recall'`` (the measured recall@k).

    Returns:
        (Tensor, Tensor): ``index`` (long ``[N, k]``) and ``dist`` (``[N, k]``, dtype of ``x``,
        **unsquared** euclidean distance or cosine distance), each row sorted by
        increasing distance, on the device of ``x``.

    Raises:
        ValueError: NaN/inf in ``x``, ``k < 1`` or ``k >= N``, an unknown metric or method.
        ImportError: ``method`` names a backend that is not installed.
    """
    x = check_features(x, 'x')
    k = check_positive_int(k, 'k')
    n = x.size(0)
    if k >= n:
        raise ValueError(f"'k' must be smaller than the number of points ({n}), got {k}")
    if metric not in METRICS:
        raise ValueError(f"'metric' must be one of {METRICS}, got {metric!r}")
    if method not in METHODS:
        raise ValueError(f"'method' must be one of {METHODS}, got {method!r}")

    if method == 'auto':
        method = _auto_method(x)
    if metric == 'cosine':
        x = _unit_rows(x)
    if method == 'exact':
        index, dist = _knn_exact(x, x, k, chunk_size, exclude_self=True)
    elif method == 'faiss':
        index, dist = _knn_faiss(x, k)
    elif method == 'faiss-checked':
        index, dist, recall = _knn_faiss_checked(x, k, chunk_size)
        if info is not None:
            info['recall'] = recall
        method = 'faiss' if recall >= CHECKED_MIN_RECALL else 'exact'
    else:
        index, dist = _knn_pynndescent(x, k)
    if info is not None:
        info['method'] = method
    if metric == 'cosine':
        # For unit vectors ||a - b||^2 = 2 - 2 cos, so cosine distance = ||a - b||^2 / 2.
        dist = dist.pow(2) / 2
    return index, dist


def resolve_method(method: str, num_points: int, on_cuda: bool = False) -> str:
    """The backend ``method`` stands for (``'auto'`` resolved as :func:`knn_graph` does)."""
    if method != 'auto':
        return method
    if num_points <= AUTO_EXACT_MAX_N or on_cuda:
        return 'exact'
    for backend in ('faiss', 'pynndescent'):
        if is_available(backend):
            return backend
    return 'exact'


def _auto_method(x: Tensor) -> str:
    method = resolve_method('auto', x.size(0), x.is_cuda)
    if method == 'exact' and x.size(0) > AUTO_EXACT_MAX_N and not x.is_cuda:
        warnings.warn(f'knn_graph: {x.size(0)} points and neither faiss nor pynndescent is '
                      'installed; falling back to the exact O(N^2 D) search. Install '
                      '"genurl-pyg[faiss]" for large N.', RuntimeWarning, stacklevel=3)
    return method


def _unit_rows(x: Tensor) -> Tensor:
    """Rows scaled to unit length. All-zero rows (bag-of-words data has them) become a
    unit vector along an extra, otherwise unused axis: orthogonal to every non-zero row
    (cosine distance 1, as scikit-learn's ``cosine_distances`` gives) and identical to each
    other (distance 0), so the euclidean identity below stays exact for them too."""
    norm = x.norm(dim=1, keepdim=True)
    zero = norm == 0
    unit = x / norm.clamp_min(torch.finfo(x.dtype).tiny)
    if bool(zero.any()):
        unit = torch.cat([unit, zero.to(x.dtype)], dim=1)
    return unit


def _knn_exact(queries: Tensor, base: Tensor, k: int, chunk_size: int | None,
               exclude_self: bool, self_index: Tensor | None = None) -> Tuple[Tensor, Tensor]:
    """Chunked brute force. When excluding self, ``queries[r]`` is ``base[self_index[r]]``
    (default: ``base[r]``)."""
    n_base = base.size(0)
    if chunk_size is None:
        chunk_size = max(1, _CHUNK_BYTES // (4 * n_base * base.element_size()))
    base_sq = base.pow(2).sum(dim=1)
    out_index = torch.empty(queries.size(0), k, dtype=torch.long, device=queries.device)
    out_dist = torch.empty(queries.size(0), k, dtype=queries.dtype, device=queries.device)
    for start in range(0, queries.size(0), chunk_size):
        q = queries[start:start + chunk_size]
        # Squared distances via ||q||^2 + ||b||^2 - 2 q.b: one GEMM per chunk.
        block = torch.addmm(base_sq.unsqueeze(0), q, base.t(), beta=1.0, alpha=-2.0)
        block.add_(q.pow(2).sum(dim=1, keepdim=True))
        if exclude_self:
            rows = torch.arange(q.size(0), device=q.device)
            own = rows + start if self_index is None else self_index[start:start + q.size(0)]
            block[rows, own] = float('inf')
        idx = block.topk(k, dim=1, largest=False, sorted=False).indices
        del block
        # Exact distances for the kept pairs, then sort: removes cancellation error.
        d = (q.unsqueeze(1) - base[idx]).pow(2).sum(dim=2).sqrt()
        d, order = d.sort(dim=1)
        out_index[start:start + q.size(0)] = idx.gather(1, order)
        out_dist[start:start + q.size(0)] = d
    return out_index, out_dist


def _drop_self(index: np.ndarray, dist: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
    """From ``k + 1`` candidates per row, removes the row's own index (or the last one)."""
    n = index.shape[0]
    is_self = index == np.arange(n)[:, None]
    no_self = ~is_self.any(axis=1)
    is_self[no_self, -1] = True
    # Exactly one True per row (first occurrence), so the remainder has k entries.
    first = is_self.argmax(axis=1)
    keep = np.ones_like(is_self)
    keep[np.arange(n), first] = False
    return index[keep].reshape(n, k), dist[keep].reshape(n, k)


def _fill_missing_exact(x: Tensor, index: Tensor, dist: Tensor, k: int) -> Tuple[Tensor, Tensor]:
    """Rows where an approximate backend found fewer than k neighbours get the exact answer."""
    bad = (index < 0).any(dim=1).nonzero().flatten()
    if bad.numel():
        index[bad], dist[bad] = _knn_exact(x[bad], x, k, None, exclude_self=True,
                                           self_index=bad)
    return index, dist


def _knn_faiss(x: Tensor, k: int, m: int = 32, ef_construction: int = 64) -> Tuple[Tensor, Tensor]:
    faiss = require('faiss', "knn_graph(method='faiss')")
    xn = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
    index = faiss.IndexHNSWFlat(xn.shape[1], m)
    index.hnsw.efConstruction = ef_construction
    index.add(xn)
    index.hnsw.efSearch = max(32, 2 * (k + 1))
    d2, idx = index.search(xn, k + 1)
    idx, d2 = _drop_self(idx, d2, k)
    index_t = torch.from_numpy(idx.astype(np.int64)).to(x.device)
    dist_t = torch.from_numpy(np.sqrt(np.maximum(d2, 0))).to(device=x.device, dtype=x.dtype)
    index_t, dist_t = _fill_missing_exact(x, index_t, dist_t, k)
    return index_t, dist_t


def sampled_recall(x: Tensor, index: Tensor, num_queries: int = CHECKED_QUERIES,
                   seed: int = 0) -> float:
    """recall@k of a kNN graph ``index`` ``[N, k]`` of ``x``: the mean share of the exact k
    nearest neighbours (self excluded) that it lists, over ``num_queries`` rows drawn
    without replacement (fixed ``seed``). O(num_queries · N · D) time, one chunk of
    distances in memory."""
    n, k = index.shape
    gen = torch.Generator().manual_seed(seed)
    rows = torch.randperm(n, generator=gen)[:min(num_queries, n)].to(x.device)
    exact, _ = _knn_exact(x[rows], x, k, None, exclude_self=True, self_index=rows)
    found = (index[rows].unsqueeze(2) == exact.unsqueeze(1)).any(dim=1)
    return float(found.float().mean())


def _knn_faiss_checked(x: Tensor, k: int, chunk_size: int | None
                       ) -> Tuple[Tensor, Tensor, float]:
    """The faiss graph if its sampled recall reaches :data:`CHECKED_MIN_RECALL`, else the
    exact one; with the recall measured."""
    index, dist = _knn_faiss(x, k)
    recall = sampled_recall(x, index)
    if recall >= CHECKED_MIN_RECALL:
        return index, dist, recall
    return (*_knn_exact(x, x, k, chunk_size, exclude_self=True), recall)


def _knn_pynndescent(x: Tensor, k: int) -> Tuple[Tensor, Tensor]:
    pynndescent = require('pynndescent', "knn_graph(method='pynndescent')")
    xn = x.detach().cpu().numpy()
    nnd = pynndescent.NNDescent(xn, n_neighbors=k + 1, metric='euclidean', random_state=0)
    idx, dist = nnd.neighbor_graph
    idx, dist = _drop_self(idx, dist, k)
    order = np.argsort(dist, axis=1, kind='stable')
    idx = np.take_along_axis(idx, order, 1)
    dist = np.take_along_axis(dist, order, 1)
    index_t = torch.from_numpy(idx.astype(np.int64)).to(x.device)
    dist_t = torch.from_numpy(dist).to(device=x.device, dtype=x.dtype)
    return _fill_missing_exact(x, index_t, dist_t, k)
