"""How many directions an embedding uses, beside what the node probe reads from it (issue 10).

A linear probe can only separate classes along directions the embedding spreads its nodes
over. For each method (the node benchmark's, through the suite's ``embed_nodes``) and
seed this prints and records, on the probe's standardised-by-training-nodes scale and on
the raw embedding:

* the **effective rank** exp(H(σ² / Σσ²)) of the centred embedding's singular values
  (Roy & Vetterli 2007): d when every direction carries equal variance, 1 when one does;
* the **top-10 share**: the variance fraction in the 10 largest directions;
* the LR probe's validation accuracy (``genurl_pyg.evaluation.linear_probe``; the test
  accuracy is not read).

Cost: one training per (method, seed) plus an O(N · d²) SVD.

Usage:
  python experiments/embedding_rank.py --dataset CiteSeer --methods genurl cca_ssg --seeds 3
  python experiments/embedding_rank.py --dataset Cora --methods genurl --seeds 3 \\
      --set repulsion='"student_t"' decorrelation_probes=0 decorrelation_weight=1.0 \\
      --label genurl-student_t --out embedding_rank_Cora
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import open_state, parse_overrides, write_results  # noqa: E402


def spectrum(h):
    """``(effective rank, top-10 variance share)`` of the centred rows of ``h``."""
    import torch
    h = h.double() - h.double().mean(0)
    s2 = torch.linalg.svdvals(h).pow(2)
    p = s2 / s2.sum()
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum())), float(p[:10].sum())


def measure(dataset: str, method: str, seed: int, params=None, label=None):
    import time
    from genurl_pyg.bench.tasks.graph_methods import embed_nodes
    from genurl_pyg.datasets import get_spec, load_dataset
    from genurl_pyg.evaluation.node import linear_probe, split_for
    data = load_dataset(dataset)
    t = time.perf_counter()
    h = embed_nodes(method, data, dataset, seed, dict(params or {}),
                    float('inf'))[0].detach().float()
    seconds = time.perf_counter() - t
    tr, va, te = split_for(data, get_spec(dataset).protocol, seed)
    std = (h - h[tr].mean(0)) / (h[tr].std(0) + 1e-8)  # the probe's own scaling
    rank, top10 = spectrum(h)
    rank_std, top10_std = spectrum(std)
    probe = linear_probe(h, data.y, tr, va, te)
    return {'dataset': dataset, 'method': label or method, 'seed': seed,
            'params': dict(params or {}), 'dim': int(h.size(1)),
            'effective_rank': rank, 'top10_share': top10,
            'effective_rank_standardised': rank_std, 'top10_share_standardised': top10_std,
            'val_accuracy': probe.val_accuracy, 'seconds': seconds}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--dataset', default='CiteSeer')
    ap.add_argument('--methods', nargs='+', default=['genurl', 'cca_ssg'])
    ap.add_argument('--seeds', type=int, default=3)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--out', default=None, help='results stem (default embedding_rank_DATASET)')
    ap.add_argument('--set', nargs='*', default=[], metavar='KEY=JSON',
                    help="config overrides for every method (GenURL's NodeConfig keys, a "
                         "peer's parameters), e.g. repulsion='\"student_t\"'")
    ap.add_argument('--label', default=None,
                    help='with --set and one method: record its rows under this name')
    args = ap.parse_args()
    params = parse_overrides(args.set, ap.error)
    if args.label and len(args.methods) != 1:
        ap.error('--label names one method\'s rows: give exactly one --methods')
    import torch
    torch.set_num_threads(args.threads)
    stem = args.out or f'embedding_rank_{args.dataset}'
    state = open_state(stem, 'embedding_rank', threads=args.threads, rows=[])
    for seed in range(args.seeds):
        for method in args.methods:
            row = measure(args.dataset, method, seed, params, args.label)
            print(row, file=sys.stderr, flush=True)
            state['rows'] = [r for r in state['rows'] if (r['dataset'], r['method'], r['seed'])
                             != (args.dataset, row['method'], seed)] + [row]
            write_results(stem, state, _markdown(state))


def _markdown(state) -> str:
    import numpy as np
    lines = ['# Effective rank of node embeddings, beside the probe (issue 10)', '',
             'Commands: ' + '; '.join(f'`{c}`' for c in state['commands']) + '  ',
             f"torch threads: {state['threads']}. Effective rank: exp of the entropy of the "
             'centred embedding\'s normalised squared singular values; top-10: their '
             'largest ten\'s share; "std": after the probe\'s standardisation by the '
             'training nodes. Mean over seeds. LR probe: validation accuracy (%).', '',
             '| data set | method | seeds | dim | eff. rank | top-10 | eff. rank (std) | '
             'top-10 (std) | LR val | s/seed |', '|---|---|---|---|---|---|---|---|---|---|']
    keys = sorted({(r['dataset'], r['method']) for r in state['rows']})
    for ds, m in keys:
        rs = [r for r in state['rows'] if (r['dataset'], r['method']) == (ds, m)]

        def mean(k):
            return float(np.mean([r[k] for r in rs]))
        lines.append(f"| {ds} | {m} | {len(rs)} | {rs[0]['dim']} | "
                     f"{mean('effective_rank'):.1f} | {mean('top10_share'):.2f} | "
                     f"{mean('effective_rank_standardised'):.1f} | "
                     f"{mean('top10_share_standardised'):.2f} | "
                     f"{100 * mean('val_accuracy'):.2f} | {mean('seconds'):.0f} |")
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    main()
