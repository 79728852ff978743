"""Node-classification benchmark: GenURL against a zoo of self-supervised peers and two
cheap baselines, all scored by the same two probes in one run.

Every method runs in its own fresh subprocess per data set (so peak RSS is per method), in
one invocation on one machine, with the same torch threads. Both probes are functions of the
package (genurl_pyg.evaluation), fitted on the same frozen embeddings:
  probe LR    linear_probe: logistic regression on standardised embeddings, C chosen on the
              validation nodes (the project's probe, and the one the targets refer to)
  probe Adam  adam_linear_probe: a linear layer trained with Adam, test accuracy at the best
              validation epoch (the probe of the peers' papers; for comparing with them)
Protocols: Planetoid public split (Cora, CiteSeer); random 10/10/80 splits, one per seed
(others). The seed is the training seed and, for random splits, the split seed, so every
method of a data set is scored on the same split per seed. --protocol replaces the data
sets' own (for example random-planetoid: the public split's sizes, 20 training nodes per
class, 500 validation, 1,000 test, redrawn per seed), and GenURL's row then also gives its
difference from the best peer paired over seeds.

Methods:
  raw       the node features themselves
  sgc       SGC-style propagated features  D^-1/2 (A+I) D^-1/2 applied twice to X
  untrained GenURL's encoder for the data set's config as initialised (the seed's weights,
            no training step): what the architecture's random features read, so that
            genurl's row shows what training adds (DGI's paper reports the same row as
            "random-init"); its seconds are the trainer's set-up, P included though unused
  dgi, cca_ssg, grace, bgrl, graphmae
            genurl_pyg/bench/peers/<name>.py, each written from its paper with the published
            hyper-parameters per data set (sources in each file and in the result)
  genurl    genurl_pyg.fit_node_embeddings with the data set's YAML config

Budgets: --budget seconds per method and data set before no new seed starts; --seed-budget
seconds of training per seed, after which a peer stops early (recorded in the note).
--conditions TEXT records the run conditions (cores, what else ran) in the JSON; the
Markdown prints every run's under the table, so --append runs keep the earlier ones.

Usage:
  python experiments/node_benchmark.py                       # all data sets, 10 seeds
  python experiments/node_benchmark.py --datasets Cora --methods cca_ssg genurl --seeds 3
  python experiments/node_benchmark.py --append --datasets CiteSeer --methods genurl \
      --threads 1 --conditions 'Run conditions (date): core 0, core 1 ran ...'
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import peak_rss_mb, run_child, versions, write_results  # noqa: E402
from genurl_pyg.bench.peers import PEERS  # noqa: E402
from genurl_pyg.evaluation.node import PROTOCOLS  # noqa: E402

DATASETS = ['Cora', 'CiteSeer', 'DBLP', 'Computers', 'Photo', 'CS']
PEER_METHODS = list(PEERS)
METHODS = ['raw', 'sgc', 'untrained', *PEER_METHODS, 'genurl']
#: the methods that run GenURL's trainer with the data set's (or --genurl-config's) config
GENURL_METHODS = ('untrained', 'genurl')
TARGETS = {'Cora': 0.845, 'CiteSeer': 0.743, 'Computers': 0.910, 'Photo': 0.951, 'CS': 0.936}


def child(dataset: str, method: str, seeds: int, budget_s: float, seed_budget_s: float,
          threads: int, protocol: str = '', genurl_config: str = '') -> None:
    import torch
    from genurl_pyg.datasets import get_spec, load_dataset
    from genurl_pyg.evaluation import adam_linear_probe, linear_probe, split_for
    from genurl_pyg.node import NodeConfig, dataset_defaults
    from genurl_pyg.node.propagation import smooth_features
    from genurl_pyg.bench.peers import get_peer, params_for
    from genurl_pyg.bench.tasks.graph_methods import genurl_embedding
    torch.set_num_threads(threads)
    spec = get_spec(dataset)
    protocol = protocol or spec.protocol
    data = load_dataset(dataset)
    accs, adam_accs, vals, secs, cut = [], [], [], [], 0
    note = ''
    start_all = time.perf_counter()
    fixed = None
    if method in ('raw', 'sgc'):
        t = time.perf_counter()
        fixed = data.x if method == 'raw' else smooth_features(data.x, data.edge_index, 2)
        fixed_s = time.perf_counter() - t
    # --genurl-config: a full config over NodeConfig's defaults (as node_variants --base)
    cfg = (NodeConfig.from_yaml(genurl_config) if genurl_config and method in GENURL_METHODS
           else dataset_defaults(dataset))
    config, source = None, None
    if method in GENURL_METHODS:
        config = cfg.to_dict()
    elif method in PEER_METHODS:
        config = params_for(method, dataset)
        source = get_peer(method).SOURCE
    for i in range(seeds):
        if i > 0 and time.perf_counter() - start_all > budget_s:
            note = f'stopped after {i} of {seeds} seeds: time budget {budget_s:.0f} s'
            break
        t = time.perf_counter()
        if fixed is not None:
            h, seconds = fixed, fixed_s
        elif method in GENURL_METHODS:  # the suite's function: one definition of each
            h, _ = genurl_embedding(data, cfg, i, trained=method == 'genurl')
            seconds = time.perf_counter() - t
        else:
            deadline = t + seed_budget_s
            h = get_peer(method).embed(data, config, i, deadline)
            seconds = time.perf_counter() - t
            cut += time.perf_counter() > deadline
        masks = split_for(data, protocol, i)
        res = linear_probe(h, data.y, *masks)
        adam = adam_linear_probe(h, data.y, *masks, seed=i)
        accs.append(res.test_accuracy)
        vals.append(res.val_accuracy)
        adam_accs.append(adam.test_accuracy)
        secs.append(seconds)
        print(f'[{dataset}/{method}] seed {i}: LR {res.test_accuracy:.4f} '
              f'Adam {adam.test_accuracy:.4f} ({seconds:.1f} s)', file=sys.stderr, flush=True)
    if cut:
        note = (note + '; ' if note else '') + (f'training of {cut} seed(s) cut at the '
                                                f'{seed_budget_s:.0f} s seed budget')
    print(json.dumps({'dataset': dataset, 'method': method, 'protocol': protocol,
                      'per_seed': accs, 'per_seed_val': vals, 'per_seed_adam': adam_accs,
                      'seconds_per_seed': secs, 'seeds_run': len(accs), 'note': note,
                      'peak_rss_mb': peak_rss_mb(), 'config': config, 'source': source}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument('--datasets', nargs='+', default=DATASETS)
    ap.add_argument('--methods', nargs='+', default=METHODS, choices=METHODS)
    ap.add_argument('--seeds', type=int, default=10)
    ap.add_argument('--budget', type=float, default=900,
                    help='seconds per method and data set before no new seed is started')
    ap.add_argument('--seed-budget', type=float, default=300,
                    help='seconds of training per peer seed; a peer stops early beyond it')
    ap.add_argument('--threads', type=int, default=2, help='torch threads per child')
    ap.add_argument('--out', default='node_benchmark', help='result file stem')
    ap.add_argument('--append', action='store_true',
                    help='keep the rows already in the result file; rerun rows are replaced')
    ap.add_argument('--protocol', default='', choices=['', *PROTOCOLS],
                    help="evaluation split for every data set instead of its own (e.g. "
                         "'random-planetoid'; see genurl_pyg.evaluation.node)")
    ap.add_argument('--genurl-config', default='', metavar='YAML',
                    help="GenURL's full config from this file (over NodeConfig's defaults) "
                         "instead of the data set's shipped one")
    ap.add_argument('--conditions', default='', metavar='TEXT',
                    help='the run conditions (date, cores, what else ran), kept in the '
                         'JSON and printed under the table with those of earlier runs, so '
                         'that regenerating the Markdown loses none of them')
    ap.add_argument('--child', nargs=8, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        ds, method, seeds, budget, seed_budget, threads, protocol, config = args.child
        child(ds, method, int(seeds), float(budget), float(seed_budget), int(threads),
              protocol, config)
        return
    if args.genurl_config:
        from genurl_pyg.node import NodeConfig
        try:
            NodeConfig.from_yaml(args.genurl_config)
        except (OSError, ValueError) as err:
            ap.error(f'--genurl-config: {err}')
        args.genurl_config = str(Path(args.genurl_config).resolve())
    import numpy as np
    from _bench_utils import RESULTS
    path = RESULTS / f'{args.out}.json'
    if args.append and path.exists():  # rows of one file are compared: one protocol per set
        from genurl_pyg.datasets import get_spec
        for row in json.loads(path.read_text()).get('results', []):
            if row['dataset'] in args.datasets and 'protocol' in row:
                wanted = args.protocol or get_spec(row['dataset']).protocol
                if row['protocol'] != wanted:
                    ap.error(f"{path.name} holds {row['dataset']} rows read with protocol "
                             f"{row['protocol']!r}, this run's is {wanted!r}: pass --out "
                             'for a file of its own')
    command = 'python ' + ' '.join(sys.argv)
    mine = []  # this run's rows; merged into the file at every write
    for ds in args.datasets:
        for method in args.methods:
            print(f'[node_benchmark] {ds} / {method} ...', flush=True)
            res = run_child([__file__, '--child', ds, method, str(args.seeds), str(args.budget),
                             str(args.seed_budget), str(args.threads), args.protocol,
                             args.genurl_config],
                            timeout=4 * 3600)
            res.setdefault('dataset', ds)
            res.setdefault('method', method)
            if 'per_seed' in res and res['per_seed']:
                res['mean'] = float(np.mean(res['per_seed']))
                res['std'] = float(np.std(res['per_seed']))
                res['mean_adam'] = float(np.mean(res['per_seed_adam']))
                res['std_adam'] = float(np.std(res['per_seed_adam']))
                res['mean_seconds'] = float(np.mean(res['seconds_per_seed']))
            print(json.dumps({k: v for k, v in res.items() if k != 'config'}), flush=True)
            mine.append(res)
            payload = _merged(path, mine, command, args)
            write_results(args.out, payload, _markdown(payload))


def _merged(path: Path, mine, command: str, args):
    """The result file with this run's rows in place of the same (data set, method) rows.
    The file is re-read at every write, so runs of other data sets that write to it at the
    same time (--append in two processes) keep each other's rows."""
    old = json.loads(path.read_text()) if args.append and path.exists() else {}
    done = {(r['dataset'], r['method']) for r in mine}
    rows = [r for r in old.get('results', []) if (r['dataset'], r['method']) not in done]
    commands = list(old.get('commands', []))
    if command not in commands:
        commands.append(command)
    threads = dict(old.get('threads', {}))
    threads.update({d: args.threads for d in args.datasets})
    conditions = list(old.get('conditions', []))
    if args.conditions and args.conditions not in conditions:
        conditions.append(args.conditions)
    return {'benchmark': 'node_benchmark', 'commands': commands, 'versions': versions(),
            'threads': threads, 'conditions': conditions, 'results': rows + mine}


def _markdown(payload) -> str:
    by = {}
    for r in payload['results']:
        by.setdefault(r['dataset'], {})[r['method']] = r
    lines = ['# Node classification: GenURL vs self-supervised peers and baselines', '',
             'Commands (in order; later rows replace earlier ones): '
             + '; '.join(f'`{c}`' for c in payload['commands']) + '  ',
             'Versions: ' + ', '.join(f'{k} {v}' for k, v in payload['versions'].items()) + '  ',
             'Probes (genurl_pyg.evaluation): **LR** = logistic regression on standardised '
             'frozen embeddings, C chosen on the validation nodes (the project\'s probe; '
             'targets refer to it); **Adam** = a linear layer trained with Adam, test accuracy '
             'at the best validation epoch (the peers\' papers\' probe). Accuracy in %, mean ± '
             'std over seeds (seed = training seed and, for random splits, split seed). Peers '
             'from genurl_pyg/bench/peers/ with their papers\' settings (sources in the JSON). Times '
             'are seconds per seed (training only; raw/SGC: feature computation; untrained: the '
             'trainer\'s set-up) on this 2-core '
             'CPU with the torch threads per process listed here: '
             + (', '.join(f'{d} {t}' for d, t in payload.get('threads', {}).items()) or '2')
             + '; peak RSS of the method\'s own process. **best peer** = the peer with the '
             'highest LR-probe mean on that data set.', '',
             '| data set | protocol | method | LR probe | Adam probe | seeds | s/seed | '
             'peak RSS MB | target | note |',
             '|---|---|---|---|---|---|---|---|---|---|']
    for ds in [d for d in DATASETS if d in by] + [d for d in by if d not in DATASETS]:
        methods = by[ds]
        peers = [methods[m] for m in PEER_METHODS if 'mean' in methods.get(m, {})]
        best = max(peers, key=lambda r: r['mean']) if peers else None
        for m in METHODS:
            r = methods.get(m)
            if r is None:
                continue
            if 'mean' not in r:
                lines.append(f"| {ds} | | {m} | failed | | | | | | {r.get('error', '')} |")
                continue
            target, name = '', m
            if r is best:
                name = f'{m} (best peer)'
            if m == 'genurl':
                marks = []
                if ds in TARGETS:
                    hit = max(r['mean'], r.get('mean_adam', 0)) >= TARGETS[ds]
                    marks.append(f"{100 * TARGETS[ds]:.1f} {'met' if hit else 'missed'}")
                if best is not None:
                    hit = r['mean'] >= best['mean']
                    marks.append(f"≥ best peer {'met' if hit else 'missed'}")
                    if r['protocol'] not in ('public', 'ogb-official'):
                        marks.append(_paired_difference(r, best))
                if 'mean' in methods.get('untrained', {}):
                    marks.append(_training_adds(r, methods['untrained']))
                target = '; '.join(marks)
            adam = (f"{100 * r['mean_adam']:.2f} ± {100 * r['std_adam']:.2f}"
                    if 'mean_adam' in r else '')
            lines.append(f"| {ds} | {r['protocol']} | {name} | {100 * r['mean']:.2f} ± "
                         f"{100 * r['std']:.2f} | {adam} | {r['seeds_run']} | "
                         f"{r['mean_seconds']:.1f} | {r['peak_rss_mb']:.0f} | {target} | "
                         f"{r.get('note', '')} |")
    for paragraph in payload.get('conditions', []):  # every run's, oldest first
        lines += ['', paragraph]
    return '\n'.join(lines) + '\n'


def _training_adds(r, untrained) -> str:
    """GenURL's row minus the untrained encoder's, paired by seed. Seed i is the same
    initial weights only under the same config (the set-up's random draws depend on it), so
    the rows are paired only where their configs agree on every key both record (rows of
    older runs lack keys added since)."""
    mine, theirs = r.get('config') or {}, untrained.get('config') or {}
    if any(mine[k] != theirs[k] for k in mine.keys() & theirs.keys()):
        return 'training adds: not paired (the untrained row ran another config)'
    return _paired_difference(r, untrained, 'training adds')


def _paired_difference(r, best, label: str = 'paired Δ') -> str:
    """GenURL minus the best peer (or the untrained encoder; LR probe) over the seeds both
    ran, each seed one split shared by the two methods, with the standard error of the mean
    difference."""
    import numpy as np
    from paired_nodes import _se  # the paired comparisons' standard error of a mean
    n = min(len(r['per_seed']), len(best['per_seed']))
    if n < 2:
        return f'{label}: fewer than 2 common seeds'
    d = 100 * (np.asarray(r['per_seed'][:n]) - np.asarray(best['per_seed'][:n]))
    return f'{label} {d.mean():+.2f} ± {_se(d):.2f} ({n} seeds)'


if __name__ == '__main__':
    main()
