"""Dimension reduction to 2-D: GenURL against UMAP, openTSNE, PaCMAP and PCA.

Data: scikit-learn ``digits`` (1,797 x 64); ``mnist`` (the 10k MNIST test images); ``coauthor-
cs`` (Coauthor-CS bag-of-words reduced to 100-d by TruncatedSVD for every method alike;
metrics against that input); ``fashion-mnist-10k`` (the 10k Fashion-MNIST test images,
pixels / 255; needs the image cache); ``fashion-mnist`` (all 70k Fashion-MNIST images, train
then test); ``cifar10-test`` (the 10k test images of the JPEG-re-encoded CIFAR-10 copy as raw
pixels / 255, 3,072-d; its numbers are not comparable with published ones). ``params['n']`` keeps the first ``n`` rows of a fixed
permutation (smoke presets); the other keys go to the estimator.

Per cell: UMAP, openTSNE and PaCMAP are first fitted on 300 random points in the same
process so numba's compilation is not timed (reported as ``warmup_s``); then one timed
``fit_transform`` and the metrics of :mod:`genurl_pyg.evaluation.dr`: T(10) (primary),
C(10), 5-NN accuracy (5-fold), Spearman of pairwise distances on 1,000 points. The 2-D map
is kept for the report's figure. Cost: the method's fit plus O(N² D) exact rankings; above
:data:`EXACT_METRICS_MAX_N` points T and C are the unbiased estimates over
:data:`METRIC_QUERIES` points drawn with a fixed seed (the same points for every method, so
the comparison is paired), with their standard errors.
"""
from __future__ import annotations

import time
from typing import Any, Dict, List, Tuple

import numpy as np

from ..._optional import require
from ..schema import CellSpec, Metric
from . import CellContext, Task, combine, mean_of

DATASETS = ('digits', 'mnist', 'coauthor-cs', 'fashion-mnist-10k', 'fashion-mnist',
            'cifar10-test')
EXACT_METRICS_MAX_N = 20_000  # exact T/C: O(N²) rankings, ~1 min at 20k on two cores
METRIC_QUERIES = 5_000  # sampled T/C above that: standard error ~ 0.0003 on Fashion-70k
METHODS = ('genurl', 'genurl-np', 'umap', 'opentsne', 'pacmap', 'pca')
NUMBA_METHODS = ('umap', 'opentsne', 'pacmap')

METRICS = (
    Metric('T10', 'trustworthiness T(10)', primary=True, noise_floor=0.002, percent=False,
           digits=4),
    Metric('C10', 'continuity C(10)', noise_floor=0.002, percent=False,
           digits=4),
    Metric('knn5', '5-NN acc. (%)'),
    Metric('spearman', 'distance Spearman', noise_floor=0.02, percent=False,
           digits=3),
    Metric('fit_s', 'fit seconds', higher_is_better=False, noise_floor=1.0, percent=False,
           digits=1),
)


def load(name: str) -> Tuple[np.ndarray, np.ndarray]:
    """``(X float32 [N, D], labels [N])`` of a DR data set."""
    if name in ('fashion-mnist-10k', 'fashion-mnist', 'cifar10-test'):
        import torch
        from ...vision.data import load_images
        data = load_images('cifar10-jpeg' if name == 'cifar10-test' else 'fashion-mnist')
        x, y = data.test_x, data.test_y
        if name == 'fashion-mnist':
            x, y = torch.cat([data.train_x, x]), torch.cat([data.train_y, y])
        X = x.flatten(1).numpy().astype(np.float32) / 255.0  # uint8 pixels
        return np.ascontiguousarray(X), y.numpy()
    if name not in DATASETS:
        raise ValueError(f"unknown DR data set {name!r}; known: {', '.join(DATASETS)}")
    from ...datasets.tabular import load_table
    X, y = load_table(name)
    if name == 'coauthor-cs':
        from sklearn.decomposition import TruncatedSVD
        X = TruncatedSVD(100, random_state=0).fit_transform(X)
    return np.ascontiguousarray(X, dtype=np.float32), np.asarray(y)


# Benchmark-only names for non-default GenURLEmbedding settings: 'genurl-np-block' the
# session-16 2-D default, 'genurl-np-exact' the session-17 default (P on the plain kNN),
# 'genurl-np-ls' local scaling forced (the default's 'auto' resolves to it).
BENCHMARK_ONLY = {'genurl-np-block': {'repulsion': 'block'},
                  'genurl-np-exact': {'neighbor_scaling': None},
                  'genurl-np-ls': {'neighbor_scaling': 'local'}}


def make(method: str, seed: int = 0, **params: Any):
    """A fresh estimator of ``method`` with ``params`` (two threads where it has a knob)."""
    if method in ('genurl', 'genurl-np') or method in BENCHMARK_ONLY:
        from ...manifold import GenURLEmbedding
        return GenURLEmbedding(parametric=method == 'genurl', random_state=seed,
                               **BENCHMARK_ONLY.get(method, {}), **params)
    if method == 'umap':
        umap = require('umap', 'the UMAP peer of the DR benchmark')
        return umap.UMAP(random_state=seed, n_jobs=1, **params)
    if method == 'opentsne':
        require('openTSNE', 'the openTSNE peer of the DR benchmark')
        from openTSNE.sklearn import TSNE
        return TSNE(random_state=seed, n_jobs=2, **params)
    if method == 'pacmap':
        pacmap = require('pacmap', 'the PaCMAP peer of the DR benchmark')
        return pacmap.PaCMAP(random_state=seed, **params)
    if method == 'pca':
        from sklearn.decomposition import PCA
        return PCA(2, random_state=seed, **params)
    raise ValueError(f"unknown DR method {method!r}; known: {', '.join(METHODS)}")


def quality(X: np.ndarray, Y: np.ndarray, labels: np.ndarray) -> Dict[str, Any]:
    """The DR metrics of a map: T(10), C(10) (sampled above :data:`EXACT_METRICS_MAX_N`,
    with ``T10_se`` / ``C10_se`` and ``metric_queries``), 5-NN accuracy, distance Spearman."""
    from ...evaluation.dr import (distance_spearman, knn_accuracy, pointwise_trustworthiness,
                                  query_rows, sampled_standard_error)
    n = len(X)
    rows = query_rows(n, METRIC_QUERIES if n > EXACT_METRICS_MAX_N else None, 0)
    out: Dict[str, Any] = {}
    for key, (a, b) in (('T10', (X, Y)), ('C10', (Y, X))):
        t = pointwise_trustworthiness(a, b, 10, rows)
        out[key] = float(t.mean())
        out[key + '_se'] = sampled_standard_error(t, n)
    out['metric_queries'] = n if rows is None else len(rows)
    out['knn5'] = knn_accuracy(Y, labels)
    out['spearman'] = distance_spearman(X, Y)
    return out


def run(cell: CellSpec, ctx: CellContext) -> Dict[str, Any]:
    X, y = load(cell.dataset)
    params = dict(cell.params)
    n = params.pop('n', None)
    if n is not None and int(n) < len(X):
        keep = np.random.default_rng(0).permutation(len(X))[:int(n)]
        X, y = X[keep], y[keep]
    warm = None
    if cell.method in NUMBA_METHODS:
        t = time.perf_counter()
        make(cell.method).fit_transform(np.random.default_rng(0).normal(
            size=(300, X.shape[1])).astype(np.float32))
        warm = time.perf_counter() - t
    t = time.perf_counter()
    Y = np.asarray(make(cell.method, cell.seed, **params).fit_transform(X), dtype=np.float32)
    fit_s = time.perf_counter() - t
    np.savez_compressed(ctx.artifacts / 'map.npz', embedding=Y.astype(np.float16), labels=y)
    q = quality(X, Y, y)
    sampled = q['metric_queries'] < len(X)
    return {'metrics': {key: q[key] for key in ('T10', 'C10', 'knn5', 'spearman')} |
            {'fit_s': fit_s},
            'seconds': fit_s, 'n': int(len(X)),
            'note': f"T/C over {q['metric_queries']} sampled points" if sampled else '',
            'extra': {'dim': int(X.shape[1]), 'warmup_s': warm, 'T10_se': q['T10_se'],
                      'C10_se': q['C10_se'], 'metric_queries': q['metric_queries']}}


def targets(rows: List[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """Issue 16: openTSNE's trustworthiness at UMAP's speed or better."""
    out = {}
    for method in ('genurl', 'genurl-np'):
        t, fit = mean_of(rows, method, 'T10'), mean_of(rows, method, 'fit_s')
        t_ref, fit_ref = mean_of(rows, 'opentsne', 'T10'), mean_of(rows, 'umap', 'fit_s')
        parts = []
        if t is not None and t_ref is not None:
            parts.append({'text': f'T10 >= openTSNE ({t_ref:.4f})', 'met': t >= t_ref})
        if fit is not None and fit_ref is not None:
            parts.append({'text': f'fit <= UMAP ({fit_ref:.1f} s)', 'met': fit <= fit_ref})
        verdict = combine(*parts)
        if verdict:
            out[method] = verdict
    return out


TASK = Task('dr', 'Dimension reduction to 2-D', METRICS, run, targets, METHODS)
