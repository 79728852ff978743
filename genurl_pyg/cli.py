"""``genurl-pyg``: train and evaluate GenURL embeddings from the command line.

Errors a user can fix (unknown data set, missing data, bad config value, bad file) print one
line ``error: ...`` and exit with code 2; no traceback.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import warnings
from pathlib import Path
from typing import List, Optional

# Nothing heavy at import time: torch and PyG load inside the commands, so `--help` and
# argument errors answer at once.

EXAMPLES_TRAIN = """examples:
  genurl-pyg train --dataset Cora --seeds 10 --out runs/cora
  genurl-pyg train --dataset Photo --encoder sage --set lam=0.5 --set views=false
  genurl-pyg train --dataset Cora --config my.yaml --plot --out runs/cora-plot
  genurl-pyg train --dataset Cora --out runs/cora --resume   # continue a killed run
  genurl-pyg train --dataset ogbn-arxiv --encoder sign --set batch_size=4096
  torchrun --nproc_per_node=2 -m genurl_pyg train --dataset Cora --out runs/cora-ddp

Config precedence: built-in defaults < the data set's YAML (genurl_pyg/configs/) <
--config FILE < flags (--encoder, --epochs, --device, --seed) < --set KEY=VALUE.
Every key of the config can be set with --set; `genurl-pyg config --dataset Cora` prints them.

Data: --root DIR or $GENURL_DATA (default ~/.cache/genurl_pyg/data). Raw files are copied
from the read-only mirror $GENURL_DATA_MIRROR when present, else the loader downloads.
"""

EXAMPLES_BENCH = """examples:
  genurl-pyg bench --suite quick --jobs 2 --threads 1 --out runs/bench-quick
  genurl-pyg bench --suite quick --out runs/bench-quick --resume     # after a kill
  genurl-pyg bench --suite full --tasks node,kd --out runs/full --resume
  genurl-pyg bench --suite quick --out runs/new --compare runs/bench-quick
  genurl-pyg bench --suite quick --list

Suites: smoke (KarateClub, digits, 256 images; about a minute), quick (Cora, digits, a
Fashion-MNIST subset; under 15 minutes on 2 cores), full (every data set, peer and seed of
the task benchmarks; hours), gpu (ResNet-18 CIFAR-10, OGB; needs CUDA).
"""


THIRD_PARTY = r'(torch|torch_geometric|torch_sparse|torch_scatter|ogb|sklearn|umap|pynndescent)(\.|$)'


def _quiet_third_party_warnings() -> None:
    """Known deprecation notices of our dependencies (for example PyG's use of
    ``torch.jit.script``) say nothing a user of this tool can act on."""
    for category in (FutureWarning, DeprecationWarning):
        warnings.filterwarnings('ignore', category=category, module=THIRD_PARTY)
    warnings.filterwarnings('ignore', message='.*torch.jit.script.*is deprecated')
    # What remains is meant for the user: one line, without a source line of ours.
    warnings.formatwarning = lambda message, category, *args, **kwargs: f'warning: {message}\n'


def _add_threads_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument('--threads', type=int, default=None, metavar='N',
                   help='torch CPU threads for this process (default: torch\'s choice, one '
                        'per core). When several jobs share a machine, give each its share '
                        '(two jobs on two cores: --threads 1 each); oversubscribed cores made '
                        'epochs 5x slower in our measurements')


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument('--dataset', required=True,
                   help='registry name, e.g. Cora, CiteSeer, DBLP, Computers, Photo, CS, '
                        'Physics (see `genurl-pyg datasets`)')
    p.add_argument('--root', default=None,
                   help='writable data root (default: $GENURL_DATA or the user cache)')


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='genurl-pyg',
        description='GenURL: self-supervised embeddings by matching a sparse input similarity '
                    'P (graph + feature geodesics) with a heavy-tailed embedding similarity Q.',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='Run `genurl-pyg COMMAND --help` for the options of each command.')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')

    p = sub.add_parser('train', help='train node embeddings on a graph and evaluate them',
                       description='Train GenURL node embeddings for several seeds, evaluate '
                                   'each with a linear probe, and write a run folder.',
                       epilog=EXAMPLES_TRAIN, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_data_args(p)
    p.add_argument('--encoder', choices=['gcn', 'sage', 'ego-gcn', 'gat', 'mlp', 'sign',
                                         'embedding', 'auto'],
                   default=None,
                   help='gcn/sage/gat: message passing (whole graph, or NeighborLoader '
                        "subgraphs with --set graph_batching=neighbor); ego-gcn: an MLP and a "
                        'GCN channel side by side (for heterophilous graphs); mlp: features '
                        'only; sign: MLP on precomputed propagated features, mini-batch; '
                        'embedding: one learnable vector per node (no features read); auto: '
                        'gcn up to 100k nodes (ego-gcn when the edges disagree with the '
                        'features), sign beyond; on a graph without features (no x, or one-hot '
                        'ids) a GCN over learnable node vectors (default: from the data set '
                        'config)')
    p.add_argument('--config', type=Path, default=None, help='YAML file of config overrides')
    p.add_argument('--set', dest='overrides', action='append', default=[], metavar='KEY=VALUE',
                   help='override one config key (YAML value syntax), repeatable')
    p.add_argument('--seeds', type=int, default=10, help='number of seeds (default 10)')
    p.add_argument('--seed', type=int, default=None, help='first seed (default: config seed)')
    p.add_argument('--epochs', type=int, default=None, help='training epochs per seed')
    p.add_argument('--device', default=None, help="'cpu' or 'cuda' (default: config)")
    p.add_argument('--out', type=Path, default=Path('runs/latest'),
                   help='run folder (default runs/latest)')
    p.add_argument('--resume', action='store_true',
                   help='continue a run in --out from its finished seeds and last checkpoint')
    p.add_argument('--plot', action='store_true', help='save embeddings.png coloured by class')
    p.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    _add_threads_arg(p)

    p = sub.add_parser('eval', help='evaluate saved embeddings with the linear probe',
                       description='Re-evaluate an [N, d] embedding file with the protocol '
                                   'of the data set (public split, or random 10/10/80 splits).')
    p.add_argument('--embeddings', type=Path, required=True, help='a .pt file with an [N, d] tensor')
    _add_data_args(p)
    p.add_argument('--seeds', type=int, default=10,
                   help='random splits to average over (random-split protocols only)')
    p.add_argument('--no-progress', action='store_true', help='hide the per-split progress lines')
    _add_threads_arg(p)

    p = sub.add_parser('config', help='print the resolved config of a data set as YAML',
                       description='Print the config `train` would use, after --config/--set: '
                                   'every key with its value. Save it, edit it, and pass it '
                                   'back with `train --config FILE`.',
                       epilog='example:\n  genurl-pyg config --dataset Cora --set lr=1e-3 > '
                              'my.yaml\n  genurl-pyg train --dataset Cora --config my.yaml',
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--dataset', required=True,
                   help='registry name; its shipped YAML is the base (see `genurl-pyg datasets`)')
    p.add_argument('--config', type=Path, default=None,
                   help='YAML file of overrides, applied on top of the data set\'s config')
    p.add_argument('--set', dest='overrides', action='append', default=[], metavar='KEY=VALUE',
                   help='override one config key (YAML value syntax, 1e-3 is a number), '
                        'repeatable')

    p = sub.add_parser('embed', help='dimension reduction of a table or images (2-D maps)',
                       description='Fit GenURLEmbedding (a scikit-learn style estimator: free '
                                   'coordinates by default, an MLP with --set parametric=true) '
                                   'to tabular data, write the embedding, quality metrics and '
                                   'optionally a scatter plot.',
                       epilog='examples:\n  genurl-pyg embed --data digits --out runs/digits --plot\n'
                              '  genurl-pyg embed --data my.csv --labels y.npy --out runs/my\n'
                              '  genurl-pyg embed --data mnist --set parametric=true --out runs/mnist',
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', required=True,
                   help="'digits' (scikit-learn), 'mnist' (10k test images, from the data "
                        "root/mirror), 'coauthor-cs' (node features), or a .npy/.csv file")
    p.add_argument('--labels', default=None, help='.npy or one-column .csv labels for metrics '
                                                  'and colours')
    p.add_argument('--out', type=Path, default=Path('runs/embed'),
                   help='output folder for embedding.npy, metrics.json and embedding.png '
                        '(default runs/embed)')
    p.add_argument('--root', default=None, help='data root for mnist/coauthor-cs')
    p.add_argument('--n-components', type=int, default=2,
                   help='embedding dimension (default 2, for a map)')
    p.add_argument('--n-neighbors', type=int, default=15,
                   help='k of the kNN graph that P is built on (default 15; clipped to '
                        'n_samples - 1 with a warning)')
    p.add_argument('--seed', type=int, default=0, help='random seed (default 0)')
    p.add_argument('--device', default='cpu', help="'cpu' or 'cuda' (default cpu)")
    p.add_argument('--set', dest='overrides', action='append', default=[], metavar='KEY=VALUE',
                   help='any GenURLEmbedding parameter, e.g. --set n_epochs=60')
    p.add_argument('--plot', action='store_true', help='save embedding.png coloured by label')
    p.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    _add_threads_arg(p)

    p = sub.add_parser('ssl', help='pretrain an image backbone (self-supervised) and score it',
                       description='Self-supervised visual learning with GenURL: P over each '
                                   'batch joins the two views of an image and the EMA '
                                   "teacher's kNN; writes result.json (kNN and linear-probe "
                                   'accuracy, images/s, seconds, peak memory), backbone.pt '
                                   '(state_dict) and checkpoint.pt (for --resume).',
                       epilog='examples:\n  genurl-pyg ssl --dataset fashion-mnist --epochs 20 '
                              '--out runs/fmnist --plot\n  genurl-pyg ssl --dataset cifar10 '
                              '--backbone resnet18 --epochs 200 --batch-size 512 --out '
                              'runs/c10\n  genurl-pyg ssl --dataset cifar10-jpeg --set '
                              'view_weight=0.5 knn_start=10 --out runs/teacher-knn\n'
                              '  torchrun --nproc_per_node=4 -m genurl_pyg ssl --dataset '
                              'cifar10 --backbone resnet18 --batch-size 512 --out runs/ddp  '
                              '# 512 is the global batch',
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--dataset', required=True,
                   help='cifar10-jpeg, fashion-mnist, mnist-test (offline, from the mirror); '
                        'cifar10, cifar100, stl10 (torchvision download)')
    p.add_argument('--backbone', default=None,
                   help='small-cnn (CPU-sized), resnet18, resnet50 (CIFAR stem); default '
                        'small-cnn')
    p.add_argument('--epochs', type=int, default=None, help='training epochs (default 100)')
    p.add_argument('--batch-size', type=int, default=None, help='images per step (default 256)')
    p.add_argument('--device', default=None, help="'cpu', 'cuda' or 'auto' (default auto)")
    p.add_argument('--config', type=Path, default=None, help='YAML file of SSLConfig keys')
    p.add_argument('--set', dest='overrides', action='append', default=[], metavar='KEY=VALUE',
                   help='override one SSLConfig key (YAML value syntax), repeatable')
    p.add_argument('--root', default=None,
                   help='writable data root (default: $GENURL_DATA or the user cache)')
    p.add_argument('--out', type=Path, default=Path('runs/ssl'),
                   help='output folder (default runs/ssl)')
    p.add_argument('--resume', action='store_true', help='continue from --out/checkpoint.pt')
    p.add_argument('--plot', action='store_true', help='save test_map.png (2-D map of the '
                                                       'test features, coloured by class)')
    p.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    _add_threads_arg(p)

    p = sub.add_parser('distill', help='distil a GNN teacher into a graph-free MLP student '
                                       '(or an image backbone into a small CNN)',
                       description="Unsupervised knowledge distillation with GenURL: P is built "
                                   "from the teacher's embeddings (kNN + geodesics), the "
                                   "student (an MLP on node features, no edge_index; for an "
                                   "image set a small CNN on random views) learns a Q that "
                                   "matches it. Teacher and student are scored by the same "
                                   "probes; writes result.json, students/, progress.json (for "
                                   "--resume), and for graphs embeddings/.",
                       epilog='examples:\n  genurl-pyg train --dataset Cora --seeds 1 --out '
                              'runs/cora\n  genurl-pyg distill --dataset Cora --teacher '
                              'runs/cora --out runs/cora-kd\n  genurl-pyg distill --dataset '
                              'Cora --teacher genurl --setting inductive --out runs/cora-ind\n'
                              '  genurl-pyg distill --dataset Cora --teacher genurl --set '
                              'objective=mse --out runs/cora-mse\n'
                              '  genurl-pyg ssl --dataset fashion-mnist --out runs/fmnist\n'
                              '  genurl-pyg distill --dataset fashion-mnist --teacher '
                              'runs/fmnist --out runs/fmnist-kd',
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--dataset', required=True,
                   help='a graph of the registry (Cora, CiteSeer, Photo, ...; see `genurl-pyg '
                        'datasets`) or an image set (fashion-mnist, cifar10-jpeg, cifar10, ...)')
    p.add_argument('--root', default=None,
                   help='writable data root (default: $GENURL_DATA or the user cache)')
    p.add_argument('--teacher', required=True,
                   help="graphs: an [N, d] embeddings .pt file, a `genurl-pyg train` run "
                        "folder (its per-seed embeddings), or 'genurl': train the data set's "
                        'default GenURL GCN here for each seed (needed for --setting '
                        'inductive); images: a `genurl-pyg ssl` run folder, or a state_dict '
                        'file with --teacher-backbone')
    p.add_argument('--teacher-backbone', default=None,
                   help='images: the architecture of a state_dict --teacher (small-cnn, '
                        'resnet18, resnet50)')
    p.add_argument('--subset', type=int, default=0,
                   help='images: train on this many training images (a fixed class-mixed '
                        'draw; default all)')
    p.add_argument('--student', choices=['mlp', 'linear', 'cnn'], default=None,
                   help='student network (graphs: default mlp, 2 layers, 512, BatchNorm, '
                        'PReLU; images: cnn, the small CNN of width cnn_width)')
    p.add_argument('--setting', choices=['transductive', 'inductive'], default='transductive',
                   help='inductive: hold out --holdout of the test nodes; teacher and student '
                        'never see them in training, the probe is scored on them')
    p.add_argument('--holdout', type=float, default=0.2,
                   help='share of the test nodes held out in the inductive setting (0.2)')
    p.add_argument('--config', type=Path, default=None,
                   help="YAML file of DistillConfig keys, over the graph's shipped defaults "
                        '(genurl_pyg/configs/distill/<name>.yaml, where one exists)')
    p.add_argument('--set', dest='overrides', action='append', default=[], metavar='KEY=VALUE',
                   help='override one DistillConfig key (e.g. objective=rkd, epochs=100)')
    p.add_argument('--seeds', type=int, default=10, help='number of seeds (default 10)')
    p.add_argument('--seed', type=int, default=None, help='first seed (default 0)')
    p.add_argument('--epochs', type=int, default=None, help='distillation epochs (100)')
    p.add_argument('--device', default=None, help="'cpu', 'cuda' or 'auto' (default auto)")
    p.add_argument('--out', type=Path, default=Path('runs/distill'),
                   help='output folder (default runs/distill)')
    p.add_argument('--resume', action='store_true',
                   help='continue a run in --out from its finished seeds and last checkpoint')
    p.add_argument('--no-progress', action='store_true', help='hide the progress lines')
    _add_threads_arg(p)

    p = sub.add_parser('bench', help='run the cross-task benchmark suite, write one report',
                       description='Run GenURL and its peers on every task (node, link, dr, '
                                   'ssl, kd), each (task, data set, method, seed) cell in its '
                                   'own process under a time budget, recorded as it finishes. '
                                   'Writes --out/results.json, report.md and report.html '
                                   '(tables and figures). A killed suite continues with '
                                   '--resume; a crashed cell is reported, not fatal.',
                       epilog=EXAMPLES_BENCH, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--suite', choices=['smoke', 'quick', 'full', 'gpu'], default='quick',
                   help='smoke: seconds (tests); quick: every task on its smallest real data '
                        'set, < 15 min on 2 cores; full: the complete benchmarks (hours); '
                        'gpu: GPU-scale settings (needs CUDA). Default quick')
    p.add_argument('--tasks', default=None, metavar='LIST',
                   help='comma-separated subset of node,link,dr,ssl,kd (default: all)')
    p.add_argument('--datasets', default=None, metavar='LIST',
                   help="comma-separated subset of the suite's data sets (e.g. ogbl-ddi: run "
                        'those cells first; the others stay planned for a later --resume)')
    p.add_argument('--methods', default=None, metavar='LIST',
                   help="comma-separated subset of the suite's methods (e.g. genurl after "
                        'its shipped config changed, with --resume --redo)')
    p.add_argument('--out', type=Path, default=None,
                   help='run folder (default runs/bench-SUITE)')
    p.add_argument('--resume', action='store_true',
                   help='continue the run in --out: finished cells are skipped')
    p.add_argument('--retry-failed', action='store_true',
                   help='with --resume: run failed and timed-out cells again')
    p.add_argument('--redo', action='store_true',
                   help='with --resume: run the selected cells again even when finished '
                        '(the report reads each cell\'s latest record; the earlier ones '
                        'stay in cells.jsonl)')
    p.add_argument('--jobs', type=int, default=1, metavar='N',
                   help='cells at a time (default 1); each gets --threads torch threads')
    p.add_argument('--threads', type=int, default=None, metavar='N',
                   help='torch threads per cell (default: cores / jobs)')
    p.add_argument('--compare', type=Path, default=None, metavar='OLD_DIR',
                   help='list every change beyond noise against an older run (its folder or '
                        'results.json); regressions are marked; writes --out/compare.md')
    p.add_argument('--fail-on-regression', action='store_true',
                   help='with --compare: exit with code 1 when there is a regression')
    p.add_argument('--report-only', action='store_true',
                   help='run nothing: rebuild the report of --out (and --compare, --readme)')
    p.add_argument('--readme', type=Path, default=None, metavar='FILE',
                   help="replace FILE's generated benchmark section with this run's")
    p.add_argument('--list', action='store_true',
                   help='print the cells and their summed budget, run nothing')

    sub.add_parser('datasets', help='list the data sets the registry knows',
                   description='List registry names, evaluation protocols and sizes.')
    return parser


def _parse_overrides(items: List[str]) -> dict:
    from .node.config import ConfigError
    from .utils.yamlio import parse_key_values
    return parse_key_values(items, '--set', ConfigError)


def _set_threads(args) -> None:
    threads = getattr(args, 'threads', None)
    if threads is None:
        return
    if threads < 1:
        raise ValueError(f'--threads must be >= 1, got {threads}')
    import torch
    torch.set_num_threads(threads)


def _plural(n: int, word: str) -> str:
    return f'{n} {word}' + ('' if n == 1 else 's')


def resolve_config(args) -> 'NodeConfig':
    from .datasets import get_spec
    from .node.config import NodeConfig, dataset_defaults
    get_spec(args.dataset)  # fail early on an unknown name
    cfg = dataset_defaults(args.dataset)
    if getattr(args, 'config', None) is not None:
        cfg = NodeConfig.from_yaml(args.config, base=cfg)
    flags = {}
    for name in ('encoder', 'epochs', 'device', 'seed'):
        value = getattr(args, name, None)
        if value is not None:
            flags[name] = value
    flags.update(_parse_overrides(getattr(args, 'overrides', [])))
    return NodeConfig.from_dict(flags, base=cfg)


def _cmd_train(args) -> int:
    if args.seeds < 1:
        raise ValueError(f'--seeds must be >= 1, got {args.seeds}')
    cfg = resolve_config(args)
    from .node.run import train_job
    _set_threads(args)
    command = 'genurl-pyg ' + ' '.join(shlex.quote(a) for a in sys.argv[1:])
    result = train_job(args.dataset, cfg, args.seeds, args.out, root=args.root,
                       resume=args.resume, plot=args.plot, progress=not args.no_progress,
                       command=command, log=lambda m: print(m, file=sys.stderr))
    if not result:  # a non-zero torchrun rank: rank 0 reports
        return 0
    metric = result['metric']
    acc = result[metric]
    print(f"{result['dataset']} ({result['protocol']}, {_plural(len(result['seeds']), 'seed')}): "
          f"{metric} {100 * acc['mean']:.2f} ± {100 * acc['std']:.2f} %, "
          f"{result['seconds_per_seed']['mean']:.1f} s/seed, peak RSS "
          f"{result['peak_rss_mb']:.0f} MB -> {args.out / 'result.json'}")
    return 0


def _cmd_eval(args) -> int:
    if args.seeds < 1:
        raise ValueError(f'--seeds must be >= 1, got {args.seeds}')
    from .node.run import eval_job
    _set_threads(args)
    result = eval_job(args.embeddings, args.dataset, args.seeds, root=args.root,
                      progress=not args.no_progress)
    print(json.dumps(result, indent=2))
    return 0


def _cmd_config(args) -> int:
    print(resolve_config(args).to_yaml(), end='')
    return 0


def _cmd_embed(args) -> int:
    import time
    import numpy as np
    from .datasets.tabular import check_labels, load_table
    from .evaluation.dr import dr_report
    from .utils.io import atomic_save_npy, atomic_write_json, ensure_writable_dir
    # Every input is checked before any work, and outputs are written only at the end: a
    # bad --labels or --out never costs a fit, and a failure never leaves half the outputs.
    ensure_writable_dir(args.out)
    extra = _parse_overrides(args.overrides)
    from .manifold import GenURLEmbedding
    valid = GenURLEmbedding().get_params()
    unknown = sorted(set(extra) - set(valid))
    if unknown:
        from .node.config import near_miss_hints
        raise ValueError(f"unknown GenURLEmbedding parameter(s) "
                         f"{near_miss_hints(unknown, valid)}; known: "
                         f'{sorted(valid)}')
    X, y = load_table(args.data, args.root, args.labels)
    if y is not None:
        y = check_labels(y, len(X), '--labels' if args.labels else f'the labels of {args.data}')
    _set_threads(args)
    params = dict(n_components=args.n_components, n_neighbors=args.n_neighbors,
                  random_state=args.seed, device=args.device, verbose=not args.no_progress)
    params.update(extra)
    est = GenURLEmbedding(**params)
    start = time.perf_counter()
    Y = est.fit_transform(X)
    seconds = time.perf_counter() - start
    dense = np.asarray(X.toarray() if hasattr(X, 'toarray') else X)
    if not args.no_progress:
        print('quality metrics ...', file=sys.stderr, flush=True)
    metrics = dr_report(dense, Y, y)
    metrics.update({'data': args.data, 'n_samples': int(len(Y)), 'fit_seconds': seconds,
                    'params': {k: (list(v) if isinstance(v, tuple) else v)
                               for k, v in est.get_params().items()}})
    atomic_save_npy(args.out / 'embedding.npy', Y)
    atomic_write_json(args.out / 'metrics.json', metrics)
    if args.plot:
        from .plotting import scatter_embedding
        scatter_embedding(torch_tensor(Y), None if y is None else torch_tensor(y),
                          args.out / 'embedding.png', title=f'GenURL embedding of {args.data}')
    shown = ', '.join(f'{k} {v:.4f}' for k, v in metrics.items() if isinstance(v, float))
    print(f'{args.data}: {shown} -> {args.out}')
    return 0


def _cmd_ssl(args) -> int:
    from .vision.config import SSLConfig
    values = {}
    if args.config is not None:
        from .utils.yamlio import safe_load
        loaded = safe_load(Path(args.config).read_text())
        if not isinstance(loaded, dict):
            raise ValueError(f'--config {args.config}: expected a mapping of SSLConfig keys')
        values.update(loaded)
    for flag, key in (('backbone', 'backbone'), ('epochs', 'epochs'),
                      ('batch_size', 'batch_size'), ('device', 'device')):
        if getattr(args, flag) is not None:
            values[key] = getattr(args, flag)
    values.update(_parse_overrides(args.overrides))
    cfg = SSLConfig.from_dict(values)
    _set_threads(args)
    from .vision.run import ssl_job
    command = 'genurl-pyg ' + ' '.join(shlex.quote(a) for a in sys.argv[1:])
    result = ssl_job(args.dataset, cfg, args.out, root=args.root, resume=args.resume,
                     plot=args.plot, progress=not args.no_progress, command=command,
                     log=lambda m: print(m, file=sys.stderr))
    if 'knn_accuracy' not in result:  # a torchrun rank other than 0: rank 0 reports
        return 0
    lin = result.get('linear_accuracy')
    print(f"{result['dataset']} ({result['epochs']} epochs): kNN {100 * result['knn_accuracy']:.2f} %"
          + ('' if lin is None else f', linear {100 * lin:.2f} %')
          + f", {result['images_per_second']:.0f} images/s, peak RSS "
          f"{result['peak_rss_mb']:.0f} MB -> {args.out / 'result.json'}")
    return 0


def _cmd_distill(args) -> int:
    from .distill.config import DistillConfig, distill_defaults
    from .vision.data import IMAGE_DATASETS
    images = args.dataset.lower() in IMAGE_DATASETS
    values = {'student': 'cnn'} if images else {}
    if args.config is not None:
        from .node.config import ConfigError
        from .utils.yamlio import load_mapping
        values.update(load_mapping(args.config, ConfigError))
    for flag in ('student', 'epochs', 'device', 'seed'):
        if getattr(args, flag) is not None:
            values[flag] = getattr(args, flag)
    values.update(_parse_overrides(args.overrides))
    # a graph's shipped defaults (configs/distill/<name>.yaml) under the file and the flags
    cfg = DistillConfig.from_dict(values, base=None if images else distill_defaults(args.dataset))
    if args.seeds < 1:
        raise ValueError(f'--seeds must be >= 1, got {args.seeds}')
    if not 0 < args.holdout < 1:
        raise ValueError(f'--holdout must be in (0, 1), got {args.holdout}')
    if images != (cfg.student == 'cnn'):  # before any teacher or data work
        raise ValueError(f"student {cfg.student!r} does not read {args.dataset!r}: image sets "
                         "take student 'cnn', graphs 'mlp' or 'linear'")
    if images:
        return _distill_images(args, cfg)
    if args.teacher_backbone is not None or args.subset:
        raise ValueError('--teacher-backbone and --subset apply to image sets; '
                         f'{args.dataset!r} is a graph')
    from .datasets import get_spec
    get_spec(args.dataset)  # an unknown name fails before any work
    _set_threads(args)
    from .distill.run import distill_job
    command, log = _job_command_and_log(args)
    r = distill_job(args.dataset, args.teacher, cfg, args.seeds, args.out, root=args.root,
                    setting=args.setting, holdout=args.holdout, resume=args.resume,
                    progress=not args.no_progress, command=command, log=log)
    s, t = r['student_accuracy'], r['teacher_accuracy']
    print(f"{r['dataset']} ({r['setting']}, {_plural(len(r['seeds']), 'seed')}): student "
          f"{100 * s['mean']:.2f} ± {100 * s['std']:.2f} %, teacher {100 * t['mean']:.2f} ± "
          f"{100 * t['std']:.2f} %, {r['student_seconds']['mean']:.1f} s/seed -> "
          f"{args.out / 'result.json'}")
    return 0


def _job_command_and_log(args):
    """The command line as typed (recorded in result.json) and the job's log: stderr, or
    nothing with --no-progress."""
    command = 'genurl-pyg ' + ' '.join(shlex.quote(a) for a in sys.argv[1:])
    return command, (lambda m: None) if args.no_progress else (
        lambda m: print(m, file=sys.stderr))


def _distill_images(args, cfg) -> int:
    if args.setting != 'transductive':
        raise ValueError('--setting inductive holds out graph nodes; image students are '
                         'scored on the test images, which they never see')
    if args.subset < 0:
        raise ValueError(f'--subset must be >= 0, got {args.subset}')
    _set_threads(args)
    from .distill.run import distill_images_job
    command, log = _job_command_and_log(args)
    r = distill_images_job(args.dataset, args.teacher, cfg, args.seeds, args.out,
                           root=args.root, subset=args.subset,
                           teacher_backbone=args.teacher_backbone, resume=args.resume,
                           progress=not args.no_progress, command=command, log=log)
    k, lin = r['student_knn'], r['student_linear']
    print(f"{r['dataset']} ({_plural(len(r['seeds']), 'seed')}): student kNN "
          f"{100 * k['mean']:.2f} ± {100 * k['std']:.2f} %, linear {100 * lin['mean']:.2f} ± "
          f"{100 * lin['std']:.2f} %; teacher kNN {100 * r['teacher_knn']['mean']:.2f} %, "
          f"linear {100 * r['teacher_linear']['mean']:.2f} % -> {args.out / 'result.json'}")
    return 0


def torch_tensor(a):
    import torch
    return torch.as_tensor(a)


def _select_cells(cells, attr: str, listing: str, flag: str, scope: str, known_as: str):
    """The cells whose ``attr`` is in the comma-separated ``listing``; a name not among
    ``cells``' values is an error naming ``flag``, ``scope`` and the known values."""
    wanted = [w.strip() for w in listing.split(',') if w.strip()]
    known = sorted({getattr(c, attr) for c in cells})
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise ValueError(f"{flag}: {', '.join(unknown)} not in {scope}; {known_as}: "
                         f"{', '.join(known)}")
    return [c for c in cells if getattr(c, attr) in wanted]


def _cmd_bench(args) -> int:
    from .bench.suites import suite_cells
    tasks = [t.strip() for t in args.tasks.split(',') if t.strip()] if args.tasks else None
    cells = suite_cells(args.suite, tasks)
    if args.datasets:
        cells = _select_cells(cells, 'dataset', args.datasets, '--datasets',
                              f"the {args.suite} suite"
                              f"{' (tasks ' + args.tasks + ')' if tasks else ''}",
                              'its data sets')
    if args.methods:
        cells = _select_cells(cells, 'method', args.methods, '--methods',
                              f'the selected cells of the {args.suite} suite', 'their methods')
    if args.redo and not args.resume:
        raise ValueError('--redo reruns finished cells of an existing run: it needs --resume')
    out = args.out or Path(f'runs/bench-{args.suite}')
    if args.list:
        for c in cells:
            print(f'{c.key:44s} budget {c.budget_s:6.0f} s  {c.params or ""}')
        total = sum(c.budget_s for c in cells)
        print(f'{len(cells)} cells; at most {total / 3600:.1f} h of budgets '
              f'({total / 3600 / max(1, args.jobs):.1f} h with --jobs {args.jobs})')
        return 0
    old = None
    if args.compare is not None:
        from .bench.report import load_results
        old = load_results(args.compare)  # a bad --compare fails before hours of work
    if args.report_only:
        from .bench.report import write_report
        results = write_report(out)
    else:
        from .bench.runner import run_suite
        command = 'genurl-pyg ' + ' '.join(shlex.quote(a) for a in sys.argv[1:])
        results = run_suite(args.suite, out, tasks, resume=args.resume,
                            retry_failed=args.retry_failed, redo=args.redo, jobs=args.jobs,
                            threads=args.threads, command=command,
                            log=lambda m: print(m, file=sys.stderr, flush=True), cells=cells)
    status = [c['status'] for c in results['cells']]
    targets = [r['target'] for r in results['summary'] if r['target']]
    print(f"{results['suite']}: {status.count('ok')} cells ok, {status.count('failed')} failed, "
          f"{status.count('timeout')} timed out; targets met {sum(t['met'] for t in targets)}"
          f" of {len(targets)} -> {out / 'report.md'}, {out / 'report.html'}")
    code = 0
    if old is not None:
        from .bench.compare import compare_results, format_comparison
        from .utils.io import atomic_write_text
        cmp = compare_results(old, results)
        text = format_comparison(cmp, str(args.compare))
        atomic_write_text(out / 'compare.md', text)
        print(text)
        if args.fail_on_regression and any(c['regression'] for c in cmp['changes']):
            code = 1
    if args.readme is not None:
        import os
        from .bench.readme import update_readme
        link = os.path.relpath((out / 'report.md').resolve(), args.readme.resolve().parent)
        update_readme(args.readme, results, link)
        print(f'updated the benchmark section of {args.readme}')
    return code


def _cmd_datasets(args) -> int:
    from .datasets import list_datasets
    for name, spec in list_datasets().items():
        print(f'{name:16s} {spec.protocol:18s} {spec.description}')
    print(f"{'syn-<base>-h<h>':16s} {'random-50/25/25':18s} a base data set's features and "
          f"labels with random edges of homophily h (e.g. syn-cora-h0.1, seed: -s3)")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    _quiet_third_party_warnings()
    handlers = {'train': _cmd_train, 'eval': _cmd_eval, 'config': _cmd_config,
                'embed': _cmd_embed, 'ssl': _cmd_ssl, 'distill': _cmd_distill,
                'datasets': _cmd_datasets, 'bench': _cmd_bench}
    try:
        return handlers[args.command](args)
    except (ValueError, TypeError, FileNotFoundError, FileExistsError, ImportError,
            FloatingPointError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    except (PermissionError, NotADirectoryError, IsADirectoryError) as exc:
        print(f'error: cannot write {exc.filename!r}: {exc.strerror}', file=sys.stderr)
        return 2
    except RuntimeError as exc:
        from .datasets import DatasetCorruptError, DatasetNotFoundError
        if not isinstance(exc, (DatasetNotFoundError, DatasetCorruptError)):
            raise
        print(f'error: {exc}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print('interrupted: finished seeds and the last checkpoint are kept; rerun with '
              '--resume', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
