"""Knowledge-distillation benchmark on images (issue 15): a backbone pretrained by the
vision task distilled into a smaller CNN, GenURL's objective against the peers, in one run.

The teacher is the vision task's GenURL backbone (``small-cnn``, width 32, the cpu-fmnist
preset's settings) pretrained here on the same training images (or ``--teacher RUN``: a
``genurl-pyg ssl`` run folder); its features of the unaugmented images are computed once
and shared by every student. Every student is the same CNN (``student: cnn``, width
``--width``, default 16: a quarter of the teacher's multiply-adds), with the same views,
epochs, batches and optimiser (``genurl_pyg.distill.distill_image_embeddings``). Scored by
the vision task's probes on the test images: weighted kNN (k 200, T 0.1) and logistic
regression (C on a tenth of the training images).

Methods:
  genurl      P from the teacher's features (kNN + geodesics), GKL to the student's Q
  mse, cosine regression of the standardised teacher features
  rkd, pkt    torchdistill's RKDLoss / PKTLoss on the batch
  seed        SEED-style softmax similarity over a queue of teacher features
  no-teacher  the same student and GenURL objective with P from the raw pixels
  raw         the pixels themselves (no training); teacher: the teacher's features

Target (issue 15): GenURL's student above every peer at equal epochs, kNN and linear.

The budget (``--equal``): ``epochs`` (the issue's target, the default) compares students
trained for the same epochs; ``passes`` compares students that encoded the same number
of image views: a student's passes are its epochs times the views of each image it
encodes per step (``views_per_step``: 2 with ``--set view_pair_weight=W`` > 0, GenURL's
two views of each image paired in P; 1 otherwise). A student that reads two views per
step gets twice the passes per epoch, so at equal epochs it has read twice the images;
at equal passes a 10-epoch pairs student is judged and paired against the 20-epoch peers.

Validation (``--validation N``): the students train on the same images, but are scored
on N *other* training images (the next rows of the subset's seeded permutation, which
neither the students nor a teacher pretrained here saw), never on the test images; the
rows go to their own table (``--stem``, default ``kd_image_validation``) with each
variant's paired difference to ``genurl`` per seed (``--against NAME`` pairs every
GenURL row with that method's rows instead, e.g. a peer's). Variants of GenURL's student
are separate invocations with ``--label NAME --set KEY=VALUE --methods genurl``.

The student's setting: each student row records its ``--width`` and its ``--view``
overrides; rows of another width than the default 16, or with view overrides, are their
own rows (``mse (width 32)``, ``mse (views crop_scale=[0.5, 1.0])``), judged and paired
only against rows of the same setting, so runs of several settings share one table.

Usage:
  python experiments/kd_image_benchmark.py --dataset fashion-mnist --subset 10000 \\
      --teacher-epochs 20 --epochs 20 --seeds 1 --threads 1 --out /tmp/kd_img.json
  python experiments/kd_image_benchmark.py --report /tmp/kd_img.json [--notes MD]
``--teacher-views``: the teacher module reads each step's view too (``teacher_views``; P
refreshed per view for GenURL, which needs ``--set pairs=block``); such rows are marked
``(teacher views)`` and paired only with rows of the same setting.
Rows are appended to --out as each method finishes; --resume skips finished rows; the
pretrained teacher is kept beside --out (``<out>.teacher.pt``) and reused by --resume.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import (check_stem, median_seconds, peak_rss_mb, reset_peak_rss,  # noqa: E402
                          write_results)
# the graph benchmark's run files, and how it times inference
from kd_benchmark import INFER_REPEATS, open_run_state, read_runs  # noqa: E402
from paired_nodes import paired_points  # noqa: E402  (a paired difference's mean, SE)

METHODS = ['genurl', 'mse', 'cosine', 'rkd', 'pkt', 'seed', 'no-teacher']
PEERS = ['mse', 'cosine', 'rkd', 'pkt', 'seed', 'no-teacher']
DEFAULT_WIDTH = 16  # the student's width when a row does not say (every run before --width)
DEFAULT_EPOCHS = 20  # the students' epochs of --epochs's default (a row's label names others)
BUDGETS = ('epochs', 'passes')  # what "equal" means between students (--equal)


def pretrained_teacher(images, train_x, train_y, epochs: int, path: Path, log):
    """The vision task's GenURL backbone (cpu-fmnist settings) trained on ``train_x`` for
    ``epochs``, or the one an earlier invocation saved at ``path`` for the same epochs and
    images."""
    import torch
    from genurl_pyg.utils.io import atomic_torch_save
    from genurl_pyg.vision.backbones import SmallCNN
    from genurl_pyg.vision.config import SSLConfig
    from genurl_pyg.vision.data import ImageData
    from genurl_pyg.vision.run import fit_visual_embeddings
    identity = {'epochs': epochs, 'images': int(train_x.size(0)),
                'checksum': int(train_x.long().sum())}
    if path.is_file():
        blob = torch.load(path, weights_only=False)
        if blob.get('identity') == identity:
            net = SmallCNN(train_x.size(1))
            net.load_state_dict(blob['state_dict'])
            log(f'teacher: reused {path} ({blob["seconds"]:.0f} s to train)')
            return net, blob['seconds']
        raise SystemExit(f'{path} holds a teacher of another run ({blob.get("identity")}); '
                         'delete it or choose another --out')
    data = ImageData(images.name, train_x, train_y, images.test_x, images.test_y,
                     images.classes, images.note)
    cfg = SSLConfig.from_dict(dict(objective='genurl', backbone='small-cnn', batch_size=256,
                                   epochs=epochs, seed=0, device='cpu'))
    start = time.perf_counter()
    net, result = fit_visual_embeddings(data, cfg, linear_probe=False)
    seconds = time.perf_counter() - start
    atomic_torch_save({'identity': identity, 'state_dict': net.state_dict(),
                       'seconds': seconds, 'ssl_knn': result['knn_accuracy']}, path)
    log(f"teacher: pretrained {epochs} epochs in {seconds:.0f} s (kNN "
        f"{100 * result['knn_accuracy']:.2f} %)")
    return net, seconds


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--dataset', default='fashion-mnist')
    p.add_argument('--subset', type=int, default=10000,
                   help='training images (a fixed class-mixed draw; 0: all)')
    p.add_argument('--teacher', default=None,
                   help='a genurl-pyg ssl run folder (default: pretrain one here)')
    p.add_argument('--teacher-epochs', type=int, default=20)
    p.add_argument('--epochs', type=int, default=DEFAULT_EPOCHS,
                   help='student epochs (every method)')
    p.add_argument('--width', type=int, default=DEFAULT_WIDTH,
                   help="the student CNN's width (rows of another width are their own rows)")
    p.add_argument('--methods', nargs='*', default=METHODS, choices=METHODS)
    p.add_argument('--seeds', type=int, default=1)
    p.add_argument('--first-seed', type=int, default=0)
    p.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                   help='DistillConfig override for every student (same for all methods)')
    p.add_argument('--view', action='append', default=[], metavar='KEY=VALUE',
                   help="the students' views: a ViewConfig override (e.g. "
                        "crop_scale=[0.5,1.0]; same for all methods; rows with overrides "
                        'are their own rows)')
    p.add_argument('--teacher-views', action='store_true',
                   help="the teacher reads each step's view too (DistillConfig "
                        "teacher_views; GenURL needs --set pairs=block): rows marked "
                        "'teacher views', their own rows")
    p.add_argument('--label', default=None,
                   help="record the 'genurl' rows under this name (a variant row)")
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--out', required=False, default=None)
    p.add_argument('--resume', action='store_true')
    p.add_argument('--report', nargs='*', default=None, metavar='JSON')
    p.add_argument('--notes', default=None, metavar='MD')
    p.add_argument('--against', action='append', default=None, metavar='METHOD',
                   help="the paired table's base (repeatable; default genurl): every "
                        "GenURL row minus this method's rows of the same student setting "
                        '(width, views), per seed')
    p.add_argument('--equal', default='epochs', choices=BUDGETS,
                   help="students are compared at equal epochs (the issue's target) or at "
                        'equal passes (epochs x views of each image encoded per step)')
    p.add_argument('--stem', default=None,
                   help='results file under experiments/results/ (default '
                        'kd_image_benchmark, or kd_image_validation with --validation; '
                        'another teacher: another table, e.g. kd_image_benchmark_full_teacher)')
    p.add_argument('--validation', type=int, default=0, metavar='N',
                   help='score on N held-out training images beside --subset instead of '
                        'the test images (choices are made here; 0: the test images)')
    args = p.parse_args()
    if args.stem is None:
        args.stem = 'kd_image_validation' if args.validation else 'kd_image_benchmark'
    if args.validation and args.stem.startswith('kd_image_benchmark'):
        p.error(f'--validation rows would be written into the test table {args.stem!r}: '
                'choose another --stem')
    if args.width < 1:
        p.error(f'--width must be a positive integer, got {args.width}')
    if args.validation < 0:
        p.error(f'--validation must be 0 (test images) or a number of images, got '
                f'{args.validation}')
    check_stem('--stem', args.stem, p.error)
    if args.teacher_views and 'no-teacher' in (args.methods or []) and args.report is None:
        p.error("--teacher-views: 'no-teacher' has no teacher to show the views to; run it "
                'without --teacher-views')
    if args.report is not None:
        report(args.report, args.notes, args.stem, against=args.against, budget=args.equal)
        return
    if not args.out:
        p.error('--out is required to run (rows are appended there)')
    import torch
    from genurl_pyg.bench.tasks.ssl import rows_beside_subset, subset_rows
    from genurl_pyg.distill import DistillConfig, distill_image_embeddings, image_views
    from genurl_pyg.distill.distiller import teacher_embeddings
    from genurl_pyg.distill.run import image_scores as scores  # the distill job's probes
    from genurl_pyg.utils.io import atomic_write_text
    from genurl_pyg.utils.yamlio import parse_key_values
    from genurl_pyg.vision.data import load_images
    torch.set_num_threads(args.threads)
    try:
        overrides = parse_key_values(args.set, '--set')
        views = parse_key_values(args.view, '--view')
    except ValueError as err:
        p.error(str(err))
    if args.teacher_views:
        overrides = {**overrides, 'teacher_views': True}
    DistillConfig.from_dict(overrides)  # a bad key fails before any training
    from genurl_pyg.vision.views import ViewConfig
    try:
        ViewConfig.from_dict(views)  # a bad view option fails before any training too
    except (TypeError, ValueError) as err:
        p.error(f'--view: {err}')
    out = Path(args.out)
    command = 'python experiments/kd_image_benchmark.py ' + ' '.join(sys.argv[1:])
    if out.exists() and not args.resume:
        p.error(f'{out} exists: pass --resume to add to it, or choose another --out')
    state = open_run_state(out, command, args.resume, args.threads, overrides)
    done = {(r['seed'], row_label(r)) for r in state['rows']}
    # the student's setting, as each student row records it (and as a finished one is found);
    # views_per_step: the views of each image the student encodes per step (its passes)
    setting = {'student_width': args.width, **({'student_views': views} if views else {}),
               **({'teacher_views': True} if args.teacher_views else {}),
               'views_per_step': views_per_step(overrides)}

    def record(seed, method, sc, secs, epochs, infer, peak, student=False):
        """``peak``: the peak memory of the row's phase (the teacher's, or the student's
        training and inference; None for the pixels, or where it cannot be reset)."""
        row = {'dataset': args.dataset, 'train_images': int(train_x.size(0)),
               'scored_on': scored_on, 'seed': seed,
               'method': method, 'knn': sc['knn'], 'linear': sc['linear'], 'seconds': secs,
               'epochs': epochs, 'inference_test_seconds': infer,
               'inference_repeats': INFER_REPEATS, 'peak_rss_mb': peak,
               'peak_scope': None if peak is None else 'phase'}
        if student:  # the teacher and the pixels have no student setting
            row.update(setting)
        state['rows'].append(row)
        done.add((seed, row_label(row)))
        atomic_write_text(out, json.dumps(state, indent=1))
        print(f"{args.dataset} seed {seed} {method}: kNN {100 * sc['knn']:.2f} linear "
              f"{100 * sc['linear']:.2f} ({secs:.1f} s)", flush=True)

    images = load_images(args.dataset)
    train_x, train_y = subset_rows(images.train_x, images.train_y, args.subset)
    if args.validation:  # held-out training images: where variants are chosen
        try:
            eval_x, eval_y = rows_beside_subset(images.train_x, images.train_y, args.subset,
                                                args.validation)
        except ValueError as err:
            p.error(f'--validation: {err}')
        scored_on = f'validation {args.validation:,}'
    else:
        eval_x, eval_y, scored_on = images.test_x, images.test_y, 'test'
    normalize = image_views(train_x).normalize
    teacher_epochs = args.teacher_epochs
    phase_peak = reset_peak_rss()  # each row's peak is its own phase's (teacher, a student)
    if args.teacher:
        from genurl_pyg.distill import load_image_teacher
        teacher = load_image_teacher(args.teacher, train_x.size(1))
        teacher_s, teacher_epochs = given_teacher_budget(args.teacher)
    else:
        teacher, teacher_s = pretrained_teacher(
            images, train_x, train_y, args.teacher_epochs,
            out.with_suffix('.teacher.pt'), print)
    t_train = teacher_embeddings(teacher, train_x, transform=normalize)
    t_test = teacher_embeddings(teacher, eval_x, transform=normalize)
    teacher_infer = median_seconds(
        lambda: teacher_embeddings(teacher, eval_x, transform=normalize), INFER_REPEATS)
    teacher_peak = peak_rss_mb() if phase_peak else None
    pixels = [normalize(x).flatten(1) for x in (train_x, eval_x)]
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        if (seed, 'teacher') not in done:
            record(seed, 'teacher', scores(t_train, t_test, train_y, eval_y, seed),
                   teacher_s, teacher_epochs, teacher_infer, teacher_peak)
        if (seed, 'raw') not in done:
            record(seed, 'raw', scores(*pixels, train_y, eval_y, seed), 0.0, 0, None, None)
        for method in args.methods:
            name = args.label if (args.label and method == 'genurl') else method
            if (seed, row_label({'method': name, **setting})) in done:
                continue
            objective = 'genurl' if method == 'no-teacher' else method
            # with --teacher-views the module itself: it runs on every step's view
            target = (pixels[0] if method == 'no-teacher'
                      else teacher if args.teacher_views else t_train)
            cfg = DistillConfig.from_dict({**overrides, 'student': 'cnn',
                                           'cnn_width': args.width, 'objective': objective,
                                           'epochs': args.epochs, 'seed': seed})
            phase_peak = reset_peak_rss()
            start = time.perf_counter()
            d = distill_image_embeddings(train_x, target, cfg, views=views or None)
            secs = time.perf_counter() - start
            s_train = d.embed(train_x)
            s_test = d.embed(eval_x)
            infer = median_seconds(lambda: d.embed(eval_x), INFER_REPEATS)
            peak = peak_rss_mb() if phase_peak else None
            record(seed, name, scores(s_train, s_test, train_y, eval_y, seed), secs,
                   args.epochs, infer, peak, student=True)
    report([str(out)], args.notes, args.stem, against=args.against, budget=args.equal)


def views_per_step(overrides: dict) -> int:
    """The views of each image a student encodes per step under these DistillConfig
    overrides: 2 with ``view_pair_weight`` > 0 (two views of each anchor, paired in P),
    else 1."""
    return 2 if float(overrides.get('view_pair_weight') or 0) > 0 else 1


def _blank(value) -> str:
    return '' if value is None else str(value)


def given_teacher_budget(teacher: str):
    """``(seconds, epochs)`` of a given teacher's pretraining, from the ``result.json`` of a
    ``genurl-pyg ssl`` run folder; ``(None, None)`` for a weights file (not known)."""
    result = Path(teacher) / 'result.json'
    if not result.is_file():
        return None, None
    blob = json.loads(result.read_text())
    return blob.get('seconds'), blob.get('epochs')


def row_student(row: dict, budget: str = 'epochs') -> Optional[Tuple[int, str, str, int]]:
    """The student's setting of a row, ``(width, views, teacher, budget)`` with the view
    overrides as text (``''``: the vision task's views), ``teacher`` ``'teacher views'``
    where the teacher read the student's views (``--teacher-views``), else ``''``, and the
    student's budget: its epochs, or with ``budget='passes'`` its epochs times
    ``views_per_step`` (the students compared are those of equal budget): ``None`` for
    the teacher and the pixels (no student). A student row that does not say is
    ``(DEFAULT_WIDTH, '', '', DEFAULT_EPOCHS)`` with one view per step: every run before
    the setting was recorded used those."""
    if budget not in BUDGETS:
        raise ValueError(f'budget must be one of {BUDGETS}, got {budget!r}')
    if row['method'] in ('teacher', 'raw'):
        return None
    views = row.get('student_views') or {}
    epochs = row.get('epochs') or DEFAULT_EPOCHS
    return (row.get('student_width', DEFAULT_WIDTH),
            ', '.join(f'{k}={views[k]}' for k in sorted(views)),
            'teacher views' if row.get('teacher_views') else '',
            epochs * (row.get('views_per_step') or 1) if budget == 'passes' else epochs)


def row_label(row: dict, budget: str = 'epochs') -> str:
    """The table's name of a row: its method, with ``(width W)``, ``(views ...)``, ``(teacher
    views)`` and ``(E epochs)`` (``(P passes)`` with ``budget='passes'``) for a student of
    another setting than the default, so rows of two settings never merge."""
    student = row_student(row, budget)
    if student is None:
        return row['method']
    width, views, teacher, amount = student
    parts = ([f'width {width}'] if width != DEFAULT_WIDTH else []) + \
        ([f'views {views}'] if views else []) + ([teacher] if teacher else []) + \
        ([f'{amount} {budget}'] if amount != DEFAULT_EPOCHS else [])
    return row['method'] + (f" ({'; '.join(parts)})" if parts else '')


def report(paths, notes=None, stem='kd_image_benchmark', against=None, budget='epochs'):
    """The table of these runs' rows. ``against``: the methods (a peer, or a ``--label``
    name) the paired table reads every GenURL row against; ``None``: ``genurl`` where it
    has rows. ``budget``: students are compared, paired and judged at equal ``epochs`` or
    equal ``passes`` (:func:`row_student`). A method asked for by name that no row has is
    an error, not an empty table."""
    import numpy as np
    if budget not in BUDGETS:
        raise ValueError(f'budget must be one of {BUDGETS}, got {budget!r}')
    rows, commands, conds = read_runs(paths)
    if against is None:
        against = ('genurl',)
    else:
        have = {r['method'] for r in rows}
        unknown = [b for b in against if b not in have]
        if unknown:
            raise SystemExit(f"--against {', '.join(unknown)}: no rows of that method in "
                             f"{', '.join(map(str, paths))} (methods there: "
                             f"{', '.join(sorted(have))})")
    unique = {(r['dataset'], r['train_images'], r.get('scored_on', 'test'), r['seed'],
               row_label(r, budget)): r for r in rows}
    groups, kind = {}, {}  # label -> (method, the student's setting)
    for (d, n, on, _, m), r in unique.items():
        groups.setdefault(((d, n, on), m), []).append(r)
        kind[m] = (r['method'], row_student(r, budget))

    def is_genurl(label):  # the default or a labelled variant of GenURL's student
        return kind[label][0] not in ('teacher', 'raw', *PEERS)

    def stat(key, g):
        vals = [r[key] for r in g if r.get(key) is not None]
        return (float(np.mean(vals)), float(np.std(vals))) if vals else None
    lines = ['# Knowledge distillation on images: a pretrained backbone into a smaller CNN', '',
             'Commands: ' + '; '.join(f'`{c}`' for c in commands) + '  ',
             'Conditions: ' + '; '.join(conds) + '  ',
             'Probes on the test images, or on held-out training images where the first '
             'column says *validation* (the vision task\'s): weighted kNN (k 200, T 0.1) and '
             'logistic regression (C on a tenth of the training images), frozen features, '
             '% (mean ± std over seeds). Seconds: training (teacher: its pretraining); '
             'inference: embedding the scored images (rows that record `inference_repeats`: '
             'the median of that many calls after two warm-ups; older rows: one call). '
             "Peak MB: the process's peak resident memory during the row's phase (the "
             "teacher's, or one student's training and inference), data included; rows from "
             "session 68 on (older rows held the process's peak since its start, not shown). "
             '**missed**: a GenURL student (the '
             f'default or a labelled variant) below a peer at equal {budget} (test rows '
             'only).' + (PASSES_NOTE if budget == 'passes' else ''),
             '',
             '| data set (training images) | method | epochs | ' + (
                 'passes | ' if budget == 'passes' else '') + 'seeds | kNN | linear | s | '
             'infer (s) | peak MB | target |',
             '|---|---|---|---|---|---|---|---|---|---|' + ('---|' if budget == 'passes'
                                                            else '')]
    order_fixed = ['teacher', 'raw', 'genurl']
    summary = {}
    paired = []
    for key in sorted({key for key, _ in groups}):
        d, n, on = key
        methods = {m for kk, m in groups if kk == key}
        students = sorted({kind[m][1] for m in methods if kind[m][1] is not None})

        def rank(m):  # teacher and pixels, then per setting: the default, variants, peers
            method, student = kind[m]
            if student is None:
                return ((-1, ''), order_fixed.index(method), '')
            if method == 'genurl':
                return (student, 0, '')
            return (student, 1, m) if is_genurl(m) else (student, 2, PEERS.index(method))
        order = sorted(methods, key=rank)
        means = {m: {k: stat(k, groups[(key, m)]) for k in ('knn', 'linear')}
                 for m in order}
        name = f'{d}/{n}' if on == 'test' else f'{d}/{n}/{on}'
        summary[name] = {m: {k: v[0] for k, v in st.items()} for m, st in means.items()}
        for base in against:
            for student in students:
                base_label = next((m for m in methods if kind[m] == (base, student)), None)
                if base_label is None:
                    continue
                mine = {m: groups[(key, m)] for m in order
                        if is_genurl(m) and kind[m][1] == student and m != base_label}
                paired += [dict(r, against=base_label) for r in
                           paired_rows(d, n, on, groups[(key, base_label)], mine)]
        where = f'{d} ({n:,})' if on == 'test' else f'{d} ({n:,}; *{on}*)'
        for m in order:
            g = groups[(key, m)]
            target = ''
            # Every GenURL row is judged, the labelled ones too: the package default can be
            # a labelled row of an older table (session 49 returned it to the paper's
            # objective, whose test rows are labelled), and an old miss stays marked.
            if is_genurl(m) and on == 'test':
                missed = []
                peers = [q for q in order  # the same student: a peer of the same setting
                         if kind[q][0] in PEERS and kind[q][1] == kind[m][1]]
                for k in ('knn', 'linear'):
                    above = [q for q in peers if means[q][k][0] > means[m][k][0]]
                    if above:
                        missed.append(f"{k} ({', '.join(above)} higher)")
                target = ('≥ every peer met' if not missed
                          else '**missed**: ' + '; '.join(missed))
            secs, infer = stat('seconds', g), stat('inference_test_seconds', g)
            mem = stat('peak_rss_mb', [r for r in g if r.get('peak_scope') == 'phase'])
            lines.append(
                f"| {where} | {m} | {_blank(g[0]['epochs'])} | "
                + (f'{_blank(kind[m][1] and kind[m][1][3])} | ' if budget == 'passes' else '')
                + f"{len(g)} | "
                f"{100 * means[m]['knn'][0]:.2f} ± {100 * means[m]['knn'][1]:.2f} | "
                f"{100 * means[m]['linear'][0]:.2f} ± {100 * means[m]['linear'][1]:.2f} | "
                f"{'' if secs is None else f'{secs[0]:.0f}'} | "
                f"{'' if infer is None else f'{infer[0]:.2f}'} | "
                f"{'' if mem is None else f'{mem[0]:.0f}'} | {target} |")
    if paired:
        lines += ['', "Each GenURL student row minus the row it is paired against (same "
                  'student setting, same seeds; difference in points, mean ± SE over the '
                  'seeds both ran):', '',
                  '| data set (training images; scored on) | variant | against | seeds | kNN '
                  '| linear |', '|---|---|---|---|---|---|']
        lines += [f"| {r['dataset']} ({r['train_images']:,}; {r['scored_on']}) | "
                  f"{r['variant']} | {r['against']} | {len(r['seeds'])} | "
                  f"{r['knn'][0]:+.2f} ± {r['knn'][1]:.2f} | "
                  f"{r['linear'][0]:+.2f} ± {r['linear'][1]:.2f} |" for r in paired]
    if notes:
        lines += ['', Path(notes).read_text().rstrip()]
    # conditions beside commands: read_runs takes this file back as an earlier report, so a
    # new run can be reported beside the committed table without the first runs' files
    write_results(stem, {'rows': rows, 'summary': summary, 'paired': paired,
                         'commands': commands, 'conditions': conds}, '\n'.join(lines) + '\n')


PASSES_NOTE = (' Students are compared at equal **passes**: epochs times the views of each '
               'image a student encodes per step (2 for GenURL with view_pair_weight > 0, '
               '1 otherwise); a row\'s label names its passes where they are not 20.')


def paired_rows(dataset, train_images, scored_on, base, variants):
    """Per variant, the paired difference to ``base`` (the rows it is read against) over
    the seeds both ran, in points: ``{'knn': (mean, SE), 'linear': (mean, SE), 'seeds':
    [...]}`` (SE: the sample standard deviation over the square root of the seeds; 0 for
    one)."""
    by_seed = {r['seed']: r for r in base}
    out = []
    for name, rows in sorted(variants.items()):
        common = sorted(r['seed'] for r in rows if r['seed'] in by_seed)
        if not common:
            continue
        mine = {r['seed']: r for r in rows}
        entry = {'dataset': dataset, 'train_images': train_images, 'scored_on': scored_on,
                 'variant': name, 'seeds': common}
        for k in ('knn', 'linear'):
            entry[k] = paired_points([mine[s][k] for s in common],
                                     [by_seed[s][k] for s in common])
        out.append(entry)
    return out


if __name__ == '__main__':
    main()
