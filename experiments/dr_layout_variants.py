"""Non-parametric layout variants on the DR tuning set (issue 16), for choosing 'auto' values.

Tuning sets: Fashion-MNIST *training* images 0-9,999 (pixels / 255), disjoint from every
data set of the DR benchmark (its Fashion rows use the test images); ``--tuning physics``:
Coauthor Physics' node features, 15,000 nodes, TruncatedSVD to 100-d (shaped like the
benchmark's Coauthor-CS rows, on a disjoint data set). One fit per call of
``GenURLEmbedding(parametric=False, random_state=seed, **overrides)``; prints and appends
to ``experiments/results/dr_layout_variants.json`` T(10), C(10), 5-NN accuracy and the fit
time. Results and what they taught: ``experiments/results/dr_layout_tuning.md``.

Usage:
  python experiments/dr_layout_variants.py --set perplexity=30 --threads 1
  python experiments/dr_layout_variants.py --peer opentsne --threads 1
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import parse_overrides, versions  # noqa: E402  (and the data mirror)

OUT = Path(__file__).resolve().parent / 'results' / 'dr_layout_variants.json'


def tuning_set(size: int = 10_000):
    from genurl_pyg.vision.data import load_images
    data = load_images('fashion-mnist')
    X = data.train_x[:size].flatten(1).float().numpy()
    return np.ascontiguousarray(X / 255.0, dtype=np.float32), data.train_y[:size].numpy()


def physics_tuning_set(size: int = 15_000):
    from genurl_pyg.datasets import load_dataset
    from sklearn.decomposition import TruncatedSVD
    data = load_dataset('Physics')
    idx = np.random.default_rng(0).permutation(data.num_nodes)[:size]
    x = data.x.to_dense() if data.x.is_sparse else data.x
    X = TruncatedSVD(100, random_state=0).fit_transform(x.numpy()[idx])
    return np.ascontiguousarray(X, dtype=np.float32), data.y.numpy()[idx]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument('--set', nargs='*', default=[], metavar='KEY=JSON')
    ap.add_argument('--peer', choices=['opentsne'], help='fit a peer instead of GenURL')
    ap.add_argument('--tuning', choices=['fashion', 'physics'], default='fashion')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--threads', type=int, default=1)
    args = ap.parse_args()
    import torch
    from genurl_pyg.evaluation.dr import continuity, knn_accuracy, trustworthiness
    torch.set_num_threads(args.threads)
    overrides = parse_overrides(args.set, ap.error)
    X, y = tuning_set() if args.tuning == 'fashion' else physics_tuning_set()
    start = time.perf_counter()
    if args.peer == 'opentsne':
        from openTSNE import TSNE
        Y = np.asarray(TSNE(n_jobs=args.threads, random_state=args.seed).fit(X))
    else:
        from genurl_pyg.manifold import GenURLEmbedding
        Y = GenURLEmbedding(parametric=False, random_state=args.seed,
                            **overrides).fit_transform(X)
    seconds = time.perf_counter() - start
    row = {'method': args.peer or 'genurl-np', 'tuning': args.tuning,
           'overrides': overrides, 'seed': args.seed,
           'threads': args.threads, 'T10': trustworthiness(X, Y, 10),
           'C10': continuity(X, Y, 10), 'knn5': knn_accuracy(Y, y, 5), 'fit_s': seconds,
           'versions': versions()}
    print(json.dumps(row), flush=True)
    rows = json.loads(OUT.read_text()) if OUT.exists() else []
    OUT.write_text(json.dumps(rows + [row], indent=1) + '\n')


if __name__ == '__main__':
    main()
