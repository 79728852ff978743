"""Speed of building a view's normalised adjacency (``view_smoothing: own`` builds one per
view and step).

``genurl_pyg.node.propagation.normalized_adjacency`` assembles the CSR matrix straight from
its sorted pair keys; the reference below is the assembly it replaced (a COO tensor,
coalesced, then converted to CSR), kept here as the "before". Both run on the same
GRACE-style dropped-edge graph (each directed edge kept with probability 0.8), interleaved
call by call so that load on the other core affects both alike; the outputs are checked
equal before timing. Median of ``--repeats`` calls, one torch thread.

Usage:
  python experiments/view_graph_speed.py --datasets Cora Photo Computers CS
Writes experiments/results/view_graph_speed.{json,md}.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import versions, write_results  # noqa: E402


def coalesced_assembly(edge_index, num_nodes: int):
    """The assembly before this change: the same matrix through COO coalesce and CSR
    conversion (O(E log E) twice)."""
    import torch
    loops = torch.arange(num_nodes).repeat(2, 1)
    ei = torch.cat([edge_index, edge_index.flip(0), loops], dim=1)
    keys = torch.unique(ei[0] * num_nodes + ei[1])
    row, col = keys // num_nodes, keys % num_nodes
    deg = torch.bincount(row, minlength=num_nodes).float()
    w = deg[row].rsqrt() * deg[col].rsqrt()
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='Sparse CSR tensor support')
        return torch.sparse_coo_tensor(torch.stack([row, col]), w, (num_nodes, num_nodes)
                                       ).coalesce().to_sparse_csr()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--datasets', nargs='+', default=['Cora', 'Photo', 'Computers', 'CS'])
    ap.add_argument('--repeats', type=int, default=20)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--out', default='view_graph_speed')
    ap.add_argument('--conditions', default='', metavar='TEXT',
                    help='what else ran, which core: written under the table')
    args = ap.parse_args()
    import torch
    from genurl_pyg.datasets import load_dataset
    from genurl_pyg.node.propagation import normalized_adjacency
    torch.set_num_threads(args.threads)
    rows = []
    for name in args.datasets:
        data = load_dataset(name)
        n = data.num_nodes
        g = torch.Generator().manual_seed(0)
        ei = data.edge_index[:, torch.rand(data.edge_index.size(1), generator=g) >= 0.2]
        a, b = coalesced_assembly(ei, n), normalized_adjacency(ei, n)
        if not (torch.equal(a.crow_indices(), b.crow_indices())
                and torch.equal(a.col_indices(), b.col_indices())
                and torch.equal(a.values(), b.values())):
            raise SystemExit(f'{name}: the two assemblies differ')
        before, after = [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            coalesced_assembly(ei, n)
            before.append(time.perf_counter() - t)
            t = time.perf_counter()
            normalized_adjacency(ei, n)
            after.append(time.perf_counter() - t)
        rows.append({'dataset': name, 'nodes': n, 'kept_edges': int(ei.size(1)),
                     'before_ms': 1e3 * statistics.median(before),
                     'after_ms': 1e3 * statistics.median(after)})
        print(rows[-1], flush=True)
    payload = {'benchmark': 'view_graph_speed', 'command': 'python ' + ' '.join(sys.argv),
               'threads': args.threads, 'repeats': args.repeats, 'versions': versions(),
               'conditions': args.conditions, 'results': rows}
    lines = ['# Building a view\'s normalised adjacency: before and after', '',
             f"Command: `{payload['command']}`  ",
             'Versions: ' + ', '.join(f'{k} {v}' for k, v in payload['versions'].items()),
             '', 'Median of the interleaved calls, ms (same dropped-edge graph, outputs '
             'checked equal). Before: COO coalesce then CSR conversion; after: CSR assembled '
             'from the sorted keys.', '',
             '| data set | nodes | kept edges | before ms | after ms | after / before |',
             '|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['nodes']} | {r['kept_edges']} | "
                     f"{r['before_ms']:.1f} | {r['after_ms']:.1f} | "
                     f"{r['after_ms'] / r['before_ms']:.2f} |")
    if args.conditions:
        lines += ['', args.conditions]
    write_results(args.out, payload, '\n'.join(lines) + '\n')


if __name__ == '__main__':
    main()
