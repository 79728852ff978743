"""Late changes to GenURL's image objective, chosen on validation images (issue 14).

A full-budget SSL run costs hours on one CPU core, and a design that only acts late in
training (the EMA teacher's kNN neighbours joining P after ``--branch-epoch`` epochs of
views only) shares everything before that epoch with the shipped default. So this script
trains the shared *trunk* once and then each *branch* from its checkpoint:

``trunk``
    trains the cpu-fmnist preset's GenURL loop (the small CNN, batch 256; ``--dataset
    cifar10-jpeg``: the same loop on the CIFAR-10 JPEG copy, cpu-cifar's) on the
    training images before the held-out ones (``train[:50000]`` on Fashion-MNIST,
    ``train[:40000]`` on CIFAR-10; the test set is never read) with the teacher kept as an EMA of the backbone from step 0
    (``view_weight`` < 1 and ``knn_start`` = ``--branch-epoch``: until that epoch the
    teacher is updated but never read, so the backbone's trajectory is the views-only
    default's, bit for bit: the EMA update draws no random numbers), and stops after
    ``--branch-epoch`` epochs (the cosine schedule still spans ``--epochs``).
``branch NAME KEY=VALUE...``
    loads the trunk's checkpoint (model, teacher, optimiser, schedule, generators), applies
    the branch's config overrides (for example ``view_weight=1`` for the shipped default,
    ``view_weight=0.5`` for the teacher's kNN on half of P), trains to ``--epochs``, and
    scores the frozen backbone with the kNN monitor and the linear probe on the
    *validation* images, 10,000 held-out training images (Fashion-MNIST:
    ``train[50000:60000]``; CIFAR-10, whose JPEG copy is sorted by class: each class's last
    1,000, see ``HOLDOUT``). One JSON per branch under ``--out``.

``report --out DIR --stem NAME``
    gathers ``DIR``'s branch files into ``experiments/results/NAME.{json,md}`` (a table
    of the branches' validation scores, with the conditions given by ``--conditions``).

Only overrides that do not change the model's shape are allowed (``view_weight``, ``k``,
``feature_hops``, ``ema``, ``knn_start``, ``alpha``, ``nu_latent``, ``loss``,
``false_negatives``, ``latent_radius``, ``repulsion``, ``decorrelation_weight``,
``memory_bank`` (the bank starts empty at the branch and fills in ``M / B`` steps), and
``target``/``predictor_hidden``, which add a predictor head started at the branch): the
branch continues the trunk's parameters and optimiser state.

Cost: a trunk epoch is one cpu-fmnist GenURL epoch on 50,000 images (about 180 s on one
core); a teacher branch adds one teacher forward per step.

Example (one thread per core)::

    taskset -c 1 python experiments/ssl_branches.py trunk --out /tmp/ssl_late --threads 1
    taskset -c 0 python experiments/ssl_branches.py branch views view_weight=1 \\
        --out /tmp/ssl_late --threads 1
    taskset -c 1 python experiments/ssl_branches.py branch teacher50 view_weight=0.5 \\
        --out /tmp/ssl_late --threads 1
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import versions, write_results  # noqa: E402

TRAIN_ROWS = 50000  # Fashion-MNIST: train[:50000] trains, train[50000:] validates
# The training rows per data set; 10,000 other training images validate and the test set
# is never read. CIFAR-10 has 50,000 training images, so 40,000 train.
SPLITS = {'fashion-mnist': TRAIN_ROWS, 'cifar10-jpeg': 40000}
VALIDATION_ROWS = 10000
# Which 10,000 validate. 'tail': the training rows after SPLITS' count (Fashion-MNIST's
# rows come in no class order). 'per_class': each class's last 10,000 / C rows, because
# the JPEG copy of CIFAR-10 stores its training images sorted by class: its tail is
# classes 8 and 9 only, which session 38's branches scored at 0 % (a trunk that never saw
# those classes).
HOLDOUT = {'fashion-mnist': 'tail', 'cifar10-jpeg': 'per_class'}
BRANCH_KEYS = {'view_weight', 'k', 'feature_hops', 'ema', 'knn_start', 'alpha', 'nu_latent',
               'loss', 'false_negatives', 'latent_radius', 'repulsion', 'decorrelation_weight',
               'target', 'predictor_hidden', 'memory_bank', 'memory_bank_agree'}


def holdout_rows(y, rows: int, how: str, smoke: int = 0):
    """Index tensors ``(train, validation)`` into labels ``y`` for :data:`HOLDOUT`'s rule
    ``how`` (``rows``, the training rows before the tail, is read by ``tail`` only:
    ``per_class`` trains on every row it does not hold out; ``smoke``: the first ``smoke``
    training and ``smoke // 5`` validation rows, class-mixed under seed 0 for
    ``per_class``). Refuses a split whose validation rows lack a class that its training
    rows hold."""
    import torch
    n_val = smoke // 5 or VALIDATION_ROWS
    if how == 'tail':
        train, val = torch.arange(smoke or rows), torch.arange(rows, rows + n_val)
    elif how == 'per_class':
        classes = torch.unique(y)
        per = VALIDATION_ROWS // len(classes)
        held = torch.zeros(len(y), dtype=torch.bool)
        for c in classes:
            held[(y == c).nonzero().flatten()[-per:]] = True
        train, val = (~held).nonzero().flatten(), held.nonzero().flatten()
        if smoke:
            mix = torch.Generator().manual_seed(0)
            train = train[torch.randperm(len(train), generator=mix)[:smoke]]
            val = val[torch.randperm(len(val), generator=mix)[:n_val]]
    else:
        raise ValueError(f"holdout rule must be 'tail' or 'per_class', got {how!r}")
    missing = sorted(set(y[train].tolist()) - set(y[val].tolist()))
    if missing:
        raise SystemExit(f'the validation rows hold no image of classes {missing} that the '
                         'training rows hold: the split would score classes it never '
                         'trained on')
    return train, val


def validation_data(smoke: int = 0, train_images: int = 0, dataset: str = 'fashion-mnist'):
    """``dataset`` with 10,000 of its training images held out (:data:`HOLDOUT`) as the
    validation set (``smoke``: only ``smoke`` training and ``smoke // 5`` validation
    images, to try the script in seconds; ``train_images``: that many of the training rows
    drawn class-mixed with seed 0, session 20's reduced budget, instead of all of them)."""
    from genurl_pyg.bench.tasks.ssl import subset_rows
    from genurl_pyg.vision.data import ImageData, load_images
    if dataset not in SPLITS:
        raise SystemExit(f'--dataset {dataset!r} has no validation split here; one of '
                         f'{", ".join(sorted(SPLITS))}')
    rows = SPLITS[dataset]
    data = load_images(dataset)
    tx, ty = data.train_x, data.train_y
    if tx.size(0) < rows + VALIDATION_ROWS:
        raise SystemExit(f'{dataset} has {tx.size(0)} training images, fewer than the '
                         f'{rows} + {VALIDATION_ROWS} of its split')
    train, val = holdout_rows(ty, rows, HOLDOUT[dataset], smoke)
    x, y = subset_rows(tx[train], ty[train], train_images, seed=0)
    return ImageData(data.name + ' (validation split)', x, y, tx[val], ty[val], data.classes,
                     data.note)


# the cpu-fmnist preset of experiments/ssl_benchmark.py (GenURL's loop; no epoch monitor)
PRESET = dict(objective='genurl', backbone='small-cnn', batch_size=256, device='cpu',
              monitor_every=0)


def trunk_config(args, **overrides):
    """The preset with the trunk's teacher settings, then the branch's ``overrides``."""
    from genurl_pyg.vision.config import SSLConfig
    base = dict(PRESET, epochs=args.epochs, seed=args.seed,
                view_weight=args.trunk_view_weight, knn_start=args.branch_epoch)
    return SSLConfig.from_dict({**base, **overrides})


def parse_overrides(pairs: List[str]) -> Dict:
    import yaml
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition('=')
        if not sep:
            raise SystemExit(f'branch override {pair!r} is not KEY=VALUE')
        if key not in BRANCH_KEYS:
            raise SystemExit(f'branch override {key!r} would change what the trunk trained; '
                             f'allowed: {", ".join(sorted(BRANCH_KEYS))}')
        out[key] = yaml.safe_load(value)
    return out


def _reporter(tag: str):
    started = time.perf_counter()

    def report(epoch, step, steps, loss, rate):
        if step == steps:
            print(f'[ssl_branches] {tag}: epoch {epoch}, loss {loss:.4f}, {rate:.0f} img/s, '
                  f'{time.perf_counter() - started:.0f} s', file=sys.stderr, flush=True)
    return report


def trunk_meta(out: Path) -> Dict:
    """What the trunk under ``out`` trained on: its data set and hold-out rule (trunks
    from before ``--dataset`` existed have no ``trunk.json`` and were Fashion-MNIST's;
    trunks from before the hold-out rules held out the tail)."""
    meta = Path(out) / 'trunk.json'
    found = json.loads(meta.read_text()) if meta.is_file() else {}
    return {'dataset': found.get('dataset', 'fashion-mnist'),
            'holdout': found.get('holdout', 'tail')}


def check_trunk(out: Path, dataset: str) -> None:
    """Refuse to go on from a trunk checkpoint in ``out`` trained on another data set or
    on another hold-out split of this one (its training images would differ)."""
    if not (Path(out) / 'trunk.pt').is_file():
        return
    meta = trunk_meta(out)
    if meta['dataset'] != dataset:
        raise SystemExit(f"the trunk in {out} was trained on {meta['dataset']}, not "
                         f"{dataset}: pass --dataset {meta['dataset']} or use another --out")
    if meta['holdout'] != HOLDOUT[dataset]:
        raise SystemExit(f"the trunk in {out} held out the {meta['holdout']} rows of "
                         f"{dataset}, not the {HOLDOUT[dataset]} rows this script holds out "
                         'now: use another --out')


def trunk(args) -> None:
    from genurl_pyg.utils.io import atomic_write_json
    from genurl_pyg.vision.trainer import VisualTrainer
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / 'trunk.pt'
    meta = out / 'trunk.json'  # what the checkpoint alone cannot tell a branch
    check_trunk(out, args.dataset)
    trainer = VisualTrainer(validation_data(args.smoke, args.train_images, args.dataset),
                            trunk_config(args), progress=_reporter('trunk'))
    atomic_write_json(meta, {'dataset': args.dataset, 'holdout': HOLDOUT[args.dataset]})
    trainer.fit(ckpt, stop_after=args.branch_epoch)  # resumes a killed trunk
    print(f'[ssl_branches] trunk at epoch {trainer.state.epoch}: {ckpt}', file=sys.stderr)


def branch(args) -> None:
    import torch
    from genurl_pyg.evaluation.image import image_linear_probe, knn_accuracy
    from genurl_pyg.utils.io import atomic_write_json
    from genurl_pyg.utils.resources import peak_rss_mb
    from genurl_pyg.vision.trainer import VisualTrainer, checkpoint_config
    out = Path(args.out)
    overrides = parse_overrides(args.overrides)
    if 'view_weight' not in overrides and args.trunk_view_weight < 1:
        # session 60 lost a reading to this: a branch without view_weight inherits the
        # trunk's, which puts the teacher's kNN into P from the branch epoch on
        raise SystemExit(f"branch {args.name!r} must set view_weight: the trunk's "
                         f'{args.trunk_view_weight} would put the EMA teacher\'s kNN into P '
                         'from the branch epoch (view_weight=1: views only, the default; '
                         f'view_weight={args.trunk_view_weight}: the teacher on purpose)')
    check_trunk(out, args.dataset)
    data = validation_data(args.smoke, args.train_images, args.dataset)
    cfg = trunk_config(args, **overrides)
    trainer = VisualTrainer(data, cfg, progress=_reporter(args.name))
    if not (out / 'trunk.pt').is_file():
        raise SystemExit(f'no trunk checkpoint in {out}: run the trunk first')
    blob = torch.load(out / 'trunk.pt', map_location='cpu', weights_only=False)
    if blob['state']['epoch'] != args.branch_epoch:
        raise SystemExit(f"the trunk stopped at epoch {blob['state']['epoch']}, not "
                         f'--branch-epoch {args.branch_epoch}: run the trunk first')
    trunk_cfg = trunk_config(args).to_dict()
    if checkpoint_config(blob) != trunk_cfg:
        raise SystemExit('the trunk checkpoint was written with other settings; rerun it')
    # the config does not hold the number of training images; the images seen do
    seen = args.branch_epoch * trainer.steps_per_epoch * cfg.batch_size
    if blob['state']['images'] != seen:
        raise SystemExit(f"the trunk saw {blob['state']['images']} images in "
                         f'{args.branch_epoch} epochs, this branch expects {seen}: pass the '
                         "trunk's --train-images")
    # The branch continues the trunk's run: same parameters, optimiser moments, schedule
    # position and random streams; only P's settings differ from here on. target=ema adds
    # BYOL's predictor and EMA target, started here as BYOL starts them (a fresh predictor,
    # the target a copy of the online backbone and projector).
    if cfg.target == 'ema':
        trainer.start_target(blob)
    else:
        trainer.restore(blob)
    t = time.perf_counter()
    trainer.fit()
    branch_s = time.perf_counter() - t
    train_f, val_f = trainer.embed(data.train_x), trainer.embed(data.test_x)
    knn = knn_accuracy(train_f, data.train_y, val_f, data.test_y, k=cfg.knn_k,
                       temperature=cfg.knn_temperature)
    probe = image_linear_probe(train_f, data.train_y, val_f, data.test_y, seed=cfg.seed)
    row = {'branch': args.name, 'dataset': args.dataset, 'overrides': overrides, 'branch_epoch': args.branch_epoch,
           'epochs': cfg.epochs, 'train_images': int(data.train_x.size(0)),
           'validation_images': int(data.test_x.size(0)), 'knn_val': knn,
           'linear_val': probe.test_accuracy, 'linear_C': probe.C,
           'branch_seconds_per_epoch': branch_s / max(1, cfg.epochs - args.branch_epoch),
           'losses': trainer.state.losses, 'peak_rss_mb': peak_rss_mb(),
           'config': cfg.to_dict(), 'command': ' '.join(sys.argv), 'threads': args.threads,
           'versions': versions()}
    atomic_write_json(out / f'branch_{args.name}.json', row)
    print(f"[ssl_branches] {args.name}: kNN {knn:.4f}, linear {probe.test_accuracy:.4f} "
          f'(validation images)', file=sys.stderr)


def _p_of(row: Dict) -> str:
    """The P a branch trained with, as its config says (whatever its overrides name)."""
    cfg = row.get('config')
    if not cfg:
        return 'not recorded'
    if cfg.get('view_weight', 1.0) >= 1:
        return 'views only'
    source = 'bank' if cfg.get('memory_bank') else 'teacher kNN'
    return f"{cfg['view_weight']} views + {source} from {cfg.get('knn_start')}"


def report(args) -> None:
    out = Path(args.out)
    rows = [json.loads(p.read_text()) for p in sorted(out.glob('branch_*.json'))]
    if not rows:
        raise SystemExit(f'no branch_*.json in {out}: run the branches first')
    first = rows[0]
    dataset = first.get('dataset', 'fashion-mnist')
    if any(r.get('dataset', 'fashion-mnist') != dataset for r in rows):
        raise SystemExit(f'the branches in {out} come from different data sets')
    head = SPLITS[dataset]
    rows_ = (f'train[:{head}]' if HOLDOUT[dataset] == 'tail' else
             f'the {head:,} training images not held out')
    name = {'fashion-mnist': 'Fashion-MNIST', 'cifar10-jpeg': 'CIFAR-10 (the JPEG copy)'}
    lines = [f'# SSL branches from one trunk, scored on validation images ({args.stem})', '',
             f"{name[dataset]}, the cpu preset's GenURL loop (small CNN, batch 256), "
             f"{first['train_images']:,} training images ("
             + (rows_ if first['train_images'] == head else
                f'drawn from {rows_}, class-mixed, seed 0') + '), scored on the '
             f"{first['validation_images']:,} validation images "
             + (f"train[{head}:{head + VALIDATION_ROWS}]" if HOLDOUT[dataset] == 'tail'
                else 'the last 1,000 training images of each class (the rest train)')
             + ' (the test '
             f"set is not read). One trunk trained to epoch {first['branch_epoch']} of "
             f"{first['epochs']}, then each branch to the end from its checkpoint "
             '(`experiments/ssl_branches.py`). kNN: weighted kNN monitor (k 200, temperature '
             '0.1); linear: logistic regression, C on a stratified 10 % of the training '
             'images.', '']
    if args.conditions:
        lines += [f'Conditions: {args.conditions}', '']
    lines += ['| branch | overrides | P (view_weight from epoch) | kNN (val) | linear (val) | '
              's/epoch after the branch | command |', '|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['branch']} | `{json.dumps(r['overrides'])}` | {_p_of(r)} | "
                     f"{100 * r['knn_val']:.2f} | {100 * r['linear_val']:.2f} | "
                     f"{r['branch_seconds_per_epoch']:.0f} | `{r['command']}` |")
    write_results(args.stem, {'rows': rows, 'conditions': args.conditions},
                  '\n'.join(lines) + '\n')


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('phase', choices=['trunk', 'branch', 'report'])
    ap.add_argument('name', nargs='?', help='branch: a name for the JSON file')
    ap.add_argument('overrides', nargs='*', help='branch: KEY=VALUE config overrides')
    ap.add_argument('--out', required=True, help='folder for trunk.pt and branch_*.json')
    ap.add_argument('--epochs', type=int, default=30)
    ap.add_argument('--branch-epoch', type=int, default=20)
    ap.add_argument('--trunk-view-weight', type=float, default=0.5,
                    help='the trunk keeps an EMA teacher only when this is < 1')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--stem', default='ssl_branches', help='report: results file name')
    ap.add_argument('--conditions', default='', help='report: the run conditions, recorded')
    ap.add_argument('--dataset', choices=sorted(SPLITS), default='fashion-mnist',
                    help='the images (cifar10-jpeg: each class\'s last 1,000 training '
                         'images validate, the other 40,000 train); trunk and branches alike')
    ap.add_argument('--train-images', type=int, default=0, metavar='N',
                    help='train on N of the training rows (class-mixed, seed 0; 0: all), e.g. '
                         "10000 for session 20's reduced budget; trunk and branches alike")
    ap.add_argument('--smoke', type=int, default=0, metavar='N',
                    help='try the script on N training images (not a result)')
    args = ap.parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    if args.phase == 'branch' and not args.name:
        ap.error('branch needs a NAME')
    if args.train_images < 0:
        ap.error('--train-images must be >= 0')
    if not 0 < args.branch_epoch < args.epochs:
        ap.error(f'--branch-epoch must be in (0, --epochs = {args.epochs})')
    {'trunk': trunk, 'branch': branch, 'report': report}[args.phase](args)


if __name__ == '__main__':
    main()
