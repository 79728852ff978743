"""Does the scale of the embedding's principal directions hurt the probe? (issue 10,
``node_study.md`` section 29.)

GenURL's CiteSeer embeddings use few directions (effective rank ~36 of 512,
``embedding_rank_CiteSeer.md``) and the probe picks its strongest regularisation for them,
while CCA-SSG's objective makes its embeddings nearly white. This script trains the data
set's shipped GenURL config once per seed and probes, from that one training (paired by
construction), read-outs that equalise the directions' scales:

- ``std``: the embedding as trained (the project's probe standardises each column);
- ``white``: PCA-whitened, every principal direction at unit variance (ZCA and PCA
  whitening are the same to an L2-penalised probe: a rotation);
- ``pcaR``: the top ``R`` principal components, each standardised by the probe.

Cost per seed: the training, plus an O(N D^2 + D^3) SVD and one probe per read-out.
Scores: validation, the holdout nodes (labelled, in none of train/val/test) and the
selection nodes (both); the test nodes are not printed. Writes
``experiments/results/<out>.{json,md}``.

Usage::

    python experiments/node_readout_spectrum.py --dataset CiteSeer \\
        --protocol random-planetoid --seeds 0 1 --pca 16 32 64 128 --out node_readout_spectrum
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_utils import check_stem, versions, write_results  # noqa: E402
from paired_nodes import _se  # noqa: E402  (the paired comparisons' SE of a mean)


def principal_components(h: torch.Tensor, rank: int | None = None) -> torch.Tensor:
    """The centred rows of ``h`` in the basis of its principal directions (largest
    variance first), the top ``rank`` of them (all when None). O(N D^2)."""
    if h.dim() != 2 or h.size(0) < 2:
        raise ValueError(f'principal_components takes an [N >= 2, D] matrix, got '
                         f'{tuple(h.shape)}')
    hc = (h - h.mean(0)).double()
    _, _, vt = torch.linalg.svd(hc, full_matrices=False)
    return leading(hc @ vt.T, rank).float()


def leading(pc: torch.Tensor, rank: int | None) -> torch.Tensor:
    """The first ``rank`` columns of principal components (all when None): the top-``rank``
    read-out without another SVD."""
    if rank is None:
        return pc
    if not 1 <= rank <= pc.size(1):
        raise ValueError(f'rank must be in [1, {pc.size(1)}], got {rank}')
    return pc[:, :rank]


def unit_variance(pc: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Principal components scaled to unit variance (``eps`` times the largest variance
    guards directions of zero variance)."""
    pc = pc.double()
    var = pc.var(0, unbiased=False)
    return (pc / (var + eps * var.max()).sqrt()).float()


def whitened(h: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """PCA whitening: every principal direction of ``h`` scaled to unit variance."""
    return unit_variance(principal_components(h), eps)


def embedding_width(cfg) -> int:
    """The widest representation a node config can train (``fit_node_embeddings``:
    ``out_channels``, twice that for the ego-gcn encoder's two channels; ``'auto'`` resolves
    on the data and may pick ego-gcn, so it is bounded by the wider). The exact width is
    checked again on the trained embedding (``leading``)."""
    return cfg.out_channels * (2 if cfg.encoder in ('ego-gcn', 'auto') else 1)


def readouts(h: torch.Tensor, ranks) -> dict:
    """Every read-out of one embedding from a single SVD."""
    pc = principal_components(h)
    out = {'std': h, 'white': unit_variance(pc)}
    out.update({f'pca{r}': leading(pc, r) for r in ranks})
    return out


def table(rows, command: str, conditions: str) -> str:
    names = list(rows[0]['readouts'])
    lines = ['# Read-outs that equalise the embedding\'s directions (issue 10)', '',
             f'Command: `{command}`  ', f'Conditions: {conditions}  ',
             "Probe: the project's LR probe (standardised columns, C chosen on validation); "
             'one training per seed, every read-out from it. Accuracy %, mean over seeds; '
             'test nodes not read.', '',
             '| read-out | val | holdout | selection | selection − std (mean ± SE over seeds) |',
             '|---|---|---|---|---|']
    for name in names:
        get = lambda key: np.array([r['readouts'][name][key] for r in rows])  # noqa: E731
        d = 100 * (get('selection') - np.array([r['readouts']['std']['selection']
                                                for r in rows]))
        diff = '' if name == 'std' else f'{d.mean():+.2f} ± {_se(d):.2f}'
        lines.append(f"| {name} | {100 * get('val').mean():.2f} | "
                     f"{100 * get('holdout').mean():.2f} | {100 * get('selection').mean():.2f} "
                     f'| {diff} |')
    lines += ['', 'Per seed (selection %): ' + '; '.join(
        f"seed {r['seed']}: " + ', '.join(f"{n} {100 * v['selection']:.2f}"
                                          for n, v in r['readouts'].items()) for r in rows)]
    return '\n'.join(lines) + '\n'


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--dataset', default='CiteSeer')
    p.add_argument('--protocol', default='random-planetoid')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    p.add_argument('--pca', type=int, nargs='*', default=[16, 32, 64, 128])
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--conditions', default='')
    p.add_argument('--out', default='node_readout_spectrum')
    args = p.parse_args(argv)
    check_stem('--out', args.out, p.error)
    if any(r < 1 for r in args.pca):
        p.error(f'--pca takes positive ranks, got {args.pca}')
    from genurl_pyg.evaluation import PROTOCOLS, linear_probe, split_for
    from genurl_pyg.node import NodeConfig, NodeEmbeddingTrainer, dataset_defaults
    from genurl_pyg.datasets import load_dataset
    from node_study import set_accuracy
    if args.protocol not in PROTOCOLS:
        p.error(f'--protocol {args.protocol!r} is not one of {", ".join(PROTOCOLS)}')
    torch.set_num_threads(args.threads)
    command = 'python experiments/node_readout_spectrum.py ' + ' '.join(argv or sys.argv[1:])
    data = load_dataset(args.dataset)
    # refuse a rank the embedding cannot have before any seed trains, not after the first
    most = min(embedding_width(NodeConfig.from_dict({}, dataset_defaults(args.dataset))),
               data.num_nodes)
    too_wide = [r for r in args.pca if r > most]
    if too_wide:
        p.error(f'--pca {too_wide}: {args.dataset}\'s embedding has at most {most} '
                'principal components')
    rows = []
    for seed in args.seeds:
        t = time.perf_counter()
        trainer = NodeEmbeddingTrainer(data, NodeConfig.from_dict(
            {'seed': seed}, dataset_defaults(args.dataset)))
        h = trainer.fit().detach().cpu()
        masks = split_for(data, args.protocol, seed)
        row = {'seed': seed, 'train_s': time.perf_counter() - t, 'readouts': {}}
        for name, e in readouts(h, args.pca).items():
            r = linear_probe(e, data.y, *masks)
            row['readouts'][name] = {
                'C': r.C, 'val': r.val_accuracy,
                'holdout': set_accuracy(r.predictions, data.y, *masks, which='holdout'),
                'selection': set_accuracy(r.predictions, data.y, *masks)}
        rows.append(row)
        print(f"seed {seed}: " + ', '.join(f"{n} {v['selection']:.4f}"
                                           for n, v in row['readouts'].items()), flush=True)
        write_results(args.out, {'command': command, 'conditions': args.conditions,
                                 'versions': versions(), 'dataset': args.dataset,
                                 'protocol': args.protocol, 'rows': rows},
                      table(rows, command, args.conditions))


if __name__ == '__main__':
    main()
