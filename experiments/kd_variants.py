"""Exploratory distillation variants on one (data set, seed, setting): the GenURL GCN
teacher is trained once, then one student per variant (DistillConfig overrides), each
scored by the project's LR probe (validation and test accuracy). Used to choose
DistillConfig's defaults on validation nodes; results in results/kd_benchmark_notes.md.

Usage:
  python experiments/kd_variants.py --dataset Cora --seed 0 --setting transductive \
      --variant "epochs=100,k=50,feature_hops=1" --variant "objective='mse',epochs=100"
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_utils  # noqa: E402,F401  (sets the offline data mirror)


def parse_variant(text: str) -> dict:
    """``"k=50,metric='euclidean'"`` -> ``{'k': 50, 'metric': 'euclidean'}`` (YAML values)."""
    from genurl_pyg.utils.yamlio import safe_load
    out = {}
    for item in filter(None, text.split(',')):
        key, value = item.split('=', 1)
        out[key.strip()] = safe_load(value.strip().strip("'\""))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--dataset', default='Cora')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--setting', choices=['transductive', 'inductive'], default='transductive')
    p.add_argument('--variant', action='append', default=[], metavar='K=V,...')
    p.add_argument('--threads', type=int, default=1)
    args = p.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    from genurl_pyg.datasets import get_spec, load_dataset
    from genurl_pyg.distill.graph import (distill_node_embeddings, inductive_split,
                                          observed_subgraph)
    from genurl_pyg.distill.run import train_teacher
    from genurl_pyg.evaluation import linear_probe, split_for
    data = load_dataset(args.dataset)
    tr, va, te = split_for(data, get_spec(args.dataset).protocol, args.seed)
    held = inductive_split(te, 0.2, args.seed) if args.setting == 'inductive' else None
    test = te if held is None else held
    t0 = time.perf_counter()
    t_train, t_full, _, _ = train_teacher(data, args.dataset, args.seed, held)

    def probe(h):
        r = linear_probe(h, data.y, tr, va, test)
        return f'val {100 * r.val_accuracy:.2f} test {100 * r.test_accuracy:.2f}'
    print(f'teacher ({time.perf_counter() - t0:.1f} s): {probe(t_full)}; raw: {probe(data.x)}',
          flush=True)
    sub = data if held is None else observed_subgraph(data, held)
    for text in args.variant:
        t0 = time.perf_counter()
        d = distill_node_embeddings(sub, t_train, seed=args.seed, **parse_variant(text))
        print(f'{text}: {probe(d.embed(data.x))} ({time.perf_counter() - t0:.1f} s)',
              flush=True)


if __name__ == '__main__':
    main()
