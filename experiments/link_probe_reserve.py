"""Does the link cell's scoring reserve cover its MLP probe? (issue 18)

A suite link cell stops a budget-cut peer's training early enough for the probe that
follows it (``genurl_pyg.bench.tasks.link.scoring_reserve``): before training it times a few
of the probe's steps on random inputs at the zoo's widest embedding (512) and extrapolates
(``genurl_pyg.evaluation.link.link_probe_seconds``). This script checks the extrapolation
against the probe itself, in this process with ``--threads`` torch threads (pin it, e.g.
``taskset -c 0``): for each graph, the split of seed 0 (``RandomLinkSplit``, 85/5/10), the
estimate, the probe's measured time on random ``[N, 512]`` embeddings (the default probe:
50 epochs of batches of 1,024 edges, its epoch chosen on validation AUC), and the reserve
the cell would leave (``RESERVE_SAFETY`` times the estimate plus ``RESERVE_FIXED_S``).
The estimate counts the test pairs as scored every epoch (the probe scores them only when
validation improves) but extrapolates three steps to thousands, so it is not a bound; the
reserve, with its margin, must exceed the probe.
Writes experiments/results/link_probe_reserve.{json,md}.

Usage:
  taskset -c 0 python experiments/link_probe_reserve.py --threads 1
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Dict, List

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import versions, write_results  # noqa: E402

from genurl_pyg.bench.tasks.link import (RESERVE_FIXED_S, RESERVE_SAFETY,  # noqa: E402
                                         RESERVE_WIDTH, scoring_reserve, split_edges)
from genurl_pyg.evaluation.link import (auc_score, hits_metric, link_probe,  # noqa: E402
                                        link_probe_seconds)

PROBE = dict(epochs=50, batch_size=1024)  # the link task's default probe


def measure(name: str) -> Dict:
    from genurl_pyg.datasets import load_dataset
    data = load_dataset(name)
    split, protocol = split_edges(data, 0)
    pairs = (split.train_pos, split.val_pos, split.val_neg, split.test_pos, split.test_neg)
    scored = sum(int(p.size(0)) for p in pairs[1:])
    start = time.perf_counter()
    estimate = link_probe_seconds(data.num_nodes, int(pairs[0].size(0)), scored,
                                  RESERVE_WIDTH, **PROBE)
    estimate_cost = time.perf_counter() - start
    h = torch.randn(data.num_nodes, RESERVE_WIDTH, generator=torch.Generator().manual_seed(0))
    start = time.perf_counter()
    link_probe(h, *pairs, metric=auc_score, predictor='mlp', seed=0,
               also={'hits@20': hits_metric(20)}, **PROBE)
    probe_s = time.perf_counter() - start
    row = {'dataset': name, 'protocol': protocol, 'nodes': int(data.num_nodes),
           'train_edges': int(pairs[0].size(0)), 'scored_pairs': scored,
           'estimate_s': estimate, 'estimate_cost_s': estimate_cost, 'probe_s': probe_s,
           'reserve_s': scoring_reserve(data.num_nodes, pairs, PROBE)}
    row['probe_over_estimate'] = probe_s / estimate
    print(f"{name}: estimate {estimate:.1f} s (in {estimate_cost:.2f} s), probe {probe_s:.1f} "
          f"s, reserve {row['reserve_s']:.1f} s", file=sys.stderr)
    return row


def markdown(rows: List[Dict], args: argparse.Namespace, ver: Dict[str, str]) -> str:
    lines = ['# The link cell\'s scoring reserve against its probe', '',
             f'Command: `python experiments/link_probe_reserve.py --threads {args.threads}`', '',
             'Versions: ' + ', '.join(f'{k} {v}' for k, v in ver.items()), '',
             f'Seed 0\'s split; random embeddings of width {RESERVE_WIDTH}; the default probe '
             f'({PROBE["epochs"]} epochs, batches of {PROBE["batch_size"]}). Estimate: '
             '`link_probe_seconds` (a warm-up and three timed steps, extrapolated); reserve: '
             f'{RESERVE_SAFETY} x estimate + {RESERVE_FIXED_S:.0f} s, what a link cell leaves '
             'after a budget-cut training.', '',
             '| graph | nodes | training edges | scored pairs | estimate s (its cost) '
             '| probe s | probe / estimate | reserve s |', '|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['nodes']} | {r['train_edges']} | "
                     f"{r['scored_pairs']} | {r['estimate_s']:.1f} ({r['estimate_cost_s']:.2f})"
                     f" | {r['probe_s']:.1f} | {r['probe_over_estimate']:.2f} | "
                     f"{r['reserve_s']:.1f} |")
    if args.notes:
        lines += ['', Path(args.notes).read_text().strip()]
    return '\n'.join(lines) + '\n'


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--datasets', nargs='+', default=['Cora', 'CiteSeer', 'Photo'])
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--notes', default=None, help='a Markdown file appended (run conditions)')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ver = versions()
    rows = [measure(name) for name in args.datasets]
    write_results('link_probe_reserve', {'command': 'python ' + ' '.join(sys.argv),
                                         'versions': ver, 'rows': rows},
                  markdown(rows, args, ver))


if __name__ == '__main__':
    main()
