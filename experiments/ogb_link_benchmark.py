"""ogbl-ddi: GenURL node embeddings scored by link prediction (OGB's Evaluator, Hits@20).

Trains with the data set's YAML config (`genurl_pyg/configs/ogbl-ddi.yaml`) through the
same job as `genurl-pyg train`, then scores the frozen embeddings with the link probe
(`genurl_pyg.evaluation.link`: an MLP on h_i * h_j, epoch chosen on the validation edges)
and, as a parameter-free reference, the dot product of the standardised embeddings.

Usage:
  python experiments/ogb_link_benchmark.py --seeds 3
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import peak_rss_mb, versions, write_results  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument('--seeds', type=int, default=3)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--out', default='ogb_link_benchmark')
    args = ap.parse_args()
    import numpy as np
    import torch
    from genurl_pyg.datasets import load_dataset
    from genurl_pyg.evaluation.link import link_probe, ogb_link_metric
    from genurl_pyg.node import dataset_defaults
    from genurl_pyg.node.run import train_job
    torch.set_num_threads(args.threads)
    cfg = dataset_defaults('ogbl-ddi')
    with tempfile.TemporaryDirectory() as tmp:
        result = train_job('ogbl-ddi', cfg, args.seeds, Path(tmp), progress=False)
        data = load_dataset('ogbl-ddi')
        metric = ogb_link_metric('ogbl-ddi')
        dots = []
        for seed in result['seeds']:
            h = torch.load(Path(tmp) / 'embeddings' / f'seed{seed}.pt', weights_only=True)
            dots.append(link_probe(h, data.link_train_pos, data.link_val_pos,
                                   data.link_val_neg, data.link_test_pos, data.link_test_neg,
                                   metric=metric, predictor='dot').test)
    hits = result['hits@20']
    payload = {'benchmark': 'ogb_link_benchmark', 'command': 'python ' + ' '.join(sys.argv),
               'versions': versions(), 'threads': args.threads, 'result': result,
               'dot_hits@20': {'mean': float(np.mean(dots)), 'per_seed': dots},
               'peak_rss_mb': peak_rss_mb()}
    md = ['# ogbl-ddi: GenURL embeddings scored by link prediction', '',
          f"Command: `{payload['command']}`  ",
          'Versions: ' + ', '.join(f'{k} {v}' for k, v in payload['versions'].items()) + '  ',
          f'torch threads: {args.threads}. Metric: OGB `Evaluator("ogbl-ddi")`, Hits@20 on '
          'the official test edges; predictor chosen per epoch on the validation edges.', '',
          '| predictor | test Hits@20 (%) | val Hits@20 (%) | seeds | train s/seed |',
          '|---|---|---|---|---|',
          f"| MLP on h_i * h_j | {100 * hits['mean']:.2f} ± {100 * hits['std']:.2f} | "
          f"{100 * result['val_hits@20']['mean']:.2f} | {len(result['seeds'])} | "
          f"{result['seconds_per_seed']['mean']:.0f} |",
          f"| dot product | {100 * np.mean(dots):.2f} ± {100 * np.std(dots):.2f} | | "
          f"{len(dots)} | |", '',
          'The embeddings are self-supervised and frozen; only the small predictor sees the '
          'training edges.']
    write_results(args.out, payload, '\n'.join(md) + '\n')
    print('\n'.join(md))


if __name__ == '__main__':
    main()
