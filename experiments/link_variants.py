"""GenURL configs for link prediction, chosen on the validation edges (issue 18).

Each variant (NodeConfig overrides over the data set's shipped node config) runs the full
suite's link cell (``genurl_pyg.bench.tasks.link.run``: the same ``RandomLinkSplit`` per
seed, the training graph only, the Hadamard MLP probe with its epoch chosen on the
validation edges) on every seed; the record keeps the **validation** AUC and Hits@20 only.
The test edges' scores are dropped unless the variant is named in ``--read-test`` (read
once, for the variant chosen on validation), so a choice here cannot see them.

Writes ``experiments/results/<out>.{json,md}`` after every variant: per variant the mean
validation AUC and the paired difference to the first variant over seeds.

Usage::

    python experiments/link_variants.py --dataset Cora --seeds 0 1 2 3 4 \\
        --variant base= --variant "decor=repulsion=decorrelation" --out link_variants_cora
    python experiments/link_variants.py --dataset Cora --seeds 0 1 2 3 4 \\
        --variant "decor=repulsion=decorrelation" --read-test decor --out link_test_cora
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import versions, write_results  # noqa: E402
from kd_inductive_variants import parse_variants  # noqa: E402
from paired_nodes import _se  # noqa: E402  (the paired comparisons' SE of a mean)


def run_variant(dataset: str, seeds, over: dict, read_test: bool) -> list:
    from genurl_pyg.bench.schema import CellSpec
    from genurl_pyg.bench.tasks import CellContext
    from genurl_pyg.bench.tasks.link import run
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            cell = CellSpec('link', dataset, 'genurl', seed, float('inf'), dict(over))
            t0 = time.perf_counter()
            out = run(cell, CellContext(Path(tmp), Path(tmp)))
            row = {'seed': seed, 'val_auc': out['extra']['val_auc'],
                   'val_hits@20': out['extra']['val_hits@20'],
                   'probe_epoch': out['extra']['probe_epoch'],
                   'seconds': time.perf_counter() - t0}
            if read_test:
                row.update({f'test_{k}': v for k, v in out['metrics'].items()})
            rows.append(row)
            print(f"[link_variants] {dataset} seed {seed}: val AUC {100 * row['val_auc']:.2f}"
                  + (f", test AUC {100 * row['test_auc']:.2f}" if read_test else '')
                  + f" ({row['seconds']:.0f} s)", file=sys.stderr, flush=True)
    return rows


def markdown(payload) -> str:
    names = [n for n, _ in payload['variants'] if n in payload['rows']]
    first = payload['rows'][names[0]]
    lines = [f"# GenURL link-prediction variants on {payload['dataset']}, validation edges "
             '(issue 18)', '', f"Command: `{payload['command']}`  ",
             *( [f"Conditions: {payload['conditions']}  "] if payload['conditions'] else []),
             'Each variant: NodeConfig overrides over the shipped node config, run through the '
             "full suite's link cell (RandomLinkSplit 85/5/10 per seed, Hadamard MLP probe, "
             'epoch chosen on the validation edges). Test edges read only for the variants '
             'named in `--read-test`.', '',
             '| variant | overrides | val AUC | vs ' + names[0] + ' (paired, ± SE) | '
             'val Hits@20 | test AUC | s per seed |', '|---|---|---|---|---|---|---|']
    for n in names:
        rows = payload['rows'][n]
        over = dict(payload['variants'])[n]
        va = [100 * r['val_auc'] for r in rows]
        d = np.array([100 * (r['val_auc'] - f['val_auc']) for r, f in zip(rows, first)])
        test = (f"{sum(100 * r['test_auc'] for r in rows) / len(rows):.2f}"
                if 'test_auc' in rows[0] else '')
        lines.append(f"| {n} | `{over or 'shipped'}` | {sum(va) / len(va):.2f} | "
                     + ('' if n == names[0] else f"{d.mean():+.2f} ± {_se(d):.2f}")
                     + f" | {sum(100 * r['val_hits@20'] for r in rows) / len(rows):.2f} | "
                     f"{test} | {sum(r['seconds'] for r in rows) / len(rows):.0f} |")
    return '\n'.join(lines) + '\n'


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--dataset', default='Cora')
    ap.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument('--variant', action='append', default=[], metavar='NAME=K=V,...')
    ap.add_argument('--read-test', nargs='*', default=[], metavar='NAME',
                    help='variants whose test edges are scored (once, after the choice)')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--out', required=True)
    ap.add_argument('--conditions', default='')
    args = ap.parse_args(argv)
    try:
        variants = parse_variants(args.variant)
    except ValueError as e:
        ap.error(str(e))
    names = [n for n, _ in variants]
    unknown = set(args.read_test) - set(names)
    if unknown:
        ap.error(f'--read-test names no variant: {sorted(unknown)}')
    import torch
    torch.set_num_threads(args.threads)
    payload = {'dataset': args.dataset, 'seeds': args.seeds, 'variants': variants,
               'read_test': args.read_test, 'threads': args.threads,
               'command': 'python ' + ' '.join(['experiments/link_variants.py',
                                                *(argv if argv is not None else sys.argv[1:])]),
               'conditions': args.conditions, 'versions': versions(), 'rows': {}}
    for name, over in variants:
        payload['rows'][name] = run_variant(args.dataset, args.seeds, over,
                                            name in args.read_test)
        write_results(args.out, payload, markdown(payload))


if __name__ == '__main__':
    main()
