"""Which half of openTSNE's lead is P and which is the optimiser? (issue 16 diagnostic)

Swaps the input similarity between openTSNE and GenURL's non-parametric layout on a DR
tuning set (``dr_layout_variants.py``'s sets; never a benchmark set), one fit per call:

  opentsne-our-p   openTSNE (defaults) on GenURL's P (the estimator's default P)
  ours-opentsne-p  GenURL's layout (defaults, ν 1 = t-SNE's kernel) on openTSNE's
                   perplexity-30 P (Annoy kNN)

Prints T(10), 5-NN and seconds as one JSON line; the table is in
``experiments/results/dr_layout_tuning.md``.

Usage:
  python experiments/dr_p_swap.py opentsne-our-p --tuning physics
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dr_layout_variants import physics_tuning_set, tuning_set  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument('mode', choices=['opentsne-our-p', 'ours-opentsne-p'])
    ap.add_argument('--tuning', choices=['fashion', 'physics'], default='physics')
    ap.add_argument('--threads', type=int, default=1)
    args = ap.parse_args()
    import scipy.sparse as sp
    import torch
    from openTSNE import TSNE, affinity
    from genurl_pyg.evaluation.dr import knn_accuracy, trustworthiness
    from genurl_pyg.manifold import GenURLEmbedding
    from genurl_pyg.manifold import layout as L
    from genurl_pyg.structure.similarity import Similarity
    torch.set_num_threads(args.threads)
    X, y = tuning_set() if args.tuning == 'fashion' else physics_tuning_set()
    n = len(X)
    start = time.perf_counter()
    if args.mode == 'opentsne-our-p':
        sim = GenURLEmbedding(parametric=False, random_state=0, n_epochs=1).fit(X).similarity_
        i, j = sim.index.numpy()
        P = sp.csr_matrix((sim.weight.double().numpy(), (i, j)), shape=(n, n))
        P = (P + P.T) / 2
        aff = affinity.PrecomputedAffinities(P / P.sum(), normalize=False)
        # No X is passed, so openTSNE starts from a spectral layout (it says so).
        Y = np.asarray(TSNE(n_jobs=args.threads, random_state=0).fit(affinities=aff))
    else:
        P = affinity.PerplexityBasedNN(X, perplexity=30, n_jobs=args.threads,
                                       random_state=0).P.tocoo()
        sim = Similarity(index=torch.tensor(np.vstack([P.row, P.col]), dtype=torch.long),
                         weight=torch.tensor(P.data, dtype=torch.float32), num_nodes=n)
        init = L.pca_init(torch.tensor(X), 2, std=1.0, seed=0)
        Y = L.optimize_layout(sim, init, 'kl', nu=1.0, n_iter=1500, negative_rate=128,
                              generator=torch.Generator().manual_seed(0),
                              repulsion='block').numpy()
    print(json.dumps({'mode': args.mode, 'tuning': args.tuning,
                      'T10': trustworthiness(X, Y, 10), 'knn5': knn_accuracy(Y, y, 5),
                      'seconds': time.perf_counter() - start}))


if __name__ == '__main__':
    main()
