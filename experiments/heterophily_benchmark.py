"""Heterophily benchmark (issue 13): does the graph ever make GenURL worse than the features?

Methods, all scored by the project's probe (logistic regression on standardised frozen
embeddings, C chosen on the validation nodes; ROC-AUC for Minesweeper and Tolokers):

* ``genurl``: what ``genurl-pyg train --dataset X`` runs (the shipped per-data-set YAML where
  there is one, else the package defaults: ``encoder: auto``, ``lam: auto``);
* ``genurl-nograph``: the same with ``use_graph: false`` and ``encoder: mlp`` (no graph
  anywhere: P from the features, an MLP encoder);
* ``raw``: the probe on the raw features;
* ``dgi`` (PyG's DeepGraphInfomax) and ``cca_ssg`` (the best peer of the node benchmark's
  zoo), from ``genurl_pyg.bench.peers`` with their published (or default) hyper-parameters.

Data: the synthetic sweep ``syn-<base>-h<h>`` (Cora's or CiteSeer's features and labels,
random edges of edge homophily h, random 50/25/25 splits), the heterophilous graphs
(Minesweeper, Tolokers: their official splits 0..seeds-1), facebook100 (LINKX: random
50/25/25 splits of the labelled nodes), and homophilous graphs with their real edges.

Every (data set, method, seed) result is appended to ``--out``'s JSON as soon as it exists,
so an interrupted run keeps what it finished and ``--resume`` skips it. ``--report`` merges
one or more JSON files into ``experiments/results/heterophily_benchmark.{json,md,png}``.

Example (what produced the committed tables; one process per core)::

    taskset -c 0 python experiments/heterophily_benchmark.py --sweep cora --seeds 5 \\
        --methods genurl genurl-nograph raw --threads 1 --out results/het2_sweep_cora.json
    python experiments/heterophily_benchmark.py --report results/het_prior.json \\
        results/het2_*.json --notes results/heterophily_benchmark_notes.md
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import RESULTS, versions, write_results  # noqa: E402

METHODS = ('genurl', 'genurl-nograph', 'raw', 'dgi', 'cca_ssg', 'genurl-sage', 'genurl-gcn',
           'genurl-ego-gcn')
# genurl-sage / genurl-gcn: the defaults with the encoder forced, to measure the choice that
# 'encoder: auto' makes from the graph trust (not in the default method list).
DEFAULT_METHODS = METHODS[:5]
SWEEP_H = tuple(round(0.1 * i, 1) for i in range(11))
REAL_HETEROPHILOUS = ('Minesweeper', 'Tolokers', 'reed98', 'amherst41', 'johnshopkins55',
                      'cornell5')
HOMOPHILOUS = ('Cora', 'CiteSeer', 'Photo')
TARGET_METHODS = ('genurl-nograph', 'raw')  # genurl must be >= both (issue 13's targets)


EDGE_FREE = ('raw', 'genurl-nograph')


def sweep_base(name: str):
    """``'cora'`` for ``'syn-cora-h0.3'`` (any seed suffix), None for other data sets."""
    from genurl_pyg.datasets.synthetic import parse_synthetic_name
    parsed = parse_synthetic_name(name)
    return None if parsed is None else parsed[0]


def sweep_names(base: str, hs=SWEEP_H) -> List[str]:
    return [f'syn-{base}-h{h:g}' for h in hs]


def run_one(dataset: str, method: str, seed: int, data, spec) -> Dict:
    from genurl_pyg.evaluation import linear_probe, split_for
    from genurl_pyg.node import NodeEmbeddingTrainer, dataset_defaults
    from genurl_pyg.bench.peers import get_peer, params_for
    t = time.perf_counter()
    extra: Dict = {}
    if method == 'raw':
        h = data.x.float()
    elif method.startswith('genurl'):
        cfg = dataset_defaults(spec.name)  # no shipped YAML: the package defaults
        changes = {'seed': seed}
        if method == 'genurl-nograph':
            changes.update(use_graph=False, encoder='mlp')
        elif method in ('genurl-sage', 'genurl-gcn', 'genurl-ego-gcn'):
            changes.update(encoder=method[len('genurl-'):])
        trainer = NodeEmbeddingTrainer(data, cfg.__class__.from_dict(changes, base=cfg))
        h = trainer.fit()
        extra = {'encoder': trainer.encoder_name, 'lambda': trainer.sim.lam,
                 'trust': trainer.graph_trust, 'information': trainer.graph_information,
                 'closure': trainer.graph_closure, 'graph_noise': trainer.graph_noise}
    else:
        h = get_peer(method).embed(data, params_for(method, spec.name), seed)
    seconds = time.perf_counter() - t
    masks = split_for(data, spec.protocol, seed)
    p = linear_probe(h, data.y, *masks, metric=spec.metric)
    return {'dataset': spec.name, 'method': method, 'seed': seed, 'metric': spec.metric,
            'test': p.test_accuracy, 'val': p.val_accuracy, 'seconds': seconds, **extra}


def graph_stats(data, spec) -> Dict:
    from torch_geometric.utils import homophily
    from genurl_pyg.structure import (graph_feature_agreement, graph_feature_information,
                                      triangle_closure_ratio)
    y, ei = data.y.view(-1), data.edge_index
    keep = (y[ei[0]] >= 0) & (y[ei[1]] >= 0)
    return {'nodes': data.num_nodes, 'edges': int(ei.size(1)),
            'edge_homophily': float(homophily(ei[:, keep], y, method='edge')),
            'trust': graph_feature_agreement(data.x.float(), ei, metric='cosine'),
            'information': graph_feature_information(data.x.float(), ei),
            'closure': triangle_closure_ratio(ei, data.num_nodes),
            'protocol': spec.protocol, 'metric': spec.metric}


def run(args) -> None:
    import torch
    from genurl_pyg.datasets import get_spec, load_dataset
    from genurl_pyg.utils.io import atomic_write_text
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    state = json.loads(out.read_text()) if args.resume and out.exists() else {
        'command': ' '.join(sys.argv), 'versions': versions(), 'threads': args.threads,
        'graphs': {}, 'rows': []}
    if args.resume and out.exists():  # the table names every command that wrote rows
        state.setdefault('resumed_with', []).append(' '.join(sys.argv))
    done = {(r['dataset'], r['method'], r['seed']) for r in state['rows']}
    for path in args.skip_from:  # rows that another file already holds (more seeds later)
        done |= {(r['dataset'], r['method'], r['seed'])
                 for r in json.loads(Path(path).read_text())['rows']}
    # raw and genurl-nograph never read the edges (tests/node/test_heterophily.py checks
    # it), so on the sweep they are run once per base and seed and their row is reused for
    # every h (marked 'shared_from').
    shared: Dict = {}  # (sweep base, method, seed) -> the row of the run that happened
    for r in state['rows']:
        base = sweep_base(r['dataset']) if r['method'] in EDGE_FREE else None
        if base:
            shared.setdefault((base, r['method'], r['seed']), r)
    names = list(args.datasets)
    for base in args.sweep:
        names += sweep_names(base, args.hs)
    for name in names:
        spec = get_spec(name)
        data = load_dataset(name)
        if spec.name not in state['graphs']:
            state['graphs'][spec.name] = graph_stats(data, spec)
            atomic_write_text(out, json.dumps(state, indent=1))  # also with no methods
        for method in args.methods:
            for seed in range(args.seeds):
                if (spec.name, method, seed) in done:
                    continue
                base = sweep_base(spec.name) if method in EDGE_FREE else None
                source = shared.get((base, method, seed)) if base else None
                if source is not None:
                    row = dict(source, dataset=spec.name,
                               shared_from=source.get('shared_from', source['dataset']))
                else:
                    row = run_one(name, method, seed, data, spec)
                    if base:
                        shared[(base, method, seed)] = row
                state['rows'].append(row)
                print(json.dumps(row), flush=True)
                atomic_write_text(out, json.dumps(state, indent=1))


def _mean_std(values):
    import numpy as np
    return float(np.mean(values)), float(np.std(values))


def summarise(states: List[Dict]) -> Dict:
    """One cell per (data set, method): mean and std over the seeds. A (data set, method,
    seed) row found in several files is taken from the last file given."""
    graphs: Dict = {}
    latest: Dict = {}
    for st in states:
        for name, g in st['graphs'].items():  # a later file's statistics add to an earlier's
            graphs[name] = {**graphs.get(name, {}), **g}
        for r in st['rows']:
            latest[(r['dataset'], r['method'], r['seed'])] = r
    cells: Dict = {}
    for (ds, m, _), r in latest.items():
        cells.setdefault((ds, m), []).append(r)
    table = {}
    for (ds, m), rows in cells.items():
        mean, std = _mean_std([100 * r['test'] for r in rows])
        vmean, _ = _mean_std([100 * r['val'] for r in rows])
        timed = [r['seconds'] for r in rows if 'shared_from' not in r]  # each run once
        table.setdefault(ds, {})[m] = {
            'mean': mean, 'std': std, 'val': vmean, 'seeds': len(rows),
            'seconds': sum(timed) / len(timed) if timed else None,
            'encoder': rows[0].get('encoder'), 'lambda': rows[0].get('lambda')}
    return {'graphs': graphs, 'table': table}


def _order(graphs: Dict) -> List[str]:
    def key(name):
        if name.startswith('syn-'):
            base, h = name[4:].rsplit('-h', 1)
            return (0, base, float(h))
        group = 1 if name in REAL_HETEROPHILOUS else 2
        return (group, name, 0.0)
    return sorted(graphs, key=key)


def markdown(summary: Dict, states: List[Dict]) -> str:
    graphs, table = summary['graphs'], summary['table']
    lines = ['# Heterophily benchmark (issue 13)', '',
             'Commands: ' + '; '.join(f"`{c}`" for s in states
                                      for c in [s['command'], *s.get('resumed_with', [])]),
             '',
             'Versions: ' + ', '.join(f'{k} {v}' for k, v in states[0]['versions'].items()), '',
             'Probe: logistic regression on standardised frozen embeddings, C chosen on the '
             'validation nodes; test accuracy (%), ROC-AUC (x100) for Minesweeper and '
             'Tolokers. Mean ± std over the seeds (splits) shown. `trust` is the label-free '
             'graph-feature agreement (cosine) and `info` the edges\' feature information '
             '(nats per edge beyond a degree-preserving shuffle), `closure` the triangle '
             'closure over that of random edges with the same degrees, that `auto` reads; '
             '`h` the edge homophily (labels, for reading only). **missed**: GenURL below the raw-feature '
             'probe or below GenURL without the graph by more than one standard deviation '
             'of the difference of means.', '',
             '| data set | h | trust | info | closure | GenURL (encoder) | GenURL no graph | '
             'raw features | '
             'DGI | CCA-SSG | target | GenURL, SAGE forced | GenURL, GCN forced | '
             'GenURL, ego-GCN forced |',
             '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|']
    import math
    for ds in _order(graphs):
        row = table.get(ds, {})
        g = graphs[ds]

        def cell(m):
            c = row.get(m)
            if c is None:
                return 'not run'
            return f"{c['mean']:.1f} ± {c['std']:.1f}"
        gen = row.get('genurl')
        verdict = ''
        if gen is not None:
            misses = []
            for m in TARGET_METHODS:
                ref = row.get(m)
                if ref is None:
                    continue
                tol = math.hypot(gen['std'], ref['std']) / math.sqrt(max(1, gen['seeds']))
                if gen['mean'] < ref['mean'] - tol:
                    misses.append(m)
            verdict = ('**missed** (< ' + ', '.join(misses) + ')') if misses else 'met'
        enc = f" ({gen['encoder']})" if gen and gen.get('encoder') else ''
        info, closure = g.get('information'), g.get('closure')
        info = 'not measured' if info is None else f'{info:.4f}'
        closure = 'not measured' if closure is None else f'{closure:.1f}'
        lines.append(f"| {ds} | {g['edge_homophily']:.2f} | {g['trust']:+.3f} | {info} | "
                     f"{closure} | "
                     f"{cell('genurl')}{enc} | {cell('genurl-nograph')} | {cell('raw')} | "
                     f"{cell('dgi')} | {cell('cca_ssg')} | {verdict} | "
                     f"{cell('genurl-sage')} | {cell('genurl-gcn')} | "
                     f"{cell('genurl-ego-gcn')} |")
    lines += ['', *trust_vs_gain(summary)]
    seeds = sorted({c['seeds'] for r in table.values() for c in r.values()})
    lines += ['', f'Seeds per cell: {", ".join(map(str, seeds))}. Seconds per seed '
              '(training, mean over cells): ' + ', '.join(
                  f"{m} {_mean_std([r[m]['seconds'] for r in table.values() if m in r and r[m]['seconds'] is not None])[0]:.1f}"
                  for m in METHODS if any(m in r for r in table.values())), '']
    return '\n'.join(lines)


def trust_vs_gain(summary: Dict) -> List[str]:
    """How well each label-free statistic (the trust, the edge information) predicts what
    the graph adds: the gain of GenURL's defaults over GenURL without the graph and over
    the raw features; Spearman's rank correlation over the graphs that have both numbers."""
    from scipy.stats import spearmanr
    out = []
    for stat in ('trust', 'information'):
        for label, a, b in (('GenURL defaults - GenURL without the graph', 'genurl',
                             'genurl-nograph'),
                            ('GenURL defaults - raw features', 'genurl', 'raw')):
            for scope, keep in (('all graphs', lambda ds: True),
                                ('the sweep only', lambda ds: ds.startswith('syn-'))):
                pts = [(summary['graphs'][ds][stat], row[a]['mean'] - row[b]['mean'])
                       for ds, row in summary['table'].items()
                       if a in row and b in row and keep(ds)
                       and summary['graphs'][ds].get(stat) is not None]
                if len(pts) >= 3:
                    rho, pval = spearmanr([p[0] for p in pts], [p[1] for p in pts])
                    out.append(f'- {stat} vs gain ({label}), {scope}: Spearman rho '
                               f'{rho:+.2f} over {len(pts)} graphs (p = {pval:.3f})')
    return out


def figure(summary: Dict, path: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    bases = sorted({n[4:].rsplit('-h', 1)[0] for n in summary['graphs'] if n.startswith('syn-')})
    if not bases:
        return
    fig, axes = plt.subplots(1, len(bases), figsize=(5.5 * len(bases), 4), squeeze=False)
    for ax, base in zip(axes[0], bases):
        for m in METHODS:
            pts = []
            for name, row in summary['table'].items():
                if name.startswith(f'syn-{base}-h') and m in row:
                    pts.append((float(name.rsplit('-h', 1)[1]), row[m]['mean'], row[m]['std']))
            if pts:
                pts.sort()
                xs, ys, es = zip(*pts)
                ax.errorbar(xs, ys, yerr=es, marker='o', ms=3, capsize=2, label=m)
        ax.set_xlabel('edge homophily h')
        ax.set_ylabel('test accuracy (%)')
        ax.set_title(f'syn-{base}: random edges of homophily h')
        ax.grid(alpha=0.3)
    axes[0][0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(paths: List[str], notes: str = None) -> None:
    """Merges ``paths`` into the committed JSON, table and figure; ``notes`` (a Markdown
    file: run conditions, reading) is appended to the table, so re-reporting keeps it."""
    states = [json.loads(Path(p).read_text()) for p in paths]
    summary = summarise(states)
    text = markdown(summary, states)
    if notes:
        text += '\n' + Path(notes).read_text()
    write_results('heterophily_benchmark', {'runs': states, **{
        'graphs': summary['graphs'],
        'table': {ds: row for ds, row in summary['table'].items()}}}, text)
    figure(summary, RESULTS / 'heterophily_benchmark.png')
    print((RESULTS / 'heterophily_benchmark.md').read_text())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--datasets', nargs='*', default=[], help='registry names')
    p.add_argument('--sweep', nargs='*', default=[], help='bases of the h sweep: cora citeseer')
    p.add_argument('--hs', nargs='*', type=float, default=list(SWEEP_H),
                   help='homophily values of the sweep (default 0, 0.1, ..., 1)')
    p.add_argument('--methods', nargs='*', default=list(DEFAULT_METHODS), choices=METHODS)
    p.add_argument('--seeds', type=int, default=5)
    p.add_argument('--skip-from', nargs='*', default=[], metavar='JSON',
                   help='skip the (data set, method, seed) rows these result files hold')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--out', default=str(RESULTS / 'heterophily_run.json'))
    p.add_argument('--resume', action='store_true', help='skip rows already in --out')
    p.add_argument('--report', nargs='*', help='merge these JSON files into the tables')
    p.add_argument('--notes', default=None, metavar='MD',
                   help='with --report: a Markdown file appended to the table (conditions, '
                        'reading)')
    args = p.parse_args()
    if args.report:
        report(args.report, args.notes)
        return
    if not args.datasets and not args.sweep:
        p.error('give --datasets and/or --sweep (or --report)')
    run(args)


if __name__ == '__main__':
    main()
