"""Knowledge-distillation benchmark (issue 15): a GenURL GCN teacher into graph-free MLP
students, GenURL's objective against the distillation peers, in one run.

Per (data set, setting, seed) the teacher (the data set's default GenURL config, trained
here) is trained once and shared by every method, so all students learn from the same
teacher embeddings; every student has the same architecture (DistillConfig's MLP), epochs,
batches and optimiser (the package's DistillConfig; the genurl rows read the graph's shipped
GenURL settings on top, ``genurl_pyg.distill.distill_defaults``: ``configs/distill/<name>.yaml``;
``--set`` on top of both). Scored by the project's LR probe (genurl_pyg.evaluation.linear_probe)
on the same split.

Methods:
  genurl      P from the teacher's embeddings (kNN + geodesics), GKL to the student's Q
  mse, cosine regression of the standardised teacher embeddings
  rkd, pkt    torchdistill's RKDLoss / PKTLoss on the batch
  seed        SEED-style softmax similarity over a queue of teacher embeddings
  no-teacher  the same student and GenURL objective with P from the raw features: no teacher
  glnn        a supervised reference, not a peer (it reads labels): GLNN's logit distillation
              (Zhang et al. 2022) of the same teacher's class distribution, i.e. the
              probe's logistic regression on the teacher's embeddings of the observed graph
              (fitted on the training labels, C on the validation labels); recorded twice,
              'glnn' (the same probe on the student's embedding) and 'glnn (head)' (the
              student's own class predictions)
  raw         the features themselves (no training)
  teacher     the GCN teacher (on the full graph; in the inductive setting trained on the
              observed graph only)
Settings: transductive (all nodes), inductive (20 % of the test nodes held out of teacher and
student training; the probe's test nodes are those; the student embeds them from features).

Usage:
  python experiments/kd_benchmark.py --datasets Cora CiteSeer --seeds 10 --threads 1
  python experiments/kd_benchmark.py --resume --out /tmp/runs/kd.json ...
  python experiments/kd_benchmark.py --report results/kd_benchmark.json NEW.json \\
      --notes results/kd_benchmark_notes.md
Rows are appended to --out as each method finishes; --resume skips finished rows; at the end
the run's own table is written beside --out (OUT.md); only --report writes the committed
table (results/kd_benchmark.{json,md}). In a
report a later file's row replaces an earlier one with the same data set, setting, seed and
method.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import (RESULTS, median_seconds, peak_rss_mb, reset_peak_rss,  # noqa: E402
                          versions, write_results)
from paired_nodes import paired_points  # noqa: E402  (a paired difference's mean, SE)

DATASETS = ['Cora', 'CiteSeer', 'Computers', 'Photo', 'CS', 'Physics']
STUDENT_METHODS = ['genurl', 'mse', 'cosine', 'rkd', 'pkt', 'seed', 'no-teacher', 'glnn']
PEERS = ['mse', 'cosine', 'rkd', 'pkt', 'seed', 'no-teacher']
#: rows that read labels: shown after the peers, outside the '>= every peer' target
REFERENCES = ['glnn', 'glnn (head)']


def _protocol(name):
    from genurl_pyg.datasets import get_spec
    return get_spec(name).protocol


def row_name(method, label=None, suffix=None):
    """The method name a student row is recorded under: ``--label`` renames the genurl
    rows, ``--suffix`` every student row (a variant of all methods)."""
    if suffix:
        return method + suffix
    return label if (label and method == 'genurl') else method


def student_config(dataset, method, seed, overrides):
    """The student's DistillConfig. The graph's shipped file (``distill_defaults``) holds
    GenURL's settings chosen on that graph's validation nodes, so only the ``genurl`` rows
    read it; the peers and the no-teacher student run the package defaults (their rows in
    the table were read that way, and keys such as ``input_weight`` are GenURL's alone).
    ``--set`` overrides apply to every student."""
    from genurl_pyg.distill import DistillConfig, distill_defaults
    objective = 'genurl' if method == 'no-teacher' else method  # 'glnn' is its own
    base = distill_defaults(dataset) if method == 'genurl' else DistillConfig()
    return DistillConfig.from_dict({**overrides, 'objective': objective, 'seed': seed},
                                   base=base)


#: inference is timed as the median of this many calls after two warm-ups (rows from
#: session 64 on; earlier rows timed one call right after training, which read the
#: process's state: 5.8 s for a student that embeds Physics in 0.7 s)
INFER_REPEATS = 3


def run_seed(dataset, setting, seed, methods, overrides, done, record, label=None,
             suffix=None):
    import torch
    from genurl_pyg.datasets import load_dataset
    from genurl_pyg.distill.graph import (distill_node_embeddings, glnn_targets,
                                          inductive_split, observed_masks,
                                          observed_subgraph)
    from genurl_pyg.distill.run import head_predictions, train_teacher
    from genurl_pyg.evaluation import linear_probe, split_for
    data = load_dataset(dataset)
    tr, va, te = split_for(data, _protocol(dataset), seed)
    held = inductive_split(te, 0.2, seed) if setting == 'inductive' else None
    test = te if held is None else held

    def probe(h):
        r = linear_probe(h, data.y, tr, va, test)
        return r.val_accuracy, r.test_accuracy
    key = (dataset, setting, seed)
    phase_peak = reset_peak_rss()  # each row's peak is its own phase's (teacher, a student)
    start = time.perf_counter()
    t_train, t_full, _, trainer = train_teacher(data, dataset, seed, held)
    teacher_s = time.perf_counter() - start
    t_infer = median_seconds(lambda: trainer.embed_graph(data.x, data.edge_index),
                             INFER_REPEATS)
    if 'teacher' not in done.get(key, set()):
        val, acc = probe(t_full)
        record(key, 'teacher', val, acc, teacher_s, t_infer, None, phase_peak)
    if 'raw' not in done.get(key, set()):
        val, acc = probe(data.x)
        record(key, 'raw', val, acc, 0.0, None, None, None)
    sub = data if held is None else observed_subgraph(data, held)
    new_rows = data.x[torch.randint(0, data.num_nodes, (10_000,),
                                    generator=torch.Generator().manual_seed(seed))]
    for method in methods:
        name = row_name(method, label, suffix)
        names = {name, head_row(name)} if method == 'glnn' else {name}
        if names <= done.get(key, set()):
            continue
        cfg = student_config(dataset, method, seed, overrides)
        teacher, labels = (sub.x.float() if method == 'no-teacher' else t_train), None
        if method == 'glnn':  # the teacher's class distribution, labels of the train nodes
            teacher, labels = glnn_targets(t_train, sub.y, *observed_masks(held, tr, va))
        phase_peak = reset_peak_rss()
        start = time.perf_counter()
        d = distill_node_embeddings(sub, teacher, cfg, labels=labels)
        secs = time.perf_counter() - start
        h = d.embed(data.x)
        infer = median_seconds(lambda: d.embed(data.x), INFER_REPEATS)
        infer_new = median_seconds(lambda: d.embed(new_rows), INFER_REPEATS)
        val, acc = probe(h)
        record(key, name, val, acc, secs, infer, infer_new, phase_peak)
        if method == 'glnn':  # the student's own predictions, beside the probe's
            hit = (head_predictions(d, h) == data.y).float()
            record(key, head_row(name), float(hit[va].mean()), float(hit[test].mean()),
                   secs, infer, infer_new, phase_peak)


def head_row(name: str) -> str:
    """The row of a glnn student's own class predictions."""
    return f'{name} (head)'


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--datasets', nargs='*', default=DATASETS)
    p.add_argument('--settings', nargs='*', default=['transductive', 'inductive'],
                   choices=['transductive', 'inductive'])
    p.add_argument('--methods', nargs='*', default=STUDENT_METHODS, choices=STUDENT_METHODS)
    p.add_argument('--seeds', type=int, default=10)
    p.add_argument('--first-seed', type=int, default=0)
    p.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                   help='DistillConfig override for every student (same for all methods)')
    p.add_argument('--label', default=None,
                   help="record the 'genurl' rows under this method name (a variant row, "
                        "e.g. genurl+anchor0.01 with --set anchor_weight=0.01)")
    p.add_argument('--suffix', default=None,
                   help='record every student row as METHOD+SUFFIX (a variant of all '
                        'methods, e.g. +bank20 with --set bank_k=20; teacher and raw rows '
                        'keep their names)')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--budget', type=float, default=0,
                   help='seconds per (data set, setting) before no new seed starts (0: none)')
    p.add_argument('--out', default=str(RESULTS / 'kd_run.json'))
    p.add_argument('--resume', action='store_true')
    p.add_argument('--report', nargs='*', default=None, metavar='JSON',
                   help='only write the table from these result files')
    p.add_argument('--notes', default=None, metavar='MD')
    p.add_argument('--paired', action='store_true',
                   help="with --report: add GenURL's paired difference to the teacher and to "
                        'each peer (same seeds, same teacher: rows of one run), mean +- SE')
    p.add_argument('--stem', default='kd_benchmark',
                   help='with --report: the results file stem (results/STEM.{json,md}), for a '
                        'table of its own beside the benchmark')
    args = p.parse_args()
    if args.report is not None:
        report(args.report, args.notes, stem=args.stem, paired=args.paired)
        return
    import torch
    from genurl_pyg.utils.io import atomic_write_text
    from genurl_pyg.utils.yamlio import parse_key_values
    torch.set_num_threads(args.threads)
    try:
        overrides = parse_key_values(args.set, '--set')
    except ValueError as err:
        p.error(str(err))
    out = Path(args.out)
    if out.resolve() == (RESULTS / 'kd_benchmark.json').resolve():
        p.error('--out must not be results/kd_benchmark.json: the table is written there')
    command = 'python experiments/kd_benchmark.py ' + ' '.join(sys.argv[1:])
    state = open_run_state(out, command, args.resume, args.threads, overrides)
    done = {}
    for r in state['rows']:
        done.setdefault((r['dataset'], r['setting'], r['seed']), set()).add(r['method'])

    def record(key, method, val, acc, secs, infer, infer_new, phase_peak):
        """``phase_peak``: whether the peak was reset when the row's phase began (its own
        peak, shown in the table), False where it could not be (the process's since its
        start, kept but not shown), None for a row without a phase (raw features)."""
        row = {'dataset': key[0], 'setting': key[1], 'seed': key[2], 'method': method,
               'val_accuracy': val, 'accuracy': acc, 'seconds': secs,
               'inference_seconds': infer, 'inference_10k_seconds': infer_new,
               'inference_repeats': INFER_REPEATS, 'peak_rss_mb': peak_rss_mb(),
               'peak_scope': {True: 'phase', False: 'process', None: None}[phase_peak]}
        state['rows'].append(row)
        done.setdefault(key, set()).add(method)
        atomic_write_text(out, json.dumps(state, indent=1))
        print(f'{key[0]} {key[1]} seed {key[2]} {method}: val {100 * val:.2f} test '
              f'{100 * acc:.2f} ({secs:.1f} s)', flush=True)
    if args.label and args.suffix:
        p.error('--label renames the genurl rows and --suffix every student row: give one')
    wanted = {row_name(m, args.label, args.suffix) for m in args.methods}
    wanted |= {head_row(row_name('glnn', args.label, args.suffix))
               for m in args.methods if m == 'glnn'}
    wanted |= {'teacher', 'raw'}
    for dataset in args.datasets:
        for setting in args.settings:
            start = time.perf_counter()
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                if args.budget and time.perf_counter() - start > args.budget:
                    print(f'{dataset} {setting}: budget spent, no seed after {seed - 1}')
                    break
                if wanted <= done.get((dataset, setting, seed), set()):
                    continue
                run_seed(dataset, setting, seed, args.methods, overrides, done, record,
                         args.label, args.suffix)
    # this run's table beside its rows: the committed table (results/kd_benchmark.md) is
    # written by --report only, from every run it is made of, so a run never replaces it
    report([str(out)], args.notes, table=out.with_suffix('.md'))


def read_runs(paths):
    """The rows of these result files, their commands and their run conditions. A file is a
    run's state (``--out``) or an earlier table's JSON (``results/kd_benchmark.json``, which
    keeps every command and condition it was reported from), so a new run can be reported
    beside the committed table without the earlier runs' files."""
    rows, commands, conds = [], [], []
    for path in paths:
        s = json.loads(Path(path).read_text())
        rows += s['rows']
        if 'commands' in s:  # an earlier report
            if len(s.get('conditions', ())) != len(s['commands']):
                raise SystemExit(f'{path}: an earlier report needs one condition per command')
            commands += s['commands']
            conds += s['conditions']
            continue
        commands.append(s['command'])
        conds.append(f"threads {s['threads']}, student overrides {s['overrides'] or 'none'}")
    return rows, commands, conds


def open_run_state(out: Path, command: str, resume: bool, threads: int, overrides):
    """The state a run appends rows to: ``out``'s when resuming (its command extended by
    this one), else a fresh one."""
    if resume and out.exists():
        state = json.loads(out.read_text())
        state['command'] += f'; then {command}'  # every invocation that wrote rows
        return state
    return {'command': command, 'threads': threads, 'overrides': overrides,
            'versions': versions(), 'rows': []}


def report(paths, notes=None, table=None, stem='kd_benchmark', paired=False):
    """The table of these runs' rows: results/STEM.{json,md}, or only the Markdown at
    ``table``. ``paired``: also GenURL's difference to the teacher and each peer per seed
    (:func:`paired_differences`; meaningful where each seed's rows share one teacher, i.e.
    come from one run)."""
    import numpy as np
    rows, commands, conds = read_runs(paths)
    # one row per (data set, setting, seed, method): a later file's row replaces an
    # earlier one (e.g. the teacher rows that a variant run records again)
    unique = {(r['dataset'], r['setting'], r['seed'], r['method']): r for r in rows}
    groups = {}
    for r in unique.values():
        groups.setdefault((r['dataset'], r['setting'], r['method']), []).append(r)

    def mean(key, g):
        vals = [r[key] for r in g if r[key] is not None]
        return (float(np.mean(vals)), float(np.std(vals))) if vals else None
    lines = ['# Knowledge distillation: GenURL GCN teacher into graph-free MLP students', '',
             'Commands: ' + '; '.join(f'`{c}`' for c in commands) + '  ',
             'Conditions: ' + '; '.join(conds) + '  ',
             'Probe: logistic regression on standardised frozen embeddings, C chosen on the '
             'validation nodes (genurl_pyg.evaluation.linear_probe). Accuracy in %, mean ± std '
             'over seeds; seconds per seed (student training; teacher: its training); '
             'inference: embedding every node (teacher: GCN on the full graph; students: MLP '
             'on features) and 10k new rows (students only); rows that record '
             '`inference_repeats` time the median of that many calls after two warm-ups, '
             'older rows one call right after training (which reads above the '
             "architecture's cost on large graphs; kd_inference_speed*.md time it apart). "
             "Peak MB: the process's peak resident memory during the row's phase (the "
             "teacher's training and inference, or one student's), which includes the data "
             'set and the teacher embeddings it holds by then; rows from session 68 on (older '
             "rows recorded the process's peak since its start, not shown). "
             'The glnn rows read labels (the '
             "teacher's class distribution from the probe, fitted on the training labels): a "
             'supervised reference after the peers, outside the target.', '',
             '| data set | setting | method | val | test | seeds | s/seed | infer all (s) | '
             'infer 10k (s) | peak MB | target |', '|---|---|---|---|---|---|---|---|---|---|---|']
    combos = sorted({(d, s) for d, s, _ in groups}, key=lambda k: (
        DATASETS.index(k[0]) if k[0] in DATASETS else 99, k[1] != 'transductive'))
    variants = sorted({m for _, _, m in groups}
                      - {'teacher', 'raw', 'genurl', *PEERS, *REFERENCES})
    order = ['teacher', 'raw', 'genurl', *variants, *PEERS, *REFERENCES]
    summary = {}
    for d, s in combos:
        stats = {m: mean('accuracy', groups[(d, s, m)]) for m in order if (d, s, m) in groups}
        summary[f'{d}/{s}'] = {m: {'mean': v[0], 'std': v[1]} for m, v in stats.items()}
        for m in order:
            g = groups.get((d, s, m))
            if not g:
                continue
            acc, val = stats[m], mean('val_accuracy', g)
            secs, inf, inf10 = mean('seconds', g), mean('inference_seconds', g), \
                mean('inference_10k_seconds', g)
            target = ''
            if m == 'genurl':
                peers = {p: stats[p][0] for p in PEERS if p in stats}
                beaten = [p for p, v in peers.items() if v > acc[0]]
                target = ('≥ every peer met' if not beaten else
                          f"≥ every peer missed ({', '.join(beaten)} higher)")
                if s == 'inductive' and 'teacher' in stats:
                    gap = 100 * (stats['teacher'][0] - acc[0])
                    target += (f'; within 1.5 of teacher {"met" if gap <= 1.5 else "missed"}'
                               f' ({gap:+.2f})')
            fmt = (lambda v: '' if v is None else f'{v[0]:.3f}')
            peak = mean('peak_rss_mb', [r for r in g if r.get('peak_scope') == 'phase'])
            lines.append(f'| {d} | {s} | {m} | {100 * val[0]:.2f} | {100 * acc[0]:.2f} ± '
                         f'{100 * acc[1]:.2f} | {len(g)} | {secs[0]:.1f} | {fmt(inf)} | '
                         f"{fmt(inf10)} | {'' if peak is None else f'{peak[0]:.0f}'} | "
                         f'{target} |')
    if paired:
        diffs = paired_differences(groups, combos)
        summary['paired'] = diffs
        lines += ['', 'GenURL minus the teacher and each peer on the same seeds (test accuracy, '
                  'points, mean ± SE over the seeds both ran):', '',
                  '| data set | setting | genurl − | seeds | test |', '|---|---|---|---|---|']
        lines += [f"| {e['dataset']} | {e['setting']} | {e['against']} | {len(e['seeds'])} | "
                  f"{e['mean']:+.2f} ± {e['se']:.2f} |" for e in diffs]
    if notes:
        lines += ['', Path(notes).read_text().rstrip()]
    if table is not None:
        from genurl_pyg.utils.io import atomic_write_text
        atomic_write_text(Path(table), '\n'.join(lines) + '\n')
        print(f'table of this run: {table} (the committed table: --report)')
        return
    write_results(stem, {'rows': rows, 'summary': summary, 'commands': commands,
                         'conditions': conds}, '\n'.join(lines) + '\n')


def paired_differences(groups, combos):
    """Per (data set, setting), ``genurl``'s test accuracy minus the teacher's and each
    peer's on every seed both hold, in points: ``[{'dataset', 'setting', 'against',
    'seeds', 'mean', 'se'}]`` (SE: the sample standard deviation over the square root of
    the seeds; 0 for one seed)."""
    out = []
    for d, s in combos:
        mine = {r['seed']: r['accuracy'] for r in groups.get((d, s, 'genurl'), [])}
        for other in ('teacher', *PEERS):
            theirs = {r['seed']: r['accuracy'] for r in groups.get((d, s, other), [])}
            seeds = sorted(set(mine) & set(theirs))
            if not seeds:
                continue
            mean, se = paired_points([mine[k] for k in seeds], [theirs[k] for k in seeds])
            out.append({'dataset': d, 'setting': s, 'against': other, 'seeds': seeds,
                        'mean': mean, 'se': se})
    return out


if __name__ == '__main__':
    main()
