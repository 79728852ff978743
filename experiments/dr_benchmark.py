"""Dimension-reduction benchmark: GenURL vs UMAP, openTSNE, PaCMAP and PCA.

Data: scikit-learn digits (1797 x 64), MNIST test set (10k x 784, from the data mirror),
Coauthor-CS node features (18333 x 6805 bag-of-words, reduced to 100 dimensions by
TruncatedSVD for every method alike; metrics are computed against that 100-d input),
Fashion-MNIST's 10k test images and all 70k images (784 pixels / 255; needs the image cache,
GENURL_DATA), the JPEG-re-encoded CIFAR-10 copy's 10k test images as raw pixels (3,072-d; not
comparable with published numbers).

Each (data set, method) fit runs in a fresh subprocess with OMP_WAIT_POLICY=PASSIVE and two
threads. UMAP, openTSNE and PaCMAP are first warmed up on a small random set in the same
process, so their numba compilation is excluded from the timed fit (said in the table).
Metrics: T(10), C(10) (genurl_pyg.evaluation.dr, equal to scikit-learn's trustworthiness), 5-NN
accuracy (5-fold stratified), Spearman correlation of pairwise distances on 1000 points,
peak RSS of the child process. Above 20k points T and C are unbiased estimates over the same
5,000 sampled points for every method (standard error in the table;
genurl_pyg.bench.tasks.dr). GenURL's transform of 10k new points is timed on MNIST (fitted on
the first 5k images, applied to all 10k).

Usage:
  python experiments/dr_benchmark.py [--datasets digits mnist coauthor-cs] [--methods ...]
Writes experiments/results/<--out>.{json,md,png} (default dr_benchmark).
Methods: genurl (parametric, the MLP), genurl-np (parametric=False), the peers, PCA.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import RESULTS, peak_rss_mb, run_child, versions, write_results  # noqa: E402

METHODS = ['genurl', 'genurl-np', 'umap', 'opentsne', 'pacmap', 'pca']
# GenURLEmbedding(parametric=False) with repulsion='block' / neighbor_scaling=None (the
# plain kNN) / neighbor_scaling='local' (genurl_pyg.bench.tasks.dr.BENCHMARK_ONLY)
EXTRA_METHODS = ['genurl-np-block', 'genurl-np-exact', 'genurl-np-ls']


# The data sets, estimators and metrics are the suite's (genurl_pyg.bench.tasks.dr).
from genurl_pyg.bench.tasks.dr import DATASETS, load, make  # noqa: E402


def child(dataset: str, method: str, out_npy: str, seed: str = '0') -> None:
    import torch
    torch.set_num_threads(2)
    from genurl_pyg.bench.tasks.dr import quality
    X, y = load(dataset)
    warm = None
    if method in ('umap', 'opentsne', 'pacmap'):
        t = time.perf_counter()
        make(method).fit_transform(np.random.default_rng(0).normal(size=(300, X.shape[1]))
                                   .astype(np.float32))
        warm = time.perf_counter() - t
    seed = int(seed)
    t = time.perf_counter()
    Y = np.asarray(make(method, seed).fit_transform(X), dtype=np.float32)
    fit_s = time.perf_counter() - t
    rss = peak_rss_mb()
    extra = {}
    if method.startswith('genurl') and dataset == 'mnist':
        est = make(method, seed).fit(X[:5000])
        t = time.perf_counter()
        est.transform(X)
        extra['transform_10k_s'] = time.perf_counter() - t
    np.save(out_npy, Y)
    print(json.dumps({'dataset': dataset, 'method': method, 'seed': seed, 'n': int(len(X)),
                      'dim': int(X.shape[1]), 'fit_s': fit_s, 'warmup_s': warm,
                      'peak_rss_mb': rss, **quality(X, Y, y), **extra}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument('--datasets', nargs='+', default=list(DATASETS), choices=DATASETS)
    ap.add_argument('--methods', nargs='+', default=METHODS, choices=METHODS + EXTRA_METHODS)
    ap.add_argument('--out', default='dr_benchmark',
                    help='results name under experiments/results/ (JSON, Markdown, PNG)')
    ap.add_argument('--seeds', nargs='+', type=int, default=[0],
                    help='random states; with several, the table adds mean +- std per '
                         'method (PCA is deterministic and runs once)')
    ap.add_argument('--child', nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    rows, embeddings = [], {}
    tmp = Path(tempfile.mkdtemp())
    for ds in args.datasets:
        for seed in args.seeds:
            for m in args.methods:
                if m == 'pca' and seed != args.seeds[0]:
                    continue
                print(f'[dr_benchmark] {ds} / {m} / seed {seed} ...', flush=True)
                npy = tmp / f'{ds}-{m}-{seed}.npy'
                res = run_child([__file__, '--child', ds, m, str(npy), str(seed)], timeout=3600)
                res.setdefault('dataset', ds)
                res.setdefault('method', m)
                res.setdefault('seed', seed)
                print(json.dumps(res), flush=True)
                rows.append(res)
                if npy.exists() and seed == args.seeds[0]:
                    embeddings[(ds, m)] = np.load(npy)
    payload = {'benchmark': 'dr_benchmark', 'out': args.out,
               'command': 'python ' + ' '.join(sys.argv),
               'versions': versions(), 'results': rows}
    write_results(args.out, payload, _markdown(payload))
    _figure(args.datasets, args.methods, embeddings, args.out)


def _markdown(payload) -> str:
    lines = ['# Dimension reduction to 2-D: GenURL vs UMAP, openTSNE, PaCMAP, PCA', '',
             f"Command: `{payload['command']}`  ",
             'Versions: ' + ', '.join(f'{k} {v}' for k, v in payload['versions'].items()) + '  ',
             f"One fit per method and seed (seeds {_seeds(payload)}) in a fresh process, 2 "
             'threads, this 2-core CPU. '
             'Fit time excludes numba warm-up (column "warm-up s"). Coauthor-CS: features '
             'reduced to 100-d by TruncatedSVD for all methods; metrics against that input.', '',
             '| data | method | seed | T(10) | C(10) | 5-NN acc | Spearman | fit s | warm-up s | '
             'peak RSS MB |', '|---|---|---|---|---|---|---|---|---|---|']
    for r in payload['results']:
        seed = r.get('seed', 0)
        if 'fit_s' not in r:
            lines.append(f"| {r['dataset']} | {r['method']} | {seed} | failed: "
                         f"{r.get('error', '')} | | | | | | |")
            continue
        warm = '' if r.get('warmup_s') is None else f"{r['warmup_s']:.1f}"
        lines.append(f"| {r['dataset']} | {r['method']} | {seed} | {_est(r, 'T10')} | "
                     f"{_est(r, 'C10')} | {r['knn5']:.4f} | {r['spearman']:.3f} | "
                     f"{r['fit_s']:.1f} | {warm} | {r['peak_rss_mb']:.0f} |")
    if len(_seeds(payload).split(', ')) > 1:
        lines += ['', 'Mean ± std over the seeds:', '',
                  '| data | method | seeds | T(10) | 5-NN acc | fit s | peak RSS MB |',
                  '|---|---|---|---|---|---|---|']
        groups = {}
        for r in payload['results']:
            if 'fit_s' in r:
                groups.setdefault((r['dataset'], r['method']), []).append(r)
        for (ds, m), rs in groups.items():
            lines.append(f"| {ds} | {m} | {len(rs)} | {_mean_std(rs, 'T10', '.4f')} | "
                         f"{_mean_std(rs, 'knn5', '.4f')} | {_mean_std(rs, 'fit_s', '.1f')} | "
                         f"{_mean_std(rs, 'peak_rss_mb', '.0f')} |")
    tr = [r for r in payload['results'] if 'transform_10k_s' in r]
    if tr:
        lines.append('')
        lines += [f"{r['method']} `transform` of 10k MNIST images (fitted on 5k): "
                  f"{r['transform_10k_s']:.3f} s.  " for r in tr]
    lines += ['', f"![embeddings]({payload.get('out', 'dr_benchmark')}.png)"]
    return '\n'.join(lines) + '\n'


def _est(r, key: str) -> str:
    """A metric, with its standard error when it was estimated from sampled points."""
    se = r.get(key + '_se') or 0.0
    return f"{r[key]:.4f}" + (f" ± {se:.4f} (s.e., {r['metric_queries']} pts)" if se else '')


def _mean_std(rows, key: str, fmt: str) -> str:
    values = [r[key] for r in rows]
    return f"{np.mean(values):{fmt}} ± {np.std(values):{fmt}}"


def _seeds(payload) -> str:
    return ', '.join(str(s) for s in sorted({r.get('seed', 0) for r in payload['results']}))


def _figure(datasets, methods, embeddings, out: str = 'dr_benchmark') -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(len(datasets), len(methods),
                             figsize=(3 * len(methods), 3 * len(datasets)), dpi=100,
                             squeeze=False)
    for r, ds in enumerate(datasets):
        _, y = load(ds) if ds != 'coauthor-cs' else (None, _cs_labels())
        for c, m in enumerate(methods):
            ax = axes[r][c]
            Y = embeddings.get((ds, m))
            if Y is not None:
                ax.scatter(Y[:, 0], Y[:, 1], c=y, s=1, cmap='tab10' if y.max() < 10 else 'tab20',
                           linewidths=0)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(m)
            if c == 0:
                ax.set_ylabel(ds)
    fig.tight_layout()
    RESULTS.mkdir(parents=True, exist_ok=True)
    fig.savefig(RESULTS / f'{out}.png')


def _cs_labels():
    from genurl_pyg.datasets import load_dataset
    return load_dataset('CS').y.numpy()


if __name__ == '__main__':
    main()
