"""What the node probe reads along GenURL's training, from the untrained encoder on (issue 10).

For each seed: the encoder as initialised (epoch 0) and after each of ``--at`` epochs,
the frozen representation h goes through the benchmark's LR probe (C chosen on the
validation nodes) and is scored on

* the validation nodes, and the *holdout* nodes (labelled, in none of the public split's
  train / validation / test sets; ``node_variants.py --holdout``), together the
  *selection* nodes that choices are made on (``node_study.md`` section 17); a random
  split that covers every node has no holdout, and selection is then validation alone;
* h's effective rank (``embedding_rank.spectrum``: exp of the entropy of the centred
  singular values' shares).

Test accuracy is not read. The training is the config's own (one ``fit`` with a progress
hook that probes at the chosen epochs), so the last row is the run the benchmark scores.

Cost: one training per seed plus one probe and one O(N d²) SVD per point.

Usage:
  python experiments/node_training_curve.py --dataset CiteSeer \\
      --base experiments/configs/citeseer_sel_study_best.yaml --seeds 3 --at 5 10 20 50 100 200
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import open_state, write_results  # noqa: E402
from embedding_rank import spectrum  # noqa: E402


def probe_point(h, y, masks, epoch: int, loss: Optional[float]) -> Dict:
    """One curve point: validation, holdout and selection accuracy of the LR probe on
    ``h`` (C chosen on validation; the other sets read from its predictions), and h's
    effective rank."""
    from genurl_pyg.evaluation import linear_probe
    from node_study import selection_accuracy, set_accuracy
    res = linear_probe(h, y, *masks)
    return {'epoch': epoch, 'loss': loss, 'val': res.val_accuracy,
            'holdout': set_accuracy(res.predictions, y, *masks, which='holdout'),
            'selection': selection_accuracy(res.predictions, y, *masks),
            'effective_rank': spectrum(h.float())[0]}


def curve(dataset: str, config, seed: int, at: List[int]) -> List[Dict]:
    """The probe points of one seed: epoch 0 and every epoch in ``at`` up to the config's
    ``epochs``."""
    from genurl_pyg.datasets import get_spec, load_dataset
    from genurl_pyg.evaluation import split_for
    from genurl_pyg.node import NodeEmbeddingTrainer
    import dataclasses
    data = load_dataset(dataset)
    masks = split_for(data, get_spec(dataset).protocol, seed)
    trainer = NodeEmbeddingTrainer(data, dataclasses.replace(config, seed=seed))
    points = [probe_point(trainer.embed(), data.y, masks, 0, None)]
    wanted = {e for e in at if 0 < e <= config.epochs}

    def hook(epoch: int, loss: float) -> None:
        if epoch in wanted:
            points.append(probe_point(trainer.embed(), data.y, masks, epoch, loss))
            print(f'  seed {seed} epoch {epoch}: val {points[-1]["val"]:.4f} selection '
                  f'{points[-1]["selection"]:.4f} rank {points[-1]["effective_rank"]:.1f}',
                  file=sys.stderr, flush=True)

    trainer.progress = hook
    trainer.fit()
    for p in points:
        p['seed'] = seed
    return points


def main() -> None:
    from genurl_pyg.node import NodeConfig, dataset_defaults
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--dataset', required=True)
    ap.add_argument('--base', default=None,
                    help="YAML over NodeConfig's defaults (default: the data set's shipped "
                         'config)')
    ap.add_argument('--set', nargs='*', default=[], metavar='KEY=JSON')
    ap.add_argument('--seeds', type=int, default=3)
    ap.add_argument('--first-seed', type=int, default=0)
    ap.add_argument('--at', type=int, nargs='+', default=[5, 10, 20, 50, 100, 150, 200],
                    help='epochs to probe at (besides epoch 0)')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--out', default=None,
                    help='results stem (default node_training_curve_DATASET)')
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    base = NodeConfig.from_yaml(args.base) if args.base else dataset_defaults(args.dataset)
    over = {k: json.loads(v) for k, v in (s.split('=', 1) for s in args.set)}
    config = NodeConfig.from_dict(over, base)
    stem = args.out or f'node_training_curve_{args.dataset}'
    state = open_state(stem, 'node_training_curve', threads=args.threads, rows=[],
                       dataset=args.dataset, config=config.to_dict())
    if state['config'] != config.to_dict() or state['dataset'] != args.dataset:
        raise SystemExit(f'{stem} holds another data set or config; pass --out NEW_STEM')
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        rows = curve(args.dataset, config, seed, args.at)
        state['rows'] = [r for r in state['rows'] if r['seed'] != seed] + rows
        write_results(stem, state, markdown(state))


def markdown(state) -> str:
    import numpy as np
    rows = state['rows']
    seeds = sorted({r['seed'] for r in rows})
    lines = [f"# The node probe along GenURL's training: {state['dataset']} (issue 10)", '',
             'Commands: ' + '; '.join(f'`{c}`' for c in state['commands']) + '  ',
             f"torch threads: {state['threads']}; seeds {', '.join(map(str, seeds))}. LR "
             'probe accuracy (%, C chosen on validation), mean over seeds; selection = '
             'validation + holdout nodes (validation alone where the split covers every '
             'node); effective rank of h. Epoch 0: the encoder as initialised. Test '
             'accuracy not read.', '',
             '| epoch | loss | val | holdout | selection | eff. rank | seeds |',
             '|---|---|---|---|---|---|---|']
    for epoch in sorted({r['epoch'] for r in rows}):
        rs = [r for r in rows if r['epoch'] == epoch]

        def mean(k, scale=100.0, fmt='.2f'):
            vals = [r[k] for r in rs if r[k] is not None]
            return format(scale * float(np.mean(vals)), fmt) if vals else ''
        lines.append(f"| {epoch} | {mean('loss', 1.0, '.5f')} | {mean('val')} | "
                     f"{mean('holdout')} | {mean('selection')} | "
                     f"{mean('effective_rank', 1.0, '.1f')} | {len(rs)} |")
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    main()
