"""What training changes in GenURL's node representation: the encoder as initialised
against the same encoder after ``fit``, per data set and seed.

For each seed the trainer is set up with the data set's shipped config (the seed's initial
weights), embedded before its first step (h0) and after training (h1). Reported: the loss
of the first and last epoch, the relative change ||h1 - h0|| / ||h0||, the scale ratio
||h1|| / ||h0||, linear CKA between h0 and h1 (Kornblith et al., 2019: 1 when h1 is h0 up to
an orthogonal map and an isotropic scale, near 0 for unrelated representations), and the
project's LR probe on the validation nodes of the seed's split for both (test nodes are
not read). The question it answers: where the trained row reads no higher than the
untrained one (``node_benchmark.py``'s ``untrained`` row), did training leave the
representation alone, rescale it, or change it into something the probe reads equally?

Usage:
  python experiments/node_training_change.py --datasets Photo Computers Cora --seeds 3 \
      --first-seed 20 --threads 1 --out node_training_change
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import check_stem, versions, write_results  # noqa: E402


def linear_cka(a: Tensor, b: Tensor) -> float:
    r"""Linear CKA of two representations of the same rows: with column-centred A, B,
    :math:`\lVert A^\top B\rVert_F^2 / (\lVert A^\top A\rVert_F \lVert B^\top B\rVert_F)`.
    O(N (d_a + d_b)^2) time, O((d_a + d_b)^2) extra memory."""
    if a.dim() != 2 or b.dim() != 2 or a.size(0) != b.size(0):
        raise ValueError(f'linear_cka needs two [N, d] matrices of the same N, got '
                         f'{tuple(a.shape)} and {tuple(b.shape)}')
    a = (a - a.mean(0)).double()
    b = (b - b.mean(0)).double()
    den = (a.T @ a).norm() * (b.T @ b).norm()
    if den == 0:
        raise ValueError('linear_cka is undefined for a constant representation')
    return float((a.T @ b).norm() ** 2 / den)


def measure(dataset: str, data, seed: int) -> dict:
    """One seed's row for ``data`` (the loaded ``dataset``, read once per data set)."""
    from genurl_pyg.datasets import get_spec
    from genurl_pyg.evaluation import linear_probe, split_for
    from genurl_pyg.node import NodeEmbeddingTrainer, dataset_defaults
    cfg = dataset_defaults(dataset)
    trainer = NodeEmbeddingTrainer(data, cfg.__class__.from_dict({'seed': seed}, base=cfg))
    h0 = trainer.embed()
    h1 = trainer.fit()
    masks = split_for(data, get_spec(dataset).protocol, seed)
    losses = trainer.state.losses
    return {'dataset': dataset, 'seed': seed, 'epochs': len(losses),
            'loss_first': losses[0], 'loss_last': losses[-1],
            'relative_change': float((h1 - h0).norm() / h0.norm()),
            'scale_ratio': float(h1.norm() / h0.norm()),
            'cka': linear_cka(h0, h1),
            'val_untrained': linear_probe(h0, data.y, *masks).val_accuracy,
            'val_trained': linear_probe(h1, data.y, *masks).val_accuracy}


def markdown(payload: dict) -> str:
    lines = ['# What training changes in the node representation', '',
             'Command: `' + payload['command'] + '`  ',
             'Conditions: ' + payload['conditions'] + '  ',
             'Versions: ' + ', '.join(f'{k} {v}' for k, v in payload['versions'].items()),
             '', 'h0: the encoder of the shipped config as initialised (the seed\'s weights); '
             'h1: the same after `fit`. Validation accuracy of the project\'s LR probe (%), '
             'test nodes not read.', '',
             '| data set | seed | epochs | loss first → last | ‖h1−h0‖/‖h0‖ | ‖h1‖/‖h0‖ | '
             'CKA(h0, h1) | val untrained | val trained |',
             '|---|---|---|---|---|---|---|---|---|']
    for r in payload['rows']:
        lines.append(f"| {r['dataset']} | {r['seed']} | {r['epochs']} | "
                     f"{r['loss_first']:.4f} → {r['loss_last']:.4f} | "
                     f"{r['relative_change']:.2f} | {r['scale_ratio']:.2f} | {r['cka']:.3f} | "
                     f"{100 * r['val_untrained']:.2f} | {100 * r['val_trained']:.2f} |")
    return '\n'.join(lines) + '\n'


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument('--datasets', nargs='+', required=True)
    ap.add_argument('--seeds', type=int, default=3)
    ap.add_argument('--first-seed', type=int, default=0)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--conditions', default='', metavar='TEXT',
                    help='the run conditions (date, cores, what else ran)')
    ap.add_argument('--out', default='node_training_change', help='result file stem')
    args = ap.parse_args()
    check_stem('--out', args.out, ap.error)
    if args.seeds < 1:
        ap.error(f'--seeds must be at least 1, got {args.seeds}')
    torch.set_num_threads(args.threads)
    payload = {'command': 'python ' + ' '.join(sys.argv), 'versions': versions(),
               'threads': args.threads, 'conditions': args.conditions or 'not given',
               'rows': []}
    from genurl_pyg.datasets import load_dataset
    for ds in args.datasets:
        data = load_dataset(ds)
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            row = measure(ds, data, seed)
            print(row, flush=True)
            payload['rows'].append(row)
            write_results(args.out, payload, markdown(payload))


if __name__ == '__main__':
    main()
