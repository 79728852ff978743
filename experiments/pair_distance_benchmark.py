"""Before/after benchmark of the fused pair distances (genurl_pyg.nn.pair_distance).

"Before" is the plain autograd expression ``(z[i] - z[j]).pow(2).sum(-1)`` that the sampled
GenURL loss used until this change; "after" is :func:`pair_sqdist`, which walks the pairs in
cache-sized chunks and recomputes them in the backward pass. Two measurements:

  kernel   forward + backward of the distances alone, for (rows, width, pairs) shapes of the
           node benchmark's graphs (Cora, Computers, CS with two views, 120k sampled pairs)
           and of the 2-D dimension reduction (where the plain expression is kept);
  epoch    one full training epoch of fit_node_embeddings with each data set's YAML config
           (median of --epochs epochs after two warm-up epochs), once with the plain
           expression forced (MIN_FUSED_DIM raised above every width) and once as shipped.

Both run in this process with --threads torch threads (pin the process, e.g. `taskset -c 0`,
on a shared machine). Writes experiments/results/pair_distance_benchmark.{json,md}.

Usage:
  python experiments/pair_distance_benchmark.py --threads 1
  python experiments/pair_distance_benchmark.py --datasets Cora --epochs 5
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Dict, List

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import median_seconds, versions, write_results  # noqa: E402

from genurl_pyg.nn import pair_distance  # noqa: E402

# (label, rows of z, width, pairs): 2N stacked views and the node configs' 20k + 100k pairs.
KERNEL_SHAPES = [('Cora', 5416, 128, 120_000), ('Computers', 27_504, 128, 120_000),
                 ('CS', 36_666, 128, 120_000), ('width 512', 20_000, 512, 120_000),
                 ('2-D reduction', 70_000, 2, 200_000)]


class plain_expression:
    """Context manager: every width below the threshold, i.e. the pre-change code path."""

    def __enter__(self):
        self.saved = pair_distance.MIN_FUSED_DIM
        pair_distance.MIN_FUSED_DIM = sys.maxsize

    def __exit__(self, *exc):
        pair_distance.MIN_FUSED_DIM = self.saved


def kernel_rows(repeats: int) -> List[Dict]:
    rows = []
    for label, n, d, m in KERNEL_SHAPES:
        g = torch.Generator().manual_seed(0)
        z = torch.randn(n, d, generator=g, requires_grad=True)
        i = torch.randint(0, n, (m,), generator=g)
        j = torch.randint(0, n, (m,), generator=g)
        w = torch.rand(m, generator=g)

        def step():
            z.grad = None
            (pair_distance.pair_sqdist(z, i, j) * w).sum().backward()

        with plain_expression():
            before = median_seconds(step, repeats)
        after = median_seconds(step, repeats)
        rows.append({'shape': label, 'rows': n, 'width': d, 'pairs': m,
                     'before_ms': 1000 * before, 'after_ms': 1000 * after})
        print(f'[kernel] {label}: {1000 * before:.1f} -> {1000 * after:.1f} ms', flush=True)
    return rows


def epoch_rows(datasets: List[str], epochs: int) -> List[Dict]:
    from genurl_pyg.datasets import load_dataset
    from genurl_pyg.node.config import dataset_defaults
    from genurl_pyg.node.trainer import NodeEmbeddingTrainer

    rows = []
    for name in datasets:
        data = load_dataset(name)
        result = {'dataset': name}
        for key, ctx in (('before_s', plain_expression), ('after_s', contextlib.nullcontext)):
            with ctx():
                trainer = NodeEmbeddingTrainer(data, dataset_defaults(name))
                result[key] = median_seconds(trainer.run_epoch, epochs)
        result['path'] = trainer.path
        rows.append(result)
        print(f"[epoch] {name}: {result['before_s']:.3f} -> {result['after_s']:.3f} s",
              flush=True)
    return rows


def markdown(payload: Dict) -> str:
    lines = ['# Fused pair distances: before / after', '',
             f"Command: `{payload['command']}`. One process, {payload['threads']} torch "
             "thread(s); medians. Before: `(z[i] - z[j]).pow(2).sum(-1)` under autograd; "
             'after: `genurl_pyg.nn.pair_distance.pair_sqdist` (chunked, recomputed in the '
             'backward pass; the plain expression is kept below width '
             f"{payload['min_fused_dim']}).", '',
             '| pairs of | rows | width | pairs | before ms | after ms | speed-up |',
             '|---|---|---|---|---|---|---|']
    for r in payload['kernel']:
        lines.append(f"| {r['shape']} | {r['rows']:,} | {r['width']} | {r['pairs']:,} | "
                     f"{r['before_ms']:.1f} | {r['after_ms']:.1f} | "
                     f"{r['before_ms'] / r['after_ms']:.1f}x |")
    if payload['epoch']:
        lines += ['', '| data set (YAML config) | training path | epoch before s | '
                  'epoch after s | speed-up |', '|---|---|---|---|---|']
        for r in payload['epoch']:
            lines.append(f"| {r['dataset']} | {r['path']} | {r['before_s']:.3f} | "
                         f"{r['after_s']:.3f} | {r['before_s'] / r['after_s']:.2f}x |")
    return '\n'.join(lines) + '\n'


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--datasets', nargs='*', default=['Cora', 'Computers'],
                    help='data sets for the epoch measurement (none: kernel only)')
    ap.add_argument('--epochs', type=int, default=10, help='timed epochs per setting')
    ap.add_argument('--repeats', type=int, default=10, help='timed kernel calls per shape')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--out', default='pair_distance_benchmark')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    payload = {'command': 'python ' + ' '.join(sys.argv), 'threads': args.threads,
               'min_fused_dim': pair_distance.MIN_FUSED_DIM, 'versions': versions(),
               'kernel': kernel_rows(args.repeats),
               'epoch': epoch_rows(args.datasets, args.epochs)}
    write_results(args.out, payload, markdown(payload))


if __name__ == '__main__':
    main()
