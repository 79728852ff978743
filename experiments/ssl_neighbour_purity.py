"""How often P's kNN neighbours are images of the same class: the EMA teacher's batch kNN
against the memory bank's (issue 14, a diagnostic; labels are read here only to score the
neighbours, never to train or choose).

P's kNN part makes each view's neighbours positives. The branches of
``experiments/ssl_branches.py`` found that both sources cost accuracy against views only
(``ssl_benchmark_notes.md``, sessions 20, 25, 51), the teacher's more than the bank's. This
script measures the reason offered there, that the neighbours are noisy positives: it
continues a trunk of ``ssl_branches.py`` views-only to ``--epoch`` (the branches'
``knn_start``), then for ``--batches`` training batches draws the two views as training
does and scores, per view, its ``k`` neighbours from

* ``teacher``: the EMA teacher's features of the batch's other views (cosine; the other
  view of the view's own image left out, the neighbours of other images only);
* ``bank``: the ``M`` most recent first-view projections of the online network (the
  memory bank filled from the batches before, no training in between), its own image
  left out;
* ``bank-agreed``: the bank's neighbours that the other view of the same image also
  finds among its ``k`` (``memory_bank_agree``), with how many of the ``k`` survive;
* ``batch-online``: the online projections of the batch's other views, for reference;

as the share of neighbours with the view's label, and the share of a random neighbour of
other images (chance). One JSON and a Markdown table under ``experiments/results``.

Example (the trunk of ``ssl_branches.py`` with ``--trunk-view-weight 0.5``)::

    python experiments/ssl_neighbour_purity.py --trunk /tmp/ssl/trunk.pt --epoch 10 \\
        --train-images 10000 --stem ssl_neighbour_purity --threads 1
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import versions, write_results  # noqa: E402


def purity(labels_rows, labels_cols, nearest, keep=None) -> float:
    """The share of the neighbours ``nearest`` ``[R, k]`` (those ``keep`` marks, if given)
    whose label is their row's."""
    same = labels_cols[nearest] == labels_rows.unsqueeze(1)
    if keep is None:
        return float(same.float().mean())
    return float(same[keep].float().mean()) if keep.any() else float('nan')


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--trunk', required=True, help="ssl_branches.py's trunk.pt")
    ap.add_argument('--epoch', type=int, default=10, help='continue views-only to this epoch')
    ap.add_argument('--epochs', type=int, default=20, help="the trunk's schedule length")
    ap.add_argument('--train-images', type=int, default=10000)
    ap.add_argument('--bank', type=int, default=4096, help='M, the memory bank size')
    ap.add_argument('--k', type=int, default=10)
    ap.add_argument('--batches', type=int, default=20, help='batches scored after the bank')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--stem', default='ssl_neighbour_purity')
    ap.add_argument('--conditions', default='')
    args = ap.parse_args(argv)
    import torch
    from ssl_branches import PRESET, validation_data
    from genurl_pyg.vision.config import SSLConfig
    from genurl_pyg.vision.memory_bank import agreed_between_views, nearest_other_images
    from genurl_pyg.vision.trainer import VisualTrainer
    torch.set_num_threads(args.threads)
    data = validation_data(train_images=args.train_images)
    blob = torch.load(args.trunk, map_location='cpu', weights_only=False)
    start = blob['state']['epoch']
    if not start < args.epoch <= args.epochs:
        raise SystemExit(f'--epoch must be after the trunk ({start}) and at most --epochs')
    # the trunk's settings, views only from here (the teacher kept and updated, not read)
    cfg = SSLConfig.from_dict(dict(PRESET, epochs=args.epochs, seed=args.seed,
                                   view_weight=0.5, knn_start=args.epochs))
    trainer = VisualTrainer(data, cfg)
    trainer.restore(blob)
    t0 = time.perf_counter()
    trainer.fit(stop_after=args.epoch)
    train_s = time.perf_counter() - t0
    model, teacher = trainer.model, trainer.teacher
    model.train()
    teacher.train()  # as training reads it
    b = cfg.batch_size
    order = torch.randperm(data.train_x.size(0), generator=torch.Generator().manual_seed(1))
    need = args.bank // b + args.batches
    if need * b > order.numel():
        raise SystemExit(f'{need} batches of {b} exceed the {order.numel()} training images')
    y = data.train_y
    bank_z, bank_ids = [], []
    scores = {'teacher': [], 'bank': [], 'bank-agreed': [], 'batch-online': [], 'chance': []}
    kept = []  # per batch, the mean number of a view's k bank neighbours that agree
    with torch.no_grad():
        for step in range(need):
            idx = order[step * b:(step + 1) * b]
            images = trainer.train_x[idx]
            v = torch.cat([trainer.views(images, trainer.view_gen),
                           trainer.views(images, trainer.view_gen)])
            z = torch.nn.functional.normalize(model['projector'](model['backbone'](v)), dim=1)
            ids = idx.repeat(2)
            if step >= args.bank // b:  # the bank is full: score this batch
                t = torch.nn.functional.normalize(teacher(v), dim=1)
                ym = y[ids]
                scores['teacher'].append(purity(ym, ym, nearest_other_images(
                    t @ t.t(), ids, ids, args.k).indices))
                scores['batch-online'].append(purity(ym, ym, nearest_other_images(
                    z @ z.t(), ids, ids, args.k).indices))
                bz, bi = torch.cat(bank_z)[-args.bank:], torch.cat(bank_ids)[-args.bank:]
                nearest = nearest_other_images(z @ bz.t(), ids, bi, args.k).indices
                agreed = agreed_between_views(nearest)
                scores['bank'].append(purity(ym, y[bi], nearest))
                scores['bank-agreed'].append(purity(ym, y[bi], nearest, agreed))
                kept.append(float(agreed.sum(1).float().mean()))
                scores['chance'].append(float((y[bi].unsqueeze(0) == ym.unsqueeze(1))
                                              .float().mean()))
            bank_z.append(z[:b])
            bank_ids.append(idx)
    mean = {key: sum(v) / len(v) for key, v in scores.items()}
    rows = [{'source': key, 'purity': mean[key], 'per_batch': scores[key]} for key in scores]
    kept_per_view = sum(kept) / len(kept)
    by_source = {r['source']: r for r in rows}
    by_source['bank-agreed']['kept_per_view'] = kept_per_view
    lines = [f'# Same-class share of P\'s kNN neighbours at epoch {args.epoch} ({args.stem})',
             '', f"Command: `{' '.join(sys.argv)}`  ",
             f'Fashion-MNIST, {data.train_x.size(0):,} training images of the validation split '
             f'(`ssl_branches.py`), the trunk continued views-only to epoch {args.epoch} of '
             f'{args.epochs} ({train_s:.0f} s), then {args.batches} batches of {b} images '
             f'(2 views each) scored: each view\'s {args.k} nearest neighbours of other images, '
             f'the share with its label (labels read for this score only). Bank: the {args.bank} '
             'most recent first-view projections (the batches before, no training between).',
             '']
    if args.conditions:
        lines += [f'Conditions: {args.conditions}', '']
    lines += ['| neighbours from | same-class share | min over batches | max |',
              '|---|---|---|---|']
    names = {'teacher': 'EMA teacher, the batch\'s other views (`view_weight < 1`)',
             'bank': f'memory bank of {args.bank} (`memory_bank`)',
             'bank-agreed': f'the bank\'s, found by both views (`memory_bank_agree`; '
                            f'{kept_per_view:.1f} of {args.k} kept per view)',
             'batch-online': 'online projections, the batch\'s other views',
             'chance': 'a random bank entry of another image'}
    for r in rows:
        lines.append(f"| {names[r['source']]} | {100 * r['purity']:.1f} % | "
                     f"{100 * min(r['per_batch']):.1f} | {100 * max(r['per_batch']):.1f} |")
    write_results(args.stem, {'rows': rows, 'args': vars(args), 'train_seconds': train_s,
                              'versions': versions(), 'command': ' '.join(sys.argv)},
                  '\n'.join(lines) + '\n')
    for r in rows:
        print(f"{r['source']}: {100 * r['purity']:.1f} %", file=sys.stderr)


if __name__ == '__main__':
    main()
