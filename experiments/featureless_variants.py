"""Featureless GenURL variants on a link-prediction split, chosen on validation (issue 18).

Per (variant, seed): train on the training graph only (an OGB split, or the link task's
RandomLinkSplit), then score the frozen embeddings with the Hadamard-MLP probe (epoch
chosen by validation Hits@20) and the dot product: validation Hits@20 and AUC only. The
test edges are not read here (the probe scores them internally; nothing is recorded): the
chosen variant's test numbers come from the benchmark suite's link task, once.
Variants are NodeConfig overrides on top of the data set's shipped config when it has no
features (ogbl-ddi), else of the defaults (the bench's ``genurl-featureless``), run without
node features (``x`` removed); ``node2vec`` is the pure-torch peer (``--n2v-epochs``).

One MLP probe per row: its epoch is chosen by validation Hits@20 and the AUC is read at
that epoch (before session 26 a second probe chose its own epoch by AUC). ``--probe ogb``
is OGB's ddi link predictor (:data:`genurl_pyg.evaluation.link.OGB_DDI_PROBE`: 3 layers,
dropout 0.5, lr 0.01, 200 epochs of 65,536 edges, negatives off the graph), the probe of
the leaderboard's node2vec row; ``default`` is the short one (2 layers, lr 1e-3, 20 epochs
of 8,192 edges). ``--embeddings-dir`` keeps each trained embedding
(``{dataset}_{variant}_s{seed}.pt``) and reuses it when present, so that probes can be
compared on the same embeddings without training again.

Usage:
  python experiments/featureless_variants.py --dataset ogbl-ddi --seeds 1 \\
      --variant embedding '{"encoder": "embedding", "views": false}' --out fl_ddi
  python experiments/featureless_variants.py --dataset ogbl-ddi --probe ogb \\
      --embeddings-dir /tmp/emb --n2v-epochs 100 --variant node2vec '{}' --out fl_ddi_ogb
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import open_state, peak_rss_mb, write_results  # noqa: E402

from genurl_pyg.evaluation.link import LINK_PROBES  # noqa: E402  (argparse choices)


def probe_settings(probe: str, epochs=None, batch=None) -> dict:
    """The MLP probe's ``link_probe`` arguments for ``--probe`` (epochs / batch override)."""
    from genurl_pyg.evaluation.link import probe_kwargs
    return probe_kwargs(probe, dict(epochs=20, batch_size=8192), epochs, batch, what='--probe')


def _train(dataset, name, data, train, seed, overrides, n2v_epochs):
    """``(embeddings, seconds)`` of one variant trained on the training graph ``train``."""
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
    return h, time.perf_counter() - t


def run_variant(dataset, name, overrides, seed, probe_kw, n2v_epochs, embeddings_dir=None):
    from genurl_pyg.bench.tasks.link import split_edges
    from genurl_pyg.datasets import load_dataset
    from genurl_pyg.evaluation.link import auc_score, hits_metric, link_probe
    import torch
    data = load_dataset(dataset)
    split, protocol = split_edges(data, seed)
    train = split.train_data.clone()
    del train.x  # featureless: the method sees the training graph's structure only
    cached = Path(embeddings_dir) / f'{dataset}_{name}_s{seed}.pt' if embeddings_dir else None
    # What the embedding depends on besides data set, variant name and seed.
    made_by = {'overrides': overrides,
               'n2v_epochs': n2v_epochs if name.startswith('node2vec') else None}
    if cached is not None and cached.is_file():
        blob = torch.load(cached)
        if blob['made_by'] != made_by:
            raise ValueError(f'{cached} was trained with {blob["made_by"]}, not {made_by}; '
                             'use another variant name or --embeddings-dir')
        h, seconds = blob['embeddings'], blob['seconds']
    else:
        h, seconds = _train(dataset, name, data, train, seed, overrides, n2v_epochs)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            torch.save({'embeddings': h, 'seconds': seconds, 'made_by': made_by}, cached)

    hits20 = hits_metric(20)
    pairs = (split.train_pos, split.val_pos, split.val_neg, split.test_pos, split.test_neg)
    row = {'dataset': dataset, 'variant': name, 'overrides': overrides, 'seed': seed,
           'protocol': protocol, 'seconds': seconds, 'probe': probe_kw}
    t = time.perf_counter()
    for pred in ('mlp', 'dot'):
        kw = probe_kw if pred == 'mlp' else {}
        r = link_probe(h, *pairs, metric=hits20, predictor=pred, seed=seed,
                       also={'auc': auc_score}, **kw)
        row.update({f'{pred}_val_hits20': r.val, f'{pred}_val_auc': r.also_val['auc'],
                    f'{pred}_epoch': r.epoch})
        if pred == 'mlp':
            row['mlp_val_hits20_curve'] = r.curve
    row['probe_seconds'] = time.perf_counter() - t
    row['peak_rss_mb'] = peak_rss_mb()
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--dataset', default='ogbl-ddi')
    ap.add_argument('--variant', nargs=2, action='append', metavar=('NAME', 'JSON'),
                    required=True)
    ap.add_argument('--seeds', type=int, default=1)
    ap.add_argument('--probe', choices=LINK_PROBES, default='default',
                    help="the MLP probe: 'default' (short) or 'ogb' (OGB's ddi predictor)")
    ap.add_argument('--probe-epochs', type=int, default=None,
                    help='override the probe\'s epochs (default: 20; ogb: 200)')
    ap.add_argument('--probe-batch', type=int, default=None,
                    help='override the probe\'s batch (default: 8192; ogb: 65536)')
    ap.add_argument('--n2v-epochs', type=int, default=5)
    ap.add_argument('--embeddings-dir', default=None,
                    help='keep each trained embedding here and reuse it when present')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--out', default='featureless_variants')
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    state = open_state(args.out, 'featureless_variants', threads=args.threads, rows=[])
    probe_kw = probe_settings(args.probe, args.probe_epochs, args.probe_batch)
    for seed in range(args.seeds):
        for name, js in args.variant:
            row = run_variant(args.dataset, name, json.loads(js), seed, probe_kw,
                              args.n2v_epochs, args.embeddings_dir)
            print(json.dumps(row), flush=True)
            state['rows'] = [r for r in state['rows'] if (r['dataset'], r['variant'], r['seed'])
                             != (row['dataset'], row['variant'], row['seed'])] + [row]
            write_results(args.out, state, _markdown(state))


def _markdown(state) -> str:
    lines = ['# Featureless variants, chosen on validation (issue 18)', '',
             'Commands: ' + '; '.join(f'`{c}`' for c in state['commands']) + '  ',
             f"torch threads: {state['threads']}. Hits@20 and AUC in %; MLP: the Hadamard "
             'probe (its epoch chosen on validation); dot: the standardised dot product. '
             'Validation edges only: the test edges are scored once, by the suite. '
             'probe: the MLP probe\'s settings (rows without it: 2 layers, lr 1e-3, '
             'the epochs and batch of their command, and a second probe for the AUC).', '',
             '| data set | variant | seed | probe | MLP val H@20 (epoch) | MLP val AUC | '
             'dot val H@20 | dot val AUC | train s | probe s | overrides |',
             '|---|---|---|---|---|---|---|---|---|---|---|']
    for r in state['rows']:
        probe = r.get('probe')
        probe_txt = ('' if probe is None else ', '.join(
            f'{k} {v}' for k, v in probe.items() if k in ('layers', 'dropout', 'lr', 'epochs',
                                                       'batch_size', 'exclude_train')))
        probe_s = f"{r['probe_seconds']:.0f}" if 'probe_seconds' in r else ''
        lines.append(f"| {r['dataset']} | {r['variant']} | {r['seed']} | {probe_txt} | "
                     f"{100 * r['mlp_val_hits20']:.2f} ({r.get('mlp_epoch', '')}) | "
                     f"{100 * r['mlp_val_auc']:.2f} | "
                     f"{100 * r['dot_val_hits20']:.2f} | {100 * r['dot_val_auc']:.2f} | "
                     f"{r['seconds']:.0f} | {probe_s} | `{json.dumps(r['overrides'])}` |")
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    main()
