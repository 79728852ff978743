"""Featureless GenURL variants on a link-prediction split, chosen on validation (issue 18).

Per (variant, seed): train on the training graph only (an OGB split, or the link task's
RandomLinkSplit), then score the frozen embeddings with the Hadamard-MLP probe (epoch
chosen by validation Hits@20) and the dot product: validation Hits@20 and AUC only. The
test edges are not read here (the probe scores them internally; nothing is recorded): the
chosen variant's test numbers come from the benchmark suite's link task, once.
Variants are NodeConfig overrides on top of the data set's shipped config when it has no
features (ogbl-ddi), else of the defaults (the bench's ``genurl-featureless``), run without
node features (``x`` removed); ``node2vec`` is the pure-torch peer (``--n2v-epochs``).

Usage:
  python experiments/featureless_variants.py --dataset ogbl-ddi --seeds 1 \\
      --variant embedding '{"encoder": "embedding", "views": false}' --out fl_ddi
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import RESULTS, peak_rss_mb, versions, write_results  # noqa: E402


def run_variant(dataset, name, overrides, seed, probe_epochs, probe_batch, n2v_epochs):
    from genurl_pyg.bench.tasks.link import split_edges
    from genurl_pyg.datasets import load_dataset
    from genurl_pyg.evaluation.link import auc_score, hits_at_k, link_probe
    data = load_dataset(dataset)
    split, protocol = split_edges(data, seed)
    train = split.train_data.clone()
    del train.x  # featureless: the method sees the training graph's structure only
    t = time.perf_counter()
    if name.startswith('node2vec'):
        from genurl_pyg.bench.peers import get_peer, params_for
        params = {**params_for('node2vec', dataset), 'epochs': n2v_epochs, **overrides}
        h = get_peer('node2vec').embed(train, params, seed)
    else:
        from genurl_pyg.bench.tasks.graph_methods import embed_nodes
        from genurl_pyg.node.trainer import is_featureless
        # The suite's methods: a featureless data set's shipped config is for it ('genurl');
        # elsewhere the configs were tuned with features ('genurl-featureless': defaults).
        method = 'genurl' if is_featureless(data) else 'genurl-featureless'
        h = embed_nodes(method, train, dataset, seed, overrides, float('inf'))[0]
    seconds = time.perf_counter() - t

    def hits20(p, n):
        return hits_at_k(p, n, 20)
    pairs = (split.train_pos, split.val_pos, split.val_neg, split.test_pos, split.test_neg)
    row = {'dataset': dataset, 'variant': name, 'overrides': overrides, 'seed': seed,
           'protocol': protocol, 'seconds': seconds}
    for pred in ('mlp', 'dot'):
        kw = dict(epochs=probe_epochs, batch_size=probe_batch) if pred == 'mlp' else {}
        hits = link_probe(h, *pairs, metric=hits20, predictor=pred, seed=seed, **kw)
        auc = link_probe(h, *pairs, metric=auc_score, predictor=pred, seed=seed, **kw)
        row.update({f'{pred}_val_hits20': hits.val, f'{pred}_val_auc': auc.val,
                    f'{pred}_epoch': hits.epoch})
    row['peak_rss_mb'] = peak_rss_mb()
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--dataset', default='ogbl-ddi')
    ap.add_argument('--variant', nargs=2, action='append', metavar=('NAME', 'JSON'),
                    required=True)
    ap.add_argument('--seeds', type=int, default=1)
    ap.add_argument('--probe-epochs', type=int, default=20)
    ap.add_argument('--probe-batch', type=int, default=8192)
    ap.add_argument('--n2v-epochs', type=int, default=5)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--out', default='featureless_variants')
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    path = RESULTS / f'{args.out}.json'
    state = json.loads(path.read_text()) if path.exists() else {
        'benchmark': 'featureless_variants', 'commands': [], 'versions': versions(),
        'threads': args.threads, 'rows': []}
    command = 'python ' + ' '.join(sys.argv)
    if command not in state['commands']:
        state['commands'].append(command)
    for seed in range(args.seeds):
        for name, js in args.variant:
            row = run_variant(args.dataset, name, json.loads(js), seed, args.probe_epochs,
                              args.probe_batch, args.n2v_epochs)
            print(json.dumps(row), flush=True)
            state['rows'] = [r for r in state['rows'] if (r['dataset'], r['variant'], r['seed'])
                             != (row['dataset'], row['variant'], row['seed'])] + [row]
            write_results(args.out, state, _markdown(state))


def _markdown(state) -> str:
    lines = ['# Featureless variants, chosen on validation (issue 18)', '',
             'Commands: ' + '; '.join(f'`{c}`' for c in state['commands']) + '  ',
             f"torch threads: {state['threads']}. Hits@20 and AUC in %; MLP: the Hadamard "
             'probe (its epoch chosen on validation); dot: the standardised dot product. '
             'Validation edges only: the test edges are scored once, by the suite.', '',
             '| data set | variant | seed | MLP val H@20 | MLP val AUC | dot val H@20 | '
             'dot val AUC | train s | overrides |',
             '|---|---|---|---|---|---|---|---|---|']
    for r in state['rows']:
        lines.append(f"| {r['dataset']} | {r['variant']} | {r['seed']} | "
                     f"{100 * r['mlp_val_hits20']:.2f} | {100 * r['mlp_val_auc']:.2f} | "
                     f"{100 * r['dot_val_hits20']:.2f} | {100 * r['dot_val_auc']:.2f} | "
                     f"{r['seconds']:.0f} | `{json.dumps(r['overrides'])}` |")
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    main()
