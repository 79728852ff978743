"""Scale benchmark: GenURL's cost from 10k to 1M nodes, and Coauthor Physics accuracy.

Synthetic graphs: a planted-partition graph (stochastic block model) with ``N / 1000``
communities of 1000 nodes, average degree about 15 (80 % of each node's edges inside its
community), and 128 informative but noisy features (community centroid + Gaussian noise),
generated in O(N d + E). For each N, in a fresh process (so peak RSS is per size):

* ``p_build_s``: the trainer's set-up, i.e. P (kNN search, geodesics, graph part, fuzzy
  union) plus the SIGN propagation of the features;
* ``epoch_s``: one training epoch of the mini-batch path (every anchor once);
* ``peak_rss_mb``; and, as a check that the embeddings are useful, the 1-NN community
  accuracy of 2000 random nodes against all nodes (brute force, on the embeddings).

Reported: the log-log slope of (P build + one epoch) time against N, fitted over all sizes.
Coauthor Physics: the data set's YAML config, random 10/10/80 splits, linear probe.

Usage:
  python experiments/scale_benchmark.py                        # 10k, 100k, 1M + Physics
  python experiments/scale_benchmark.py --sizes 10000 100000 --physics-seeds 0
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import peak_rss_mb, run_child, versions, write_results  # noqa: E402

SIZES = [10_000, 100_000, 1_000_000]
TARGETS = {'end_to_end_1m_s': 600, 'peak_rss_1m_mb': 12 * 1024, 'slope': 1.15,
           'physics_accuracy': 0.958}
# The decoupled path: what encoder 'auto' picks beyond 100k nodes, here at every size so
# the cost curve compares one algorithm. P's kNN search: faiss HNSW at every size (auto
# would be exact, O(N^2), up to 100k nodes), on a rank-32 projection of the features.
SCALE_CONFIG = dict(encoder='sign', sign_hops=2, hidden_channels=256, out_channels=128,
                    projector_channels=64, k=15, metric='euclidean', feature_hops=2,
                    graph_hops=1, knn_max_dim=32, knn_method='faiss', views=False, batch_mode='sampled',
                    batch_size=4096, pos_per_anchor=5, neg_per_anchor=5, lr=1e-3, epochs=1)


def planted_partition(n: int, dim: int = 128, block: int = 1000, degree: float = 15.0,
                      p_in: float = 0.8, seed: int = 0):
    """Edges, features and labels of a planted-partition graph. O(N d + E log E)."""
    import torch
    from torch_geometric.data import Data
    from torch_geometric.utils import coalesce, remove_self_loops
    g = torch.Generator().manual_seed(seed)
    blocks = max(2, n // block)
    y = torch.randint(0, blocks, (n,), generator=g)
    order = torch.argsort(y)
    counts = torch.bincount(y, minlength=blocks)
    starts = torch.cumsum(counts, 0) - counts
    m = int(round(degree / 2))  # each node proposes m edges; symmetrised -> ~2m
    src = torch.arange(n).repeat_interleave(m)
    inside = torch.rand(src.numel(), generator=g) < p_in
    yb = y[src]
    local = (torch.rand(src.numel(), generator=g) * counts[yb]).long()
    dst = torch.where(inside, order[starts[yb] + local],
                      torch.randint(0, n, (src.numel(),), generator=g))
    ei = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])
    ei, _ = remove_self_loops(ei)
    ei = coalesce(ei, num_nodes=n)
    centroids = torch.randn(blocks, dim, generator=g)
    x = torch.randn(n, dim, generator=g)
    for rows in torch.arange(n).split(1 << 16):  # in place, in chunks: no N x d temporaries
        x[rows] += 0.35 * centroids[y[rows]]
    return Data(x=x, edge_index=ei, y=y, num_nodes=n)


def knn1_accuracy(h, y, queries: int = 2000, seed: int = 0) -> float:
    import torch
    g = torch.Generator().manual_seed(seed)
    q = torch.randperm(h.size(0), generator=g)[:queries]
    hits = 0
    for chunk in q.split(64):  # 64 x N distances at a time: O(N) memory, not O(queries N)
        d = torch.cdist(h[chunk], h)
        d[torch.arange(chunk.numel()), chunk] = float('inf')
        hits += int((y[d.argmin(1)] == y[chunk]).sum())
    return hits / q.numel()


def child_synthetic(n: int, threads: int, defaults: bool = False, device: str = 'cpu') -> dict:
    import torch
    from genurl_pyg import NodeConfig
    from genurl_pyg.node.trainer import NodeEmbeddingTrainer
    torch.set_num_threads(threads)
    t = time.perf_counter()
    data = planted_partition(n)
    gen_s = time.perf_counter() - t
    t = time.perf_counter()
    # --defaults: what fit_node_embeddings(data, epochs=1, seed=0) runs, nothing else set.
    cfg = (NodeConfig(epochs=1, seed=0, device=device) if defaults
           else NodeConfig(**SCALE_CONFIG, device=device))
    trainer = NodeEmbeddingTrainer(data, cfg)
    p_build_s = time.perf_counter() - t
    t = time.perf_counter()
    loss = trainer.run_epoch()
    epoch_s = time.perf_counter() - t
    t = time.perf_counter()
    h = trainer.embed()
    embed_s = time.perf_counter() - t
    return {'kind': 'synthetic', 'num_nodes': n, 'num_edges': int(data.edge_index.size(1)),
            'generate_s': gen_s, 'p_build_s': p_build_s, 'epoch_s': epoch_s,
            'end_to_end_s': p_build_s + epoch_s, 'embed_s': embed_s, 'loss': loss,
            'steps_per_epoch': (-(-trainer.num_anchors // trainer.batch_size)
                                if trainer.batch_size else 1),
            'plan_peak_mb': trainer.plan.peak_mb, 'plan': trainer.plan.to_dict(),
            'p_pairs_per_node': trainer.sim.num_pairs / n, 'lambda': trainer.sim.lam,
            'knn1_embedding': knn1_accuracy(h, data.y), 'knn1_features': knn1_accuracy(
                data.x, data.y), 'peak_rss_mb': peak_rss_mb()}


def child_physics(seeds: int, threads: int) -> dict:
    import torch
    from genurl_pyg.datasets import get_spec, load_dataset
    from genurl_pyg.evaluation import linear_probe, split_for
    from genurl_pyg.node import NodeEmbeddingTrainer, dataset_defaults
    torch.set_num_threads(threads)
    spec, data = get_spec('Physics'), load_dataset('Physics')
    cfg = dataset_defaults('Physics')
    accs, secs = [], []
    for seed in range(seeds):
        t = time.perf_counter()
        h = NodeEmbeddingTrainer(data, cfg.__class__.from_dict({'seed': seed}, base=cfg)).fit()
        secs.append(time.perf_counter() - t)
        accs.append(linear_probe(h, data.y, *split_for(data, spec.protocol, seed)).test_accuracy)
        print(f'[Physics] seed {seed}: {accs[-1]:.4f} ({secs[-1]:.0f} s)', file=sys.stderr,
              flush=True)
    return {'kind': 'physics', 'protocol': spec.protocol, 'per_seed': accs,
            'seconds_per_seed': secs, 'config': cfg.to_dict(), 'peak_rss_mb': peak_rss_mb()}


def loglog_slope(ns, ts) -> float:
    import numpy as np
    return float(np.polyfit(np.log(ns), np.log(ts), 1)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument('--sizes', type=int, nargs='+', default=SIZES)
    ap.add_argument('--physics-seeds', type=int, default=3, help='0 skips Coauthor Physics')
    ap.add_argument('--threads', type=int, default=2, help='torch threads per child')
    ap.add_argument('--out', default='scale_benchmark')
    ap.add_argument('--defaults', action='store_true',
                    help='train with the package defaults (epochs=1, seed=0) instead of the '
                         'hand-set SCALE_CONFIG; writes scale_benchmark_defaults unless --out')
    ap.add_argument('--device', default='cpu', help="'cpu' or 'cuda' (synthetic sizes)")
    ap.add_argument('--child', nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, value, threads = args.child
        res = (child_synthetic(int(value), int(threads), args.defaults, args.device)
               if kind == 'synthetic' else child_physics(int(value), int(threads)))
        print(json.dumps(res))
        return
    rows = []
    if args.defaults and args.out == 'scale_benchmark':
        args.out = 'scale_benchmark_defaults'
    payload = {'benchmark': 'scale_benchmark', 'command': 'python ' + ' '.join(sys.argv),
               'versions': versions(), 'threads': args.threads,
               'config': 'package defaults, epochs=1, seed=0' if args.defaults else SCALE_CONFIG,
               'targets': TARGETS, 'results': rows}
    jobs = [('synthetic', n) for n in args.sizes]
    if args.physics_seeds > 0:
        jobs.append(('physics', args.physics_seeds))
    for kind, value in jobs:
        print(f'[scale_benchmark] {kind} {value} ...', flush=True)
        res = run_child([__file__, '--child', kind, str(value), str(args.threads)]
                        + (['--defaults'] if args.defaults else [])
                        + ['--device', args.device], timeout=3 * 3600)
        res.setdefault('kind', kind)
        print(json.dumps({k: v for k, v in res.items() if k != 'config'}), flush=True)
        rows.append(res)
        _summarise(payload)
        write_results(args.out, payload, _markdown(payload))


def _summarise(payload) -> None:
    import numpy as np
    syn = [r for r in payload['results'] if r['kind'] == 'synthetic' and 'epoch_s' in r]
    summary = {}
    if len(syn) >= 2:
        ns = [r['num_nodes'] for r in syn]
        summary['slope_end_to_end'] = loglog_slope(ns, [r['end_to_end_s'] for r in syn])
        summary['slope_p_build'] = loglog_slope(ns, [r['p_build_s'] for r in syn])
        summary['slope_epoch'] = loglog_slope(ns, [r['epoch_s'] for r in syn])
    big = [r for r in syn if r['num_nodes'] >= 1_000_000]
    if big:
        summary['end_to_end_1m_s'] = big[0]['end_to_end_s']
        summary['peak_rss_1m_mb'] = big[0]['peak_rss_mb']
    phys = [r for r in payload['results'] if r['kind'] == 'physics' and r.get('per_seed')]
    if phys:
        summary['physics_accuracy'] = float(np.mean(phys[0]['per_seed']))
        summary['physics_std'] = float(np.std(phys[0]['per_seed']))
    payload['summary'] = summary


def _verdict(key, value) -> str:
    target = TARGETS[key]
    ok = value >= target if key == 'physics_accuracy' else value <= target
    return 'met' if ok else 'missed'


def _markdown(payload) -> str:
    s = payload.get('summary', {})
    lines = ['# Scale benchmark', '', f"Command: `{payload['command']}`  ",
             'Versions: ' + ', '.join(f'{k} {v}' for k, v in payload['versions'].items()) + '  ',
             f"torch threads per process: {payload['threads']}; synthetic config: "
             f"`{json.dumps(payload['config'])}`", '',
             '| N | edges | P build + precompute s | epoch s | end to end s | steps/epoch | '
             'P pairs/node | peak RSS MB | planned peak MB | 1-NN acc. embedding / features |',
             '|---|---|---|---|---|---|---|---|---|---|']
    for r in payload['results']:
        if r['kind'] != 'synthetic':
            continue
        if 'epoch_s' not in r:
            lines.append(f"| ? | | failed: {r.get('error', '')} | | | | | | | |")
            continue
        lines.append(f"| {r['num_nodes']:,} | {r['num_edges']:,} | {r['p_build_s']:.1f} | "
                     f"{r['epoch_s']:.1f} | {r['end_to_end_s']:.1f} | {r['steps_per_epoch']} | "
                     f"{r['p_pairs_per_node']:.1f} | {r['peak_rss_mb']:.0f} | "
                     f"{r.get('plan_peak_mb', float('nan')):.0f} | "
                     f"{r['knn1_embedding']:.3f} / {r['knn1_features']:.3f} |")
    lines += ['', '| measure | value | target |', '|---|---|---|']
    rows = [('slope_end_to_end', 'log-log slope, end to end vs N', '{:.2f}', 'slope'),
            ('slope_p_build', 'log-log slope, P build', '{:.2f}', None),
            ('slope_epoch', 'log-log slope, epoch', '{:.2f}', None),
            ('end_to_end_1m_s', '1M nodes: P build + one epoch (s)', '{:.0f}', 'end_to_end_1m_s'),
            ('peak_rss_1m_mb', '1M nodes: peak RSS (MB)', '{:.0f}', 'peak_rss_1m_mb'),
            ('physics_accuracy', 'Coauthor Physics accuracy (random 10/10/80)', '{:.4f}',
             'physics_accuracy')]
    for key, label, fmt, tkey in rows:
        if key not in s:
            continue
        value = fmt.format(s[key])
        if key == 'physics_accuracy':
            phys = next(r for r in payload['results'] if r['kind'] == 'physics')
            value += (f" ± {s['physics_std']:.4f} ({len(phys['per_seed'])} seeds, "
                      f"{sum(phys['seconds_per_seed']) / len(phys['seconds_per_seed']):.0f} s/seed)")
        target = ''
        if tkey:
            target = f"{TARGETS[tkey]} ({_verdict(tkey, s[key])})"
        lines.append(f'| {label} | {value} | {target} |')
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    main()
