"""Benchmark of GenURL's data structural modeling: building the sparse input similarity P.

Cases (each in a fresh subprocess, so peak RSS is per case):
  random-N-exact   N Gaussian-mixture points, D = 64, k = 15, feature geodesics 2 hops
  random-N-faiss   the same with the approximate faiss IVF kNN backend
  cora             the Cora graph: P from adjacency (1 hop) + feature geodesics, lambda='auto'

Usage:
  python experiments/bench_structure.py                 # the committed table
  python experiments/bench_structure.py --quick         # 10k only, a smoke run
Writes experiments/results/bench_structure.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import peak_rss_mb, run_child, versions, write_results  # noqa: E402

FLOPS_PER_S = 6e10  # measured float32 GEMM rate of this 2-core CPU (shared/docs/benchmarking.md)


def make_points(n: int, dim: int, seed: int = 0):
    import torch
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(50, dim, generator=g) * 3
    labels = torch.randint(0, 50, (n,), generator=g)
    return centers[labels] + torch.randn(n, dim, generator=g)


def child(case: str) -> None:
    """Runs one case and prints its JSON on the last line."""
    import torch
    from genurl_pyg.structure import (calibrate, combine, estimate_lambda, feature_similarity,
                                      graph_similarity, knn_graph)
    k, hops = 15, 2
    stages = {}
    t0 = time.perf_counter()
    if case == 'cora':
        from genurl_pyg.datasets import load_dataset
        data = load_dataset('Cora')
        x, edge_index, n = data.x, data.edge_index, data.num_nodes
        method = 'exact'
    else:
        _, n_str, method = case.split('-')
        n = int(float(n_str))
        x, edge_index = make_points(n, 64), None
    stages['load_s'] = time.perf_counter() - t0

    t = time.perf_counter()
    knn = knn_graph(x, k, method=method)
    stages['knn_s'] = time.perf_counter() - t
    t = time.perf_counter()
    feat = feature_similarity(x, k=k, hops=hops, knn=knn)
    stages['calibrate_geodesic_union_s'] = time.perf_counter() - t
    lam = 0.0
    graph = None
    if edge_index is not None:
        t = time.perf_counter()
        graph = graph_similarity(edge_index, n, hops=1)
        lam = estimate_lambda(x, edge_index)
        stages['graph_part_and_lambda_s'] = time.perf_counter() - t
    t = time.perf_counter()
    index, weight = combine(feat, graph, lam, n)
    stages['combine_s'] = time.perf_counter() - t
    total = sum(v for key, v in stages.items() if key != 'load_s')
    rss = peak_rss_mb()  # before the recall check below, which is not part of building P
    if method == 'exact':
        # Recall is 1 by construction; state the distance from the GEMM floor instead.
        floor = n * n * x.size(1) * 2 / FLOPS_PER_S
        stages['knn_floor_s'] = floor
    else:
        sub = torch.randperm(n, generator=torch.Generator().manual_seed(1))[:2000]
        ref = _exact_rows(x, sub, k)
        hits = (knn[0][sub].unsqueeze(2) == ref.unsqueeze(1)).any(2).float().mean()
        stages['knn_recall_at_k'] = float(hits)
    print(json.dumps({'case': case, 'n': n, 'dim': int(x.size(1)), 'k': k, 'hops': hops,
                      'knn_method': method, 'lambda': lam, 'pairs': int(weight.numel()),
                      'pairs_per_node': weight.numel() / n, 'total_s': total,
                      'peak_rss_mb': rss, **stages}))


def _exact_rows(x, rows, k):
    import torch
    out = []
    for part in rows.split(100):  # 100 x N distances at a time
        d = torch.cdist(x[part], x)
        d[torch.arange(part.numel()), part] = float('inf')
        out.append(d.topk(k, largest=False).indices)
    return torch.cat(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument('--child', help=argparse.SUPPRESS)
    ap.add_argument('--quick', action='store_true', help='only the 10k and Cora cases')
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    cases = ['random-1e4-exact', 'cora'] if args.quick else [
        'random-1e4-exact', 'random-1e5-exact', 'random-1e4-faiss', 'random-1e5-faiss',
        'random-3e5-faiss', 'random-1e6-faiss', 'cora']
    rows = []
    for case in cases:
        print(f'[bench_structure] {case} ...', flush=True)
        res = run_child([__file__, '--child', case], timeout=3600)
        res.setdefault('case', case)
        print(json.dumps(res), flush=True)
        rows.append(res)
    faiss = [r for r in rows if r.get('knn_method') == 'faiss' and 'total_s' in r]
    slope = None
    if len(faiss) >= 2:
        xs = [math.log(r['n']) for r in faiss]
        ys = [math.log(r['total_s']) for r in faiss]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((a - mx) * (b - my) for a, b in zip(xs, ys)) / sum((a - mx) ** 2 for a in xs)
    payload = {'benchmark': 'bench_structure', 'command': 'python experiments/bench_structure.py'
               + (' --quick' if args.quick else ''), 'versions': versions(), 'results': rows,
               'faiss_loglog_slope_time_vs_n': slope}
    write_results('bench_structure', payload, _markdown(payload))


def _markdown(payload) -> str:
    lines = ['# Building P (DSM) on this machine', '',
             f"Command: `{payload['command']}`  ",
             f"Versions: {', '.join(f'{k} {v}' for k, v in payload['versions'].items())}  ",
             'Random points: 50-cluster Gaussian mixture, D = 64, k = 15, feature geodesics '
             '2 hops, min_weight 1e-4. Each case ran in a fresh process; RSS is that '
             "process's peak. Times in seconds, excluding data generation/loading.", '',
             '| case | N | kNN | kNN s | calib+geodesic+union s | total s | pairs/node | '
             'peak RSS MB | kNN floor s / recall |', '|---|---|---|---|---|---|---|---|---|']
    for r in payload['results']:
        if 'error' in r:
            lines.append(f"| {r['case']} | | | | | failed: {r['error']} | | | |")
            continue
        extra = (f"floor {r['knn_floor_s']:.1f}" if 'knn_floor_s' in r
                 else f"recall@k {r['knn_recall_at_k']:.3f}")
        lines.append(f"| {r['case']} | {r['n']} | {r['knn_method']} | {r['knn_s']:.2f} | "
                     f"{r['calibrate_geodesic_union_s']:.2f} | {r['total_s']:.2f} | "
                     f"{r['pairs_per_node']:.1f} | {r['peak_rss_mb']:.0f} | {extra} |")
    if payload.get('faiss_loglog_slope_time_vs_n') is not None:
        lines += ['', f"Log-log slope of total time vs N (faiss cases): "
                      f"{payload['faiss_loglog_slope_time_vs_n']:.2f}"]
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    main()
