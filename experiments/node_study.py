"""A systematic study of GenURL's node-embedding design space, on validation data only.

Three phases, each resumable and each writing experiments/results/node_study*.{json,md}:

  search    an Optuna study (TPE sampler, median pruner on the running mean from the second
            seed on, a fixed number of trials and/or a time budget) over the config switches below.
            The objective is the mean **validation** accuracy of the project's probe
            (genurl_pyg.evaluation.linear_probe) over --seeds training seeds, or with
            --objective selection its accuracy on the *selection* nodes: validation plus the
            labelled nodes outside train/val/test (2,207 on CiteSeer's public split against
            500 validation nodes), so that the chosen config is fitted to four times as many
            nodes (a smaller winner's curse; node_study.md section 16). The probe's C is
            still chosen on the validation nodes. --space extended adds the encoder's input
            smoothing and Q on a sphere to the space, --space sphere the sphere only. The
            study lives in an SQLite file (--storage) and continues where it stopped when
            rerun; a study remembers its objective and space and refuses to continue under
            different ones. Several processes may run one study at once (one per core), each
            with its own --worker index, so that their samplers do not propose the same
            configs.
            --protocol replaces the data set's evaluation split in every phase, e.g.
            random-planetoid (the public split's sizes redrawn per seed: each seed's
            validation nodes are a new draw, so a trial's score is read on many node sets
            rather than one; node_study.md section 21).
  ablation  from one configuration (the study's best, --config, or --shipped: the data set's
            shipped YAML), each component switched off or swapped in turn, --seeds seeds
            each; validation, selection and test accuracy, each row's paired difference
            from the chosen configuration; saved after every seed, --resume continues.
            Two cores: one process per worktree takes its own seeds (--first-seed), and
            --merge folds the other's file into this one.
  final     the chosen configuration, --seeds seeds, test accuracy computed once; with
            --write-config it becomes genurl_pyg/configs/<dataset>.yaml.

Usage:
  python experiments/node_study.py search --dataset Cora --trials 40 --timeout 3600
  python experiments/node_study.py ablation --dataset Cora --seeds 10
  python experiments/node_study.py ablation --dataset Photo --shipped --seeds 10 --resume
  python experiments/node_study.py ablation --dataset Photo --shipped --first-seed 5 --seeds 5
      (in a second worktree, on the other core; --resume there if the file exists)
  python experiments/node_study.py ablation --dataset Photo --shipped --merge OTHER.json
  python experiments/node_study.py final --dataset Cora --seeds 10 --write-config

Needs optuna (pip install optuna). Threads: --threads (torch intra-op), recorded.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import RESULTS, versions, write_results  # noqa: E402

# name -> (kind, choices or bounds); the space the study samples from.
SPACE = {
    'num_layers': ('cat', [1, 2]),
    'projector_channels': ('cat', [0, 128]),
    'feature_mask': ('float', (0.0, 0.5)),
    'edge_drop': ('float', (0.0, 0.5)),
    'view_weight': ('float', (0.25, 1.0)),
    'graph_hops': ('cat', [1, 2]),
    'use_features': ('cat', [True, False]),
    'lam': ('cat', ['auto', 0.5, 0.8]),
    'k': ('cat', [5, 10, 15, 30]),
    'nu_latent': ('logfloat', (0.1, 30.0)),
    'alpha': ('float', (0.0, 1.0)),
    'lr': ('logfloat', (1e-4, 1e-2)),
    'epochs': ('cat', [20, 50, 100, 150, 200]),
    'feature_norm': ('cat', ['none', 'row']),
}

# --space extended: the design switches added after the first studies (sessions 21-23):
# one weight layer reading A_hat^h X (won on Cora, DBLP, Photo, Computers) and Q computed on
# a sphere of radius r (0 = off; helped CiteSeer below the bar, section 16).
EXTENDED = {
    **SPACE,
    'encoder_input_hops': ('cat', [0, 1, 2]),
    'latent_radius': ('cat', [0.0, 2.0, 3.0, 5.0]),
}
# --space sphere: the extended space without the encoder's input smoothing, for graphs where
# A_hat X fills in a sparse bag-of-words input (Coauthor-CS: 7.6x the non-zeros, 6x the
# seconds per seed, -0.87 on validation, section 13), so a study does not spend its budget there.
# Its epochs add 80 (what cs.yaml and physics.yaml ship), so the shipped config is trial 0 as is.
SPHERE = {**SPACE, 'epochs': ('cat', [20, 50, 80, 100, 150, 200]),
          'latent_radius': EXTENDED['latent_radius']}
SPACES = {'default': SPACE, 'extended': EXTENDED, 'sphere': SPHERE}
OBJECTIVES = ('val', 'selection')

# Ablation rows: (label, overrides applied to the chosen configuration).
ABLATIONS = [
    ('chosen configuration', {}),
    ('P: no feature geodesics (graph + views)', {'use_features': False}),
    ('P: with feature geodesics (lam auto)', {'use_features': True, 'lam': 'auto'}),
    ('P: feature kNN on A_hat^2 X (lam auto)',
     {'use_features': True, 'lam': 'auto', 'knn_input_hops': 2}),
    ('P: no predefined graph (feature geodesics + views)',
     {'use_graph': False, 'use_features': True}),
    ('P: no views', {'views': False}),
    ('P: graph 1 hop', {'graph_hops': 1}),
    ('P: lam 0.5 instead of the chosen', {'lam': 0.5}),
    ('objective: nu_latent x10', {'nu_latent': '*10'}),
    ('objective: nu_latent /10', {'nu_latent': '/10'}),
    ('objective: GKL alpha 0', {'alpha': 0.0}),
    ('objective: Q on a sphere of radius 3 (latent_radius 3)', {'latent_radius': 3.0}),
    ('objective: fuzzy cross-entropy instead of GKL', {'loss': 'fuzzy_ce'}),
    ('input: row-normalised features', {'feature_norm': 'row'}),
    ('input: raw features', {'feature_norm': 'none'}),
    ('encoder: 1 layer', {'num_layers': 1}),
    ('encoder: 2 layers', {'num_layers': 2}),
    ('representation: projector 128 (h read before it)', {'projector_channels': 128}),
    ('representation: no projector', {'projector_channels': 0}),
    # The design switches shipped since the first ablation (sessions 21-57), so that an
    # ablation of today's shipped configs (--shipped) switches each of them too.
    ('training: none (the encoder as initialised)', {'epochs': 1, 'lr': 1e-12}),
    ('P: graph 2 hops', {'graph_hops': 2}),
    ('encoder: reads X (encoder_input_hops 0)',
     {'encoder_input_hops': 0, 'view_smoothing': 'shared'}),
    ('encoder: reads A_hat X (encoder_input_hops 1)', {'encoder_input_hops': 1}),
    ('views: column masks of the shared smoothed input (columns, shared)',
     {'feature_mask_form': 'columns', 'view_smoothing': 'shared'}),
    ('views: entry masks, each view smoothed over its own graph (entries, own)',
     {'feature_mask_form': 'entries', 'view_smoothing': 'own'}),
    ('objective: Q in R^D (no sphere, latent_radius 0)', {'latent_radius': 0.0}),
    ('objective: Student-t repulsion alone (no correlation term)',
     {'repulsion': 'student_t', 'decorrelation_weight': 1.0, 'decorrelation_probes': 0}),
    ('objective: correlation term beside the repulsion (1e-4, 16 probes)',
     {'repulsion': 'student_t+decorrelation', 'decorrelation_weight': 1e-4,
      'decorrelation_probes': 16}),
    ('encoder: no input skip path', {'input_skip': False, 'input_skip_rank': 0}),
]


def set_accuracy(predictions, y, train, val, test, which: str = 'selection'):
    """The probe's accuracy on one node set of the split (``paired_nodes.node_sets``:
    ``'val'``, ``'test'``, ``'holdout'``, ``'selection'``), read from its predictions for
    every node (no refit); unlabelled nodes (y < 0) skipped; None when the set is empty."""
    import numpy as np
    from paired_nodes import node_sets  # the paired comparison's own definition
    rows = (node_sets(train, val, test)[which] & (y >= 0)).numpy()
    if not rows.any():
        return None
    return float((np.asarray(predictions)[rows] == y.numpy()[rows]).mean())


def selection_accuracy(predictions, y, train, val, test) -> float:
    """The probe's accuracy on the selection nodes: validation plus the labelled nodes in
    none of train/val/test (the holdout of a public split; none under a random split whose
    test set takes the rest); unlabelled nodes (y < 0) skipped."""
    acc = set_accuracy(predictions, y, train, val, test)
    if acc is None:
        raise ValueError('no labelled selection nodes: the split has no validation nodes')
    return acc


def _evaluate(dataset: str, overrides: Dict, seeds: List[int], report=None,
              test: bool = False, objective: str = 'val', protocol: str = '') -> Dict:
    """Trains one config for each seed; returns per-seed val, selection (and test)
    accuracies; ``report(mean so far, step)`` follows ``objective``; ``protocol``: the
    evaluation split ('' for the data set's own)."""
    from genurl_pyg.datasets import get_spec, load_dataset
    from genurl_pyg.evaluation import linear_probe, split_for
    from genurl_pyg.node import NodeConfig, NodeEmbeddingTrainer, dataset_defaults
    spec, data = get_spec(dataset), load_dataset(dataset)
    protocol = protocol or spec.protocol
    base = dataset_defaults(dataset)
    vals, sels, tests, secs = [], [], [], []
    for step, seed in enumerate(seeds):
        cfg = NodeConfig.from_dict({**overrides, 'seed': seed}, base=base)
        t = time.perf_counter()
        h = NodeEmbeddingTrainer(data, cfg).fit()
        secs.append(time.perf_counter() - t)
        masks = split_for(data, protocol, seed)
        res = linear_probe(h, data.y, *masks)
        vals.append(res.val_accuracy)
        sels.append(selection_accuracy(res.predictions, data.y, *masks))
        if test:
            tests.append(res.test_accuracy)
        if report is not None:
            scores = sels if objective == 'selection' else vals
            report(sum(scores) / len(scores), step)
    out = {'val': vals, 'selection': sels, 'seconds': secs, 'protocol': protocol}
    if test:
        out['test'] = tests
    return out


def _incumbent(dataset: str, space: Optional[Dict] = None, cfg: Optional[Dict] = None) -> Dict:
    """The data set's shipped config (or ``cfg`` over it), restricted to the searched keys
    (values outside the space's choices are left to the sampler)."""
    from genurl_pyg.node import NodeConfig, dataset_defaults
    cfg = NodeConfig.from_dict(cfg or {}, base=dataset_defaults(dataset)).to_dict()
    out = {}
    for name, (kind, spec) in (space or SPACE).items():
        value = cfg[name]
        if kind == 'cat' and value not in spec:
            continue
        if kind != 'cat' and not spec[0] <= value <= spec[1]:
            continue
        out[name] = value
    return out


def _suggest(trial, space: Dict) -> Dict:
    params = {}
    for name, (kind, spec) in space.items():
        if kind == 'cat':
            params[name] = trial.suggest_categorical(name, spec)
        elif kind == 'float':
            params[name] = trial.suggest_float(name, *spec)
        else:
            params[name] = trial.suggest_float(name, *spec, log=True)
    return params


def make_sampler(worker: int = 0):
    """The study's TPE sampler for worker ``worker``. Seeded by the worker index: several
    processes on one study (one per core) with the same seed draw the same random start
    and propose the same configs one after another (session 46 lost three of its first
    seven CS trials to that); worker 0 keeps the seed every earlier study used."""
    import optuna
    if worker < 0:
        raise ValueError(f'worker must be >= 0, got {worker}')
    return optuna.samplers.TPESampler(seed=worker)


def search(args) -> None:
    try:
        import optuna
    except ImportError as exc:
        raise SystemExit('node_study search needs optuna: pip install optuna') from exc
    # one SQLite file per study: a named study does not rewrite the committed file of another
    db = f'node_study_{args.dataset}' + (f'_{args.study}' if args.study else '') + '.db'
    storage = args.storage or f'sqlite:///{RESULTS / db}'
    study = optuna.create_study(
        study_name=f'genurl-{args.dataset}' + (f'-{args.study}' if args.study else ''),
        storage=storage, direction='maximize',
        load_if_exists=True, sampler=make_sampler(args.worker),
        # no pruning on a trial's first draw: one draw's validation SE (~1 point on 500
        # nodes) exceeds the spread between trials, and in session 29 the pruner stopped
        # 3 of 3 trials there within 0.6 of the finished trials' draw-0 median
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1))
    space = SPACES[args.space]
    _check_study_terms(study, args)
    _record_command(study, args.worker, 'python ' + ' '.join(sys.argv))
    if not study.trials:
        _seed_study(study, args.dataset, space, args.enqueue)
    seeds = list(range(args.seeds))

    def objective(trial):
        params = _suggest(trial, space)

        def report(value, step):
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        res = _evaluate(args.dataset, params, seeds, report, objective=args.objective,
                        protocol=args.protocol)
        trial.set_user_attr('seconds_per_seed', sum(res['seconds']) / len(res['seconds']))
        trial.set_user_attr('val', sum(res['val']) / len(res['val']))
        trial.set_user_attr('selection', sum(res['selection']) / len(res['selection']))
        scores = res[args.objective]
        return sum(scores) / len(scores)

    done = len([t for t in study.trials if t.state.is_finished()])
    remaining = max(0, args.trials - done)
    print(f'[node_study] {done} trials already finished; running up to {remaining} more',
          file=sys.stderr)
    if remaining:
        study.optimize(objective, n_trials=remaining, timeout=args.timeout,
                       show_progress_bar=False)
    _write_search(args, study, storage)


def _seed_study(study, dataset: str, space: Dict, paths: List[str]) -> None:
    """Queues a new study's first trials: the shipped default (trial 0: the study can only
    improve on it), then the configs in ``paths`` in order, each over the shipped config.
    A file that leaves a searched key unset gets today's shipped value for it, which is not
    the config as it once ran when the default has moved since (session 28's trial 1 took
    the new sphere): said, key by key."""
    study.enqueue_trial(_incumbent(dataset, space))
    for path in paths:
        cfg = _read_yaml(path)
        unset = sorted(k for k in space if k not in cfg)
        if unset:
            print(f'[node_study] {path} does not set {", ".join(unset)}: its trial takes '
                  f"{dataset}'s shipped value for each (write them in the file to queue "
                  'the config as it was)', flush=True)
        study.enqueue_trial(_incumbent(dataset, space, cfg))


def _check_study_terms(study, args) -> None:
    """A study's values are only comparable under one objective and one space: record
    them with its first call and refuse to continue it under others; older studies, which
    recorded neither, were validation-objective studies over the default space. Configs
    can be queued (--enqueue) into a new study only."""
    terms = {'objective': args.objective, 'space': args.space, 'protocol': args.protocol}
    if study.trials and getattr(args, 'enqueue', None):
        raise SystemExit(f'--enqueue only seeds a new study; {study.study_name!r} already has '
                         f'{len(study.trials)} trials: drop --enqueue to continue it, or '
                         'pass --study NAME for a new one')
    if not study.trials:
        for key, value in terms.items():
            study.set_user_attr(key, value)
        return
    for key, value in terms.items():
        stored = study.user_attrs.get(key, {'objective': 'val', 'space': 'default',
                                            'protocol': ''}[key])
        if stored != value:
            raise SystemExit(f'study {study.study_name!r} was run with --{key} '
                             f"{stored or repr('')}; continuing it with --{key} "
                             f"{value or repr('')} would mix incomparable "
                             'trials: pass that value, or --study NAME for a new study')


def _record_command(study, worker: int, command: str) -> None:
    """Adds ``command`` to the study's record of the processes that ran it. One key per
    worker index, so that workers starting together on one storage do not overwrite each
    other's entry (a worker restarted appends to its own)."""
    key = f'commands_worker_{worker}'
    study.set_user_attr(key, list(study.user_attrs.get(key, [])) + [command])


def study_commands(study) -> List[str]:
    """Every command recorded by :func:`_record_command`, by worker index, then in order."""
    keys = sorted((k for k in study.user_attrs if k.startswith('commands_worker_')),
                  key=lambda k: int(k.rsplit('_', 1)[1]))
    return [c for k in keys for c in study.user_attrs[k]]


def _read_yaml(path: str) -> Dict:
    """The config mapping in ``path`` (the package's reader: YAML 1.2 floats, so ``1e-3``
    is a number), or a one-line exit naming what is wrong with the file."""
    from genurl_pyg.utils.yamlio import load_mapping
    try:
        return load_mapping(path)
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc


def _write_search(args, study, storage: str) -> None:
    trials = [{'number': t.number, 'state': t.state.name, 'value': t.value,
               'params': t.params, 'seconds_per_seed': t.user_attrs.get('seconds_per_seed'),
               'val': t.user_attrs.get('val'), 'selection': t.user_attrs.get('selection')}
              for t in study.trials]
    complete = [t for t in trials if t['state'] == 'COMPLETE']
    best = max(complete, key=lambda t: t['value']) if complete else None
    payload = {'phase': 'search', 'dataset': args.dataset, 'storage': storage,
               'command': 'python ' + ' '.join(sys.argv), 'threads': args.threads,
               # every process's command (a study run by several workers; older studies,
               # which recorded none, keep only the writer's)
               'commands': study_commands(study) or ['python ' + ' '.join(sys.argv)],
               'seeds_per_trial': args.seeds, 'objective': args.objective,
               'protocol': args.protocol or "the data set's own",
               'space_name': args.space,
               'space': {k: list(v[1]) for k, v in SPACES[args.space].items()},
               'versions': versions(), 'best': best, 'trials': trials}
    lines = [f'# GenURL design study on {args.dataset}: search'
             + (f' ({args.study})' if args.study else ''), '',
             'Commands (every process that ran this study): '
             + '; '.join(f'`{c}`' for c in payload['commands'])
             + f'; torch threads {args.threads}; objective: mean '
             + ('validation' if args.objective == 'val' else
                'selection (validation + holdout nodes)')
             + f' accuracy of the LR probe over {args.seeds} seeds; space: {args.space}; '
             + (f'protocol: {args.protocol}; ' if args.protocol else '')
             + f'TPE sampler (seed {args.worker}: the --worker of the process '
             'that wrote this file; the table holds every worker\'s trials), median pruner. '
             'Test accuracy is not looked at in this phase.',
             '', '| trial | state | objective | val acc | selection acc | s/seed | params |',
             '|---|---|---|---|---|---|---|']

    def pct(v):
        return '' if v is None else f'{100 * v:.2f}'
    for t in sorted(complete, key=lambda t: -t['value'])[:15]:
        lines.append(f"| {t['number']} | {t['state']} | {pct(t['value'])} | {pct(t['val'])} | "
                     f"{pct(t['selection'])} | {t['seconds_per_seed'] or 0:.1f} | "
                     f"`{json.dumps(t['params'])}` |")
    lines.append(f'\n{len(complete)} complete, '
                 f"{sum(t['state'] == 'PRUNED' for t in trials)} pruned trials.")
    write_results(_stem(args, 'search'), payload, '\n'.join(lines) + '\n')


def _stem(args, phase: str) -> str:
    return f'node_study_{args.dataset}' + (f'_{args.study}' if args.study else '') + f'_{phase}'


def _chosen(args) -> Dict:
    if getattr(args, 'shipped', False):
        return {}  # the data set's shipped YAML as it is
    if args.config:
        return _read_yaml(args.config)
    path = RESULTS / f"{_stem(args, 'search')}.json"
    if not path.exists():
        raise SystemExit(f'no search result {path}; run the search phase or pass --config')
    best = json.loads(path.read_text())['best']
    if best is None:
        raise SystemExit(f'{path} has no complete trial')
    return dict(best['params'])


def _resolve(dataset: str, chosen: Dict, overrides: Dict) -> Optional[Dict]:
    """``chosen`` with ``overrides`` applied ('*10', '/10' scale the chosen value), or None
    when the row would not change the run (the switch is already there, or it acts on a
    part of P that the chosen configuration does not use)."""
    from genurl_pyg.node import dataset_defaults
    base = {**dataset_defaults(dataset).to_dict(), **chosen}
    if 'lam' in overrides and 'use_features' not in overrides \
            and not (base['use_features'] and base['use_graph']):
        return None
    out = dict(chosen)
    for key, value in overrides.items():
        if value == '*10':
            value = base[key] * 10
        elif value == '/10':
            value = base[key] / 10
        out[key] = value
    if overrides and all(base.get(k) == v for k, v in out.items() if k in overrides):
        return None
    return out


def planned_rows(dataset: str, chosen: Dict) -> List[tuple]:
    """``(label, overrides, params)`` of each ablation row that changes the run from
    ``chosen``, in :data:`ABLATIONS` order; a row whose config is impossible (e.g. the
    views' own smoothing on an encoder that reads X) is reported on stderr and left out."""
    from genurl_pyg.node import NodeConfig, dataset_defaults
    from genurl_pyg.node.config import ConfigError
    out = []
    for label, overrides in ABLATIONS:
        params = _resolve(dataset, chosen, overrides)
        if params is None:
            continue  # the switch is already in that position, or acts on an unused part
        try:  # an impossible row is reported, not a crash that loses the rows after it
            NodeConfig.from_dict(params, base=dataset_defaults(dataset))
        except ConfigError as exc:
            print(f'[node_study] ablation: skipping {label!r}: {exc}', file=sys.stderr)
            continue
        out.append((label, overrides, params))
    return out


def paired_delta(row: Dict, base: Dict, key: str) -> Optional[tuple]:
    """``(mean, standard error, n)`` of ``row[key] - base[key]`` over the seeds both rows
    ran (the same seed is the same split and the same initial draws up to the change), in
    accuracy units; the standard error is None below two seeds; None without a shared seed."""
    import numpy as np
    mine = dict(zip(_row_seeds(row), row[key]))
    theirs = dict(zip(_row_seeds(base), base[key]))
    shared = sorted(set(mine) & set(theirs))
    if not shared:
        return None
    diff = np.array([mine[s] - theirs[s] for s in shared])
    se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else None
    return float(diff.mean()), se, len(diff)


def _row_seeds(row: Dict) -> List[int]:
    # rows written before per-seed resume ran seeds 0..n-1 and did not record them
    return row.get('seeds', list(range(len(row['val']))))


def ablation_table(rows: List[Dict]) -> List[str]:
    """The ablation's Markdown table: each row's accuracies (mean ± std over its seeds) and
    its paired difference from the first row (the chosen configuration) ± SE over seeds."""
    import numpy as np

    def acc(r, key):
        return f"{100 * np.mean(r[key]):.2f} ± {100 * np.std(r[key]):.2f}"

    def delta(r, key):
        if r is rows[0]:
            return ''
        d = paired_delta(r, rows[0], key)
        if d is None:
            return ''
        return f'{100 * d[0]:+.2f}' + ('' if d[1] is None else f' ± {100 * d[1]:.2f}')
    lines = ['| row | seeds | val acc | Δ val | Δ selection | test acc | Δ test | s/seed |',
             '|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['label']} | {len(r['val'])} | {acc(r, 'val')} | {delta(r, 'val')} | "
                     f"{delta(r, 'selection')} | {acc(r, 'test')} | {delta(r, 'test')} | "
                     f"{np.mean(r['seconds']):.1f} |" if r['seconds'] else
                     f"| {r['label']} | 0 | not run yet |  |  |  |  |  |")
    return lines


RUN_KEYS = ('val', 'selection', 'test', 'seconds')  # what one ablation run adds to its row


def _new_row(label: str, overrides: Dict) -> Dict:
    return {'label': label, 'overrides': overrides, 'seeds': [], **{k: [] for k in RUN_KEYS}}


def _saved_commands(saved: Dict) -> List[str]:
    # files written before every call was recorded hold only the last one's command
    if 'commands' in saved:
        return list(saved['commands'])
    return [saved['command']] if saved.get('command') else []


def ablation(args) -> None:
    from genurl_pyg.datasets import get_spec
    from genurl_pyg.node import dataset_defaults
    chosen = _chosen(args)
    stem = _stem(args, 'ablation')
    path = RESULTS / f'{stem}.json'
    plan = planned_rows(args.dataset, chosen)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    if args.dry_run:
        for label, overrides, _ in plan:
            print(f'{label}: {json.dumps(overrides)}')
        print(f'{len(plan)} rows x {len(seeds)} seeds -> {path}')
        return
    saved = json.loads(path.read_text()) if path.exists() else None
    commands = [] if saved is None else _saved_commands(saved)
    if args.report:  # the saved file as it is, with this version of the report
        if saved is None:
            raise SystemExit(f'--report: no ablation file {path} to report')
        _write_ablation(args, stem, saved['chosen'], saved.get('shipped_config'),
                        saved['rows'], saved.get('protocol', ''), commands)
        return
    if saved is not None and saved.get('chosen') != chosen:  # resume and merge alike
        raise SystemExit(f'{path} was read from another chosen configuration '
                         f"({json.dumps(saved.get('chosen'))}); use another --study name"
                         + (' or drop --resume' if args.resume else ''))
    if args.merge:
        _merge_ablations(args, stem, path, saved, commands, chosen)
        return
    if saved is not None and not args.resume:  # its rows are hours of runs: never drop them
        raise SystemExit(f'{path} exists: --resume continues it (or extends it to more '
                         'seeds); another --study name starts a new file')
    rows: List[Dict] = [] if saved is None else saved['rows']
    commands.append('python ' + ' '.join(sys.argv))  # every call on the file
    by_label = {r['label']: r for r in rows}
    config = dataset_defaults(args.dataset).to_dict() if args.shipped else None
    for label, overrides, _ in plan:
        if label not in by_label:
            by_label[label] = _new_row(label, overrides)
            rows.append(by_label[label])
        by_label[label].setdefault('seeds', _row_seeds(by_label[label]))
    # Seed by seed across the rows, saved after each run: a long ablation stopped early
    # leaves every row read on the same first seeds (paired differences readable), not
    # some rows complete and the rest empty; a stop loses one run.
    protocol = args.protocol or get_spec(args.dataset).protocol
    ran = False
    for seed in seeds:
        for label, _, params in plan:
            row = by_label[label]
            if seed in row['seeds']:
                continue
            print(f'[node_study] ablation: seed {seed}: {label}', file=sys.stderr, flush=True)
            res = _evaluate(args.dataset, params, [seed], test=True, protocol=protocol)
            row['seeds'].append(seed)
            for key in RUN_KEYS:
                row[key].append(res[key][0])
            _write_ablation(args, stem, chosen, config, rows, protocol, commands)
            ran = True
    if not ran:  # nothing left to run: the call is still recorded, the table rewritten
        _write_ablation(args, stem, chosen, config, rows, protocol, commands)


def merge_runs(rows: List[Dict], other: List[Dict]) -> tuple:
    """Fold ``other``'s runs into ``rows`` in place: a seed a row lacks is added with its
    accuracies and seconds; a row ``rows`` lacks is added whole. A seed both hold is kept as
    ``rows`` has it. Returns ``(added, conflicts)``: the number of runs added, and
    ``(label, seed)`` for each shared seed whose accuracies differ (the same seed should
    give the same run; a difference is reported, never averaged away)."""
    by_label = {r['label']: r for r in rows}
    added, conflicts = 0, []
    for theirs in other:
        mine = by_label.get(theirs['label'])
        if mine is None:
            mine = _new_row(theirs['label'], theirs.get('overrides', {}))
            rows.append(mine)
            by_label[mine['label']] = mine
        mine.setdefault('seeds', _row_seeds(mine))
        for i, seed in enumerate(_row_seeds(theirs)):
            if seed in mine['seeds']:
                j = mine['seeds'].index(seed)
                if any(mine[k][j] != theirs[k][i] for k in ('val', 'selection', 'test')):
                    conflicts.append((theirs['label'], seed))
                continue
            mine['seeds'].append(seed)
            for key in RUN_KEYS:
                mine[key].append(theirs[key][i])
            added += 1
    return added, conflicts


def _merge_ablations(args, stem: str, path, saved: Optional[Dict], commands: List[str],
                     chosen: Dict) -> None:
    """--merge: the runs of ablation files written elsewhere (another worktree or machine,
    e.g. other seeds through --first-seed) folded into this one; nothing runs. Files from
    another data set, chosen configuration or protocol are refused before anything is
    written."""
    from genurl_pyg.datasets import get_spec
    others = []
    for other_path in args.merge:
        try:
            other = json.loads(Path(other_path).read_text())
        except (OSError, ValueError) as err:
            raise SystemExit(f'--merge: cannot read {other_path}: {err}')
        if other.get('phase') != 'ablation' or other.get('dataset') != args.dataset:
            raise SystemExit(f'--merge: {other_path} is not an ablation of {args.dataset}')
        if other.get('chosen') != chosen:
            raise SystemExit(f'--merge: {other_path} was read from another chosen '
                             f"configuration ({json.dumps(other.get('chosen'))})")
        others.append((other_path, other))
    protocol = (saved or others[0][1]).get('protocol') or get_spec(args.dataset).protocol
    for other_path, other in others:
        if (other.get('protocol') or protocol) != protocol:
            raise SystemExit(f"--merge: {other_path} used protocol {other.get('protocol')!r}, "
                             f'this file {protocol!r}')
    rows: List[Dict] = [] if saved is None else saved['rows']
    config = (saved or others[0][1]).get('shipped_config')
    for other_path, other in others:
        added, conflicts = merge_runs(rows, other['rows'])
        for command in _saved_commands(other):
            if command not in commands:
                commands.append(command)
        print(f'[node_study] merged {added} runs from {other_path}', file=sys.stderr)
        for label, seed in conflicts:
            print(f'[node_study] kept this file\'s run of seed {seed} of {label!r}: '
                  f'{other_path} holds a different one', file=sys.stderr)
    commands.append('python ' + ' '.join(sys.argv))
    _write_ablation(args, stem, chosen, config, rows, protocol, commands)


def _seed_span(rows: List[Dict]) -> str:
    seeds = sorted({s for r in rows for s in _row_seeds(r)})
    if not seeds:
        return 'none'
    return (f'{seeds[0]}-{seeds[-1]}' if seeds == list(range(seeds[0], seeds[-1] + 1))
            else ', '.join(map(str, seeds)))


def _write_ablation(args, stem: str, chosen: Dict, config: Optional[Dict], rows: List[Dict],
                    protocol: str, commands: List[str]) -> None:
    payload = {'phase': 'ablation', 'dataset': args.dataset, 'chosen': chosen,
               'shipped_config': config, 'protocol': protocol,
               'command': commands[-1], 'commands': commands, 'threads': args.threads,
               'versions': versions(), 'rows': rows}
    what = (f'the shipped `genurl_pyg/configs/{args.dataset.lower()}.yaml` '
            f'(in full: `{json.dumps(config)}`)' if config is not None
            else f'`{json.dumps(chosen)}`')
    lines = [f'# GenURL ablation on {args.dataset}', '',
             'Commands (every call on this file, in order): '
             + '; '.join(f'`{c}`' for c in commands)
             + f'; torch threads {args.threads}; up to '
             f"{max((len(r['val']) for r in rows), default=0)} seeds per row, seeds "
             f'{_seed_span(rows)} (the seeds column says how many each row has); protocol: '
             f'{protocol}; LR probe; chosen configuration: {what}. Each row switches one '
             'component off or swaps it; Δ = the row minus the chosen configuration, paired '
             'by seed (same split and initial draws), ± its standard error over seeds; '
             'selection = validation plus the labelled nodes in no split (the same as '
             'validation on a random split). An ablation is a reading, not a choice: no row '
             'ships from it.', '']
    write_results(stem, payload, '\n'.join(lines + ablation_table(rows)) + '\n')


def final(args) -> None:
    import numpy as np
    chosen = _chosen(args)
    res = _evaluate(args.dataset, chosen, list(range(args.seeds)), test=True,
                    protocol=args.protocol)
    payload = {'phase': 'final', 'dataset': args.dataset, 'chosen': chosen,
               'command': 'python ' + ' '.join(sys.argv), 'threads': args.threads,
               'versions': versions(), **res}
    text = (f'# GenURL final on {args.dataset}\n\nCommand: `{payload["command"]}`; torch '
            f'threads {args.threads}; {args.seeds} seeds; LR probe ({res["protocol"]}).\n\n'
            f'Configuration: `{json.dumps(chosen)}`\n\n'
            f'Validation {100 * np.mean(res["val"]):.2f} ± {100 * np.std(res["val"]):.2f} %, '
            f'selection (validation + holdout) {100 * np.mean(res["selection"]):.2f} ± '
            f'{100 * np.std(res["selection"]):.2f} %, '
            f'test {100 * np.mean(res["test"]):.2f} ± {100 * np.std(res["test"]):.2f} %, '
            f'{np.mean(res["seconds"]):.1f} s/seed.\n')
    write_results(_stem(args, 'final'), payload, text)
    if args.write_config:
        _write_config(args.dataset, chosen)


def _write_config(dataset: str, chosen: Dict) -> None:
    import yaml
    from genurl_pyg.node import NodeConfig, dataset_defaults
    from genurl_pyg.utils.io import atomic_write_text
    cfg = NodeConfig.from_dict(chosen, base=dataset_defaults(dataset))
    path = (Path(__file__).resolve().parents[1] / 'genurl_pyg' / 'configs'
            / f'{dataset.lower()}.yaml')
    header = (f'# GenURL node-embedding defaults for {dataset} (versioned with the code).\n'
              '# Chosen by experiments/node_study.py on validation accuracy only; see\n'
              f'# experiments/results/node_study_{dataset}_*.md.\n')
    keep = {k: v for k, v in cfg.to_dict().items() if k not in ('seed', 'device')}
    atomic_write_text(path, header + yaml.safe_dump(keep, sort_keys=False))


def main(argv: Optional[List[str]] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument('phase', choices=['search', 'ablation', 'final'])
    ap.add_argument('--dataset', required=True)
    ap.add_argument('--seeds', type=int, default=None,
                    help='training seeds per trial (search, default 2) or row (default 10)')
    ap.add_argument('--trials', type=int, default=40, help='search: total trials wanted')
    ap.add_argument('--timeout', type=float, default=None, help='search: seconds for this call')
    ap.add_argument('--storage', default=None, help='search: Optuna storage URL')
    ap.add_argument('--study', default='',
                    help='a name for a new study (e.g. after the space changed); result '
                         'files get it as a suffix; every phase reads that study\'s search')
    ap.add_argument('--config', default=None,
                    help='ablation/final: a YAML of overrides instead of the study\'s best')
    ap.add_argument('--objective', choices=OBJECTIVES, default='val',
                    help='search: what a trial maximises: validation accuracy, or accuracy '
                         'on the selection nodes (validation + labelled nodes outside the '
                         'split; the same as val under random splits)')
    ap.add_argument('--protocol', default='',
                    help="evaluation split instead of the data set's own, in every phase "
                         "(e.g. random-planetoid); a study remembers it")
    ap.add_argument('--space', choices=sorted(SPACES), default='default',
                    help='search: the switches sampled (extended adds encoder_input_hops '
                         'and latent_radius; sphere adds latent_radius and 80 epochs only)')
    ap.add_argument('--enqueue', nargs='*', default=[], metavar='YAML',
                    help='search, new study only: configs to try right after the shipped '
                         'one (restricted to the space)')
    ap.add_argument('--resume', action='store_true',
                    help='ablation: keep the finished seeds of every row and run the rest '
                         '(also extends rows to a larger --seeds)')
    ap.add_argument('--shipped', action='store_true',
                    help="ablation/final: the data set's shipped YAML as the chosen "
                         "configuration (files get the study name 'shipped' unless --study)")
    ap.add_argument('--report', action='store_true',
                    help='ablation: rewrite the table from the saved file and run nothing '
                         '(--resume would run the missing seeds of every row)')
    ap.add_argument('--first-seed', type=int, default=0,
                    help='ablation: run seeds FIRST_SEED .. FIRST_SEED+SEEDS-1 (another '
                         'process, core or machine takes other seeds; --merge joins them)')
    ap.add_argument('--merge', nargs='+', default=[], metavar='JSON',
                    help='ablation: fold the runs of these ablation files (same data set, '
                         'chosen configuration and protocol) into this one and run nothing')
    ap.add_argument('--dry-run', action='store_true',
                    help='ablation: list the rows that would run, with their switches, and stop')
    ap.add_argument('--write-config', action='store_true',
                    help='final: write the chosen configuration as the data set default')
    ap.add_argument('--worker', type=int, default=0,
                    help='search: this process\'s index when several run one study at once '
                         '(one per core, same --storage): each samples with its own seed, '
                         'so they do not propose the same configs; 0 for a single process')
    ap.add_argument('--threads', type=int, default=1)
    args = ap.parse_args(argv)
    if args.seeds is None:
        args.seeds = 2 if args.phase == 'search' else 10
    if args.first_seed < 0:
        ap.error(f'--first-seed must be >= 0, got {args.first_seed}')
    if args.merge and (args.report or args.dry_run or args.phase != 'ablation'):
        ap.error('--merge is an ablation action of its own; drop --report/--dry-run')
    if args.worker < 0:
        ap.error(f'--worker must be >= 0, got {args.worker}')
    if args.shipped and args.config:
        ap.error('--shipped and --config both name the chosen configuration; give one')
    if args.shipped and not args.study:
        args.study = 'shipped'
    from genurl_pyg.evaluation.node import PROTOCOLS  # after parsing: --help stays fast
    if args.protocol and args.protocol not in PROTOCOLS:
        ap.error(f'--protocol must be one of {", ".join(PROTOCOLS)}, got {args.protocol!r}')
    import torch
    torch.set_num_threads(args.threads)
    {'search': search, 'ablation': ablation, 'final': final}[args.phase](args)


if __name__ == '__main__':
    main()
