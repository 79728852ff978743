"""Inductive distillation variants scored on *held-out validation* nodes (issue 15).

Half the validation nodes and a fifth of the test nodes are removed from teacher and
student training (:func:`genurl_pyg.distill.graph.held_out_validation`); the student sees
the observed subgraph's features only, and the score is the probe's accuracy (ROC-AUC on
the data sets whose spec says so) on the held-out validation nodes (C chosen on the other
half of the validation nodes), read from the student's embeddings of all nodes. The test
nodes are never read, so variants can be chosen here without touching test data. Each seed
trains its teacher once; every variant distils from that teacher, so variants are compared
paired, seed by seed.

``--setting transductive`` reads the same held-out validation nodes in the other setting
of the benchmark: nothing is removed from training (the teacher trains on the full graph,
every student on every node's features), and the score is still the probe's on the held-out
half of the validation nodes with C chosen on the other half: a choice for the setting where
the student embeds the nodes it trained on, still without reading a test node or training
on a label.

Writes ``experiments/results/<out>.{json,md}`` after every seed (a killed run keeps the
seeds it finished): per seed and variant the held-out accuracy and seconds, and per variant
the mean, and the paired difference to the first variant (mean +- standard error over
seeds).

Usage::

    python experiments/kd_inductive_variants.py --dataset Cora --seeds 0 1 2 \\
        --variant genurl= --variant "block=pairs=block" --variant "pkt=objective=pkt" \\
        --out kd_inductive_block_cora
    python experiments/kd_inductive_variants.py --dataset CiteSeer --seeds 0 1 2 \\
        --setting transductive --variant genurl= --variant "cosine=objective=cosine" \\
        --out kd_transductive_cosine_citeseer
    python experiments/kd_inductive_variants.py --merge A.json B.json --out AB
    python experiments/kd_inductive_variants.py --beside before=A.json after=B.json \\
        --out before_after

(``NAME=K=V,...``: a name, then comma-separated DistillConfig overrides with YAML values;
``NAME=`` is the default config. ``--concat NAME=A+B`` adds a row scored on the students
A and B's embeddings side by side (two students' training, ``out_A + out_B`` columns: does
the probe find more in both than in either?). ``--merge`` joins runs of the same data set
and variants over disjoint seeds, e.g. one run per core. ``--beside`` joins runs of the
same seeds made by different code, one worktree each, as ``NAME/variant`` rows paired with
the first run's first variant: a change's before and after.)
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import (check_stem, join_runs, versions, write_merged,  # noqa: E402
                          write_results)
from kd_variants import parse_variant  # noqa: E402
from paired_nodes import _se  # noqa: E402  (the paired comparisons' SE of a mean)


def parse_named(text: str) -> tuple:
    """``'block=pairs=block,batch_size=1024'`` -> ``('block', {...})``."""
    name, sep, rest = text.partition('=')
    if not sep or not name.strip():
        raise ValueError(f'--variant takes NAME=K=V,... (NAME= for the defaults), got {text!r}')
    return name.strip(), parse_variant(rest)


def parse_variants(texts) -> list:
    """``[(name, overrides), ...]`` of ``--variant`` texts: at least one, names distinct."""
    variants = [parse_named(v) for v in texts]
    if not variants:
        raise ValueError('name at least one --variant (NAME= for the defaults)')
    if len({n for n, _ in variants}) != len(variants):
        raise ValueError('--variant names must be distinct')
    return variants


def parse_concats(texts, variants) -> list:
    """``[(name, [A, B, ...]), ...]`` of ``--concat NAME=A+B`` texts: two or more variants
    named, each one of ``variants``; names distinct from the variants' and each other."""
    known = [n for n, _ in variants]
    out = []
    for text in texts:
        name, sep, rest = text.partition('=')
        parts = [p.strip() for p in rest.split('+')]
        if not sep or not name.strip() or len(parts) < 2 or not all(parts):
            raise ValueError(f'--concat takes NAME=A+B (two or more variants), got {text!r}')
        unknown = [p for p in parts if p not in known]
        if unknown:
            raise ValueError(f'--concat {text!r} names {unknown}, not among the variants '
                             f'{known}')
        out.append((name.strip(), parts))
    names = known + [n for n, _ in out]
    if len(set(names)) != len(names):
        raise ValueError('--concat names must differ from the variants and each other')
    return out


#: the benchmark's two settings, as this script reads them
SETTINGS = ('inductive', 'transductive')


def setting_of(payload: dict) -> str:
    """A run's setting; files written before ``--setting`` existed are inductive."""
    return payload.get('setting', 'inductive')


def run_seed(dataset: str, seed: int, variants, smoke: bool = False, concats=(),
             setting: str = 'inductive') -> dict:
    import torch
    from genurl_pyg.datasets import get_spec, load_dataset
    from genurl_pyg.distill.graph import (distill_node_embeddings, held_out_validation,
                                          observed_subgraph)
    from genurl_pyg.distill.run import train_teacher
    from genurl_pyg.evaluation import linear_probe, split_for
    if setting not in SETTINGS:
        raise ValueError(f'setting {setting!r}: one of {SETTINGS}')
    data = load_dataset(dataset)
    spec = get_spec(dataset)
    tr, va, te = split_for(data, spec.protocol, seed)
    held, held_va, fit_va = held_out_validation(va, te, seed)
    # transductive: the held-out validation nodes are still where a variant is scored, but
    # teacher and students train on every node (the benchmark's transductive setting)
    train_held = held if setting == 'inductive' else None
    t0 = time.perf_counter()
    # the teacher as trained on the observed graph is the student's target; the same
    # teacher run on the full graph is the reference for the held-out nodes
    fitted, teacher_full, _, _ = train_teacher(data, dataset, seed, train_held,
                                               {'epochs': 2} if smoke else None)
    # 'held_val_acc' holds the data set's metric: accuracy, or ROC-AUC where the spec
    # says so (binary heterophilous graphs, whose majority class makes accuracy flat)
    record = {'seed': seed, 'teacher_s': time.perf_counter() - t0, 'metric': spec.metric,
              'held_val_nodes': int(held_va.sum()), 'rows': {}}

    def probe(h: torch.Tensor) -> float:
        return linear_probe(h, data.y, tr, fit_va, held_va,
                            metric=spec.metric).test_accuracy

    record['teacher_held_val_acc'] = probe(teacher_full)
    sub = data if train_held is None else observed_subgraph(data, held)
    kept = {p for _, parts in concats for p in parts}  # embeddings a --concat row reads
    embeddings = {}
    for name, over in variants:
        kw = dict(over, **({'epochs': 2, 'batch_size': 16} if smoke else {}))
        t0 = time.perf_counter()
        student = distill_node_embeddings(sub, fitted, seed=seed, **kw)
        emb = student.embed(data.x)
        acc = probe(emb)
        if name in kept:
            embeddings[name] = emb
        record['rows'][name] = {'held_val_acc': acc, 'seconds': time.perf_counter() - t0}
        _report(dataset, seed, name, record['rows'][name])
    for name, parts in concats:
        acc = probe(torch.cat([embeddings[p] for p in parts], dim=1))
        record['rows'][name] = {'held_val_acc': acc,
                                'seconds': sum(record['rows'][p]['seconds'] for p in parts)}
        _report(dataset, seed, name, record['rows'][name])
    return record


def _report(dataset: str, seed: int, name: str, row: dict) -> None:
    print(f'[kd_inductive_variants] {dataset} seed {seed} {name}: held-out val '
          f"{100 * row['held_val_acc']:.2f} ({row['seconds']:.0f} s)",
          file=sys.stderr, flush=True)


def summary(records, names) -> dict:
    """Per variant: mean accuracy and the paired difference to the first variant."""
    out = {}
    for name in names:
        accs = [100 * r['rows'][name]['held_val_acc'] for r in records]
        diffs = np.array([100 * (r['rows'][name]['held_val_acc']
                                 - r['rows'][names[0]]['held_val_acc']) for r in records])
        out[name] = {'mean': sum(accs) / len(accs), 'diff': float(diffs.mean()),
                     'diff_se': _se(diffs),
                     'seconds': sum(r['rows'][name]['seconds'] for r in records) / len(accs)}
    return out


def row_names(payload) -> list:
    """The variants' names, then the --concat rows' (older files have none)."""
    return ([n for n, _ in payload['variants']]
            + [n for n, _ in payload.get('concats', [])])


def markdown(payload) -> str:
    names = row_names(payload)
    records = payload['records']
    s = summary(records, names)
    metric = records[0].get('metric', 'accuracy') if records else 'accuracy'
    score = 'acc' if metric == 'accuracy' else metric.replace('_', '-').upper()
    setting = setting_of(payload)
    held = ('half the validation nodes and a fifth of the test nodes held out of teacher '
            'and student training' if setting == 'inductive' else
            'teacher and students trained on every node; scored on half the validation '
            'nodes, held out of the probe\'s fit')
    lines = [f"# {setting.capitalize()} distillation variants on {payload['dataset']}: "
             'held-out validation nodes (issue 15)', '',
             *(f'Command: `{c}`  ' for c in payload['commands']),
             *(f'Conditions: {c}  ' for c in payload['conditions'] if c),
             f'Protocol: `kd_inductive_variants.py` ({held}; probe C chosen on the '
             'other validation nodes; test nodes never read). Variants (DistillConfig '
             'overrides): ' + '; '.join(f"**{n}** `{json.dumps(o) if o else 'defaults'}`"
                                        for n, o in payload['variants'])
             + ''.join(f"; **{n}** the embeddings of {' and '.join(parts)} side by side"
                       for n, parts in payload.get('concats', [])), '',
             f"Over {len(records)} seeds ({', '.join(str(r['seed']) for r in records)}); "
             f"teacher on the full graph {sum(100 * r['teacher_held_val_acc'] for r in records) / len(records):.2f}; "
             f'paired difference to **{names[0]}**, mean ± SE over seeds:', '',
             f'| variant | held-out val {score} | vs ' + names[0] + ' | s per seed |',
             '|---|---|---|---|']
    for n in names:
        x = s[n]
        diff = '' if n == names[0] else f"{x['diff']:+.2f} ± {x['diff_se']:.2f}"
        lines.append(f"| {n} | {x['mean']:.2f} | {diff} | {x['seconds']:.0f} |")
    lines += ['', f'Per seed (held-out val {score}, %):', '',
              '| seed | nodes | teacher | ' + ' | '.join(names) + ' |',
              '|---' * (3 + len(names)) + '|']
    for r in records:
        lines.append(f"| {r['seed']} | {r['held_val_nodes']} | "
                     f"{100 * r['teacher_held_val_acc']:.2f} | "
                     + ' | '.join(f"{100 * r['rows'][n]['held_val_acc']:.2f}" for n in names)
                     + ' |')
    return '\n'.join(lines) + '\n'


def merge(paths) -> dict:
    """Runs of one data set, variants and --concat rows over disjoint seeds, as one."""
    payload = join_runs(paths, 'records',
                        lambda r: (r['dataset'], setting_of(r),
                                   r['variants'], r.get('concats', [])),
                        lambda rec: rec['seed'],
                        'another data set, setting or other variants', 'seeds')
    payload['records'].sort(key=lambda rec: rec['seed'])
    return payload


def beside(named_paths) -> dict:
    """Runs of one data set over the **same** seeds made by different code (before and
    after a change: one worktree each), as one comparison: each run's variants renamed
    ``NAME/variant`` (``NAME=JSON`` pairs), paired seed by seed with the first run's first
    variant. The teacher of a seed comes from the first run; the conditions record the
    largest difference between the runs' teachers (0 when the change left it alone).
    Raises ValueError naming the file with another data set or other seeds."""
    named = []
    for text in named_paths:
        name, sep, path = text.partition('=')
        if not sep or not name.strip() or not path or '/' in name:
            raise ValueError(f'--beside takes NAME=JSON (NAME without "/"), got {text!r}')
        named.append((name.strip(), path))
    if len(named) < 2 or len({n for n, _ in named}) != len(named):
        raise ValueError('--beside joins two or more runs under distinct names')
    runs = [(n, p, json.loads(Path(p).read_text())) for n, p in named]
    _, first_path, first = runs[0]
    seeds = [r['seed'] for r in first['records']]
    for _, p, run in runs[1:]:
        if run['dataset'] != first['dataset']:
            raise ValueError(f"{p}: data set {run['dataset']!r}, not {first['dataset']!r} "
                             f'as in {first_path}')
        if setting_of(run) != setting_of(first):
            raise ValueError(f'{p}: setting {setting_of(run)!r}, not '
                             f'{setting_of(first)!r} as in {first_path}')
        if [r['seed'] for r in run['records']] != seeds:
            raise ValueError(f"{p}: seeds {[r['seed'] for r in run['records']]}, not "
                             f'{seeds} as in {first_path}; --beside pairs the same seeds')
    records, gap = [], 0.0
    for i, rec in enumerate(first['records']):
        rows = {f'{n}/{v}': row for n, _, run in runs
                for v, row in run['records'][i]['rows'].items()}
        gap = max([gap] + [abs(run['records'][i]['teacher_held_val_acc']
                               - rec['teacher_held_val_acc']) for _, _, run in runs])
        records.append({**rec, 'rows': rows})
    return {**first,
            'variants': [(f'{n}/{v}', o) for n, _, run in runs for v, o in run['variants']],
            'concats': [(f'{n}/{c}', [f'{n}/{p}' for p in parts]) for n, _, run in runs
                        for c, parts in run.get('concats', [])],
            'commands': [c for _, _, run in runs for c in run['commands']],
            'conditions': [c for _, _, run in runs for c in run['conditions'] if c]
            + ['runs side by side: ' + ', '.join(f'{n} = {p}' for n, p in named)
               + f'; largest teacher difference between them {100 * gap:.2f} points'],
            'records': records}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--dataset', default='Cora')
    ap.add_argument('--seeds', nargs='+', type=int, default=[0])
    ap.add_argument('--variant', action='append', default=[], metavar='NAME=K=V,...')
    ap.add_argument('--concat', action='append', default=[], metavar='NAME=A+B',
                    help='a row scored on variants A and B\'s embeddings side by side')
    ap.add_argument('--setting', choices=SETTINGS, default='inductive',
                    help='inductive: the held-out nodes are out of training too; '
                         'transductive: every node trains, the same nodes score')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--out', required=True, help='name under experiments/results/')
    ap.add_argument('--conditions', default='', help='the run conditions, recorded')
    ap.add_argument('--merge', nargs='+', metavar='JSON',
                    help='join finished runs (disjoint seeds) into --out; trains nothing')
    ap.add_argument('--beside', nargs='+', metavar='NAME=JSON',
                    help='join runs of different code over the same seeds into --out, '
                         'variants named NAME/variant (before/after a change); trains '
                         'nothing')
    ap.add_argument('--smoke', action='store_true',
                    help='two epochs for teacher and students: try the script, not a result')
    args = ap.parse_args(argv)
    check_stem('--out', args.out, ap.error)
    if args.merge:
        write_merged(args.out, args.merge, merge, markdown, ap.error)
        return
    if args.beside:
        try:
            payload = beside(args.beside)
        except (OSError, ValueError, KeyError) as e:
            ap.error(f'--beside: {e}')
        write_results(args.out, payload, markdown(payload))
        return
    try:
        variants = parse_variants(args.variant)
        concats = parse_concats(args.concat, variants)
    except ValueError as e:
        ap.error(str(e))
    import torch
    torch.set_num_threads(args.threads)
    payload = {'dataset': args.dataset, 'setting': args.setting, 'variants': variants,
               'concats': concats,
               'threads': args.threads,
               # the script that ran (kd_batch_p_variants.py calls this main too)
               'commands': ['python ' + ' '.join([f'experiments/{Path(sys.argv[0]).name}'
                                                  if argv is None
                                                  else 'experiments/kd_inductive_variants.py',
                                                  *(argv if argv is not None
                                                    else sys.argv[1:])])],
               'conditions': [args.conditions], 'versions': versions(), 'records': []}
    for seed in args.seeds:
        payload['records'].append(run_seed(args.dataset, seed, variants, args.smoke,
                                           concats, args.setting))
        write_results(args.out, payload, markdown(payload))


if __name__ == '__main__':
    main()
