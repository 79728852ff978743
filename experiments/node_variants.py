"""Exploratory GenURL variants that the config cannot express, tried by hand before the
Optuna study (experiments/node_study.py); the numbers are in
experiments/results/node_study.md with their seeds. Each variant wraps the trained model:

  base          the configuration as given (--base YAML plus --set overrides)
  std<s>        z standardised per dimension and view over the nodes, times s, before Q
  norm<s>       z L2-normalised, times s (Q on a sphere of radius s)
  dec<g>        GKL plus g * ||C - I||_F^2 per view, C the correlation matrix of z (CCA-SSG's
                decorrelation term); combinable: std1dec0.001
  ema<w>        dynamic P from an EMA teacher (AFGRL-style): from epoch --dyn-start, every
                --dyn-every epochs, P = (1 - w) P_static + w kNN-geodesic P of the teacher's h
                (teacher = EMA of the encoder, momentum --ema-momentum, k --dyn-k)
  online<w>     the same with the current encoder as the teacher
  --smooth K    also probe A_hat^k h for k = 1..K (the representation smoothed on the graph)

Usage:
  python experiments/node_variants.py --dataset Cora --variant std1 --seeds 2 \\
      --base experiments/configs/cora_before_study.yaml --set num_layers=2
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_utils  # noqa: E402,F401  (offline data mirror)


class _Rescale(torch.nn.Module):
    def __init__(self, inner: torch.nn.Module, mode: str, scale: float) -> None:
        super().__init__()
        self.inner, self.mode, self.scale = inner, mode, scale

    def forward(self, h):
        z = self.inner(h)
        if self.mode == 'std':
            z = (z - z.mean(0)) / (z.std(0) + 1e-6)
        else:
            z = torch.nn.functional.normalize(z, dim=1)
        return z * self.scale


def _apply(trainer, variant: str) -> None:
    model, cfg = trainer.model, trainer.cfg
    for mode in ('std', 'norm'):
        if variant.startswith(mode):
            scale = float(variant[len(mode):].split('dec')[0] or 1.0)
            model.projector = _Rescale(model.projector, mode, scale)
    if 'dec' in variant:
        weight, n, plain = float(variant.split('dec')[1]), trainer.num_nodes, model.loss

        def loss(z, sim, *a, **k):
            reg = 0.0
            for zv in (z[:n], z[n:]):
                zs = (zv - zv.mean(0)) / (zv.std(0) + 1e-6)
                reg = reg + (zs.t() @ zs / n - torch.eye(zs.size(1))).pow(2).sum()
            return plain(z, sim, *a, **k) + weight * reg
        model.loss = loss
    trainer.optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr,
                                         weight_decay=cfg.weight_decay)
    trainer.net = model


def _dynamic_teacher(trainer, variant: str, args) -> None:
    """Dynamic P from a teacher's kNN graph (variants ``ema<w>`` and ``online<w>``).
    Unlike the config's ``dynamic`` (which recomputes P's feature part and so does nothing
    when ``use_features`` is off), the teacher's kNN part is mixed in whatever P holds."""
    import copy
    from genurl_pyg.structure.similarity import Similarity, combine
    from genurl_pyg.vision.backbones import ema_update
    source = 'ema' if variant.startswith('ema') else 'online'
    weight = float(variant[len(source):])
    online = trainer.model.encoder
    teacher = copy.deepcopy(online).requires_grad_(False) if source == 'ema' else online
    apply_step = trainer._apply

    def step(loss):
        out = apply_step(loss)
        if source == 'ema':
            with torch.no_grad():
                ema_update(teacher, online, args.ema_momentum)
        return out

    def refresh(epoch: int) -> None:
        if epoch < args.dyn_start or (epoch - args.dyn_start) % args.dyn_every:
            return
        was = teacher.training
        teacher.eval()
        with torch.no_grad():
            h = teacher(trainer.x_enc, trainer.graph)
        teacher.train(was)
        builder, k = trainer.builder, trainer.builder.k
        builder.k = args.dyn_k
        try:
            part = builder._feature_part(h)
        finally:
            builder.k = k
        static = trainer.static_sim
        index, value = combine(part, (static.index, static.weight), 1 - weight,
                               trainer.num_nodes)
        trainer._use_similarity(Similarity(index, value, trainer.num_nodes, static.lam))
    trainer._apply = step
    trainer._maybe_refresh_similarity = refresh


def main() -> None:
    from genurl_pyg.datasets import get_spec, load_dataset
    from genurl_pyg.evaluation import linear_probe, split_for
    from genurl_pyg.node import NodeConfig, NodeEmbeddingTrainer, dataset_defaults
    from genurl_pyg.node.propagation import normalized_adjacency
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument('--dataset', required=True)
    ap.add_argument('--variant', default='base')
    ap.add_argument('--seeds', type=int, default=2)
    ap.add_argument('--base', default=None, help='YAML config (default: the data set\'s)')
    ap.add_argument('--set', nargs='*', default=[], metavar='KEY=JSON')
    ap.add_argument('--smooth', type=int, default=0)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--dyn-start', type=int, default=10)
    ap.add_argument('--dyn-every', type=int, default=5)
    ap.add_argument('--dyn-k', type=int, default=10)
    ap.add_argument('--ema-momentum', type=float, default=0.99)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data, spec = load_dataset(args.dataset), get_spec(args.dataset)
    base = NodeConfig.from_yaml(args.base) if args.base else dataset_defaults(args.dataset)
    over = {k: json.loads(v) for k, v in (s.split('=', 1) for s in args.set)}
    vals, tests, secs = [], [], []
    for seed in range(args.seeds):
        trainer = NodeEmbeddingTrainer(data, NodeConfig.from_dict({**over, 'seed': seed}, base))
        if args.variant.startswith(('ema', 'online')):
            _dynamic_teacher(trainer, args.variant, args)
        elif args.variant != 'base':
            _apply(trainer, args.variant)
        t = time.perf_counter()
        h = trainer.fit()
        secs.append(time.perf_counter() - t)
        masks = split_for(data, spec.protocol, seed)
        res = linear_probe(h, data.y, *masks)
        vals.append(res.val_accuracy)
        tests.append(res.test_accuracy)
        print(f'seed {seed}: val {res.val_accuracy:.4f} test {res.test_accuracy:.4f} '
              f'({secs[-1]:.1f} s)', flush=True)
        if args.smooth:
            adj, hk = normalized_adjacency(data.edge_index, data.num_nodes), h
            for k in range(1, args.smooth + 1):
                hk = adj @ hk
                rk = linear_probe(hk, data.y, *masks)
                print(f'  smoothed {k}: val {rk.val_accuracy:.4f} test {rk.test_accuracy:.4f}')
    print(json.dumps({'dataset': args.dataset, 'variant': args.variant, 'overrides': over,
                      'val': float(np.mean(vals)), 'test': float(np.mean(tests)),
                      'seconds': float(np.mean(secs))}))


if __name__ == '__main__':
    main()
