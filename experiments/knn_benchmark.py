"""kNN backends for P's feature part at scale: time and recall on the scale benchmark's graphs.

For each size N (a planted-partition graph, experiments/scale_benchmark.py, 128 features),
in a fresh process per (N, method), every method computes the k = 15 nearest neighbours of
all N points; recall@15 is measured on 1000 random query points against brute force (in
the full 128-column space), and so is the share of the found neighbours that lie in the
query's own community (what P's feature part is for; brute force scores it too).

Methods:
  hnsw          genurl_pyg's faiss HNSW (M 32, efConstruction 64, efSearch max(32, 2(k+1)))
  hnsw-fast     faiss HNSW with M 16, efConstruction 40, efSearch 32
  hnsw-accurate faiss HNSW with M 32, efConstruction 128, efSearch 256
  hnsw-pca<r>   genurl_pyg's HNSW on the rank-r projection that knn_max_dim = r gives
                (structure.builder.reduce_features; the SVD's time is included)
  hnsw-smooth<h>[-pca<r>]
                genurl_pyg's HNSW on A_hat^h X (what knn_input_hops = h searches), optionally
                on its rank-r projection; recall against brute force on that same input, the
                smoothing's and the SVD's time included
  ivf           faiss IVF-Flat, 4 sqrt(N) lists, 16 probed
  pynndescent   pynndescent.NNDescent (numba; its JIT compile time is included)
  exact         chunked brute force (up to 200k points)

Usage:
  python experiments/knn_benchmark.py --sizes 50000 200000 --threads 1
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import peak_rss_mb, run_child, versions, write_results  # noqa: E402

METHODS = ['hnsw', 'hnsw-fast', 'hnsw-accurate', 'hnsw-pca64', 'hnsw-pca32', 'hnsw-smooth2',
           'hnsw-smooth2-pca32', 'ivf', 'pynndescent', 'exact']
K = 15


def _faiss_hnsw(x, k, m, ef_c, ef_s):
    import faiss
    import numpy as np
    index = faiss.IndexHNSWFlat(x.shape[1], m)
    index.hnsw.efConstruction = ef_c
    index.add(x)
    index.hnsw.efSearch = ef_s
    _, idx = index.search(x, k + 1)
    return idx


def _faiss_ivf(x, k, probes=16):
    import faiss
    n, d = x.shape
    lists = int(4 * n ** 0.5)
    quant = faiss.IndexFlatL2(d)
    index = faiss.IndexIVFFlat(quant, d, lists)
    index.train(x[::max(1, n // (lists * 40))])
    index.add(x)
    index.nprobe = probes
    _, idx = index.search(x, k + 1)
    return idx


def child(n: int, method: str, threads: int) -> dict:
    import numpy as np
    import torch
    from scale_benchmark import planted_partition
    torch.set_num_threads(threads)
    try:
        import faiss
        faiss.omp_set_num_threads(threads)
    except ImportError:
        pass
    data = planted_partition(n)
    x = data.x.numpy().astype(np.float32)
    t = time.perf_counter()
    searched = data.x  # the input whose exact neighbours define recall
    if method.startswith('hnsw-smooth'):
        from genurl_pyg.node.propagation import smooth_features
        from genurl_pyg.structure.builder import reduce_features
        from genurl_pyg.structure.knn import knn_graph
        hops, _, rank = method[len('hnsw-smooth'):].partition('-pca')
        searched = smooth_features(data.x, data.edge_index, int(hops))
        xs = reduce_features(searched, int(rank)) if rank else searched
        idx = knn_graph(xs, K, method='faiss')[0].numpy()
    elif method == 'hnsw':
        from genurl_pyg.structure.knn import knn_graph
        idx = knn_graph(data.x, K, method='faiss')[0].numpy()
    elif method.startswith('hnsw-pca'):
        from genurl_pyg.structure.builder import reduce_features
        from genurl_pyg.structure.knn import knn_graph
        xr = reduce_features(data.x, int(method[len('hnsw-pca'):]))
        idx = knn_graph(xr, K, method='faiss')[0].numpy()
    elif method == 'hnsw-fast':
        idx = _faiss_hnsw(x, K, 16, 40, 32)
    elif method == 'hnsw-accurate':
        idx = _faiss_hnsw(x, K, 32, 128, 256)
    elif method == 'ivf':
        idx = _faiss_ivf(x, K)
    elif method == 'pynndescent':
        import pynndescent
        idx = pynndescent.NNDescent(x, n_neighbors=K + 1, random_state=0,
                                    n_jobs=threads).neighbor_graph[0]
    else:
        from genurl_pyg.structure.knn import knn_graph
        idx = knn_graph(data.x, K, method='exact')[0].numpy()
    seconds = time.perf_counter() - t
    g = torch.Generator().manual_seed(1)
    q = torch.randperm(n, generator=g)[:1000]
    hits = same = same_truth = 0
    y = data.y.numpy()
    for chunk in q.split(100):
        d = torch.cdist(searched[chunk], searched)
        d[torch.arange(chunk.numel()), chunk] = float('inf')
        truth = d.topk(K, largest=False).indices.numpy()
        for row, t_row in zip(chunk.tolist(), truth):
            found = [j for j in idx[row].tolist() if j != row][:K]
            hits += len(set(found) & set(t_row.tolist()))
            same += int((y[found] == y[row]).sum())
            same_truth += int((y[t_row] == y[row]).sum())
    return {'num_nodes': n, 'method': method, 'seconds': seconds,
            'recall': hits / (K * q.numel()), 'same_community': same / (K * q.numel()),
            'same_community_exact': same_truth / (K * q.numel()), 'peak_rss_mb': peak_rss_mb()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument('--sizes', type=int, nargs='+', default=[50_000, 200_000])
    ap.add_argument('--methods', nargs='+', default=METHODS, choices=METHODS)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--out', default='knn_benchmark')
    ap.add_argument('--child', nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        n, method, threads = args.child
        print(json.dumps(child(int(n), method, int(threads))))
        return
    rows = []
    payload = {'benchmark': 'knn_benchmark', 'command': 'python ' + ' '.join(sys.argv),
               'versions': versions(), 'threads': args.threads, 'k': K, 'results': rows}
    for n in args.sizes:
        for method in args.methods:
            if method == 'exact' and n > 200_000:
                continue
            print(f'[knn_benchmark] {n} {method} ...', flush=True)
            res = run_child([__file__, '--child', str(n), method, str(args.threads)],
                            timeout=3600)
            res.setdefault('num_nodes', n)
            res.setdefault('method', method)
            print(json.dumps(res), flush=True)
            rows.append(res)
            write_results(args.out, payload, _markdown(payload))


def _markdown(payload) -> str:
    lines = ['# kNN backends at scale', '', f"Command: `{payload['command']}`  ",
             f"torch/faiss threads per process: {payload['threads']}; k = {payload['k']}; "
             'recall@k on 1000 random queries against brute force.', '',
             '| N | method | seconds | recall@15 | same community (exact kNN) | peak RSS MB |',
             '|---|---|---|---|---|---|']
    for r in payload['results']:
        if 'seconds' not in r:
            lines.append(f"| {r['num_nodes']:,} | {r['method']} | failed: {r.get('error')} "
                         "| | | |")
            continue
        agree = (f"{r['same_community']:.3f} ({r['same_community_exact']:.3f})"
                 if 'same_community' in r else '')
        lines.append(f"| {r['num_nodes']:,} | {r['method']} | {r['seconds']:.1f} | "
                     f"{r['recall']:.3f} | {agree} | {r['peak_rss_mb']:.0f} |")
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    main()
