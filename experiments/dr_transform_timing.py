"""Timing and quality of GenURLEmbedding(parametric=False).transform on MNIST: fit on test
images 0-4,999, transform all 10,000 (two threads); prints the seconds, the 5-NN accuracy of
the held-out 5,000 read from the training layout, and their T(10).

Usage: python experiments/dr_transform_timing.py
"""
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_utils  # noqa: E402,F401  (offline data mirror)


def main() -> None:
    from sklearn.neighbors import KNeighborsClassifier
    from genurl_pyg.datasets.tabular import load_table
    from genurl_pyg.evaluation.dr import trustworthiness
    from genurl_pyg.manifold import GenURLEmbedding
    torch.set_num_threads(2)
    X, y = load_table('mnist')
    X = X.astype(np.float32)
    est = GenURLEmbedding(parametric=False, random_state=0).fit(X[:5000])
    t = time.perf_counter()
    E = est.transform(X)
    seconds = time.perf_counter() - t
    acc = KNeighborsClassifier(5).fit(est.embedding_, y[:5000]).score(E[5000:], y[5000:])
    print(json.dumps({'transform_10k_s': round(seconds, 3),
                      'heldout_5nn_from_train_layout': round(acc, 4),
                      'T10_heldout': round(trustworthiness(X[5000:], E[5000:], 10), 4)}))


if __name__ == '__main__':
    main()
